"""Why a sign-in, a session or a token was refused.

Every message is safe to show to whoever made the request: none says whether a staff
id exists, nor which of the staff id and the password was wrong.
"""

from __future__ import annotations

from datetime import datetime

SIGN_IN_FAILED = "sign-in failed: wrong staff id, password or code"
NOT_SIGNED_IN = "not signed in: the session or token is unknown, expired or revoked"


class NotAuthenticated(Exception):
    """The caller is not (or no longer) signed in, or their sign-in was refused."""

    def __init__(self, message: str = NOT_SIGNED_IN) -> None:
        super().__init__(message)


class AccountLocked(NotAuthenticated):
    """Too many failed sign-ins: the account refuses sign-ins until `until`."""

    def __init__(self, until: datetime) -> None:
        self.until = until
        super().__init__(
            "too many failed sign-ins: the account is locked until "
            f"{until.isoformat(timespec='seconds')}"
        )


class SecondFactorRequired(NotAuthenticated):
    """The password was right, and the account needs a TOTP code as well."""

    def __init__(self) -> None:
        super().__init__("totp: a code from your authenticator app is required")


class SecondFactorEnrolmentRequired(NotAuthenticated):
    """An admin's session that may only enrol TOTP (required for admins) was used for
    something else."""

    def __init__(self) -> None:
        super().__init__(
            "admins must enrol a TOTP second factor first: enrol, confirm a code, then "
            "carry on with the same session"
        )


class InvitationInvalid(NotAuthenticated):
    """The invitation code is wrong, used, superseded or expired."""

    def __init__(self, why: str = "not a valid invitation for this staff id") -> None:
        super().__init__(f"code: {why}; ask an admin for a new invitation")
