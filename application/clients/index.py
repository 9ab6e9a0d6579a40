"""The client index: the person behind each `client_ref`, searchable while their details
stay sealed (tables of application/clients/migrations/0001_client_index.sql).

Each client's details (from every CaseOpened of theirs) are cut into normalised terms
(cases/client_matching.py: name parts, nicknames, phonetic codes, date of birth, phone,
email, identifiers), and each term is stored only as a keyed blind index: HMAC-SHA256
under the **index key**, derived (HKDF) from the current master key, which lives outside
the database like every key. A search computes the same tokens from the query and finds
the clients holding them; the candidates' details are then read from the log (decrypted
with their data keys) and ranked.

The index is caught up from the log by the process that searches (it holds the master
keys; the projector does not and cannot read a personal field): before every search and
duplicate check, the events after the index's cursor (`CaseOpened`, `ClientForgotten`,
`ClientsLinked`, `ClientsUnlinked`) are applied under an advisory lock, in the log's
global order (never skipping an event committed late). Nothing is lost if a process dies:
the next catch-up starts where the last committed one ended. When the current master key
changes (a rotation), the index is built again under the new key.

A forgotten client's terms are deleted (by `casework client forget` at once, and by the
catch-up when it reads `ClientForgotten`); their cases stay listed under their reference,
without details.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import asyncpg

from application.bootstrap import Casework
from application.forget import field_cipher
from cases.client_matching import Person, blind_token, index_terms
from events.envelope import RecordedEvent
from events.personal import ERASED_TEXT
from events.store import GlobalCursor
from events.vocabulary import CaseOpened, ClientDetails, ClientForgotten
from infrastructure.logs import get_logger


def _log() -> Any:
    """A logger as logging is configured now (one bound at import keeps that moment's)."""
    return get_logger(component="client_index")


FOLLOWED = ("CaseOpened", "ClientForgotten", "ClientsLinked", "ClientsUnlinked")
"""The events the index is built from."""

LOCK_ID = 0x436C_6965_6E74  # "Client": the advisory lock of the catch-up
BATCH = 500
SETTLE_SECONDS = 10.0
"""How long a catch-up waits for events already committed but not yet readable in order."""


@dataclass(frozen=True)
class IndexKey:
    key_id: str
    """The master key it is derived from."""
    key: bytes

    def tokens(self, terms: Iterable[tuple[str, str]]) -> list[bytes]:
        return sorted({blind_token(self.key, kind, value) for kind, value in terms})


def index_key(app: Casework) -> IndexKey:
    """The index key: HKDF-SHA256 of the current master key (never stored)."""
    keyring = field_cipher(app.store).keys.keyring
    master = keyring.keys[keyring.current_id]
    # HKDF (RFC 5869) with one block of output: extract, then expand.
    prk = hmac.new(b"casework/client-index", master, hashlib.sha256).digest()
    key = hmac.new(prk, b"casework/client-index/v1\x01", hashlib.sha256).digest()
    return IndexKey(keyring.current_id, key)


def _person(details: ClientDetails) -> Person | None:
    """The person of a CaseOpened, or None once the client's details are erased."""
    if details.name == ERASED_TEXT:
        return None
    return Person.of(details)


async def _apply(conn: asyncpg.Connection, key: IndexKey, event: RecordedEvent) -> None:
    event_type, data = event.event_type, event.data
    if event_type == "CaseOpened":
        opened = CaseOpened.model_validate(data)
        await conn.execute(
            """INSERT INTO client_index_cases (case_id, client_ref, team, worker, opened_at)
               VALUES ($1, $2, $3, $4, $5) ON CONFLICT (case_id) DO NOTHING""",
            str(opened.case_id),
            opened.client_ref,
            opened.team,
            opened.assigned_worker,
            event.occurred_at,
        )
        person = _person(opened.client)
        forgotten = await conn.fetchval(
            "SELECT bool_or(forgotten) FROM client_index_cases WHERE client_ref = $1",
            opened.client_ref,
        )
        if person is not None and not forgotten:
            await conn.executemany(
                """INSERT INTO client_index_terms (token, client_ref) VALUES ($1, $2)
                   ON CONFLICT DO NOTHING""",
                [(token, opened.client_ref) for token in key.tokens(index_terms(person))],
            )
    elif event_type == "ClientForgotten":
        forgotten = ClientForgotten.model_validate(data)
        await forget(conn, forgotten.client_ref)
    elif event_type in ("ClientsLinked", "ClientsUnlinked"):
        first, second = sorted((str(data["client_ref"]), str(data["other_ref"])))
        if event_type == "ClientsLinked":
            await conn.execute(
                """INSERT INTO client_links (client_ref, other_ref, linked_by, linked_at, reason)
                   VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING""",
                first,
                second,
                event.metadata.actor_id,
                event.occurred_at,
                str(data["reason"]),
            )
        else:
            await conn.execute(
                "DELETE FROM client_links WHERE client_ref = $1 AND other_ref = $2", first, second
            )


async def forget(conn: asyncpg.Connection | asyncpg.Pool, client_ref: str) -> None:
    """The client's index entries go; their cases stay listed, marked forgotten."""
    await conn.execute("DELETE FROM client_index_terms WHERE client_ref = $1", client_ref)
    await conn.execute(
        "UPDATE client_index_cases SET forgotten = true WHERE client_ref = $1", client_ref
    )


async def catch_up(app: Casework) -> int:
    """Apply the log's events after the index's cursor; how many. One process at a time
    (an advisory lock): another caller waits for it, then finds the index current."""
    key = index_key(app)
    applied = 0
    async with app.pool.acquire() as conn:
        await conn.execute("SELECT pg_advisory_lock($1)", LOCK_ID)
        try:
            state = await conn.fetchrow(
                "SELECT transaction_id::text AS tx, global_position, key_id "
                "FROM client_index_state WHERE id = 1"
            )
            cursor = GlobalCursor(int(state["tx"]), int(state["global_position"]))
            if state["key_id"] not in (None, key.key_id):
                await _rebuild_under(conn, key)
                cursor = GlobalCursor()
            # Everything committed before this call, even behind an older transaction
            # of the cluster still in progress (read_all waits for those: so do we, a
            # little, so a case opened a moment ago is found).
            target = await conn.fetchval(
                "SELECT max(transaction_id)::text FROM events WHERE event_type = ANY($1)",
                list(FOLLOWED),
            )
            deadline = asyncio.get_running_loop().time() + SETTLE_SECONDS
            while True:
                batch = await app.store.read_all(cursor, BATCH, types=FOLLOWED)
                if not batch:
                    behind = target is not None and cursor.transaction_id < int(target)
                    if behind and asyncio.get_running_loop().time() < deadline:
                        await asyncio.sleep(0.02)
                        continue
                    if behind:
                        _log().warning("client_index.behind", waiting_for=target)
                    break
                async with conn.transaction():
                    for event in batch:
                        await _apply(conn, key, event)
                    cursor = GlobalCursor.of(batch[-1])
                    await conn.execute(
                        """UPDATE client_index_state
                              SET transaction_id = $1::text::xid8, global_position = $2,
                                  key_id = $3
                            WHERE id = 1""",
                        str(cursor.transaction_id),
                        cursor.global_position,
                        key.key_id,
                    )
                applied += len(batch)
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", LOCK_ID)
    if applied:
        _log().info("client_index.caught_up", events=applied, key_id=key.key_id)
    return applied


async def _rebuild_under(conn: asyncpg.Connection, key: IndexKey) -> None:
    _log().warning("client_index.rebuilding", key_id=key.key_id, reason="the master key changed")
    async with conn.transaction():
        await conn.execute("TRUNCATE client_index_terms, client_index_cases, client_links")
        await conn.execute(
            """UPDATE client_index_state SET transaction_id = '0', global_position = 0,
                      key_id = $1 WHERE id = 1""",
            key.key_id,
        )


async def rebuild(app: Casework) -> int:
    """Build the index again from the whole log (`casework client reindex`)."""
    async with app.pool.acquire() as conn:
        await conn.execute("SELECT pg_advisory_lock($1)", LOCK_ID)
        try:
            await _rebuild_under(conn, index_key(app))
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", LOCK_ID)
    return await catch_up(app)


async def matching(app: Casework, tokens: list[bytes], limit: int) -> list[tuple[str, int]]:
    """(client_ref, how many of the tokens they hold), most first."""
    rows = await app.pool.fetch(
        """SELECT client_ref, count(*) AS hits FROM client_index_terms
            WHERE token = ANY($1::bytea[])
            GROUP BY client_ref ORDER BY hits DESC, client_ref LIMIT $2""",
        tokens,
        limit,
    )
    return [(r["client_ref"], int(r["hits"])) for r in rows]
