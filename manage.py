#!/usr/bin/env python
"""Django's command-line utility for LabelForce."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    if sys.argv[1:2] == ["makemigrations"]:
        # Comparing models with migrations signs nothing, so it needs no secret key; every other
        # command still refuses to start without one (config/settings.py).
        os.environ.setdefault("SECRET_KEY", "makemigrations-signs-nothing")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
