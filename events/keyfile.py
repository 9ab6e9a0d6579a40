"""Key material from settings and in development key files.

* `parse_key_spec`: the `id:base64[,id2:base64…]` form of a keys setting (commas or
  newlines, `#` comments), the first key current: origin keys (events/origin.py); the
  master keys (events/keys.py) are read the same way.
* `create_private_file` and `open_mode`: a development key file is made once, readable
  by its owner only (mode 0600, its folder 0700), and a warning is due when someone
  loosened that: origin keys and the notary's signing key (events/checkpoints.py).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path


def parse_key_spec(
    spec: str,
    *,
    setting: str,
    noun: str,
    error: type[ValueError],
    decode: Callable[[str, str], bytes],
) -> dict[str, bytes]:
    """The keys of `spec` by id, in the order given (the first is current). Malformed
    input raises `error` naming the `setting`, never showing key material; `decode`
    turns (key id, base64 text) into the key or raises `error` itself."""
    keys: dict[str, bytes] = {}
    for raw in re.split(r"[,\n]", spec):
        entry = raw.strip()
        if not entry or entry.startswith("#"):
            continue
        key_id, sep, encoded = entry.partition(":")
        key_id = key_id.strip()
        if not sep:
            raise error(f"{setting}: an entry lacks the 'id:base64' colon")
        if key_id in keys:
            raise error(f"{setting}: {noun} {key_id!r} is listed twice")
        keys[key_id] = decode(key_id, encoded.strip())
    if not keys:
        raise error(f"{setting}: no {noun} given")
    return keys


def create_private_file(path: Path, content: bytes) -> bool:
    """Write `content` to `path` if it does not exist yet (mode 0600, its folder made
    with 0700); False when the file exists (another process may have made it first:
    read theirs)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "wb") as out:
        out.write(content)
    return True


def open_mode(path: Path) -> str | None:
    """The file's mode (octal) when its group or others may use it, else None."""
    mode = path.stat().st_mode & 0o777
    return oct(mode) if mode & 0o077 else None
