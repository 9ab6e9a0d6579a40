"""Keys of a deployment, as an operator configures them, for processes the tests start
outside the embedded stack (`casework worker`, `serve`, `projector`, `notary`, `setup`,
`verify`, `codec-server`): those refuse to start without configured keys, as in
production, and never make development keys of their own.

`deployment_keys(directory)` makes one fresh set (what `casework keys generate` prints,
plus the notary's signing key and trusted-keys files in `directory`) and returns the
environment every process of one deployment shares.
"""

from __future__ import annotations

import os
from pathlib import Path

from events.checkpoints import NotaryKey, public_key_line
from events.keys import MasterKeyring
from events.origin import OriginKeyring
from infrastructure.codec import Keyring


def deployment_keys(directory: Path) -> dict[str, str]:
    """One deployment's keys: CASEWORK_CODEC_KEYS, CASEWORK_MASTER_KEYS,
    CASEWORK_ORIGIN_KEYS, and CASEWORK_NOTARY_KEY_FILE / CASEWORK_NOTARY_PUBLIC_KEYS
    (files written in `directory`, mode 0600)."""
    directory.mkdir(parents=True, exist_ok=True)
    notary = NotaryKey.generate()
    key_file = directory / "notary.key"
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(notary.to_pem())
    public = directory / "notary.pub"
    public.write_text(public_key_line(notary.public) + "\n", encoding="utf-8")
    return {
        "CASEWORK_CODEC_KEYS": Keyring.generate("test-codec-1").serialise().strip(),
        "CASEWORK_MASTER_KEYS": MasterKeyring.generate("test-master-1").to_spec(),
        "CASEWORK_ORIGIN_KEYS": OriginKeyring.generate("test-origin-1").to_spec(),
        "CASEWORK_NOTARY_KEY_FILE": str(key_file),
        "CASEWORK_NOTARY_PUBLIC_KEYS": str(public),
    }
