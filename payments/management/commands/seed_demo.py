"""``manage.py seed_demo``: a small, deterministic demo operation, written through the services.

The story: LabelForce's operations manager (``ops``) runs an in-house labeling team and works
with two vendors, Northwind Annotation (Portugal, invoices in EUR) and Kestrel Data Services
(India, invoices in INR). Each vendor has a manager who onboards their own people. Most labelers
are active; a few are still invited or onboarding; one vendor labeler was suspended by a quality
rule, another for a policy breach; one left at their own request; one internal labeler was
suspended and reactivated. One internal labeler is the senior labeler who resolves reviews.

Idempotent: every object is looked up by its natural key (username, vendor slug, skill slug) and
left alone when it exists, so a second run creates nothing and writes no history. Each step is a
function taking the shared ``DemoSeed``; later parts of the demo (guides, quizzes, projects, pay)
add a step to ``STEPS``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from workforce import roles, services
from workforce.models import Labeler, User, Vendor
from workforce.roles_setup import ensure_role_groups

DEMO_PASSWORD = "labelforce-demo"  # noqa: S105 — printed on purpose; refused unless DEBUG
DEFAULT_BASE_URL = "http://127.0.0.1:8000"

S = Labeler.Status

# -- the story, as data --------------------------------------------------------------------------

SKILLS = (
    ("bounding-boxes", "Bounding boxes"),
    ("medical-imaging", "Medical imaging"),
    ("utility-poles", "Utility-pole inspection"),
    ("text-classification", "Text classification"),
    ("named-entities", "Named-entity tagging"),
)


class DemoLogin(NamedTuple):
    username: str
    first_name: str
    last_name: str
    email: str


OPS = DemoLogin("ops", "Morgan", "Hale", "morgan.hale@labelforce.example")


class DemoVendor(NamedTuple):
    slug: str
    name: str
    country: str
    currency: str
    manager: DemoLogin


VENDORS = (
    DemoVendor(
        "northwind",
        "Northwind Annotation",
        "PT",
        "EUR",
        DemoLogin("northwind_manager", "Rita", "Moreira", "rita.moreira@northwind.example"),
    ),
    DemoVendor(
        "kestrel",
        "Kestrel Data Services",
        "IN",
        "INR",
        DemoLogin("kestrel_manager", "Sunil", "Kapoor", "sunil.kapoor@kestrel.example"),
    ),
)

# A labeler's story after the invitation: (status reached, reason), walked in order.
Step = tuple[str, str]
ONBOARD: Step = (S.ONBOARDING, "Contract signed; reading the labeling guide.")
ACTIVATE: Step = (S.ACTIVE, "Passed the qualification test.")
ACTIVE_STORY: tuple[Step, ...] = (ONBOARD, ACTIVATE)

# Everyone not named here is active; these are the exceptions the demo is about.
STORIES: dict[str, tuple[Step, ...]] = {
    "li.wen": (
        *ACTIVE_STORY,
        (S.SUSPENDED, "Guide v2 was not acknowledged within the two-week deadline."),
        (S.ACTIVE, "Acknowledged guide v2."),
    ),
    "sam.okafor": (ONBOARD,),
    "miguel.carvalho": (
        *ACTIVE_STORY,
        (
            S.SUSPENDED,
            "Gold accuracy 64% over the last 50 control tasks (project rule: under 80%). "
            "Requalify before returning.",
        ),
    ),
    "ana.ribeiro": (ONBOARD,),
    "diogo.gomes": (),
    "lucia.marques": (
        *ACTIVE_STORY,
        (S.OFFBOARDED, "Contract ended at the labeler's request (moved to another team)."),
    ),
    "rahul.verma": (
        *ACTIVE_STORY,
        (
            S.SUSPENDED,
            "Login used by a second person (policy breach); on hold while Kestrel investigates.",
        ),
    ),
    "neha.gupta": (),
}
SENIORS = frozenset({"senior"})


class DemoLabeler(NamedTuple):
    username: str
    first_name: str
    last_name: str
    vendor: str | None  # a vendor slug, or None for internal staff
    external_id: str
    skills: tuple[str, ...]
    languages: tuple[str, ...]
    timezone: str
    story: tuple[Step, ...]
    seniority: str


def _team(
    vendor: str | None, id_prefix: str, timezone: str, rows: tuple[tuple[str, str, str, str], ...]
) -> tuple[DemoLabeler, ...]:
    """Rows of (username, full name, skill slugs, language codes); a vendor's people get
    external ids numbered in row order (``NW-0001`` …)."""
    return tuple(
        DemoLabeler(
            username=username,
            first_name=name.split()[0],
            last_name=name.split()[-1],
            vendor=vendor,
            external_id=f"{id_prefix}-{n:04d}" if vendor else "",
            skills=tuple(skills.split()),
            languages=tuple(languages.split()),
            timezone=timezone,
            story=STORIES.get(username, ACTIVE_STORY),
            seniority=(
                Labeler.Seniority.SENIOR if username in SENIORS else Labeler.Seniority.LABELER
            ),
        )
        for n, (username, name, skills, languages) in enumerate(rows, start=1)
    )


_ALL_SKILLS = " ".join(slug for slug, _ in SKILLS)

LABELERS = (
    *_team(
        None,
        "",
        "Europe/Berlin",
        (
            ("senior", "Helena Brandt", _ALL_SKILLS, "en de"),
            ("labeler", "Jonas Weber", "bounding-boxes utility-poles", "en de"),
            ("amara.nwosu", "Amara Nwosu", "text-classification named-entities", "en fr"),
            ("li.wen", "Li Wen", "medical-imaging", "en zh"),
            ("sam.okafor", "Sam Okafor", "text-classification", "en"),
        ),
    ),
    *_team(
        "northwind",
        "NW",
        "Europe/Lisbon",
        (
            ("ines.costa", "Inês Costa", "bounding-boxes utility-poles", "pt-PT en"),
            ("joao.ferreira", "João Ferreira", "bounding-boxes", "pt-PT en"),
            ("mariana.santos", "Mariana Santos", "medical-imaging", "pt-PT en es"),
            ("pedro.almeida", "Pedro Almeida", "utility-poles", "pt-PT"),
            ("beatriz.rocha", "Beatriz Rocha", "text-classification named-entities", "pt-PT en"),
            ("tiago.sousa", "Tiago Sousa", "bounding-boxes utility-poles", "pt-PT es"),
            ("catarina.lopes", "Catarina Lopes", "medical-imaging bounding-boxes", "pt-PT en"),
            ("rui.martins", "Rui Martins", "text-classification", "pt-PT en"),
            ("sofia.pereira", "Sofia Pereira", "named-entities text-classification", "pt-PT fr"),
            ("miguel.carvalho", "Miguel Carvalho", "bounding-boxes", "pt-PT"),
            ("ana.ribeiro", "Ana Ribeiro", "utility-poles", "pt-PT en"),
            ("diogo.gomes", "Diogo Gomes", "", "pt-PT"),
            ("lucia.marques", "Lúcia Marques", "text-classification", "pt-PT en"),
        ),
    ),
    *_team(
        "kestrel",
        "KDS",
        "Asia/Kolkata",
        (
            ("priya.sharma", "Priya Sharma", "medical-imaging bounding-boxes", "hi en"),
            ("arjun.nair", "Arjun Nair", "bounding-boxes utility-poles", "ml en"),
            ("kavya.reddy", "Kavya Reddy", "text-classification named-entities", "te en"),
            ("rohan.mehta", "Rohan Mehta", "utility-poles", "hi gu en"),
            ("ananya.iyer", "Ananya Iyer", "medical-imaging", "ta en"),
            ("vikram.singh", "Vikram Singh", "bounding-boxes", "hi pa en"),
            ("deepa.krishnan", "Deepa Krishnan", "text-classification", "ta en"),
            ("sanjay.patel", "Sanjay Patel", "bounding-boxes utility-poles", "gu hi en"),
            ("meera.joshi", "Meera Joshi", "named-entities", "mr hi en"),
            ("aditya.rao", "Aditya Rao", "medical-imaging text-classification", "kn en"),
            ("rahul.verma", "Rahul Verma", "bounding-boxes", "hi en"),
            ("neha.gupta", "Neha Gupta", "", "hi en"),
        ),
    ),
)

# The rows of the closing login table: (role, username, what to try).
LOGIN_TABLE = (
    ("Operations manager", "ops", "the admin at {base}/admin/; the API sees every vendor"),
    ("Vendor manager", "northwind_manager", "GET /api/v1/labelers/ lists Northwind's only"),
    ("Vendor manager", "kestrel_manager", "a Northwind labeler's URL is a 404 here"),
    ("Senior labeler", "senior", "GET /api/v1/me/ (internal, senior)"),
    ("Labeler (internal)", "labeler", "GET /api/v1/me/; other labelers are 404"),
    ("Labeler (Northwind)", "ines.costa", "GET /api/v1/me/ (vendor labeler NW-0001)"),
    ("Labeler (offboarded)", "lucia.marques", "the token request is refused: login disabled"),
)


# -- the steps -----------------------------------------------------------------------------------


@dataclass
class DemoSeed:
    """What the steps share: the actors they act as, and tallies for the summary."""

    ops: User | None = None
    vendors: dict[str, Vendor] = field(default_factory=dict)
    managers: dict[str, User] = field(default_factory=dict)
    created: Counter[str] = field(default_factory=Counter)
    existing: Counter[str] = field(default_factory=Counter)
    _password_hash: str = ""

    def password_hash(self) -> str:
        # Hashing is slow by design (~0.5 s); the demo password is public, so one hash serves
        # every demo login and seeding stays quick.
        if not self._password_hash:
            self._password_hash = make_password(DEMO_PASSWORD)
        return self._password_hash


def _ensure_login(seed: DemoSeed, login: DemoLogin, *, is_staff: bool = False) -> User:
    """A plain login (operations or vendor manager), created once with the demo password."""
    user = User.objects.filter(username=login.username).first()
    if user is not None:
        seed.existing["logins"] += 1
        return user
    user = User(
        username=login.username,
        first_name=login.first_name,
        last_name=login.last_name,
        email=login.email,
        is_staff=is_staff,
        password=seed.password_hash(),
    )
    user.save()
    seed.created["logins"] += 1
    return user


def _seed_roles(seed: DemoSeed) -> None:
    """The role groups (migrate creates them too; this keeps the command safe to run alone)."""
    ensure_role_groups()


def _seed_skills(seed: DemoSeed) -> None:
    for slug, name in SKILLS:
        services.skill_get_or_create(slug=slug, name=name)


def _seed_people(seed: DemoSeed) -> None:
    """The operations manager, the vendors and their managers, and the labelers."""
    seed.ops = _ensure_login(seed, OPS, is_staff=True)
    seed.ops.groups.add(Group.objects.get(name=roles.OPS_MANAGERS))

    for spec in VENDORS:
        vendor = Vendor.objects.filter(slug=spec.slug).first()
        if vendor is None:
            vendor = services.vendor_create(
                actor=seed.ops,
                name=spec.name,
                slug=spec.slug,
                contact_name=f"{spec.manager.first_name} {spec.manager.last_name}",
                contact_email=spec.manager.email,
                country=spec.country,
                default_currency=spec.currency,
            )
            seed.created["vendors"] += 1
        else:
            seed.existing["vendors"] += 1
        manager = _ensure_login(seed, spec.manager)
        services.vendor_manager_add(actor=seed.ops, vendor=vendor, user=manager)  # idempotent
        seed.vendors[spec.slug] = vendor
        seed.managers[spec.slug] = manager

    for spec in LABELERS:
        if User.objects.filter(username=spec.username).exists():
            seed.existing["labelers"] += 1
            continue
        _create_labeler(seed, spec)
        seed.created["labelers"] += 1


def _create_labeler(seed: DemoSeed, spec: DemoLabeler) -> Labeler:
    """Invite the labeler and walk their story, acting as whoever would: the vendor's manager
    for a vendor labeler, the operations manager for internal staff. All or nothing."""
    vendor = seed.vendors[spec.vendor] if spec.vendor else None
    actor = seed.managers[spec.vendor] if spec.vendor else seed.ops
    domain = f"{spec.vendor}.example" if spec.vendor else "labelforce.example"
    with transaction.atomic():
        labeler = services.labeler_create(
            actor=actor,
            username=spec.username,
            email=f"{spec.username}@{domain}",
            first_name=spec.first_name,
            last_name=spec.last_name,
            kind=Labeler.Kind.VENDOR if vendor else Labeler.Kind.INTERNAL,
            vendor=vendor,
            external_id=spec.external_id,
            seniority=spec.seniority,
            skills=spec.skills,
            languages=list(spec.languages),
            timezone_name=spec.timezone,
            reason=f"Invited by {vendor.name if vendor else 'operations'}.",
        )
        # See DemoSeed.password_hash: the shared hash replaces the unusable password.
        User.objects.filter(pk=labeler.user_id).update(password=seed.password_hash())
        for to_status, reason in spec.story:
            labeler = services.labeler_move_to_status(
                actor=actor, labeler=labeler, to_status=to_status, reason=reason
            )
    return labeler


# Run in order; each step is idempotent on its own.
STEPS: tuple[Callable[[DemoSeed], None], ...] = (_seed_roles, _seed_skills, _seed_people)


# -- the command ---------------------------------------------------------------------------------


class Command(BaseCommand):
    help = (
        "Create (or complete) the demo operation: an operations manager, two vendors with their "
        f"managers and about thirty labelers, all with the password {DEMO_PASSWORD!r}. "
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
        seed = DemoSeed()
        for step in STEPS:
            step(seed)
        self._report(seed, base_url.rstrip("/"))

    def _report(self, seed: DemoSeed, base: str) -> None:
        write = self.stdout.write
        created = ", ".join(f"{n} {what}" for what, n in sorted(seed.created.items())) or "nothing"
        existing = ", ".join(f"{n} {what}" for what, n in sorted(seed.existing.items()))
        write(self.style.SUCCESS(f"Demo data: created {created}."))
        if existing:
            write(f"Already there and left as they were: {existing}.")

        rows = [("ROLE", "USERNAME", "PASSWORD", "WHAT TO TRY")]
        rows += [(r, u, DEMO_PASSWORD, t.format(base=base)) for r, u, t in LOGIN_TABLE]
        widths = [max(len(row[i]) for row in rows) for i in range(3)]
        write("")
        write("Demo logins (every demo labeler also logs in with the same password):")
        for row in rows:
            write(
                "  "
                + "  ".join(c.ljust(w) for c, w in zip(row[:3], widths, strict=True))
                + "  "
                + row[3]
            )
        write("")
        write(f"Admin:     {base}/admin/  (log in as ops)")
        write(f"API docs:  {base}/api/docs/  (schema: {base}/api/schema/)")
        write(f"Health:    {base}/healthz")
        write("Get a token, then call the API with it:")
        write(
            f"  curl -s -X POST {base}/api/v1/auth/token/ "
            f"-d username=northwind_manager -d password={DEMO_PASSWORD}"
        )
        write(f'  curl -s -H "Authorization: Token <token>" {base}/api/v1/labelers/')
