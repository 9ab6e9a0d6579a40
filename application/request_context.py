"""Who is asking, beside the actor: what every access-log entry records about the request.

An entry point binds one `RequestContext` for each request it serves (the HTTP API's
middleware, the codec server's) or for each operator command (the CLI's `call`), and
adds how the caller proved who they are once it knows (`authenticated`). The
access-log writer (`application.access_log.record`) reads `current()`, so every
entry — reads, refused reads and writes, break-glass reads, payload decodes — carries
the request id, the client address, the authentication method and the credential,
without any use case passing them along.

The context lives in a `ContextVar`: asyncio tasks and threads started while serving a
request see the request's context, and concurrent requests never see each other's.
Outside any request (tests, the worker) it is empty and entries record nulls.
"""

from __future__ import annotations

import getpass
import os
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, replace
from typing import Literal, get_args

AuthMethod = Literal["password", "token", "oidc", "operator", "webhook"]
"""How the caller proved who they are: a password session, a personal access token, a
single sign-on (OpenID Connect) session or token, an operator command run directly
on the servers (the operating-system user is recorded), or a provider's signed reply
(the credential id is its webhook-id; events/migrations/0011)."""

AUTH_METHODS: tuple[str, ...] = get_args(AuthMethod)

REQUEST_ID_HEADER = "X-Request-ID"
"""The header a request id is taken from (when safe) and answered in."""

_SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@+/=-]{0,127}")
"""An incoming request id is kept only if it is 1 to 128 of these characters (a UUID, a
trace id, a proxy's id): nothing that could forge a log line or a header."""

MAX_CLIENT_ADDRESS = 100


@dataclass(frozen=True)
class RequestContext:
    """What is known about the current request (None: not known, or not applicable)."""

    request_id: str | None = None
    client_address: str | None = None
    """The peer's address as the server saw it (behind a trusted proxy, the address the
    proxy forwarded, if the server is configured to honour it)."""
    auth_method: AuthMethod | None = None
    credential_id: str | None = None
    """The session or personal access token id that proved the caller (never the secret)."""
    os_user: str | None = None
    """The operating-system user of an operator command (`auth_method` "operator")."""


_EMPTY = RequestContext()
_CURRENT: ContextVar[RequestContext | None] = ContextVar("casework_request_context", default=None)


def current() -> RequestContext:
    """The context of the request being served (empty outside any request)."""
    return _CURRENT.get() or _EMPTY


@contextmanager
def bound(context: RequestContext) -> Iterator[RequestContext]:
    """Make `context` the current one for the block (restored afterwards)."""
    token = _CURRENT.set(context)
    try:
        yield context
    finally:
        _CURRENT.reset(token)


def authenticated(method: AuthMethod, credential_id: str) -> RequestContext:
    """Record how the current request's caller proved who they are (for the rest of the
    request: the caller's context, as a task of the request, ends with it)."""
    if method not in AUTH_METHODS:
        raise ValueError(f"auth_method: must be one of {', '.join(AUTH_METHODS)}, not {method!r}")
    context = replace(current(), auth_method=method, credential_id=credential_id)
    _CURRENT.set(context)
    return context


def new_request_id() -> str:
    return uuid.uuid4().hex


def request_id_from(header: str | None) -> str:
    """The incoming request id if it is safe to keep, else a new one."""
    if header is not None and _SAFE_REQUEST_ID.fullmatch(header):
        return header
    return new_request_id()


def clean_client_address(address: str | None) -> str | None:
    """The peer address as recorded: printable, at most 100 characters, or None."""
    if not address:
        return None
    printable = "".join(c for c in address if c.isprintable() and not c.isspace())
    return printable[:MAX_CLIENT_ADDRESS] or None


def for_request(request_id_header: str | None, client_address: str | None) -> RequestContext:
    """A fresh context for an incoming request (not yet authenticated)."""
    return RequestContext(
        request_id=request_id_from(request_id_header),
        client_address=clean_client_address(client_address),
    )


def operating_system_user() -> str:
    """Who runs this process, as the operating system knows them."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name and no passwd entry (some containers)
        return f"uid {os.getuid()}"


def operator() -> RequestContext:
    """The context of an operator command run directly on the servers (`casework
    inspect`, `verify`, …): a new request id and the operating-system user."""
    return RequestContext(
        request_id=new_request_id(), auth_method="operator", os_user=operating_system_user()
    )
