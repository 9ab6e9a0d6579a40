"""The notification outbox: a staff member's inbox, and the record of each webhook delivery.

Every notice to staff (an escalation level, an action's reminder, a break-glass read) is
one `notification_outbox` row per recipient, keyed so that writing it again writes
nothing. The row is the recipient's in-app inbox entry; when the recipient has a
webhook the row's document is POSTed to it with the key as `Idempotency-Key` and the
row marked delivered. Sent again after a crash, rows already delivered are skipped and
the receiver recognises a repeated key: each recipient acts on each notice once.

Signed with the agency's secret (`CASEWORK_NOTIFY_WEBHOOK_SECRET`) when it is set:
Standard Webhooks headers, ``webhook-id`` = the row's key (docs/providers.md).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from activities.webhooks import post_json
from infrastructure.settings import Settings, get_settings


def agency_signing(settings: Settings | None = None) -> list[str]:
    """The agency's notification secret, when one is configured (else: unsigned)."""
    secret = (settings or get_settings()).notify_webhook_secret
    return [secret.get_secret_value()] if secret is not None else []


@dataclass(frozen=True)
class Notice:
    """One recipient's copy of a notice."""

    key: str
    """Unique per notice and recipient: the row's key and the `Idempotency-Key`."""
    case_id: str
    subject_id: str
    """What it is about: an escalation id, `reminder-<action>`, `break-glass-<access>`."""
    level: int
    """The escalation level; 0 for a notice that is no escalation."""
    recipient: str
    notify_role: str
    channel_url: str | None
    document: dict[str, Any]


@dataclass
class Delivery:
    """What became of a set of notices, by recipient."""

    delivered: list[str] = field(default_factory=list)
    inbox_only: list[str] = field(default_factory=list)
    """No webhook: the row is their inbox entry, marked delivered."""
    already_delivered: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    """`recipient: error`, the row kept undelivered with its attempts and last error."""


async def record_and_deliver(
    pool: asyncpg.Pool, notices: list[Notice], *, signing: Sequence[str] | None = None
) -> Delivery:
    """Write the rows (once), then deliver each not yet delivered; signed with `signing`
    (None: the agency's secret from the settings, if set)."""
    secrets = agency_signing() if signing is None else list(signing)
    await pool.executemany(
        """INSERT INTO notification_outbox (key, case_id, escalation_id, level, recipient,
               notify_role, channel_url, document)
           VALUES ($1, $2::uuid, $3, $4, $5, $6, $7, $8::jsonb)
           ON CONFLICT (key) DO NOTHING""",
        [
            (
                n.key,
                n.case_id,
                n.subject_id,
                n.level,
                n.recipient,
                n.notify_role,
                n.channel_url,
                json.dumps(n.document),
            )
            for n in notices
        ],
    )
    delivery = Delivery()
    for notice in notices:
        row = await pool.fetchrow(
            """SELECT recipient, channel_url, document::text AS document, delivered_at
                 FROM notification_outbox WHERE key = $1""",
            notice.key,
        )
        assert row is not None
        if row["delivered_at"] is not None:
            delivery.already_delivered.append(row["recipient"])
            continue
        if not row["channel_url"]:
            await pool.execute(
                "UPDATE notification_outbox SET delivered_at = now() WHERE key = $1", notice.key
            )
            delivery.inbox_only.append(row["recipient"])
            continue
        try:
            await post_json(
                row["channel_url"],
                json.loads(row["document"]),
                idempotency_key=notice.key,
                signing=secrets,
            )
        except Exception as exc:
            await pool.execute(
                """UPDATE notification_outbox SET attempts = attempts + 1, last_error = $2
                    WHERE key = $1""",
                notice.key,
                str(exc)[:500],
            )
            delivery.failed.append(f"{row['recipient']}: {exc}")
            continue
        await pool.execute(
            """UPDATE notification_outbox
                  SET delivered_at = now(), attempts = attempts + 1, last_error = NULL
                WHERE key = $1""",
            notice.key,
        )
        delivery.delivered.append(row["recipient"])
    return delivery
