"""pydantic's validation messages in the language of the moment.

A command's data is checked by pydantic models (cases/commands.py); their errors reach
people beside a console form's fields (casework/console/forms.py) and in the API's
problem documents (casework/api/problems.py). pydantic writes its messages in English
only, so each error is read by its `type` and `ctx` and written again from a catalog
entry (`forms.po`):

    message({"type": "missing", "msg": "Field required", ...})  # "Se requiere este campo"

In English the text is pydantic's own `msg`, unchanged. A type without an entry here
(a rare one: frozen instances, recursion, callables) keeps pydantic's English. The
reason a model's own validator gives (`value_error`, `assertion_error`) is looked up in
the catalogs as it is (an exact msgid), else shown as written.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from casework import i18n
from casework.i18n import N_, _, ngettext

__all__ = ["detail", "message", "render"]

Context = Mapping[str, Any]

PARSING_DETAILS = (
    N_("input is too short"),
    N_("input is too long"),
    N_("invalid character in year"),
    N_("invalid character in month"),
    N_("invalid character in day"),
    N_("invalid date separator, expected `-`"),
    N_("month value is outside expected range of 1-12"),
    N_("day value is outside expected range"),
    N_("unexpected extra characters at the end of the input"),
    N_("invalid character in hour"),
    N_("invalid character in minute"),
    N_("invalid character in second"),
    N_("invalid time separator, expected `:`"),
    N_("hour value is outside expected range of 0-23"),
    N_("minute value is outside expected range of 0-59"),
    N_("second value is outside expected range of 0-59"),
    N_("invalid timezone sign"),
    N_("invalid character in timezone"),
    N_("input is not a valid date or time"),
    N_("invalid datetime separator, expected `T`, `t`, `_` or space"),
    N_("unable to parse input string as an integer"),
)
"""The reasons pydantic's date and time parser gives after the comma of a date's,
a time's or a datetime's message (`…, input is too short`), translated as they are."""


def _reason(value: object) -> str:
    """A reason given inside pydantic's message, in the current language when the
    catalogs know it."""
    return i18n.raw_gettext(str(value))


def _choices(expected: object) -> str:
    """pydantic's `'a', 'b' or 'c'` as a plain list of the values (`'a', 'b', 'c'`) in
    a language other than English."""
    if i18n.current() == i18n.DEFAULT:
        return str(expected)
    return str(expected).replace("' or '", "', '")


def _missing(_ctx: Context) -> str:
    return _("Field required")


TEMPLATES: dict[str, Callable[[Context], str]] = {
    "missing": _missing,
    "missing_argument": _missing,
    "missing_keyword_only_argument": _missing,
    "missing_positional_only_argument": _missing,
    "extra_forbidden": lambda _c: _("Extra inputs are not permitted"),
    "unexpected_keyword_argument": lambda _c: _("Extra inputs are not permitted"),
    "none_required": lambda _c: _("Input should be None"),
    "string_type": lambda _c: _("Input should be a valid string"),
    "string_too_short": lambda c: ngettext(
        "String should have at least %(num)s character",
        "String should have at least %(num)s characters",
        int(c["min_length"]),
    ),
    "string_too_long": lambda c: ngettext(
        "String should have at most %(num)s character",
        "String should have at most %(num)s characters",
        int(c["max_length"]),
    ),
    "string_pattern_mismatch": lambda c: _(
        "String should match pattern '%(pattern)s'", pattern=c["pattern"]
    ),
    "too_short": lambda c: ngettext(
        "%(field_type)s should have at least %(num)s item after validation, not %(actual)s",
        "%(field_type)s should have at least %(num)s items after validation, not %(actual)s",
        int(c["min_length"]),
        field_type=c.get("field_type", "Value"),
        actual=c.get("actual_length"),
    ),
    "too_long": lambda c: ngettext(
        "%(field_type)s should have at most %(num)s item after validation, not %(actual)s",
        "%(field_type)s should have at most %(num)s items after validation, not %(actual)s",
        int(c["max_length"]),
        field_type=c.get("field_type", "Value"),
        actual=c.get("actual_length"),
    ),
    "enum": lambda c: _("Input should be %(expected)s", expected=_choices(c["expected"])),
    "literal_error": lambda c: _("Input should be %(expected)s", expected=_choices(c["expected"])),
    "list_type": lambda _c: _("Input should be a valid list"),
    "tuple_type": lambda _c: _("Input should be a valid tuple"),
    "set_type": lambda _c: _("Input should be a valid set"),
    "dict_type": lambda _c: _("Input should be a valid dictionary"),
    "model_type": lambda c: _(
        "Input should be a valid dictionary or instance of %(class_name)s",
        class_name=c.get("class_name", ""),
    ),
    "model_attributes_type": lambda _c: _(
        "Input should be a valid dictionary or object to extract fields from"
    ),
    "bool_type": lambda _c: _("Input should be a valid boolean"),
    "bool_parsing": lambda _c: _("Input should be a valid boolean, unable to interpret input"),
    "int_type": lambda _c: _("Input should be a valid integer"),
    "int_parsing": lambda _c: _(
        "Input should be a valid integer, unable to parse string as an integer"
    ),
    "int_from_float": lambda _c: _(
        "Input should be a valid integer, got a number with a fractional part"
    ),
    "float_type": lambda _c: _("Input should be a valid number"),
    "float_parsing": lambda _c: _(
        "Input should be a valid number, unable to parse string as a number"
    ),
    "finite_number": lambda _c: _("Input should be a finite number"),
    "decimal_parsing": lambda _c: _("Input should be a valid decimal"),
    "greater_than": lambda c: _("Input should be greater than %(gt)s", gt=c["gt"]),
    "greater_than_equal": lambda c: _(
        "Input should be greater than or equal to %(ge)s", ge=c["ge"]
    ),
    "less_than": lambda c: _("Input should be less than %(lt)s", lt=c["lt"]),
    "less_than_equal": lambda c: _("Input should be less than or equal to %(le)s", le=c["le"]),
    "multiple_of": lambda c: _(
        "Input should be a multiple of %(multiple_of)s", multiple_of=c["multiple_of"]
    ),
    "date_type": lambda _c: _("Input should be a valid date"),
    "date_parsing": lambda c: _(
        "Input should be a valid date in the format YYYY-MM-DD, %(error)s",
        error=_reason(c.get("error", "")),
    ),
    "date_from_datetime_parsing": lambda c: _(
        "Input should be a valid date or datetime, %(error)s", error=_reason(c.get("error", ""))
    ),
    "date_from_datetime_inexact": lambda _c: _(
        "Datetimes provided to dates should have zero time - e.g. be exact dates"
    ),
    "date_past": lambda _c: _("Date should be in the past"),
    "date_future": lambda _c: _("Date should be in the future"),
    "time_type": lambda _c: _("Input should be a valid time"),
    "time_parsing": lambda c: _(
        "Input should be in a valid time format, %(error)s", error=_reason(c.get("error", ""))
    ),
    "datetime_type": lambda _c: _("Input should be a valid datetime"),
    "datetime_parsing": lambda c: _(
        "Input should be a valid datetime, %(error)s", error=_reason(c.get("error", ""))
    ),
    "datetime_from_date_parsing": lambda c: _(
        "Input should be a valid datetime or date, %(error)s", error=_reason(c.get("error", ""))
    ),
    "datetime_past": lambda _c: _("Input should be in the past"),
    "datetime_future": lambda _c: _("Input should be in the future"),
    "timezone_naive": lambda _c: _("Input should not have timezone info"),
    "timezone_aware": lambda _c: _("Input should have timezone info"),
    "uuid_type": lambda _c: _("UUID input should be a string, bytes or UUID object"),
    "uuid_parsing": lambda c: _(
        "Input should be a valid UUID, %(error)s", error=_reason(c.get("error", ""))
    ),
    "url_type": lambda _c: _("URL input should be a string or URL"),
    "url_parsing": lambda c: _(
        "Input should be a valid URL, %(error)s", error=_reason(c.get("error", ""))
    ),
    "json_invalid": lambda c: _("Invalid JSON: %(error)s", error=c.get("error", "")),
    "json_type": lambda _c: _("JSON input should be string, bytes or bytearray"),
    "union_tag_invalid": lambda c: _(
        "Input tag '%(tag)s' found using %(discriminator)s does not match any of the "
        "expected tags: %(expected_tags)s",
        tag=c.get("tag", ""),
        discriminator=c.get("discriminator", ""),
        expected_tags=c.get("expected_tags", ""),
    ),
    "union_tag_not_found": lambda c: _(
        "Unable to extract tag using discriminator %(discriminator)s",
        discriminator=c.get("discriminator", ""),
    ),
    "value_error": lambda c: _("Value error, %(error)s", error=_reason(c.get("error", ""))),
    "assertion_error": lambda c: _(
        "Assertion failed, %(error)s", error=_reason(c.get("error", ""))
    ),
}
"""pydantic's message for each error type it is known by, as a catalog entry."""


def render(error: Mapping[str, Any]) -> str:
    """The error's message in the current language from the table (pydantic's `msg`
    when its type has no entry or its context lacks a value the entry needs)."""
    template = TEMPLATES.get(str(error.get("type", "")))
    if template is None:
        return str(error.get("msg", ""))
    try:
        return template(error.get("ctx") or {})
    except (KeyError, TypeError, ValueError):
        return str(error.get("msg", ""))


def message(error: Mapping[str, Any]) -> str:
    """A pydantic error (an item of `ValidationError.errors()`) as a person reads it in
    the current language; in English, pydantic's own `msg`."""
    if i18n.current() == i18n.DEFAULT:
        return str(error.get("msg", ""))
    return render(error)


def detail(error: Mapping[str, Any]) -> str:
    """The message without pydantic's `Value error, ` before a model's own reason (how
    a form shows it beside the field the reason is about)."""
    if error.get("type") == "value_error":
        if i18n.current() == i18n.DEFAULT:
            return str(error.get("msg", "")).removeprefix("Value error, ")
        ctx = error.get("ctx") or {}
        if "error" in ctx:
            return _reason(ctx["error"])
    return message(error)
