"""Staff accounts, sessions and personal access tokens: who is calling Casework.

The use cases the HTTP API (and the CLI) call; each takes the `Casework` of the
composition root and the time as an explicit `now`:

* `invite` (admins) → a one-time code; `accept_invitation` sets the staff member's
  own password with it; `change_password` from a session.
* `sign_in` (password, TOTP code if enrolled) or `sign_in_oidc` (single sign-on,
  after the caller verified the provider's token) → a session token; `sign_out`.
* `authenticate(token)` → the `Principal` of a session or personal access token (or,
  with single sign-on configured, a JWT bearer token of the identity provider),
  checked against the staff directory on every call.
* Single sign-on (`oidc.py`, token checks in `jwks.py`): `sign_in_with_id_token`, and
  the code flow with PKCE for the console, `begin_authorization` then
  `complete_authorization`.
* `create_access_token`, `revoke_access_token`, `list_access_tokens`.
* `enrol_totp`, `confirm_totp`.

The pure rules (lockout, session validity, who may invite, the password policy) are
in `directory/account_rules.py`; the events in `events/directory_events.py`
(streams `account-<staff_id>`); the secrets' tables in `migrations/`. See the
"Staff accounts and sessions" section of docs/security.md.
"""

from __future__ import annotations

from application.identity.account_log import load_account, policy_of
from application.identity.accounts import accept_invitation, change_password, invite
from application.identity.credentials import ACCESS_TOKEN_PREFIX, SESSION_PREFIX
from application.identity.errors import (
    AccountLocked,
    InvitationInvalid,
    NotAuthenticated,
    SecondFactorEnrolmentRequired,
    SecondFactorRequired,
)
from application.identity.jwks import OidcUnavailable, OidcVerifier, verifier_of
from application.identity.oidc import (
    AuthorizationRequest,
    begin_authorization,
    complete_authorization,
    sign_in_with_id_token,
)
from application.identity.principal import (
    AccessTokenInfo,
    Invitation,
    IssuedSession,
    IssuedToken,
    Method,
    Principal,
    TotpEnrolment,
)
from application.identity.schema import identity_migrations
from application.identity.sessions import authenticate, sign_in, sign_in_oidc, sign_out
from application.identity.tokens import (
    create_access_token,
    list_access_tokens,
    revoke_access_token,
)
from application.identity.totp import confirm_totp, enrol_totp

__all__ = [
    "ACCESS_TOKEN_PREFIX",
    "SESSION_PREFIX",
    "AccessTokenInfo",
    "AccountLocked",
    "AuthorizationRequest",
    "Invitation",
    "InvitationInvalid",
    "IssuedSession",
    "IssuedToken",
    "Method",
    "NotAuthenticated",
    "OidcUnavailable",
    "OidcVerifier",
    "Principal",
    "SecondFactorEnrolmentRequired",
    "SecondFactorRequired",
    "TotpEnrolment",
    "accept_invitation",
    "authenticate",
    "begin_authorization",
    "change_password",
    "complete_authorization",
    "confirm_totp",
    "create_access_token",
    "enrol_totp",
    "identity_migrations",
    "invite",
    "list_access_tokens",
    "load_account",
    "policy_of",
    "revoke_access_token",
    "sign_in",
    "sign_in_oidc",
    "sign_in_with_id_token",
    "sign_out",
    "verifier_of",
]
