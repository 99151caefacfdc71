"""Currencies: which codes are ISO 4217, how many decimals each has, and the one rounding rule.

The list of codes and their minor units come from CLDR through Babel (JPY 0, EUR 2, KWD 3, …).
**The rounding rule:** an amount is rounded once per ledger line, half away from zero
(``ROUND_HALF_UP`` on ``Decimal``), to its currency's minor unit. Totals are sums of rounded
lines, so a statement or an invoice reconciles to its lines exactly.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from functools import cache

from babel.numbers import get_currency_precision, list_currencies
from django.core.exceptions import ValidationError


@cache
def codes() -> frozenset[str]:
    """Every ISO 4217 code Babel knows (current and historical, upper case)."""
    return frozenset(code for code in list_currencies() if len(code) == 3 and code.isupper())


def validate(code: str) -> str:
    """``code`` if it is an ISO 4217 currency code; a ``ValidationError`` otherwise."""
    if code not in codes():
        raise ValidationError(f"{code!r} is not an ISO 4217 currency code.", code="currency")
    return code


@cache
def minor_unit(code: str) -> int:
    """Decimals of the currency's minor unit: 0 for JPY, 2 for EUR, 3 for KWD."""
    return get_currency_precision(code)


def quantum(code: str) -> Decimal:
    return Decimal(1).scaleb(-minor_unit(code))


def round_money(amount: Decimal, code: str) -> Decimal:
    """``amount`` rounded half away from zero to the minor unit of ``code``."""
    if not isinstance(amount, Decimal):
        raise TypeError(f"money must be a Decimal, not {type(amount).__name__}")
    return amount.quantize(quantum(code), rounding=ROUND_HALF_UP)


def money_text(amount: Decimal, code: str) -> str:
    """``amount`` written to the minor unit of ``code`` (``12.50`` EUR, ``1250`` JPY)."""
    return format(round_money(amount, code), "f")


def rate_text(rate: Decimal, code: str) -> str:
    """A unit rate with its significant decimals, and at least those of the minor unit of
    ``code`` (a rate may be a fraction of the minor unit, e.g. 0.004 EUR a label)."""
    digits = max(minor_unit(code), -rate.normalize().as_tuple().exponent)
    return format(rate.quantize(Decimal(1).scaleb(-digits)), "f")


def plain(number: Decimal) -> str:
    """A decimal without its trailing zeros: 0.0125, 3, 12.5."""
    text = format(number, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text
