"""Who is signed in, and what a sign-in, an invitation or a new token hands out once.

Secrets handed out (`code`, `token`, `secret`, `uri`) are kept out of `repr`, so a
result logged or printed by mistake does not show them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from cases.actors import Actor

Method = Literal["password", "token", "oidc"]


@dataclass(frozen=True)
class Principal:
    """A staff member proven by a session (password or single sign-on) or an access token.

    `actor` is read from the staff directory at every `authenticate`, so a change of
    role or team applies at once. `credential_id` is the session or token id (never
    the secret). `enrolment_only`: an admin's session that may only enrol TOTP
    (`enrol_totp`, `confirm_totp`); `authenticate` hands it out only when asked to.
    """

    actor: Actor
    method: Method
    credential_id: str
    enrolment_only: bool = False


@dataclass(frozen=True)
class Invitation:
    """A one-time invitation to set a password: give `code` to the staff member."""

    staff_id: str
    invitation_id: str
    code: str = field(repr=False)
    expires_at: datetime


@dataclass(frozen=True)
class IssuedSession:
    """A new session: `token` is shown to the client once (Casework keeps its hash)."""

    session_id: str
    staff_id: str
    token: str = field(repr=False)
    expires_at: datetime
    """The absolute end; the session also ends after the idle timeout."""
    idle_timeout_seconds: int
    enrolment_only: bool = False
    """True for an admin who must enrol TOTP before anything else."""


@dataclass(frozen=True)
class IssuedToken:
    """A new personal access token: `token` is shown once (Casework keeps its hash)."""

    token_id: str
    name: str
    token: str = field(repr=False)
    expires_at: datetime


@dataclass(frozen=True)
class AccessTokenInfo:
    """A personal access token as listed (never the token)."""

    token_id: str
    staff_id: str
    name: str
    created_at: datetime
    expires_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


@dataclass(frozen=True)
class TotpEnrolment:
    """A TOTP secret for an authenticator app, shown once; confirm it with a code."""

    secret: str = field(repr=False)
    """Base32, for typing into the app."""
    uri: str = field(repr=False)
    """An `otpauth://` URI (render it as a QR code)."""
