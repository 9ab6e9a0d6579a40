"""POST one JSON document to a webhook, and say clearly what came of it.

This is the only way Casework talks to the outside world over HTTP: referral
dispatch to providers and escalation notifications both go through `post_json`.
It is meant to be called from inside an activity, whose retry policy does the
retrying; this function makes exactly one HTTP attempt and classifies the outcome.

Guarantees:

- Every request carries `Idempotency-Key: <key>` and `Content-Type: application/json`.
  The caller passes the *same* key on every retry of the same delivery, so a
  receiver that honours the key sees one delivery however often we retry.
- Redirects are never followed (a webhook that redirects is misconfigured).
- The document is never logged (it holds personal data). Log lines name the
  receiver's host, the status, the idempotency key and the activity attempt.
- Error messages never include the request or the response body either.
- Signed (Standard Webhooks, infrastructure/webhook_signatures.py) when `signing`
  holds secrets: ``webhook-id`` is `msg_id` (default: the idempotency key, so the
  same on every retry), ``webhook-timestamp`` the attempt's time, and
  ``webhook-signature`` one ``v1,`` signature per secret. Secrets are never logged.

Outcomes:

=============================================  ==========================================
receiver's answer                              result
=============================================  ==========================================
2xx with a JSON body                           `WebhookReply` with the parsed body
204 No Content                                 `WebhookReply` with `body=None`
2xx with an empty, non-JSON or oversize body   retryable ``WebhookBadResponse``
408 Request Timeout, 425 Too Early             retryable ``WebhookTimeout``
429 Too Many Requests                          retryable ``WebhookThrottled``
5xx                                            retryable ``WebhookServerError``
no answer within `timeout_seconds`             retryable ``WebhookTimeout``
connection refused / reset / DNS / TLS         retryable ``WebhookConnectionError``
3xx                                            non-retryable ``WebhookRejected``
other 4xx                                      non-retryable ``WebhookRejected``
URL that is not http(s), or malformed          non-retryable ``WebhookInvalidUrl``
document that is not JSON-serialisable         non-retryable ``WebhookInvalidPayload``
=============================================  ==========================================

Why a 2xx with a garbage body is *retryable*: a receiver that acknowledges with
something we cannot read has not acknowledged properly (a proxy's HTML error page
served with 200, a half-deployed endpoint). Because every retry carries the same
idempotency key, retrying is safe for a receiver that honours the key, and it lets a
transient fault heal; if it never heals the retry policy's attempt limit ends it.

For 429 and 503 a `Retry-After` header given in seconds becomes the error's
`next_retry_delay` (capped at `MAX_RETRY_AFTER`), so Temporal waits as asked.

All errors are `temporalio.exceptions.ApplicationError` with the `type` names above
(constants in this module); the retryable ones have `non_retryable=False`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import aiohttp
import structlog
from temporalio import activity
from temporalio.exceptions import ApplicationError
from yarl import URL

from infrastructure.webhook_signatures import sign_headers

WEBHOOK_TIMEOUT: Final = "WebhookTimeout"
WEBHOOK_THROTTLED: Final = "WebhookThrottled"
WEBHOOK_SERVER_ERROR: Final = "WebhookServerError"
WEBHOOK_CONNECTION_ERROR: Final = "WebhookConnectionError"
WEBHOOK_BAD_RESPONSE: Final = "WebhookBadResponse"
WEBHOOK_REJECTED: Final = "WebhookRejected"
WEBHOOK_INVALID_URL: Final = "WebhookInvalidUrl"
WEBHOOK_INVALID_PAYLOAD: Final = "WebhookInvalidPayload"

RETRYABLE_TYPES: Final = frozenset(
    {
        WEBHOOK_TIMEOUT,
        WEBHOOK_THROTTLED,
        WEBHOOK_SERVER_ERROR,
        WEBHOOK_CONNECTION_ERROR,
        WEBHOOK_BAD_RESPONSE,
    }
)
"""Error types a retry may cure; every other `Webhook*` type is non-retryable."""

DEFAULT_TIMEOUT: Final = 10.0
"""Seconds for the whole exchange: connect, send, and read the answer."""

MAX_RESPONSE_BYTES: Final = 1_048_576
"""A longer answer is treated as a bad response (and never read into memory)."""

MAX_RETRY_AFTER: Final = timedelta(minutes=5)

USER_AGENT: Final = "casework-webhook/1"

_log = structlog.get_logger("casework.webhooks")


@dataclass(frozen=True, slots=True)
class WebhookReply:
    """A receiver's acknowledgement: its 2xx status and its parsed JSON body (None for 204)."""

    status: int
    body: Any


async def post_json(
    url: str,
    document: Mapping[str, Any],
    *,
    idempotency_key: str,
    timeout_seconds: float = DEFAULT_TIMEOUT,
    session: aiohttp.ClientSession | None = None,
    headers: Mapping[str, str] | None = None,
    signing: Sequence[str] | None = None,
    msg_id: str | None = None,
    signed_at: datetime | None = None,
) -> WebhookReply:
    """POST `document` as JSON to `url` once and return the receiver's acknowledgement.

    `idempotency_key` must be the same on every retry of one delivery. `session`
    lets a long-lived caller reuse connections; without it a session is opened and
    closed for this one request. Extra `headers` (for example an authorisation
    token) are added, but cannot replace `Idempotency-Key` or `Content-Type`.
    `signing`: the secrets to sign with (None or empty: unsigned); `msg_id` the
    ``webhook-id`` (default `idempotency_key`); `signed_at` the timestamp (default now).

    Raises `ApplicationError` as described in the module docstring.
    """
    if not idempotency_key or not idempotency_key.isprintable():
        raise ApplicationError(
            "idempotency key must be non-empty printable text",
            type=WEBHOOK_INVALID_PAYLOAD,
            non_retryable=True,
        )
    target = _parse_url(url)
    try:
        data = json.dumps(document, separators=(",", ":"), allow_nan=False).encode()
    except (TypeError, ValueError) as exc:
        # Say which kind of value failed, never the value itself.
        raise ApplicationError(
            f"document is not JSON-serialisable: {type(exc).__name__}",
            type=WEBHOOK_INVALID_PAYLOAD,
            non_retryable=True,
        ) from None

    request_headers = {"User-Agent": USER_AGENT, **(headers or {})}
    request_headers["Content-Type"] = "application/json"
    request_headers["Idempotency-Key"] = idempotency_key
    if signing:
        try:
            request_headers.update(
                sign_headers(
                    signing, msg_id or idempotency_key, data, signed_at or datetime.now(UTC)
                )
            )
        except ValueError:
            raise ApplicationError(
                "webhook id must be printable text without spaces",
                type=WEBHOOK_INVALID_PAYLOAD,
                non_retryable=True,
            ) from None

    log = _log.bind(
        host=target.host,
        idempotency_key=idempotency_key,
        attempt=activity.info().attempt if activity.in_activity() else None,
        signed=len(signing or ()),
    )
    started = time.monotonic()
    try:
        if session is None:
            async with aiohttp.ClientSession() as own_session:
                reply = await _exchange(own_session, target, data, request_headers, timeout_seconds)
        else:
            reply = await _exchange(session, target, data, request_headers, timeout_seconds)
    except ApplicationError as exc:
        log.warning(
            "webhook not delivered",
            outcome=exc.type,
            retryable=not exc.non_retryable,
            error=exc.message,
            duration_ms=round((time.monotonic() - started) * 1000),
        )
        raise
    log.info(
        "webhook delivered",
        status=reply.status,
        duration_ms=round((time.monotonic() - started) * 1000),
    )
    return reply


def _parse_url(url: str) -> URL:
    try:
        target = URL(url)
    except (TypeError, ValueError):
        target = None
    if target is None or target.scheme not in ("http", "https") or not target.host:
        raise ApplicationError(
            "webhook URL must be an absolute http(s) URL",
            type=WEBHOOK_INVALID_URL,
            non_retryable=True,
        )
    return target


async def _exchange(
    session: aiohttp.ClientSession,
    target: URL,
    data: bytes,
    headers: Mapping[str, str],
    timeout_seconds: float,
) -> WebhookReply:
    try:
        async with session.post(
            target,
            data=data,
            headers=headers,
            timeout=aiohttp.ClientTimeout(total=timeout_seconds),
            allow_redirects=False,
        ) as response:
            status = response.status
            _raise_for_status(response)
            if status == 204:
                return WebhookReply(status=status, body=None)
            raw = await _read_limited(response)
    except TimeoutError:
        raise ApplicationError(
            f"webhook {target.host} gave no answer within {timeout_seconds:g} s",
            type=WEBHOOK_TIMEOUT,
        ) from None
    except aiohttp.InvalidURL:
        raise ApplicationError(
            "webhook URL is malformed", type=WEBHOOK_INVALID_URL, non_retryable=True
        ) from None
    except aiohttp.ClientError as exc:
        raise ApplicationError(
            f"webhook {target.host} unreachable: {type(exc).__name__}",
            type=WEBHOOK_CONNECTION_ERROR,
        ) from None

    if raw is None:
        raise ApplicationError(
            f"webhook {target.host} answered {status} with a body over {MAX_RESPONSE_BYTES} bytes",
            type=WEBHOOK_BAD_RESPONSE,
        )
    try:
        body = json.loads(raw)
    except ValueError:  # includes UnicodeDecodeError and json.JSONDecodeError
        raise ApplicationError(
            f"webhook {target.host} answered {status} without a JSON acknowledgement",
            type=WEBHOOK_BAD_RESPONSE,
        ) from None
    return WebhookReply(status=status, body=body)


def _raise_for_status(response: aiohttp.ClientResponse) -> None:
    status = response.status
    host = response.url.host
    if 200 <= status < 300:
        return
    if status in (408, 425):
        raise ApplicationError(f"webhook {host} answered {status}", type=WEBHOOK_TIMEOUT)
    if status == 429:
        raise ApplicationError(
            f"webhook {host} answered 429 (too many requests)",
            type=WEBHOOK_THROTTLED,
            next_retry_delay=_retry_after(response),
        )
    if status >= 500:
        raise ApplicationError(
            f"webhook {host} answered {status}",
            type=WEBHOOK_SERVER_ERROR,
            next_retry_delay=_retry_after(response) if status == 503 else None,
        )
    if 300 <= status < 400:
        raise ApplicationError(
            f"webhook {host} answered {status} (redirect): update the webhook URL",
            type=WEBHOOK_REJECTED,
            non_retryable=True,
        )
    raise ApplicationError(
        f"webhook {host} rejected the request with {status} {response.reason or ''}".rstrip(),
        type=WEBHOOK_REJECTED,
        non_retryable=True,
    )


def _retry_after(response: aiohttp.ClientResponse) -> timedelta | None:
    """`Retry-After` in seconds, capped; the HTTP-date form is ignored."""
    value = response.headers.get("Retry-After", "").strip()
    if not value.isdigit():
        return None
    return min(timedelta(seconds=int(value)), MAX_RETRY_AFTER)


async def _read_limited(response: aiohttp.ClientResponse) -> bytes | None:
    """The body, or None when it is longer than `MAX_RESPONSE_BYTES`."""
    if response.content_length is not None and response.content_length > MAX_RESPONSE_BYTES:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_chunked(65_536):
        size += len(chunk)
        if size > MAX_RESPONSE_BYTES:
            return None
        chunks.append(chunk)
    return b"".join(chunks)
