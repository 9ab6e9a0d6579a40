"""The language the console speaks to a staff member: the header's picker.

`POST /console/language` keeps the choice as the staff member's setting
(application/identity/preferences) — on every device they sign in from — or, with the
empty choice, lets the browser's `Accept-Language` decide again. Then back to the page
the picker was on.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from application.identity.preferences import UnknownLanguage, set_language
from casework import i18n
from casework.console.web import PREFIX, casework_of, check_csrf, now_of, redirect, signed_in

router = APIRouter(prefix=PREFIX, include_in_schema=False)


def _back(raw: object) -> str:
    path = raw if isinstance(raw, str) else ""
    if path.startswith(f"{PREFIX}/") and not path.startswith("//") and len(path) <= 2000:
        return path
    return f"{PREFIX}/"


@router.post("/language")
async def choose_language(request: Request) -> Response:
    principal = await signed_in(request)
    form = await request.form()
    check_csrf(request, form)
    raw = form.get("language")
    chosen = raw.strip() if isinstance(raw, str) and raw.strip() else None
    try:
        await set_language(
            casework_of(request),
            principal.actor.staff_id,
            chosen,
            i18n.LANGUAGES,
            now=now_of(request),
        )
    except UnknownLanguage:
        return Response(
            i18n.gettext("language: %(value)s is not a language the console speaks", value=raw),
            status_code=422,
            media_type="text/plain; charset=utf-8",
        )
    return redirect(_back(form.get("back")))
