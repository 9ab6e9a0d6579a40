"""Who is asking: every request but sign-in, health and the docs carries a bearer token
(a session from `POST /api/v1/sessions`, or a personal access token), checked by the
application layer on every request; the staff directory, not the token, decides the
role and team."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from application import request_context
from application.bootstrap import Casework
from application.identity import NotAuthenticated, Principal, authenticate
from casework.api.problems import ApiProblem
from casework.i18n import N_

bearer = HTTPBearer(auto_error=False, description="A session or personal access token.")

Clock = Callable[[], datetime]


def casework_of(request: Request) -> Casework:
    app: Casework = request.app.state.casework
    return app


def now_of(request: Request) -> datetime:
    clock: Clock = request.app.state.clock
    return clock()


def unauthenticated(detail: str) -> ApiProblem:
    return ApiProblem(
        401,
        N_("Not signed in"),
        detail,
        kind="not-signed-in",
        headers={"WWW-Authenticate": 'Bearer realm="casework"'},
    )


async def principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    """The authenticated caller, or 401."""
    if credentials is None:
        raise unauthenticated(N_("send Authorization: Bearer <token> (sign in first)"))

    try:
        found = await authenticate(
            casework_of(request), credentials.credentials, now=now_of(request)
        )
    except NotAuthenticated as exc:
        raise unauthenticated(str(exc)) from None
    request.state.principal = found
    request_context.authenticated(found.method, found.credential_id)  # for the access log
    return found


Caller = Annotated[Principal, Depends(principal)]
