"""Reading a case file's values for the verifier (events/case_file.py): each value is
checked for its type and its one canonical form (lowercase hex, UTC times with
microseconds), and a problem is recorded in the report naming the field; `Stop` ends a
verification that cannot go on.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from events.case_file_format import time_text
from events.case_file_report import CaseFileReport
from events.merkle import HASH_SIZE


class Stop(Exception):
    """Verification cannot go on (the problem is already recorded)."""


def first_difference(a: bytes, b: bytes) -> int:
    for i, (x, y) in enumerate(zip(a, b, strict=False)):
        if x != y:
            return i
    return min(len(a), len(b))


class FieldReader:
    def __init__(self, report: CaseFileReport) -> None:
        self.report = report

    def fail(self, message: str) -> None:
        self.report.problems.append(message)

    def stop(self, message: str) -> Stop:
        self.fail(message)
        return Stop()

    def keys(self, value: Any, expected: set[str], where: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.stop(f"{where}: not an object")
        missing = expected - value.keys()
        extra = value.keys() - expected
        if missing or extra:
            parts = []
            if missing:
                parts.append(f"missing {', '.join(sorted(missing))}")
            if extra:
                parts.append(f"unknown {', '.join(sorted(extra))}")
            raise self.stop(f"{where}: {'; '.join(parts)}")
        return value

    def text(self, value: Any, where: str) -> str:
        if not isinstance(value, str):
            raise self.stop(f"{where}: not a string")
        return value

    def count(self, value: Any, where: str, minimum: int = 0) -> int:
        if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
            raise self.stop(f"{where}: not an integer >= {minimum}")
        return value

    def hexbytes(self, value: Any, where: str, size: int | None = HASH_SIZE) -> bytes:
        text = self.text(value, where)
        try:
            raw = bytes.fromhex(text)
        except ValueError:
            raise self.stop(f"{where}: not hexadecimal") from None
        if raw.hex() != text:
            raise self.stop(f"{where}: not in lowercase hexadecimal (altered?)")
        if size is not None and len(raw) != size:
            raise self.stop(f"{where}: not {size} bytes")
        return raw

    def time(self, value: Any, where: str) -> datetime:
        text = self.text(value, where)
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise self.stop(f"{where}: not an ISO 8601 time") from None
        if moment.tzinfo is None or time_text(moment) != text:
            raise self.stop(f"{where}: not a UTC time with microseconds (altered?)")
        return moment
