"""Pages and cursors of the read-model queries (application/read_models.py).

Paging is by cursor (keyset): rows are ordered by a unique key; a page ends with the
key of its last row, encoded as an opaque `next_cursor` (url-safe base64 of JSON
naming the query); the next page is the rows whose key comes after it. A query that
pages in SQL asks for `limit + 1` rows after the cursor's key (`sql_page`); rows held
in memory are paged by `page_over`. Times in a key are microseconds since the epoch.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Generic, TypeVar

from pydantic import BaseModel, Field

T = TypeVar("T")


DEFAULT_LIMIT = 50


MAX_LIMIT = 500


_MAX_CURSOR_CHARS = 1000


class InvalidQuery(ValueError):
    """A parameter of a query is not acceptable (a cursor of another query, a period
    that ends before it starts); `parameter` names it."""

    def __init__(self, parameter: str, message: str) -> None:
        self.parameter = parameter
        self.message = message
        super().__init__(f"{parameter}: {message}")


class PageRequest(BaseModel):
    """Which page: at most `limit` rows, after the row `cursor` ended the last page at."""

    limit: int = Field(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT)
    cursor: str | None = Field(None, max_length=_MAX_CURSOR_CHARS)


class Page(BaseModel, Generic[T]):
    """One page of a query's rows, in the query's order."""

    items: list[T]
    limit: int
    next_cursor: str | None = Field(
        description="Send as `cursor` for the next page; null on the last page."
    )


Key = tuple[int | str, ...]
"""A row's place in its query's order: ints and strings only (times as microseconds
since the epoch), so keys compare alike in Python and after a round trip in JSON."""


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def micros(moment: datetime) -> int:
    return (moment - _EPOCH) // timedelta(microseconds=1)


def moment(micros: int | str) -> datetime:
    """The time a cursor holds as microseconds since the epoch (exact: PostgreSQL keeps
    microseconds)."""
    return _EPOCH + timedelta(microseconds=int(micros))


def encode_cursor(query: str, key: Key) -> str:
    """The opaque cursor after the row with `key` of `query`."""
    raw = json.dumps({"q": query, "k": list(key)}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(query: str, cursor: str, shape: Sequence[type]) -> Key:
    """The key in `cursor`, which must be one of `query`'s (InvalidQuery naming `cursor`)."""
    bad = InvalidQuery("cursor", f"not a cursor of {query}: send back a next_cursor it answered")
    if len(cursor) > _MAX_CURSOR_CHARS:
        raise bad
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw)
    except (binascii.Error, ValueError):
        raise bad from None
    if not isinstance(data, dict) or data.get("q") != query:
        raise bad
    key = data.get("k")
    if not isinstance(key, list) or len(key) != len(shape):
        raise bad
    # bool is an int to Python, never in a key.
    if not all(type(v) is kind for v, kind in zip(key, shape, strict=True)):
        raise bad
    return tuple(key)


def page_over(
    query: str,
    rows: Sequence[T],
    key: Callable[[T], Key],
    shape: Sequence[type],
    page: PageRequest,
) -> Page[T]:
    """Page over rows held in memory (a query's whole result, or a directory folded from
    its stream): sorted by `key`, the rows after the cursor."""
    ordered = sorted(rows, key=key)
    if page.cursor is not None:
        after = decode_cursor(query, page.cursor, shape)
        ordered = [row for row in ordered if key(row) > after]
    items = ordered[: page.limit]
    more = len(ordered) > page.limit
    return Page[T](
        items=items,
        limit=page.limit,
        next_cursor=encode_cursor(query, key(items[-1])) if more else None,
    )


def after_key(query: str, page: PageRequest, shape: Sequence[type]) -> Key | None:
    """The key the page starts after (None: the first page); InvalidQuery naming
    `cursor` when it is not one of `query`'s."""
    return decode_cursor(query, page.cursor, shape) if page.cursor is not None else None


def sql_page(query: str, rows: Sequence[T], page: PageRequest, key: Callable[[T], Key]) -> Page[T]:
    """A page from a query asked for `page.limit + 1` rows after the cursor's key, in
    the order `key` gives: the extra row only tells that there is a next page."""
    items = list(rows[: page.limit])
    more = len(rows) > page.limit
    return Page[T](
        items=items,
        limit=page.limit,
        next_cursor=encode_cursor(query, key(items[-1])) if more else None,
    )
