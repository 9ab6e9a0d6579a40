"""The secrets of staff accounts: making them, and storing them only in unusable forms.

* Session tokens (`cws_…`), personal access tokens (`cwp_…`) and invitation codes
  (`cwi_…`) are 256 bits (codes 192) from `secrets`; only their SHA-256 digest is
  stored (enough for random values of that strength: nothing to brute-force).
* Passwords are hashed with argon2id (argon2-cffi's `PasswordHasher` defaults), off
  the event loop. Unknown staff ids cost the same hashing work, so timing does not
  tell whether an id exists.
* TOTP secrets are sealed with AES-256-GCM under a key derived (HKDF-SHA256) from
  the current master key (`CASEWORK_MASTER_KEYS`), with the staff id as associated
  data; the row names the master key, so any configured master key still opens it.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import os
import secrets
from datetime import datetime
from functools import cache

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from events.keys import KeyIntegrityError, MasterKeyring, UnknownMasterKey

SESSION_PREFIX = "cws_"
ACCESS_TOKEN_PREFIX = "cwp_"
INVITATION_PREFIX = "cwi_"

_hasher = PasswordHasher()


# --- random secrets -----------------------------------------------------------------


def new_session_token() -> str:
    return SESSION_PREFIX + secrets.token_urlsafe(32)


def new_access_token() -> str:
    return ACCESS_TOKEN_PREFIX + secrets.token_urlsafe(32)


def new_invitation_code() -> str:
    return INVITATION_PREFIX + secrets.token_urlsafe(24)


def digest(secret: str) -> bytes:
    """What is stored of a random secret: its SHA-256 digest (32 bytes)."""
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).digest()


# --- passwords ----------------------------------------------------------------------


async def hash_password(password: str) -> str:
    """The argon2id hash (PHC string, salt included) of `password`."""
    return await asyncio.to_thread(_hasher.hash, password)


async def verify_password(password_hash: str, password: str) -> bool:
    def verify() -> bool:
        try:
            return _hasher.verify(password_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    return await asyncio.to_thread(verify)


def needs_rehash(password_hash: str) -> bool:
    """Whether the hash was made with other parameters than the current ones."""
    try:
        return _hasher.check_needs_rehash(password_hash)
    except InvalidHashError:
        return False


@cache
def _decoy_hash() -> str:
    return _hasher.hash(secrets.token_urlsafe(16))


async def spend_as_much_as_a_check(password: str) -> None:
    """The work of checking a password, for a staff id without one (equal timing)."""
    await verify_password(_decoy_hash(), password)


# --- TOTP ---------------------------------------------------------------------------

TOTP_DIGITS = 6
TOTP_DRIFT_STEPS = 1
"""Codes of the previous and next 30-second step are accepted too (clock drift)."""

_NONCE_BYTES = 12


def new_totp_secret() -> str:
    return pyotp.random_base32()


def totp_uri(secret: str, staff_id: str, issuer: str) -> str:
    return pyotp.TOTP(secret, digits=TOTP_DIGITS).provisioning_uri(
        name=staff_id, issuer_name=issuer
    )


def matching_totp_step(secret: str, code: str, now: datetime, after_step: int) -> int | None:
    """The time step whose code is `code` (within the allowed drift), if it is later than
    `after_step` (a code is accepted once); else None."""
    cleaned = code.replace(" ", "")
    if len(cleaned) != TOTP_DIGITS or not cleaned.isascii() or not cleaned.isdigit():
        return None
    totp = pyotp.TOTP(secret, digits=TOTP_DIGITS)
    current = totp.timecode(now)
    found = None
    for step in range(current - TOTP_DRIFT_STEPS, current + TOTP_DRIFT_STEPS + 1):
        if hmac.compare_digest(totp.generate_otp(step), cleaned) and step > after_step:
            found = step
    return found


def totp_code_at(secret: str, now: datetime) -> str:
    """The code at `now` (for tests and tools that act as an authenticator app)."""
    return pyotp.TOTP(secret, digits=TOTP_DIGITS).at(now)


def _sealing_key(keyring: MasterKeyring, key_id: str) -> AESGCM:
    master = keyring.keys.get(key_id)
    if master is None:
        raise UnknownMasterKey(
            f"a TOTP secret is sealed under master key {key_id!r}, which is not configured: "
            "add it back to CASEWORK_MASTER_KEYS, or have the staff member enrol again"
        )
    derived = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"casework/totp-secret/v1"
    ).derive(master)
    return AESGCM(derived)


def _aad(staff_id: str) -> bytes:
    return f"casework/totp-secret/v1|{staff_id}".encode()


def seal_totp_secret(keyring: MasterKeyring, staff_id: str, secret: str) -> tuple[str, bytes]:
    """(master key id, nonce ‖ ciphertext) of `secret` for `staff_id`."""
    nonce = os.urandom(_NONCE_BYTES)
    sealed = _sealing_key(keyring, keyring.current_id).encrypt(
        nonce, secret.encode(), _aad(staff_id)
    )
    return keyring.current_id, nonce + sealed


def open_totp_secret(keyring: MasterKeyring, staff_id: str, key_id: str, sealed: bytes) -> str:
    try:
        plain = _sealing_key(keyring, key_id).decrypt(
            sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:], _aad(staff_id)
        )
    except InvalidTag:
        raise KeyIntegrityError(
            f"the TOTP secret of {staff_id} does not open with master key {key_id!r}: the "
            "row was altered or copied from another staff member"
        ) from None
    return plain.decode()
