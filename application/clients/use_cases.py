"""Finding the client: the client record, search, the duplicate check at intake and
linking two references found to be one person. One use case each, for every entry point
(the API, the console, the CLI through the API).

Every answer holds only clients with a case the reader may see (the access table's
`case_details`), with the cases they may see; break-the-glass (a reason) opens the rest,
recorded and notified like any emergency read. Every client shown with their details is
a read of their case, recorded in the access log (`client show`, `client search`).
Details are read from the log, decrypted with the client's data key (the latest case's
opening), never from the index, which holds only blind tokens (index.py).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from pydantic import BaseModel

from application.access_log import CaseLocation, View, authorise_read
from application.bootstrap import Casework
from application.case_visibility import locate
from application.clients import index
from cases.access import (
    BREAK_GLASS_ROLES,
    AccessDenied,
    BreakGlassRefused,
    Query,
    clean_reason,
    query_relation,
    sees,
)
from cases.actors import Actor, Role
from cases.client_matching import Person, QueryRefused, index_terms, likely_same, query_terms, score
from events.directory_events import CLIENT_LINKS_STREAM, ClientsLinked, ClientsUnlinked
from events.envelope import EventMetadata
from events.personal import ERASED_TEXT
from events.store import ConcurrencyError
from events.vocabulary import CaseOpened
from infrastructure.logs import get_logger


def _log() -> Any:
    """A logger as logging is configured now (one bound at import keeps that moment's)."""
    return get_logger(component="clients")


CANDIDATES = 200
"""How many clients holding a query's tokens are ranked (the most tokens first)."""

__all__ = ["QueryRefused"]


class ClientCase(BaseModel):
    """One case of a client, as the reader may see it."""

    case_id: str
    status: str
    team: str
    worker: str
    opened_at: datetime
    closed_at: datetime | None


class ClientDetailsView(BaseModel):
    name: str
    date_of_birth: date | None
    phone: str | None
    email: str | None
    address: str | None
    identifiers: dict[str, str]


class ClientRecord(BaseModel):
    """The person behind a client reference."""

    client_ref: str
    forgotten: bool
    details: ClientDetailsView | None
    """From their latest case the reader may see; None once forgotten."""
    cases: list[ClientCase]
    linked: list[str]
    """Other references a supervisor found to be the same person."""
    break_glass: bool = False


class Candidate(BaseModel):
    """A client a search or the duplicate check found."""

    client_ref: str
    name: str
    date_of_birth: date | None
    score: float
    reason: str | None = None
    """The duplicate check's reason (same date of birth and a close name, same phone…)."""
    cases: list[ClientCase]


@dataclass(frozen=True)
class Matches:
    """What the duplicate check found for a new client."""

    visible: list[Candidate]
    hidden: int
    """Likely matches whose cases the caller may not see (counted, never shown)."""

    @property
    def any(self) -> bool:
        return bool(self.visible) or self.hidden > 0


class ClientNotFound(LookupError):
    """No client with a case the reader may see (a missing one reads the same)."""


class LinkRefused(ValueError):
    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


# --- what is read ------------------------------------------------------------------------


async def _cases_of(app: Casework, refs: list[str]) -> dict[str, list[tuple[ClientCase, bool]]]:
    """Each client's cases where they stand now, with whether they were forgotten."""
    rows = await app.pool.fetch(
        """SELECT c.case_id, c.client_ref, c.opened_at, c.forgotten,
                  coalesce(s.status, 'open') AS status, s.closed_at
             FROM client_index_cases c LEFT JOIN case_summary s ON s.case_id = c.case_id
            WHERE c.client_ref = ANY($1::text[])
            ORDER BY c.opened_at DESC, c.case_id""",
        refs,
    )
    found: dict[str, list[tuple[ClientCase, bool]]] = {}
    for row in rows:
        where = await locate(app, row["case_id"])
        if where is None:
            continue
        case = ClientCase(
            case_id=row["case_id"],
            status=row["status"],
            team=where.team,
            worker=where.worker,
            opened_at=row["opened_at"],
            closed_at=row["closed_at"],
        )
        found.setdefault(row["client_ref"], []).append((case, bool(row["forgotten"])))
    return found


def _visible(actor: Actor, cases: list[ClientCase]) -> list[ClientCase]:
    relation = query_relation(actor, Query.CASE_DETAILS)
    return [c for c in cases if sees(actor, relation, team=c.team, worker=c.worker)]


async def _details(app: Casework, case_id: str) -> ClientDetailsView | None:
    opening = await app.store.read_stream(f"case-{case_id}", 1, 1)
    if not opening:
        return None
    client = CaseOpened.model_validate(opening[0].data).client
    if client.name == ERASED_TEXT:
        return None
    return ClientDetailsView(
        name=client.name,
        date_of_birth=client.date_of_birth,
        phone=client.contact.phone,
        email=client.contact.email,
        address=client.contact.address,
        identifiers=dict(client.identifiers),
    )


async def _record_read(
    app: Casework,
    actor: Actor,
    case: ClientCase,
    what: str,
    *,
    reason: str | None,
    break_glass: str | None,
) -> None:
    """The read of the client's details, as a read of their case (a break-glass one
    notifies the case's supervisors)."""
    await authorise_read(
        app.pool, actor, case.case_id, View.CASE_SHOW,
        CaseLocation(team=case.team, worker=case.worker),
        reason=reason, break_glass=break_glass, store=app.store, subject=what,
    )  # fmt: skip


def _emergency(actor: Actor, break_glass: str | None) -> bool:
    if break_glass is None:
        return False
    if clean_reason(break_glass) is None:
        raise BreakGlassRefused("--break-glass needs a reason: say why you must find this client")
    if actor.role not in BREAK_GLASS_ROLES:
        raise BreakGlassRefused(f"{actor.staff_id} ({actor.role}) may not break the glass")
    return True


# --- the client record -------------------------------------------------------------------


async def show(
    app: Casework,
    actor: Actor,
    client_ref: str,
    *,
    reason: str | None = None,
    break_glass: str | None = None,
) -> ClientRecord:
    """The client behind `client_ref`: their cases the reader may see and their details
    (recorded as a read of each of those cases). ClientNotFound when none is visible."""
    query_relation(actor, Query.CASE_DETAILS)  # AccessDenied for roles that read no case
    emergency = _emergency(actor, break_glass)
    await index.catch_up(app)
    cases = (await _cases_of(app, [client_ref])).get(client_ref, [])
    shown = [c for c, _ in cases] if emergency else _visible(actor, [c for c, _ in cases])
    if not shown:
        raise ClientNotFound(client_ref)
    forgotten = any(f for _, f in cases)
    for case in shown:
        in_scope = case in _visible(actor, [case])
        await _record_read(
            app, actor, case, "client",
            reason=reason, break_glass=None if in_scope else break_glass,
        )  # fmt: skip
    details = None if forgotten else await _details(app, shown[0].case_id)
    links = await app.pool.fetch(
        """SELECT CASE WHEN client_ref = $1 THEN other_ref ELSE client_ref END AS other
             FROM client_links WHERE client_ref = $1 OR other_ref = $1 ORDER BY 1""",
        client_ref,
    )
    return ClientRecord(
        client_ref=client_ref,
        forgotten=forgotten,
        details=details,
        cases=shown,
        linked=[r["other"] for r in links],
        break_glass=emergency and len(shown) > len(_visible(actor, shown)),
    )


# --- search --------------------------------------------------------------------------------


async def search(
    app: Casework,
    actor: Actor,
    *,
    text: str | None = None,
    date_of_birth: date | None = None,
    phone: str | None = None,
    email: str | None = None,
    identifier: str | None = None,
    break_glass: str | None = None,
    limit: int = 20,
) -> list[Candidate]:
    """Clients matching the query the reader may see, best first. QueryRefused (naming
    the field) for a query that cannot be searched; an empty list when nothing matches."""
    query_relation(actor, Query.CASE_DETAILS)
    emergency = _emergency(actor, break_glass)
    terms = query_terms(
        text=text, date_of_birth=date_of_birth, phone=phone, email=email, identifier=identifier
    )
    await index.catch_up(app)
    key = index.index_key(app)
    hits = await index.matching(app, key.tokens(terms), CANDIDATES)
    if not hits:
        return []
    cases = await _cases_of(app, [ref for ref, _ in hits])
    wanted = Person.searched(
        text=text, date_of_birth=date_of_birth, phone=phone, email=email, identifier=identifier
    )
    found: list[tuple[Candidate, ClientCase]] = []
    for ref, _ in hits:
        every = [c for c, forgotten in cases.get(ref, []) if not forgotten]
        shown = every if emergency else _visible(actor, every)
        if not shown:
            continue
        details = await _details(app, shown[0].case_id)
        if details is None:
            continue
        person = _person_of(details)
        candidate = Candidate(
            client_ref=ref,
            name=details.name,
            date_of_birth=details.date_of_birth,
            score=round(score(wanted, person), 1),
            cases=shown,
        )
        found.append((candidate, shown[0]))
    found.sort(key=lambda pair: (-pair[0].score, pair[0].client_ref))
    chosen = found[:limit]
    for _, case in chosen:
        in_scope = bool(_visible(actor, [case]))
        await _record_read(
            app, actor, case, "search",
            reason=None, break_glass=None if in_scope else break_glass,
        )  # fmt: skip
    _log().info(
        "clients.searched",
        actor_id=actor.staff_id,
        terms=len(terms),
        candidates=len(hits),
        shown=len(chosen),
        break_glass=emergency,
    )
    return [candidate for candidate, _ in chosen]


def _person_of(details: ClientDetailsView) -> Person:
    return Person(
        name=details.name,
        date_of_birth=details.date_of_birth,
        phone=details.phone,
        email=details.email,
        identifiers=details.identifiers,
    )


# --- the duplicate check at intake ---------------------------------------------------------


async def duplicates(app: Casework, actor: Actor, new: Person, client_ref: str) -> Matches:
    """Existing clients (other than `client_ref`) who look like `new`: those with a case
    the caller may see, in full; the others counted."""
    await index.catch_up(app)
    key = index.index_key(app)
    hits = await index.matching(app, key.tokens(index_terms(new)), CANDIDATES)
    refs = [ref for ref, _ in hits if ref != client_ref]
    if not refs:
        return Matches([], 0)
    cases = await _cases_of(app, refs)
    visible: list[Candidate] = []
    hidden = 0
    for ref in refs:
        every = [c for c, forgotten in cases.get(ref, []) if not forgotten]
        if not every:
            continue
        details = await _details(app, every[0].case_id)
        if details is None:
            continue
        reason = likely_same(new, _person_of(details))
        if reason is None:
            continue
        shown = _visible(actor, every)
        if not shown:
            hidden += 1
            continue
        visible.append(
            Candidate(
                client_ref=ref,
                name=details.name,
                date_of_birth=details.date_of_birth,
                score=round(score(new, _person_of(details)), 1),
                reason=reason,
                cases=shown,
            )
        )
        await _record_read(app, actor, shown[0], "intake check", reason=None, break_glass=None)
    visible.sort(key=lambda c: (-c.score, c.client_ref))
    return Matches(visible, hidden)


# --- links -----------------------------------------------------------------------------------

LINKERS = frozenset({Role.SUPERVISOR, Role.MANAGER})


async def _linkable(app: Casework, actor: Actor, refs: tuple[str, str]) -> None:
    if actor.role not in LINKERS:
        raise AccessDenied(
            f"{actor.staff_id} ({actor.role}) may not link clients: a supervisor or manager may"
        )
    if refs[0] == refs[1]:
        raise LinkRefused("other_ref", "a client cannot be linked to themselves")
    await index.catch_up(app)
    cases = await _cases_of(app, list(refs))
    for field, ref in zip(("client_ref", "other_ref"), refs, strict=True):
        if not _visible(actor, [c for c, _ in cases.get(ref, [])]):
            raise LinkRefused(field, f"no client {ref} with a case you may see")


async def _linked(app: Casework, refs: tuple[str, str]) -> bool:
    first, second = sorted(refs)
    return bool(
        await app.pool.fetchval(
            "SELECT 1 FROM client_links WHERE client_ref = $1 AND other_ref = $2", first, second
        )
    )


async def link(
    app: Casework, actor: Actor, client_ref: str, other_ref: str, reason: str, *, unlink: bool
) -> None:
    """Record that two client references are one person (or, `unlink`, that they are
    not): an event of the client links' stream, never a merge."""
    refs = (client_ref, other_ref)
    await _linkable(app, actor, refs)
    if unlink != await _linked(app, refs):
        raise LinkRefused(
            "other_ref",
            f"{client_ref} and {other_ref} are " + ("not linked" if unlink else "linked already"),
        )
    model = ClientsUnlinked if unlink else ClientsLinked
    event = model(client_ref=client_ref, other_ref=other_ref, reason=reason)
    metadata = EventMetadata(actor_id=actor.staff_id, actor_role=actor.role.value)
    for _attempt in range(5):
        version = await app.store.stream_version(CLIENT_LINKS_STREAM)
        try:
            await app.store.append_domain(
                CLIENT_LINKS_STREAM, version, [(uuid.uuid4(), event)],
                metadata=metadata, occurred_at=datetime.now(UTC),
            )  # fmt: skip
            break
        except ConcurrencyError:
            continue
    else:
        raise LinkRefused("client_ref", "the client links kept changing; try again")
    await index.catch_up(app)
    _log().info(
        "clients.unlinked" if unlink else "clients.linked",
        actor_id=actor.staff_id,
        client_ref=client_ref,
        other_ref=other_ref,
    )
