"""Standard Webhooks signatures (https://www.standardwebhooks.com), both directions.

Pure: no clock, no database, no network. It wraps the `standardwebhooks` library's
`Webhook.sign`, so what we send verifies with any receiver's copy of the library and
what a provider signs with it verifies here.

- `new_secret()`: a fresh ``whsec_<base64 of 32 random bytes>`` secret.
- `sign_headers(secrets, msg_id, body, at)`: the three headers of one request:
  ``webhook-id`` (the delivery's id, the same on every retry), ``webhook-timestamp``
  (seconds since the epoch, per attempt) and ``webhook-signature``: one ``v1,<b64>``
  per live secret, space-separated, so a receiver holding either the old or the new
  secret during a rotation's overlap accepts the request.
- `verify(secrets, headers, body, now=, tolerance=)`: the headers are present, the
  timestamp is within `tolerance` of `now` (our clock, injected: the library's own
  check reads the wall clock with a fixed five minutes), and one of the signatures
  was made with one of `secrets`. Otherwise `SignatureRefused` with a short reason.

Secrets never appear in error messages, reprs or log lines.
"""

from __future__ import annotations

import base64
import hmac
import secrets as _random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final, Literal

from standardwebhooks.webhooks import Webhook

SECRET_PREFIX: Final = "whsec_"
SECRET_BYTES: Final = 32

HEADER_ID: Final = "webhook-id"
HEADER_TIMESTAMP: Final = "webhook-timestamp"
HEADER_SIGNATURE: Final = "webhook-signature"

MAX_SIGNATURES: Final = 8
"""More space-separated signatures than this in one header is refused as bad."""

Reason = Literal["missing", "bad_signature", "stale", "future"]


class SignatureRefused(Exception):
    """The request is not signed as it must be; `reason` says how (never a secret)."""

    def __init__(self, reason: Reason) -> None:
        super().__init__(reason)
        self.reason: Reason = reason


@dataclass(frozen=True, slots=True)
class VerifiedMessage:
    """A request whose signature checked out: its id and the time it says it was sent."""

    msg_id: str
    sent_at: datetime


def new_secret() -> str:
    """A fresh signing secret, ``whsec_`` + base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(_random.token_bytes(SECRET_BYTES)).decode()


def is_secret(value: str) -> bool:
    """Whether `value` has the form of a signing secret (for redaction checks)."""
    return value.startswith(SECRET_PREFIX)


def _signers(secrets: Sequence[str]) -> list[Webhook]:
    return [Webhook(secret) for secret in secrets]


def sign_headers(secrets: Sequence[str], msg_id: str, body: bytes, at: datetime) -> dict[str, str]:
    """The ``webhook-*`` headers for `body`, signed with each of `secrets` at `at`."""
    if not secrets:
        raise ValueError("at least one secret is needed to sign")
    if not msg_id or not msg_id.isprintable() or " " in msg_id:
        raise ValueError("the webhook id must be printable text without spaces")
    moment = at if at.tzinfo is not None else at.replace(tzinfo=UTC)
    signatures = " ".join(signer.sign(msg_id, moment, body) for signer in _signers(secrets))
    return {
        HEADER_ID: msg_id,
        HEADER_TIMESTAMP: str(int(moment.timestamp())),
        HEADER_SIGNATURE: signatures,
    }


def verify(
    secrets: Sequence[str],
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: datetime,
    tolerance: timedelta,
) -> VerifiedMessage:
    """Check `body` and its headers against `secrets`; `SignatureRefused` otherwise.

    Order: headers present ("missing"), timestamp a whole number of seconds within
    `tolerance` of `now` ("stale" before, "future" after; a malformed one is
    "missing"), one signature matches one secret ("bad_signature"; also when
    `secrets` is empty).
    """
    lowered = {key.lower(): value for key, value in headers.items()}
    msg_id = lowered.get(HEADER_ID, "").strip()
    stamp = lowered.get(HEADER_TIMESTAMP, "").strip()
    signature = lowered.get(HEADER_SIGNATURE, "").strip()
    if not (msg_id and stamp and signature) or not stamp.isdigit() or len(stamp) > 12:
        raise SignatureRefused("missing")
    sent_at = datetime.fromtimestamp(int(stamp), tz=UTC)
    if sent_at < now - tolerance:
        raise SignatureRefused("stale")
    if sent_at > now + tolerance:
        raise SignatureRefused("future")
    offered = [part for part in signature.split(" ") if part]
    if not secrets or len(offered) > MAX_SIGNATURES:
        raise SignatureRefused("bad_signature")
    for signer in _signers(secrets):
        expected = signer.sign(msg_id, sent_at, body).encode()
        if any(hmac.compare_digest(expected, given.encode()) for given in offered):
            return VerifiedMessage(msg_id=msg_id, sent_at=sent_at)
    raise SignatureRefused("bad_signature")
