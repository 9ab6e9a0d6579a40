"""Numbers as the console's pages show them, in the language of the moment.

English keeps the pages' own formats byte for byte (`12.3`, `1234`: what the tests and
the exported files read); another language gets its separators (`12,3`, `12.345`)
through Babel, from the English text itself so that the digits are the same ones
(no second rounding of a float).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from babel.numbers import format_decimal

from casework import i18n

__all__ = ["decimal_text", "localized", "whole"]


def localized(text: str, language: str | None = None) -> str:
    """An English number's text (`12.3`, `-4`, `1234.56`) in the language's notation,
    with as many decimals; anything that is not a number (`—`) as it is."""
    lang = language or i18n.current()
    if lang == i18n.DEFAULT:
        return text
    try:
        value = Decimal(text)
    except InvalidOperation:
        return text
    if not value.is_finite():
        return text
    _sign, _digits, exponent = value.as_tuple()
    decimals = -exponent if isinstance(exponent, int) and exponent < 0 else 0
    pattern = "#,##0" + ("." + "0" * decimals if decimals else "")
    return format_decimal(value, format=pattern, locale=lang)


def decimal_text(value: float, decimals: int, language: str | None = None) -> str:
    """`value` with `decimals` decimals (`f"{value:.1f}"` in English)."""
    return localized(f"{value:.{decimals}f}", language)


def whole(value: int, language: str | None = None) -> str:
    """A count (`str(n)` in English)."""
    return localized(str(value), language)
