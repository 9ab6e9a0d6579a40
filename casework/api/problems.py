"""Errors as RFC 9457 `application/problem+json`: a type, a title, the HTTP status, a
detail a person can act on, and for invalid input the fields named.

Refusals never tell more than a read would: a case out of the caller's scope answers
404 exactly as a case that does not exist.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from casework import i18n
from casework.i18n import N_, _, validation
from directory.errors import NotFound, NotPermitted, Refused
from events.registry import EventValidationError

PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "https://casework.example/problems/"


class FieldProblem(BaseModel):
    field: str
    message: str


class Problem(BaseModel):
    """An RFC 9457 problem document."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    errors: list[FieldProblem] = Field(default_factory=list)
    current_version: int | None = None
    """On 412: the case's version now (send it as If-Match after looking again)."""
    candidates: list[dict[str, Any]] | None = None
    """On 409 `possible-duplicate`: existing clients the new one looks like (those with
    a case the caller may see)."""
    hidden_matches: int | None = None
    """On 409 `possible-duplicate`: likely matches on cases the caller may not see."""


class ApiProblem(Exception):
    """Raise to answer with a problem document."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str | None = None,
        *,
        kind: str | None = None,
        errors: list[FieldProblem] | None = None,
        headers: dict[str, str] | None = None,
        current_version: int | None = None,
        candidates: list[dict[str, Any]] | None = None,
        hidden_matches: int | None = None,
    ) -> None:
        super().__init__(detail or title)
        self.problem = Problem(
            type=PROBLEM_BASE + kind if kind else "about:blank",
            title=title,
            status=status,
            detail=detail,
            errors=errors or [],
            current_version=current_version,
            candidates=candidates,
            hidden_matches=hidden_matches,
        )
        self.headers = headers or {}


# --- the problems in the request's language --------------------------------------------------
#
# The API's own titles and details are marked where they are made (`N_` for a literal,
# translated here at response time; `_()` for a formatted one, in the request's language
# already). The rules' refusals (cases/, application/, directory/) are English sentences
# made deep in the domain: the fixed ones are catalog entries of their own (`FIXED`), the
# most frequent ones with variable parts are matched by shape (`SHAPES`); any other reads
# in English.

HTTP_TITLES = (
    N_("Not Found"),
    N_("Method Not Allowed"),
    N_("Unsupported Media Type"),
    N_("Bad Request"),
)
"""Starlette's own refusals (an unknown route, a wrong method): their reason phrases."""

FIXED = (
    N_("not signed in: the session or token is unknown, expired or revoked"),
    N_("sign-in failed: wrong staff id, password or code"),
    N_("totp: a code from your authenticator app is required"),
    N_("sign in again with your TOTP code"),
    N_("the account is busy with other requests; try again"),
    N_("not a session token: revoke access tokens by their id"),
    N_("the case is open: only a closed case can be reopened"),
    N_("must be a later day than since"),
    N_("a plan follows an assessment: record an assessment first"),
    N_("there is no draft plan to submit"),
    N_("there is no active plan to evaluate"),
    N_("the case has no plan yet: draft one first"),
    N_("a closure is already waiting for approval"),
    N_("there is no transfer waiting for a reply"),
    N_("the case is not on hold"),
)
"""The rules' fixed messages a caseworker meets most, translated by exact match."""

CLOSED_WHAT = (
    N_("a case conference"),
    N_("a case note"),
    N_("a contact"),
    N_("a hold"),
    N_("a plan"),
    N_("a provider report"),
    N_("a referral"),
    N_("a referral reply"),
    N_("a transfer"),
    N_("a transfer reply"),
    N_("adding an action"),
    N_("adding to the circle of support"),
    N_("an approval"),
    N_("an assessment"),
    N_("an assignment"),
    N_("an evaluation"),
    N_("attaching a document"),
    N_("closing"),
    N_("completing an action"),
    N_("dropping an action"),
    N_("goal progress"),
    N_("reassigning an action"),
    N_("recording consent"),
    N_("removing from the circle of support"),
    N_("resuming"),
    N_("sharing with the circle"),
    N_("submitting a plan"),
    N_("the client's feedback"),
    N_("updating the circle of support"),
    N_("withdrawing a document"),
    N_("withdrawing a referral"),
)
"""What a closed case refuses (cases/decide.py `_require_open`), as the rules name it."""


def _shape(msgid: str) -> re.Pattern[str]:
    """The English message a catalog entry says, its `%(name)s` placeholders as named
    groups (matched whole, so each part takes only what the words around it leave)."""
    pieces = re.split(r"%\((\w+)\)s", msgid)
    return re.compile(
        "".join(re.escape(p) if n % 2 == 0 else f"(?P<{p}>.+?)" for n, p in enumerate(pieces))
    )


SHAPES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (_shape(msgid), msgid)
    for msgid in (
        N_(
            "expected_version: the case is at version %(current)s, not %(expected)s: "
            "it changed since you read it"
        ),
        N_("the case is closed: %(what)s needs an open case (reopen it first)"),
        N_("%(staff_id)s (%(role)s) may not %(action)s cases"),
        N_("%(staff_id)s (%(role)s, team %(team)s) is not in the case's team %(case_team)s"),
        N_("%(staff_id)s is not the case's assigned worker (%(worker)s)"),
        N_("%(staff_id)s (%(role)s) may not read %(what)s"),
        N_("case %(case_id)s not found or not visible to you"),
        N_("the session has ended (%(ended)s): sign in again"),
        N_("not a cursor of %(query)s: send back a next_cursor it answered"),
        N_("one of %(choices)s, not %(value)s"),
        N_("one of %(choices)s"),
        N_("plan v%(version)s is already waiting for approval"),
        N_("plan v%(version)s is waiting for approval; it can be revised once it is returned"),
        N_("%(goal)s is not a goal of the active plan"),
        N_("the case has no action %(action)s"),
        N_("the case is already on hold until %(until)s"),
        N_("no team %(team)s in the staff directory"),
    )
)
"""The rules' most frequent messages with variable parts: (their English shape, the
catalog entry that says them with the parts as placeholders)."""

_NAMED_FIELD = re.compile(r"(?P<field>[A-Za-z_][\w.\-\[\]]*): (?P<rest>.+)", re.DOTALL)


def _part(name: str, value: str) -> str:
    """A variable part of a rule's message, in the request's language where it is a word
    of the vocabulary (a role) or a closed case's refused step."""
    if name == "role":
        return i18n.raw_gettext(value.replace("_", " "))
    if name == "what" and value in CLOSED_WHAT:
        return i18n.raw_gettext(value)
    return value


def speak(text: str) -> str:
    """An English message of the API (a catalog entry, or a rule's message of a known
    shape, or "field: message" of either) in the request's language; anything else, and
    everything in English, as it is."""
    if i18n.current() == i18n.DEFAULT or not text:
        return text
    translated = i18n.raw_gettext(text)
    if translated != text:
        return translated
    for pattern, msgid in SHAPES:
        match = pattern.fullmatch(text)
        if match:
            parts = {k: _part(k, v) for k, v in match.groupdict().items()}
            return _(msgid, **parts)
    named = _NAMED_FIELD.fullmatch(text)
    if named:
        rest = speak(named["rest"])
        if rest != named["rest"]:
            return f"{named['field']}: {rest}"
    return text


def validation_message(error: Mapping[str, Any]) -> str:
    """pydantic's message for a validation error in the request's language (by the
    error's type and context, casework/i18n/validation.py; English is pydantic's own)."""
    return validation.message(error)


def event_problems(exc: EventValidationError) -> list[FieldProblem]:
    """An event's validation problems ("field: message"), each field named once."""
    parts = [problem.partition(": ") for problem in exc.problems]
    return [
        FieldProblem(field=field, message=message)
        if sep
        else FieldProblem(field="(body)", message=field)
        for field, sep, message in parts
    ]


def problem_response(
    problem: Problem, request: Request, headers: dict[str, str] | None = None
) -> JSONResponse:
    # In the request's language (casework/i18n): a title, a detail or a field's message
    # made of a catalog entry (or of a known shape of the rules' messages, `speak`) reads
    # translated; one already translated where it was made is left alone.
    problem = problem.model_copy(
        update={
            "instance": request.url.path,
            "title": speak(problem.title),
            "detail": speak(problem.detail) if problem.detail else problem.detail,
            "errors": [
                FieldProblem(field=e.field, message=speak(e.message)) for e in problem.errors
            ],
        }
    )
    return JSONResponse(
        problem.model_dump(mode="json", exclude_none=True, exclude_defaults=False),
        status_code=problem.status,
        media_type=PROBLEM_JSON,
        headers=headers,
    )


REQUEST_PARTS = ("body", "query", "header", "path", "cookie")


def field_problems(errors: Any) -> list[FieldProblem]:
    """pydantic's errors as (field, message): the field's own name, without the part of
    the request it came in (`limit`, not `query.limit`)."""
    out: list[FieldProblem] = []
    for error in errors:
        location = [str(p) for p in error.get("loc", ())]
        if location and location[0] in REQUEST_PARTS:
            location = location[1:]
        out.append(
            FieldProblem(field=".".join(location) or "(body)", message=validation_message(error))
        )
    return out


def invalid(errors: list[FieldProblem]) -> ApiProblem:
    """422 naming the fields; their messages in the request's language (the fields' names
    are the API's, never translated)."""
    spoken = [FieldProblem(field=e.field, message=speak(e.message)) for e in errors]
    named = "; ".join(f"{e.field}: {e.message}" for e in spoken)
    return ApiProblem(422, N_("Invalid input"), named, kind="invalid-input", errors=spoken)


def install(app: FastAPI) -> None:
    """Answer every error of the app as a problem document."""

    @app.exception_handler(ApiProblem)
    async def _problem(request: Request, exc: ApiProblem) -> JSONResponse:
        return problem_response(exc.problem, request, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _request_invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return problem_response(invalid(field_problems(exc.errors())).problem, request)

    @app.exception_handler(ValidationError)
    async def _model_invalid(request: Request, exc: ValidationError) -> JSONResponse:
        return problem_response(invalid(field_problems(exc.errors())).problem, request)

    @app.exception_handler(NotPermitted)
    async def _not_permitted(request: Request, exc: NotPermitted) -> JSONResponse:
        problem = Problem(title=N_("Not permitted"), status=403, detail=str(exc))
        return problem_response(problem, request)

    @app.exception_handler(NotFound)
    async def _not_found(request: Request, exc: NotFound) -> JSONResponse:
        problem = Problem(title=N_("Not found"), status=404, detail=str(exc))
        return problem_response(problem, request)

    @app.exception_handler(Refused)
    async def _refused(request: Request, exc: Refused) -> JSONResponse:
        field, _, message = str(exc).partition(": ")
        errors = [FieldProblem(field=field, message=message)] if message else []
        return problem_response(
            invalid(errors or [FieldProblem(field="(body)", message=str(exc))]).problem, request
        )

    @app.exception_handler(EventValidationError)
    async def _event_invalid(request: Request, exc: EventValidationError) -> JSONResponse:
        return problem_response(invalid(event_problems(exc)).problem, request)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        problem = Problem(title=str(exc.detail), status=exc.status_code)
        return problem_response(problem, request, dict(exc.headers or {}))


# --- the OpenAPI document: every refusal documented as the problem it is ------------------

PROBLEM_SCHEMA_REF = "#/components/schemas/Problem"


def _problem_content() -> dict[str, Any]:
    return {PROBLEM_JSON: {"schema": {"$ref": PROBLEM_SCHEMA_REF}}}


def document_problems(spec: dict[str, Any]) -> dict[str, Any]:
    """Rewrite an OpenAPI document so that it says what the app answers on refusals:
    every 4xx/5xx response an `application/problem+json` `Problem` (FastAPI documents
    its own 422 body otherwise), 401 on every route that needs a token, 400 (not JSON)
    and 413 on every route that takes a body, 422 on every route with input.
    Idempotent."""
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    generated = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(generated.pop("$defs", {}))
    schemas["Problem"] = generated
    for path_item in spec.get("paths", {}).values():
        for operation in path_item.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses: dict[str, Any] = operation["responses"]
            if operation.get("security"):
                responses.setdefault("401", {"description": "Not signed in (or signed out)"})
            if "requestBody" in operation:
                responses.setdefault("400", {"description": "The body is not JSON"})
                responses.setdefault("413", {"description": "Request too large"})
            if operation.get("parameters") or "requestBody" in operation:
                responses.setdefault("422", {"description": "Invalid input (fields named)"})
            for status, response in responses.items():
                if status[:1] in ("4", "5"):
                    response["content"] = _problem_content()
    for name in ("HTTPValidationError", "ValidationError"):
        if name in schemas and f'"#/components/schemas/{name}"' not in json.dumps(spec["paths"]):
            del schemas[name]
    return spec


def install_openapi(app: FastAPI) -> None:
    """Serve `document_problems` of FastAPI's document at /openapi.json."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_problems(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
