"""The demo's people: the role groups, the skills, the operations manager, the two vendors with
their managers, and about thirty labelers, each walked through their status story.

Most labelers are active; a few are still invited or onboarding; two vendor labelers were
suspended by hand by their manager (one after the vendor's own spot checks, one for a policy
breach); one left at their own request; one internal labeler was suspended and reactivated. One
internal labeler is the senior labeler who resolves reviews.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from functools import partial
from typing import TYPE_CHECKING, NamedTuple

from django.contrib.auth.models import Group
from django.core.management.base import CommandError
from django.db import transaction

from workforce import roles, services
from workforce.models import Labeler, User, Vendor
from workforce.roles_setup import ensure_role_groups

if TYPE_CHECKING:
    from demo.seed import DemoSeed

DEMO_PASSWORD = "labelforce-demo"  # noqa: S105 — printed on purpose; refused unless DEBUG

S = Labeler.Status

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

# The labelers' teams, by the prefix of their people's external ids (NW-0001 …; internal staff
# have none): (vendor slug or None for internal staff, where they work).
TEAMS: dict[str, tuple[str | None, str]] = {
    "": (None, "Europe/Berlin"),
    "NW": ("northwind", "Europe/Lisbon"),
    "KDS": ("kestrel", "Asia/Kolkata"),
}

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
            "Suspended by hand: Northwind's own spot check of 50 of his bounding-box tasks found "
            "32 right (64%; Northwind expects 80%). Retrain and requalify before returning.",
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


def _labelers(rows: Iterable[tuple[str, str, str, str, str]]) -> tuple[DemoLabeler, ...]:
    """Rows of (username, full name, team, skill slugs, language codes), the team a key of
    ``TEAMS``. A vendor's people get external ids numbered in row order (``NW-0001`` …)."""
    numbered: Counter[str] = Counter()
    specs = []
    for username, name, team, skills, languages in rows:
        vendor, timezone = TEAMS[team]
        numbered[team] += 1
        specs.append(
            DemoLabeler(
                username=username,
                first_name=name.split()[0],
                last_name=name.split()[-1],
                vendor=vendor,
                external_id=f"{team}-{numbered[team]:04d}" if vendor else "",
                skills=tuple(skills.split()),
                languages=tuple(languages.split()),
                timezone=timezone,
                story=STORIES.get(username, ACTIVE_STORY),
                seniority=(
                    Labeler.Seniority.SENIOR if username in SENIORS else Labeler.Seniority.LABELER
                ),
            )
        )
    return tuple(specs)


_ALL_SKILLS = " ".join(slug for slug, _ in SKILLS)

# In the order they are invited: the internal team, then Northwind's people, then Kestrel's.
LABELERS = _labelers(
    (
        ("senior", "Helena Brandt", "", _ALL_SKILLS, "en de"),
        ("labeler", "Jonas Weber", "", "bounding-boxes utility-poles", "en de"),
        ("amara.nwosu", "Amara Nwosu", "", "text-classification named-entities", "en fr"),
        ("li.wen", "Li Wen", "", "medical-imaging", "en zh"),
        ("sam.okafor", "Sam Okafor", "", "text-classification", "en"),
        ("ines.costa", "Inês Costa", "NW", "bounding-boxes utility-poles", "pt-PT en"),
        ("joao.ferreira", "João Ferreira", "NW", "bounding-boxes", "pt-PT en"),
        ("mariana.santos", "Mariana Santos", "NW", "medical-imaging", "pt-PT en es"),
        ("pedro.almeida", "Pedro Almeida", "NW", "utility-poles", "pt-PT"),
        ("beatriz.rocha", "Beatriz Rocha", "NW", "text-classification named-entities", "pt-PT en"),
        ("tiago.sousa", "Tiago Sousa", "NW", "bounding-boxes utility-poles", "pt-PT es"),
        ("catarina.lopes", "Catarina Lopes", "NW", "medical-imaging bounding-boxes", "pt-PT en"),
        ("rui.martins", "Rui Martins", "NW", "text-classification", "pt-PT en"),
        ("sofia.pereira", "Sofia Pereira", "NW", "named-entities text-classification", "pt-PT fr"),
        ("miguel.carvalho", "Miguel Carvalho", "NW", "bounding-boxes", "pt-PT"),
        ("ana.ribeiro", "Ana Ribeiro", "NW", "utility-poles", "pt-PT en"),
        ("diogo.gomes", "Diogo Gomes", "NW", "", "pt-PT"),
        ("lucia.marques", "Lúcia Marques", "NW", "text-classification", "pt-PT en"),
        ("priya.sharma", "Priya Sharma", "KDS", "medical-imaging bounding-boxes", "hi en"),
        ("arjun.nair", "Arjun Nair", "KDS", "bounding-boxes utility-poles", "ml en"),
        ("kavya.reddy", "Kavya Reddy", "KDS", "text-classification named-entities", "te en"),
        ("rohan.mehta", "Rohan Mehta", "KDS", "utility-poles", "hi gu en"),
        ("ananya.iyer", "Ananya Iyer", "KDS", "medical-imaging", "ta en"),
        ("vikram.singh", "Vikram Singh", "KDS", "bounding-boxes", "hi pa en"),
        ("deepa.krishnan", "Deepa Krishnan", "KDS", "text-classification", "ta en"),
        ("sanjay.patel", "Sanjay Patel", "KDS", "bounding-boxes utility-poles", "gu hi en"),
        ("meera.joshi", "Meera Joshi", "KDS", "named-entities", "mr hi en"),
        ("aditya.rao", "Aditya Rao", "KDS", "medical-imaging text-classification", "kn en"),
        ("rahul.verma", "Rahul Verma", "KDS", "bounding-boxes", "hi en"),
        ("neha.gupta", "Neha Gupta", "KDS", "", "hi en"),
    )
)

# The login a newcomer uses on the labeler pages (/labeler/): trained, not yet qualified, with a
# guide version to acknowledge, quizzes open and tasks waiting in both demo projects (the story
# is told by demo.seed.qualification and demo.seed.boxes).
DEMO_LABELER = "labeler"

# The rows of the closing login table: (role, username, what to try).
LOGIN_TABLE = (
    ("Operations manager", "ops", "the admin at {base}/admin/; the API sees every vendor"),
    ("Vendor manager", "northwind_manager", "GET /api/v1/labelers/ lists Northwind's only"),
    ("Vendor manager", "kestrel_manager", "a Northwind labeler's URL is a 404 here"),
    ("Senior labeler", "senior", "GET /api/v1/me/ (internal, senior)"),
    (
        "Labeler (internal)",
        DEMO_LABELER,
        "the labeler pages at {base}/labeler/; GET /api/v1/me/; other labelers are 404",
    ),
    ("Labeler (Northwind)", "ines.costa", "GET /api/v1/me/ (vendor labeler NW-0001)"),
    ("Labeler (offboarded)", "lucia.marques", "the token request is refused: login disabled"),
)


# -- the steps -----------------------------------------------------------------------------------


def _new_login(seed: DemoSeed, login: DemoLogin, *, is_staff: bool) -> User:
    user = User(
        username=login.username,
        first_name=login.first_name,
        last_name=login.last_name,
        email=login.email,
        is_staff=is_staff,
        password=seed.password_hash(),
    )
    user.save()
    return user


def _ensure_login(seed: DemoSeed, login: DemoLogin, *, is_staff: bool = False) -> User:
    """A plain login (operations or vendor manager), created once with the demo password."""
    return seed.ensure(
        "logins",
        User.objects.filter(username=login.username).first(),
        partial(_new_login, seed, login, is_staff=is_staff),
    )


def seed_roles(seed: DemoSeed) -> None:
    """The role groups (migrate creates them too; this keeps the command safe to run alone)."""
    ensure_role_groups()


def seed_skills(seed: DemoSeed) -> None:
    for slug, name in SKILLS:
        services.skill_get_or_create(slug=slug, name=name)


def seed_people(seed: DemoSeed) -> None:
    """The operations manager, the vendors and their managers, and the labelers."""
    seed.ops = _ensure_login(seed, OPS, is_staff=True)
    seed.ops.groups.add(Group.objects.get(name=roles.OPS_MANAGERS))

    for spec in VENDORS:
        vendor = seed.ensure(
            "vendors",
            Vendor.objects.filter(slug=spec.slug).first(),
            partial(
                services.vendor_create,
                actor=seed.ops,
                name=spec.name,
                slug=spec.slug,
                contact_name=f"{spec.manager.first_name} {spec.manager.last_name}",
                contact_email=spec.manager.email,
                country=spec.country,
                default_currency=spec.currency,
            ),
        )
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


def story_labelers(usernames: Iterable[str]) -> dict[str, Labeler]:
    """The named demo labelers, by username; CommandError if one is missing (the people step
    creates them all)."""
    wanted = set(usernames)
    found = {
        labeler.user.username: labeler
        for labeler in Labeler.objects.select_related("user").filter(user__username__in=wanted)
    }
    missing = sorted(wanted - set(found))
    if missing:
        raise CommandError(f"The demo labelers {', '.join(missing)} are missing.")
    return found


# -- the report ----------------------------------------------------------------------------------


def report(seed: DemoSeed, base: str) -> list[str]:
    """The demo logins and where to try them: the admin, the API docs, a token."""
    rows = [("ROLE", "USERNAME", "PASSWORD", "WHAT TO TRY")]
    rows += [(r, u, DEMO_PASSWORD, t.format(base=base)) for r, u, t in LOGIN_TABLE]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    return [
        "",
        "Demo logins (every demo labeler also logs in with the same password):",
        *(
            "  "
            + "  ".join(c.ljust(w) for c, w in zip(row[:3], widths, strict=True))
            + "  "
            + row[3]
            for row in rows
        ),
        "",
        f"Admin:     {base}/admin/  (log in as ops)",
        f"Labeler pages: {base}/labeler/  (log in as {DEMO_LABELER})",
        f"API docs:  {base}/api/docs/  (schema: {base}/api/schema/)",
        f"Health:    {base}/healthz",
        "Get a token, then call the API with it:",
        f"  curl -s -X POST {base}/api/v1/auth/token/ "
        f"-d username=northwind_manager -d password={DEMO_PASSWORD}",
        f'  curl -s -H "Authorization: Token <token>" {base}/api/v1/labelers/',
    ]
