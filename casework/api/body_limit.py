"""Request bodies over `max_bytes` are refused (413), counted as they arrive.

A `Content-Length` over the limit is refused before anything is read. A body without one
(`Transfer-Encoding: chunked`), or one longer than its `Content-Length` says, is counted
message by message as the application reads it: the moment the count passes the limit
(or the declared length) the read fails inside the application, which therefore never
sees the rest and runs no use case, and its answer to the failed read is replaced by a
problem document naming the body (413) or the header (400). The server drains what the
client still sends, so the client reads the answer.

An ASGI middleware (not an `@app.middleware("http")` one, which cannot stop a body
already being read): `create_api` installs it innermost, so every route sees only
`receive` through it, and the request id and security headers are added to its answers.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from fastapi.responses import JSONResponse
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from casework.api.problems import PROBLEM_BASE, PROBLEM_JSON, FieldProblem, Problem
from casework.i18n import N_, _
from infrastructure.logs import get_logger

log = get_logger(component="api")


class _BodyRefused(Exception):
    """Raised from `receive` once the body is past its limit: the application stops."""


def too_large(path: str, max_bytes: int, *, field: str) -> Problem:
    return Problem(
        type=PROBLEM_BASE + "request-too-large",
        title=_("Request too large"),
        status=413,
        detail=_(
            "%(field)s: bodies over %(limit)s bytes are refused; nothing was done",
            field=field,
            limit=max_bytes,
        ),
        instance=path,
        errors=[FieldProblem(field=field, message=_("over %(limit)s bytes", limit=max_bytes))],
    )


def bad_length(path: str, message: str) -> Problem:
    return Problem(
        type=PROBLEM_BASE + "bad-content-length",
        title=_("Bad Content-Length"),
        status=400,
        detail=_("Content-Length: %(problem)s; nothing was done", problem=_(message)),
        instance=path,
        errors=[FieldProblem(field="Content-Length", message=_(message))],
    )


async def _answer(problem: Problem, scope: Scope, receive: Receive, send: Send) -> None:
    response = JSONResponse(
        problem.model_dump(mode="json", exclude_none=True),
        status_code=problem.status,
        media_type=PROBLEM_JSON,
    )
    await response(scope, receive, send)


class BodyLimit:
    """Refuse request bodies over `max_bytes`, or longer than their `Content-Length`;
    `uploads`: the POST paths (patterns) that take a file, each with its own limit."""

    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int,
        uploads: tuple[re.Pattern[str], int] | Sequence[tuple[re.Pattern[str], int]] = (),
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        # One (pattern, limit) pair, or several: the first whose pattern matches wins.
        if len(uploads) == 2 and isinstance(uploads[0], re.Pattern):
            uploads = [uploads]  # type: ignore[list-item]
        self.uploads: list[tuple[re.Pattern[str], int]] = list(uploads)  # type: ignore[arg-type]

    def limit_for(self, scope: Scope) -> int:
        if scope.get("method") == "POST":
            path = scope.get("path", "")
            for pattern, max_bytes in self.uploads:
                if pattern.fullmatch(path):
                    return max_bytes
        return self.max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        max_bytes = self.limit_for(scope)
        header = Headers(scope=scope).get("content-length")
        declared: int | None = None
        if header is not None:
            text = header.strip()
            if not (text.isascii() and text.isdigit()):
                refused = bad_length(path, N_("not a number of bytes"))
                await _answer(refused, scope, receive, send)
                return
            declared = int(text)
            if declared > max_bytes:
                problem = too_large(path, max_bytes, field="Content-Length")
                await _answer(problem, scope, receive, send)
                return
        received = 0
        refusal: Problem | None = None
        started = False  # the application's answer began before any refusal

        async def counted() -> Message:
            nonlocal received, refusal
            if refusal is not None:
                raise _BodyRefused(refusal.detail)
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > max_bytes:
                    refusal = too_large(path, max_bytes, field="(body)")
                elif declared is not None and received > declared:
                    longer = _(
                        "the body is longer than the %(declared)s declared", declared=declared
                    )
                    refusal = bad_length(path, longer)
                if refusal is not None:
                    log.warning(
                        "request body refused",
                        path=path,
                        status=refusal.status,
                        received=received,
                        declared=declared,
                        limit=max_bytes,
                    )
                    raise _BodyRefused(refusal.detail)
            return message

        async def sent(message: Message) -> None:
            nonlocal started
            if refusal is not None and not started:
                return  # the application's answer to the failed read: ours goes instead
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted, sent)
        except Exception:
            if refusal is None or started:
                raise
        if refusal is not None and not started:
            await _answer(refusal, scope, receive, send)
