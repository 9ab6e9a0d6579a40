"""Transfers waiting for the caller's answer: the transfers inbox of the staff console
and `GET /api/v1/transfers`.

One use case, `pending_transfers`: the rows of the `transfers` read model the caller
may answer (projections/transfers.py: transfers naming them, or to their team; every
one for a manager; `AccessDenied` for a role that answers none, from the access
table's `transfer_reply` row), oldest first, in pages, each with the case's current
version in the log (`case_version`), to send as the reply's expected version
(`If-Match`): the reply (`reply_transfer`) is refused if the case moved on meanwhile.

The read model may lag the log by the projector's lag; the reply itself is decided by
the case's own rules on its current state (cases/decide.py `decide_transfer_reply`),
never by this list.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pydantic import Field

from application.bootstrap import Casework
from application.read_models import (
    Page,
    PageRequest,
    decode_cursor,
    encode_cursor,
)
from cases.actors import Actor
from projections import queries
from projections.queries import PendingTransfer

__all__ = ["TransferWaiting", "pending_transfers"]

_QUERY = "transfers"
_SHAPE = (int, str, str)
"""The cursor's key: requested_at (microseconds since the epoch), case_id, transfer_id."""
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _micros(moment: datetime) -> int:
    return (moment - _EPOCH) // timedelta(microseconds=1)


def _moment(micros: int | str) -> datetime:
    return _EPOCH + timedelta(microseconds=int(micros))


class TransferWaiting(PendingTransfer):
    """A transfer waiting for the caller's answer, with the case's version now."""

    case_version: int = Field(
        description="The case's version in the log when this page was read: the reply's "
        "expected version (If-Match)."
    )


async def pending_transfers(
    app: Casework, actor: Actor, page: PageRequest
) -> Page[TransferWaiting]:
    """Transfers waiting for `actor`'s answer, oldest first (AccessDenied for a role that
    answers none; InvalidQuery naming `cursor` for a cursor of another query)."""
    after = decode_cursor(_QUERY, page.cursor, _SHAPE) if page.cursor is not None else None
    rows = await queries.pending_transfers(
        app.pool, actor, limit=page.limit + 1,
        after=(_moment(after[0]), str(after[1]), str(after[2])) if after else None,
    )  # fmt: skip
    items = rows[: page.limit]
    versions = await app.store.stream_versions([f"case-{r.case_id}" for r in items])
    waiting = [
        TransferWaiting(**r.model_dump(), case_version=versions.get(f"case-{r.case_id}", 0))
        for r in items
    ]
    last = items[-1] if items else None
    more = len(rows) > page.limit and last is not None
    return Page[TransferWaiting](
        items=waiting,
        limit=page.limit,
        next_cursor=(
            encode_cursor(_QUERY, (_micros(last.requested_at), last.case_id, last.transfer_id))
            if more and last is not None
            else None
        ),
    )
