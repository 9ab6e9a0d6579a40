"""What the verification of a case file reports (events/case_file.py): each event as
the verifier read it, the problems found, and the statements of what the file proves
and what it does not.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from events.case_file_format import time_text
from events.checkpoints import Checkpoint


@dataclass
class EventView:
    """One event as the verifier read it (for the report and the HTML rendering)."""

    stream_version: int
    event_id: str
    event_type: str
    occurred_at: str
    actor: str
    data: Any
    """Decoded data: personal fields decrypted, erased, or shown as `[sealed]`."""
    notarised: bool
    global_position: int | None = None
    recorded_at: str | None = None


@dataclass
class CaseFileReport:
    problems: list[str] = field(default_factory=list)
    proven: list[str] = field(default_factory=list)
    not_proven: list[str] = field(default_factory=list)
    case_id: str | None = None
    stream_id: str | None = None
    personal_fields: str | None = None
    checkpoint: dict[str, Any] | None = None
    events: list[EventView] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "case_id": self.case_id,
            "stream_id": self.stream_id,
            "events": len(self.events),
            "personal_fields": self.personal_fields,
            "problems": self.problems,
            "proven": self.proven,
            "not_proven": self.not_proven,
        }


def statements(
    report: CaseFileReport,
    checkpoint: Checkpoint | None,
    proven: int,
    total: int,
    personal: str,
) -> None:
    stream = report.stream_id
    if checkpoint is not None and proven:
        report.proven.append(
            f"Events v1-v{proven} of {stream}, in this order and with exactly these "
            f"contents, were in log {checkpoint.log_id!r} when checkpoint "
            f"#{checkpoint.sequence} was signed at {time_text(checkpoint.timestamp)} "
            f"(a tree of {checkpoint.tree_size} events, root {checkpoint.root_hash.hex()}), "
            f"signed by the key {checkpoint.key_id} given."
        )
    report.proven.append(
        f"The hash chain of v1-v{total} is unbroken: each event names the one before it, "
        "from the stream's first event."
    )
    if personal == "disclosed":
        report.proven.append(
            "Every personal field shown decrypts, with the client data key in the file, "
            "from the ciphertext stored in the proven events."
        )
    if proven < total:
        report.not_proven.append(
            f"Events v{proven + 1}-v{total} were appended after "
            + (f"checkpoint #{checkpoint.sequence}" if checkpoint else "any checkpoint")
            + ": no signed checkpoint shows them in the log yet (a later export will)."
        )
    if checkpoint is None or not proven:
        report.not_proven.append(
            "That any of these events is in the log: no signed checkpoint covers them."
        )
    report.not_proven += [
        f"That the case has no events after v{total}: the file holds the case as exported; "
        "later events are not excluded.",
        "Who wrote each event: the origin proofs are checked by `casework verify` with the "
        "engine's key, which an auditor does not hold.",
        "That the public key given is the agency's notary key: check it against the key "
        "the agency published.",
        "That the checkpoint is the log's latest, or that the log was not rolled back "
        "after it: compare with the checkpoints the agency published since.",
    ]
    if personal == "erased":
        report.not_proven.append(
            "That the client was forgotten: the file says so and shows the erased values; "
            "the personal data itself is unrecoverable and not proven either way."
        )
    if personal == "withheld":
        report.not_proven.append(
            "The personal fields: exported without them; their ciphertext is proven, "
            "their content is not shown."
        )
