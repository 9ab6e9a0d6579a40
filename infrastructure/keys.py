"""The deployment's keys: where each is configured, and who may make development keys.

Casework holds five kinds of key material, never in the database:

* the Temporal payload codec keys (CASEWORK_CODEC_KEYS): every payload sent to Temporal;
* the master keys (CASEWORK_MASTER_KEYS): they wrap each client's data key;
* the origin keys (CASEWORK_ORIGIN_KEYS): every event's proof that the engine wrote it;
* the notary's signing key (CASEWORK_NOTARY_KEY_FILE): it signs the checkpoints;
* the notary's trusted public keys (CASEWORK_NOTARY_PUBLIC_KEYS): they check them.

The first three are read from their variable, or from a file named by `<variable>_FILE`
(the Docker secrets convention: the secret mounted as a file, its path in the
environment). Every process of one deployment must hold the same keys: a worker that
made its own codec key cannot read what the API sends it, a verifier with another
origin key trusts no event.

Development keys (files under `<data dir>/keys/`, made on first use) are made only by
the embedded stack: `casework up`, `casework demo` and the tests call
`allow_development_keys()`. Any other process uses configured keys, or the development
keys the embedded stack already made in its data directory; lacking both it refuses to
start, with one line naming each missing setting and how to make one
(`casework keys generate`) instead of inventing keys of its own.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from pydantic import SecretStr

from events.keys import MasterKeyring
from events.origin import OriginKeyring
from infrastructure.environment import EnvironmentProblem
from infrastructure.settings import Settings

_development_keys_allowed = False


def allow_development_keys() -> None:
    """This process runs the embedded stack (or the tests): it may make development keys."""
    global _development_keys_allowed
    _development_keys_allowed = True


def development_keys_allowed() -> bool:
    return _development_keys_allowed


@dataclass(frozen=True)
class KeySetting:
    """One kind of key: its setting, its `_FILE` twin, and its development file."""

    setting: str
    file_setting: str | None
    dev_file: Path
    """Relative to the data directory."""
    what: str

    def configured(self, settings: Settings) -> bool:
        """Set by the environment (or a file), not left to a development key."""
        return _configured_value(settings, self) is not None

    def development_path(self, settings: Settings) -> Path:
        return settings.data_dir.expanduser() / self.dev_file


CODEC = KeySetting(
    "CASEWORK_CODEC_KEYS",
    "CASEWORK_CODEC_KEYS_FILE",
    Path("keys") / "codec.keys",
    "the Temporal payload codec keys",
)
MASTER = KeySetting(
    "CASEWORK_MASTER_KEYS",
    "CASEWORK_MASTER_KEYS_FILE",
    Path("keys") / "master.keys",
    "the master keys of the clients' data keys",
)
ORIGIN = KeySetting(
    "CASEWORK_ORIGIN_KEYS",
    "CASEWORK_ORIGIN_KEYS_FILE",
    Path("keys") / "origin.keys",
    "the origin keys that sign every event",
)
NOTARY_SIGNING = KeySetting(
    "CASEWORK_NOTARY_KEY_FILE", None, Path("keys") / "notary.key", "the notary's signing key"
)
NOTARY_TRUST = KeySetting(
    "CASEWORK_NOTARY_PUBLIC_KEYS",
    None,
    Path("keys") / "notary.pub",
    "the notary's trusted public keys",
)

_FIELDS = {
    CODEC.setting: ("codec_keys", "codec_keys_file"),
    MASTER.setting: ("master_keys", "master_keys_file"),
    ORIGIN.setting: ("origin_keys", "origin_keys_file"),
    NOTARY_SIGNING.setting: ("notary_key_file", None),
    NOTARY_TRUST.setting: ("notary_public_keys", None),
}

_HOW = {
    CODEC.setting: "`casework keys generate` prints them",
    MASTER.setting: "`casework keys generate` prints them",
    ORIGIN.setting: "`casework keys generate` prints them",
    NOTARY_SIGNING.setting: "`casework keys generate --dir DIR` writes one (notary.key)",
    NOTARY_TRUST.setting: "`casework keys generate --dir DIR` writes one (notary.pub)",
}


def _configured_value(settings: Settings, key: KeySetting) -> object | None:
    value_field, file_field = _FIELDS[key.setting]
    value = getattr(settings, value_field)
    if isinstance(value, SecretStr) and not value.get_secret_value().strip():
        value = None
    path = getattr(settings, file_field) if file_field else None
    return value if value is not None else path


def key_spec(settings: Settings, key: KeySetting) -> str | None:
    """The configured keyring text of CODEC, MASTER or ORIGIN (the variable's value, or
    the content of the file its `_FILE` twin names); None when neither is set.
    EnvironmentProblem when both are set, or the file cannot be read."""
    value_field, file_field = _FIELDS[key.setting]
    value = getattr(settings, value_field)
    spec = value.get_secret_value() if isinstance(value, SecretStr) else None
    spec = spec if spec and spec.strip() else None
    path: Path | None = getattr(settings, file_field) if file_field else None
    if path is None:
        return spec
    assert key.file_setting is not None
    if spec is not None:
        raise EnvironmentProblem(
            f"both {key.setting} and {key.file_setting} are set",
            key.file_setting,
            f"set {key.setting} or {key.file_setting}, not both",
        )
    try:
        text = path.expanduser().read_text(encoding="utf-8")
    except OSError as exc:
        raise EnvironmentProblem(
            f"{key.file_setting} names {path}, which cannot be read ({exc.strerror})",
            key.file_setting,
            f"point {key.file_setting} at the file holding {key.what}",
        ) from None
    lines = [line.strip() for line in text.splitlines()]
    spec = ",".join(line for line in lines if line and not line.startswith("#"))
    if not spec:
        raise EnvironmentProblem(
            f"{key.file_setting} names {path}, which holds no key",
            key.file_setting,
            f"write {key.what} into it (`casework keys generate`)",
        )
    return spec


def missing_keys(settings: Settings, needed: Iterable[KeySetting]) -> list[KeySetting]:
    """The keys of `needed` this process has no way to get: not configured, no
    development key already made in the data directory, and not the embedded stack."""
    if development_keys_allowed():
        return []
    return [
        key
        for key in needed
        if not key.configured(settings) and not key.development_path(settings).exists()
    ]


class KeysMissing(EnvironmentProblem):
    """A process outside the embedded stack without the keys it needs."""


def keys_missing(settings: Settings, missing: list[KeySetting], process: str) -> KeysMissing:
    names = [k.setting + (f" (or {k.file_setting})" if k.file_setting else "") for k in missing]
    listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    how = sorted({_HOW[k.setting] for k in missing})
    return KeysMissing(
        f"{process} has no keys to use: {listed} {'is' if len(names) == 1 else 'are'} "
        f"unset, and only `casework up` and `casework demo` make development keys (none "
        f"in {settings.data_dir.expanduser() / 'keys'})",
        missing[0].setting,
        f"set {', '.join(k.setting for k in missing)} to the deployment's keys, the same "
        f"in every process ({'; '.join(how)})",
    )


def require_keys(settings: Settings, needed: Iterable[KeySetting], process: str) -> None:
    """Refuse to start `process` (one line naming every missing setting) unless each of
    `needed` is configured, or a development key can be used or made."""
    needed = list(needed)
    missing = missing_keys(settings, needed)
    if missing:
        raise keys_missing(settings, missing, process)
    for key in needed:
        if key.file_setting is not None:
            key_spec(settings, key)  # a file named but unreadable: said now, not mid-run


def development_key_path(settings: Settings, key: KeySetting) -> Path:
    """The development key file of `key`, to load or make; KeysMissing when it does not
    exist and this process may not make one (the last line of defence: commands call
    `require_keys` first)."""
    path = key.development_path(settings)
    if not path.exists() and not development_keys_allowed():
        raise keys_missing(settings, [key], "this process")
    return path


def master_keyring(settings: Settings) -> MasterKeyring:
    """The master keys of CASEWORK_MASTER_KEYS (or its file), else the development key
    file (made only by the embedded stack)."""
    spec = key_spec(settings, MASTER)
    if spec is not None:
        return MasterKeyring.parse(spec)
    return MasterKeyring.load_or_create(development_key_path(settings, MASTER))


def origin_keyring(settings: Settings) -> OriginKeyring:
    """The origin keys of CASEWORK_ORIGIN_KEYS (or its file), else the development key
    file (made only by the embedded stack)."""
    spec = key_spec(settings, ORIGIN)
    if spec is not None:
        return OriginKeyring.parse(spec)
    return OriginKeyring.load_or_create(development_key_path(settings, ORIGIN))
