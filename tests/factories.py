"""factory_boy factories and the helpers every app's tests share (an API client with a token,
a thread race, an admin URL, a tolerant comparison). Rows that have a lifecycle are created
through services so their history rows exist as in production."""

from __future__ import annotations

import threading
from collections.abc import Callable

import factory
from django.db import connection
from django.urls import reverse
from factory.django import DjangoModelFactory
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

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


# -- helpers ------------------------------------------------------------------------------------


def token_client(labeler) -> APIClient:
    """An API client authenticated as ``labeler`` with a token, as a labeling tool would be."""
    client = APIClient()
    token, _ = Token.objects.get_or_create(user=labeler.user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def admin_url(model, view: str, *args) -> str:
    """The admin URL of ``model``'s ``view`` (changelist, add, change, ...)."""
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def race(n: int, fn: Callable[[int], object]) -> list[object]:
    """Run ``fn(i)`` in ``n`` threads released together; return each result or exception."""
    barrier = threading.Barrier(n)
    results: list[object] = [None] * n

    def worker(i: int) -> None:
        try:
            barrier.wait(timeout=20)
            results[i] = fn(i)
        except Exception as exc:  # collected and asserted on by the test
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "a thread hung (deadlock?)"
    return results


def same_rows(a, b, tolerance=1e-4):
    """Equal, with floats (also inside lists and dicts) equal within ``tolerance``."""
    if isinstance(a, float) and isinstance(b, float):
        return abs(a - b) <= tolerance
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_rows(a[k], b[k], tolerance) for k in a)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        pairs = zip(a, b, strict=True) if len(a) == len(b) else None
        return pairs is not None and all(same_rows(x, y, tolerance) for x, y in pairs)
    return a == b
