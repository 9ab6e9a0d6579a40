"""`casework keys generate`: a fresh set of a deployment's keys, for an operator to store.

Printed as environment lines (CASEWORK_CODEC_KEYS, CASEWORK_MASTER_KEYS,
CASEWORK_ORIGIN_KEYS), or with `--dir` written as one file each (mode 0600, the Docker
secrets form) with the notary's signing key and trusted-keys file beside them, and the
`_FILE` settings that name them printed. Nothing is written to the database: the keys
are the operator's to keep (a lost master key loses every client's personal data).
Every process of one deployment gets the same codec, master and origin keys; only the
notary gets the signing key (README, "Production").
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import typer

from casework.cli.context import JsonOption
from casework.cli.output import console, emit, fail
from casework.i18n import _

# The keys' code (cryptography) is imported by the commands when they run.

keys_app = typer.Typer(
    help="The deployment's keys (README, section Production).", no_args_is_help=True
)


def key_files() -> dict[str, str]:
    """The file `keys generate --dir` writes each key to, by setting."""
    from infrastructure.keys import CODEC, MASTER, NOTARY_SIGNING, NOTARY_TRUST, ORIGIN

    return {
        CODEC.setting: "codec.keys",
        MASTER.setting: "master.keys",
        ORIGIN.setting: "origin.keys",
        NOTARY_SIGNING.setting: "notary.key",
        NOTARY_TRUST.setting: "notary.pub",
    }


def fresh_specs(suffix: str) -> dict[str, str]:
    """New codec, master and origin keyrings (one key each), by setting."""
    from events.keys import MasterKeyring
    from events.origin import OriginKeyring
    from infrastructure.codec import Keyring
    from infrastructure.keys import CODEC, MASTER, ORIGIN

    return {
        CODEC.setting: Keyring.generate(f"codec-{suffix}").serialise().strip(),
        MASTER.setting: MasterKeyring.generate(f"master-{suffix}").to_spec(),
        ORIGIN.setting: OriginKeyring.generate(f"origin-{suffix}").to_spec(),
    }


def _write_private(path: Path, content: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(content)


@keys_app.command("generate")
def generate_command(
    directory: Path | None = typer.Option(
        None,
        "--dir",
        help="Write one file per key here (mode 0600, with the notary's signing key and "
        "trusted keys) and print the _FILE settings naming them, instead of the keys.",
    ),
    key_id: str | None = typer.Option(
        None,
        "--id",
        help="The new keys' id suffix (codec-<id>, master-<id>, origin-<id>); default "
        "random. Give a new one at each rotation.",
    ),
    as_json: bool = JsonOption,
) -> None:
    """Make a fresh set of keys for a deployment (or a rotation). Store them in your
    secret store; every Casework process of the deployment gets the same codec, master
    and origin keys, only the notary its signing key."""
    suffix = key_id or secrets.token_hex(4)
    if not suffix.replace("-", "").isalnum() or len(suffix) > 40:
        fail(_("--id: letters, digits and '-' only, at most 40"), as_json, field="--id")
    specs = fresh_specs(suffix)
    if directory is None:
        emit(
            {"settings": specs},
            as_json,
            lambda d: console.print(
                "\n".join(f"{k}={v}" for k, v in d["settings"].items()),
                highlight=False,
                soft_wrap=True,
            ),
        )
        return
    from events.checkpoints import NotaryKey, public_key_line
    from infrastructure.keys import CODEC, MASTER, NOTARY_SIGNING, NOTARY_TRUST, ORIGIN

    paths = {setting: directory / name for setting, name in key_files().items()}
    taken = [str(p) for p in paths.values() if p.exists()]
    if taken:
        fail(
            _("--dir: %(paths)s already exist(s); nothing written", paths=", ".join(taken)),
            as_json,
            field="--dir",
        )
    try:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        notary = NotaryKey.generate()
        for setting, spec in specs.items():
            _write_private(paths[setting], f"{spec}\n".encode())
        _write_private(paths[NOTARY_SIGNING.setting], notary.to_pem())
        paths[NOTARY_TRUST.setting].write_text(public_key_line(notary.public) + "\n")
    except OSError as exc:
        fail(
            _("--dir: cannot write in %(path)s (%(reason)s)", path=directory, reason=exc.strerror),
            as_json,
            field="--dir",
        )
    settings = {
        CODEC.file_setting or "": str(paths[CODEC.setting]),
        MASTER.file_setting or "": str(paths[MASTER.setting]),
        ORIGIN.file_setting or "": str(paths[ORIGIN.setting]),
        NOTARY_SIGNING.setting: str(paths[NOTARY_SIGNING.setting]),
        NOTARY_TRUST.setting: str(paths[NOTARY_TRUST.setting]),
    }
    emit(
        {"settings": settings, "notary_key_id": notary.key_id},
        as_json,
        lambda d: console.print(
            "\n".join(f"{k}={v}" for k, v in d["settings"].items()),
            highlight=False,
            soft_wrap=True,
        ),
    )
