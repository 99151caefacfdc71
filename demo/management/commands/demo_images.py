"""``manage.py demo_images``: draw the demo's photos (``demo.seed.images``) into
demo/static/demo/, or with ``--check`` say which committed files are stale.

The files are committed, so ``make demo`` needs neither this command nor a download; run it
after changing the drawings or the demo's cases, and commit what it writes.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from demo.seed.images import STATIC_ROOT, stale_images, write_images


class Command(BaseCommand):
    help = (
        "Draw the demo's photos as SVG files under demo/static/demo/ (deterministic: the same "
        "bytes every time). --check writes nothing and fails if a committed file is stale."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--check",
            action="store_true",
            help="Write nothing; exit with an error naming the files that differ.",
        )

    def handle(self, *args, check: bool, **options) -> None:
        if check:
            stale = stale_images()
            if stale:
                raise CommandError(
                    f"{len(stale)} demo image(s) differ from what is drawn now (first: "
                    f"{', '.join(stale[:5])}); run `manage.py demo_images` and commit them."
                )
            self.stdout.write("The demo images are current.")
            return
        written = write_images()
        self.stdout.write(f"Wrote {len(written)} demo image(s) under {STATIC_ROOT}.")
