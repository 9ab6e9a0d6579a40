"""Errors as RFC 9457 `application/problem+json`: a type, a title, the HTTP status, a
detail a person can act on, and for invalid input the fields named.

Refusals never tell more than a read would: a case out of the caller's scope answers
404 exactly as a case that does not exist.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from casework import i18n
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
    # In the request's language (casework/i18n): a title or a detail made of a catalog
    # entry reads translated; one already translated where it was made is left alone.
    problem = problem.model_copy(
        update={
            "instance": request.url.path,
            "title": i18n.raw_gettext(problem.title),
            "detail": i18n.raw_gettext(problem.detail) if problem.detail else problem.detail,
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
        out.append(FieldProblem(field=".".join(location) or "(body)", message=error["msg"]))
    return out


def invalid(errors: list[FieldProblem]) -> ApiProblem:
    named = "; ".join(f"{e.field}: {e.message}" for e in errors)
    return ApiProblem(422, "Invalid input", named, kind="invalid-input", errors=errors)


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
        problem = Problem(title="Not permitted", status=403, detail=str(exc))
        return problem_response(problem, request)

    @app.exception_handler(NotFound)
    async def _not_found(request: Request, exc: NotFound) -> JSONResponse:
        return problem_response(Problem(title="Not found", status=404, detail=str(exc)), request)

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
