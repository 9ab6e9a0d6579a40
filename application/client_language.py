"""The client's language of each case of a list (the staff console's caseload): the
preferred language and interpreter need recorded at the opening (`CaseOpened.client`)
or since (`ClientLanguageRecorded`, cases/features/client_language.py).

Both are personal data, sealed in the log with the client's key, which the projector
cannot open; so no read model holds them. They are read here from the log, the two
event types only, for the cases of one page of a list, in one query, and opened by
the store's cipher as every read of the log is: a forgotten client's language reads as
not recorded. Nothing is stored.

Call it only with cases the caller may see (the rows of a list scoped by the access
table, application/read_models.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from application.bootstrap import Casework
from events.registry import event_type_of
from events.store_sql import COLUMNS, record_from_row
from events.vocabulary import CaseOpened, ClientLanguageRecorded

TYPES = (event_type_of(CaseOpened), event_type_of(ClientLanguageRecorded))


@dataclass(frozen=True)
class ClientLanguage:
    preferred_language: str | None
    """A BCP 47 tag (`es`, `pt-BR`), None when not recorded."""
    interpreter_needed: bool


async def client_languages(app: Casework, case_ids: Sequence[str]) -> dict[str, ClientLanguage]:
    """The language of each case of `case_ids` that recorded one (a language or an
    interpreter need), by case id."""
    if not case_ids:
        return {}
    rows = await app.store.pool.fetch(
        f"""SELECT {COLUMNS} FROM events
             WHERE stream_id = ANY($1::text[]) AND event_type = ANY($2::text[])
             ORDER BY stream_id, stream_version""",
        [f"case-{case_id}" for case_id in case_ids],
        list(TYPES),
    )
    records = [record_from_row(r) for r in rows]
    cipher = app.store.cipher
    if cipher is not None and records:
        records = await cipher.open(app.store.pool, app.store.registry, records)
    found: dict[str, ClientLanguage] = {}
    for recorded in records:
        event = app.store.decode(recorded)
        case_id = recorded.stream_id.removeprefix("case-")
        if isinstance(event, CaseOpened):
            language = ClientLanguage(
                event.client.preferred_language, bool(event.client.interpreter_needed)
            )
        elif isinstance(event, ClientLanguageRecorded):
            language = ClientLanguage(event.preferred_language, bool(event.interpreter_needed))
        else:
            continue
        found[case_id] = language
    return {
        case_id: language
        for case_id, language in found.items()
        if language.preferred_language or language.interpreter_needed
    }
