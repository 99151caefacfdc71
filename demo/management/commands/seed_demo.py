"""``manage.py seed_demo``: the demo operation (``demo.seed``), then the logins and where to look.

Idempotent: a second run creates nothing. Refuses to run unless DEBUG is on or ``--force`` is
given, because every demo login shares the published password.
"""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from demo.seed import REPORTS, run
from demo.seed.workforce import DEMO_PASSWORD

DEFAULT_BASE_URL = "http://127.0.0.1:8000"


class Command(BaseCommand):
    help = (
        "Create (or complete) the demo operation: an operations manager, two vendors with their "
        f"managers and about thirty labelers, all with the password {DEMO_PASSWORD!r}; a "
        "labeling guide, gold sets, quizzes, attempts and qualifications; a half-done project "
        "with its quality rules; its pay: rates, weekly pay periods (the past weeks closed with "
        "the vendors' invoices, this week calculated) and an adjustment; the operations loops (a "
        "drifting batch, flags, a webhook endpoint, an expiring qualification). "
        "Idempotent. Refuses to run unless DEBUG is on or --force is given."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--force",
            action="store_true",
            help="Run even though DEBUG is off. Never on a production database.",
        )
        parser.add_argument(
            "--base-url",
            default=DEFAULT_BASE_URL,
            help=f"Where the server listens, for the printed hints (default {DEFAULT_BASE_URL}).",
        )

    def handle(self, *args, force: bool, base_url: str, **options) -> None:
        if not settings.DEBUG and not force:
            raise CommandError(
                "seed_demo creates logins that share the published password "
                f"{DEMO_PASSWORD!r}, so it refuses to run with DEBUG off (production settings). "
                "Run it with DJANGO_DEBUG=1, as `make demo` does, or pass --force on a database "
                "that is certainly not production."
            )
        seed = run(base_url)
        created = ", ".join(f"{n} {what}" for what, n in sorted(seed.created.items())) or "nothing"
        existing = ", ".join(f"{n} {what}" for what, n in sorted(seed.existing.items()))
        self.stdout.write(self.style.SUCCESS(f"Demo data: created {created}."))
        if existing:
            self.stdout.write(f"Already there and left as they were: {existing}.")
        base = base_url.rstrip("/")
        for report in REPORTS:
            for line in report(seed, base):
                self.stdout.write(line)
