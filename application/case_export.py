"""`casework case export`: a case file the auditor verifies alone (events/case_file.py).

The export is a read of the case like `case history`: decided by the access table
(`Query.CASE_EXPORT`: supervisors of the case's team, managers, auditors) and recorded
in the access log (view `case export`, a refused attempt too) before anything is read.

What goes in: the case's events as stored (every column the chain hash and the Merkle
leaf cover), the latest signed checkpoint from the notary's sink, an inclusion proof for
each event within that checkpoint's tree, and the personal fields: decrypted with the
client's data key included so the verifier can check them (unless the caller asks for a
file without them), or shown as erased if the client was forgotten.
"""

from __future__ import annotations

import json
from typing import Any

from application.access_log import View
from application.bootstrap import Casework
from application.case_reads import authorise
from application.notary import checkpoint_sink
from cases.actors import Actor
from cases.evolve import fold
from events import case_file
from events.crypto import FieldCipher, open_sealed_data, sealed_fields
from events.merkle import LEAF_COLUMNS
from events.notary import TreeError, inclusion_proofs
from infrastructure.logs import get_logger

log = get_logger(component="case_export")


async def export_case(
    app: Casework,
    actor: Actor,
    case_id: str,
    *,
    personal: bool = True,
    reason: str | None = None,
    break_glass: str | None = None,
) -> bytes:
    """The case file's bytes, once the export is allowed and recorded; CaseNotVisible for
    a case out of scope or unknown, AccessDenied for a role that may not export."""
    stream_id = f"case-{case_id}"
    events = await app.store.read_stream(stream_id)
    state = fold(events, app.store.registry) if events else None
    await authorise(
        app, actor, case_id, View.CASE_EXPORT, state, reason=reason, break_glass=break_glass
    )
    async with app.store.pool.acquire() as conn:
        rows = await conn.fetch(
            f"""SELECT {LEAF_COLUMNS} FROM events WHERE stream_id = $1
                 ORDER BY stream_version""",
            stream_id,
        )
        latest = checkpoint_sink(app.settings).latest()
        proofs = {}
        if latest is not None:
            try:
                proofs = await inclusion_proofs(
                    conn, [r["global_position"] for r in rows], latest.tree_size
                )
            except TreeError as exc:
                log.error("case_export.no_proofs", case_id=case_id, error=str(exc))
                proofs = {}
    entries: list[dict[str, Any]] = []
    within = True  # the checkpoint's events are a prefix of the stream (see case_file)
    for row in rows:
        entry = case_file.stored_event(row)
        proof = proofs.get(row["global_position"])
        within = within and proof is not None
        if within and proof is not None:
            entry["notarised"] = case_file.notarised(row, proof.leaf_index, proof.path)
        entries.append(entry)

    sealed = [sealed_fields(json.loads(row["data_text"])) for row in rows]
    client_key: dict[str, str] | None = None
    if not any(sealed):
        state_of_personal = "none"
    else:
        cipher = app.store.cipher
        assert isinstance(cipher, FieldCipher), "the application's store seals personal fields"
        key = await cipher.keys.for_stream(app.store.pool, stream_id)
        if key is not None and key.destroyed:
            state_of_personal = "erased"
        elif personal:
            state_of_personal = "disclosed"
        else:
            state_of_personal = "withheld"
        if state_of_personal != "withheld":
            keys: dict[str, bytes | None] = (
                {key.key_id: key.key} if key is not None and not key.destroyed else {}
            )
            if state_of_personal == "erased":
                keys = {
                    case_file.envelope_key_id(envelope): None
                    for found in sealed
                    for _, envelope in found
                }
            for entry, row, found in zip(entries, rows, sealed, strict=True):
                if found:
                    entry["data"] = open_sealed_data(
                        app.store.registry,
                        row["event_type"],
                        json.loads(row["data_text"]),
                        keys,
                        f"{stream_id} v{row['stream_version']}",
                    )
        if state_of_personal == "disclosed" and key is not None and key.key is not None:
            client_key = {"key_id": key.key_id, "key": key.key.hex()}

    document = {
        "format": case_file.FORMAT,
        "case_id": str(case_id),
        "stream_id": stream_id,
        "personal_fields": state_of_personal,
        "client_key": client_key,
        "checkpoint": None
        if latest is None
        else case_file.checkpoint_entry(latest.checkpoint, latest.signature),
        "events": entries,
    }
    log.info(
        "case_export.written",
        case_id=case_id,
        events=len(entries),
        notarised=sum(1 for e in entries if e["notarised"] is not None),
        personal_fields=state_of_personal,
        checkpoint=None if latest is None else latest.sequence,
    )
    return case_file.dumps(document)
