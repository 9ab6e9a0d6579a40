"""The demo staff's accounts: each member sets a password through a real invitation (as
an agency's staff would), so `casework login` and the console work for them.

The passwords are made once per data directory and kept in
`<data dir>/demo-accounts.json` (readable by its owner only); a member whose account
already has a password is left alone, so running the demo again changes nothing.
"""

from __future__ import annotations

import json
import os
import secrets
from datetime import UTC, datetime
from pathlib import Path

from application.bootstrap import Casework
from application.identity import accept_invitation, invite, load_account
from cases.actors import Actor
from devtools.demo.agency import STAFF

ACCOUNTS_FILE = "demo-accounts.json"


def _passwords(path: Path) -> dict[str, str]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def _keep(path: Path, passwords: dict[str, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as out:
        json.dump(passwords, out, indent=2)


async def ensure_demo_accounts(app: Casework, admin: Actor, data_dir: Path) -> dict[str, str]:
    """Every demo staff member with a password set; their passwords, by staff id."""
    path = data_dir / ACCOUNTS_FILE
    passwords = _passwords(path)
    for person in STAFF:
        account = await load_account(app.store, person.staff_id)
        if account.password_set and person.staff_id in passwords:
            continue
        password = passwords.get(person.staff_id) or f"demo-{secrets.token_urlsafe(12)}"
        now = datetime.now(UTC)
        invitation = await invite(app, admin, person.staff_id, now=now)
        await accept_invitation(app, person.staff_id, invitation.code, password, now=now)
        passwords[person.staff_id] = password
    _keep(path, passwords)
    return passwords
