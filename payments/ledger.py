"""The ledger hash: a SHA-256 over a period's lines in one canonical order.

Each line is written as its fields joined by ``|`` (ids of what it names, kind and basis, the
currency, quantity, unit rate and amount at the database's scale, the rule, and the detail as
sorted JSON), one line of text per ledger line, sorted; the hash is of those texts joined by
newlines. Line ids and creation times are left out, so recalculating an unchanged period —
which may write its lines afresh — gives the same hash.
"""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal

from payments.models import LedgerLine

_FIELDS = (
    "project_id",
    "labeler_id",
    "vendor_id",
    "kind",
    "basis",
    "rate_id",
    "currency",
    "quantity",
    "unit_rate",
    "amount",
    "rule",
    "detail",
)
_SCALE = {
    "quantity": Decimal("0.0001"),
    "unit_rate": Decimal("0.000001"),
    "amount": Decimal("0.000001"),
}


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return str(value)


def canonical_lines(period_id: int) -> list[str]:
    """The period's lines as canonical texts, sorted."""
    rows = LedgerLine.objects.filter(period_id=period_id).values_list(*_FIELDS)
    texts = []
    for row in rows.iterator(chunk_size=10_000):
        values = dict(zip(_FIELDS, row, strict=True))
        for name, scale in _SCALE.items():
            values[name] = format(Decimal(values[name]).quantize(scale), "f")
        texts.append("|".join(_text(values[name]) for name in _FIELDS))
    texts.sort()
    return texts


def ledger_hash(period_id: int) -> str:
    """The SHA-256 (hex) of the period's canonical lines; of the empty text for no lines."""
    digest = hashlib.sha256()
    digest.update("\n".join(canonical_lines(period_id)).encode())
    return digest.hexdigest()
