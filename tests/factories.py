"""factory_boy factories. Rows that have a lifecycle are created through services so their
history rows exist as in production."""

from __future__ import annotations

import factory
from factory.django import DjangoModelFactory

from workforce import services
from workforce.models import Labeler, Skill, User, Vendor


class UserFactory(DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.test")
    password = factory.django.Password("pw-Labelforce-1")


class VendorFactory(DjangoModelFactory):
    class Meta:
        model = Vendor
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Vendor {n}")
    slug = factory.Sequence(lambda n: f"vendor-{n}")
    country = "PT"
    default_currency = "EUR"


class SkillFactory(DjangoModelFactory):
    class Meta:
        model = Skill
        django_get_or_create = ("slug",)

    slug = factory.Sequence(lambda n: f"skill-{n}")
    name = factory.LazyAttribute(lambda o: o.slug.title())


_seq = iter(range(1, 10**9))


def make_labeler(
    *,
    vendor: Vendor | None = None,
    status: str = Labeler.Status.ACTIVE,
    seniority: str = Labeler.Seniority.LABELER,
    username: str | None = None,
    skills: tuple[str, ...] = (),
    external_id: str = "",
    password: str = "pw-Labelforce-1",
) -> Labeler:
    """A labeler created and moved to ``status`` through the services."""
    for slug in skills:
        SkillFactory(slug=slug)
    labeler = services.labeler_create(
        actor=None,
        username=username or f"labeler{next(_seq)}",
        kind=Labeler.Kind.VENDOR if vendor else Labeler.Kind.INTERNAL,
        vendor=vendor,
        seniority=seniority,
        skills=skills,
        external_id=external_id,
        password=password,
    )
    if status != Labeler.Status.INVITED:
        labeler = services.labeler_move_to_status(
            actor=None, labeler=labeler, to_status=status, reason="test set-up"
        )
    return labeler
