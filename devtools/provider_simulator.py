"""A real local HTTP server playing the providers and the notification recipients.

Tests and the demo use it as the far end of Casework's webhooks::

    async with ProviderSimulator() as sim:
        url = sim.provider_url("food-bank")        # POST referrals here
        sim.configure("food-bank", Behaviour.failing_first(2))
        ...
        assert len(sim.referrals_for("food-bank")) == 1

Endpoints (all answer JSON unless a fault says otherwise):

``POST /providers/{provider_id}/referrals``
    Needs an ``Idempotency-Key`` header and a JSON object body. A new key stores a
    `ReceivedReferral` and answers ``202 {"status": "received", "provider_reference":
    ..., "duplicate": false}``. A repeat of a key (same provider) answers 202 with the
    *same* reference and ``"duplicate": true``, counts one more delivery on the record
    and is not a new referral. A repeat with a different body answers 422.
    No key, or a body that is not a JSON object: 400.

``POST /notifications/{recipient}``
    The same contract for escalation notifications: ``202 {"status": "received",
    "notification_id": ..., "duplicate": ...}``; `ReceivedNotification` records count
    their deliveries, so tests can assert one stored notification per key however
    many times it was posted.

``GET /health``
    ``200 {"status": "ok"}``.

Faults for fault tests are set per provider (`configure`) or per recipient
(`configure_recipient`) as a `Behaviour`: a script of `Fault`s for the first
requests, then a standing fault (normally `Fault.OK`). Requests are numbered per
endpoint, repeats included. `SERVER_ERROR` (500), `GARBAGE` (200 with a non-JSON
body) and `REJECT` (400) answer without storing anything; `SLOW` waits `delay`
seconds and then stores and answers normally — past the client's timeout that is a
lost acknowledgement, and the client's retry with the same key is a duplicate.

Replies: a provider's answer to a referral (accepted, declined with a reason,
completed) is decided by its `ReplyPolicy` — pure data with a seeded random draw per
idempotency key, so it is deterministic whatever order referrals arrive in — and
stored on the record as `planned_replies`. The optional hook
``async def on_referral(received: ReceivedReferral) -> None`` runs in the background
for each new referral; the demo uses it to send the replies to the case workflow,
for example with `deliver_planned_replies`. This module imports nothing from
Temporal.

Nothing here logs a request body: only provider or recipient, key, fault and status.

Faults and reply policies are in devtools/provider_behaviour.py, the records of what
was received in devtools/provider_records.py; their names are re-exported here.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

import structlog
from aiohttp import web
from yarl import URL

from devtools.provider_behaviour import (
    NORMAL,
    Behaviour,
    Fault,
    PlannedReply,
    ReplyOutcome,
    ReplyPolicy,
)
from devtools.provider_records import (
    OnReferral,
    ReceivedNotification,
    ReceivedReferral,
    RequestRecord,
    deliver_planned_replies,
)

_log = structlog.get_logger("devtools.provider_simulator")


GARBAGE_BODY = b"<html><body>502 Bad Gateway</body></html>\x00\xff not json"


@dataclass(slots=True)
class _Endpoint:
    behaviour: Behaviour = NORMAL
    requests: int = 0


class ProviderSimulator:
    """The simulator; use as ``async with ProviderSimulator(...) as sim``.

    `reply_policies` maps provider ids to their `ReplyPolicy`; others use
    `default_reply_policy`. `on_referral` runs in the background for each new
    referral (cancelled at stop). `port=0` picks a free port.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        on_referral: OnReferral | None = None,
        reply_policies: Mapping[str, ReplyPolicy] | None = None,
        default_reply_policy: ReplyPolicy | None = None,
        shutdown_timeout: float = 0.5,
    ) -> None:
        self.host = host
        self.port = port
        self.on_referral = on_referral
        self.reply_policies: dict[str, ReplyPolicy] = dict(reply_policies or {})
        self.default_reply_policy = default_reply_policy or ReplyPolicy()
        self.requests: list[RequestRecord] = []
        self._shutdown_timeout = shutdown_timeout
        self._providers: dict[str, _Endpoint] = {}
        self._recipients: dict[str, _Endpoint] = {}
        self._referrals: dict[tuple[str, str], ReceivedReferral] = {}
        self._notifications: dict[tuple[str, str], ReceivedNotification] = {}
        self._reference_counters: dict[str, itertools.count[int]] = {}
        self._notification_counter = itertools.count(1)
        self._hook_tasks: set[asyncio.Task[None]] = set()
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None

    # --- configuration --------------------------------------------------------------

    def configure(self, provider_id: str, behaviour: Behaviour) -> None:
        """Set how `provider_id` answers from now on (its request count restarts)."""
        self._providers[provider_id] = _Endpoint(behaviour)

    def configure_recipient(self, recipient: str, behaviour: Behaviour) -> None:
        """Set how the notification endpoint of `recipient` answers from now on."""
        self._recipients[recipient] = _Endpoint(behaviour)

    def set_reply_policy(self, provider_id: str, policy: ReplyPolicy) -> None:
        self.reply_policies[provider_id] = policy

    # --- addresses ------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        if self._runner is None:
            raise RuntimeError("the simulator is not running")
        return f"http://{self.host}:{self.port}"

    def provider_url(self, provider_id: str) -> str:
        """The referral webhook URL of `provider_id`."""
        return str(URL(self.base_url) / "providers" / provider_id / "referrals")

    def notification_url(self, recipient: str) -> str:
        """The notification webhook URL of `recipient`."""
        return str(URL(self.base_url) / "notifications" / recipient)

    # --- what was received ----------------------------------------------------------

    @property
    def referrals(self) -> list[ReceivedReferral]:
        """Every distinct referral stored, in order of first receipt."""
        return list(self._referrals.values())

    def referrals_for(self, provider_id: str) -> list[ReceivedReferral]:
        return [r for r in self._referrals.values() if r.provider_id == provider_id]

    def referral(self, provider_id: str, idempotency_key: str) -> ReceivedReferral | None:
        return self._referrals.get((provider_id, idempotency_key))

    @property
    def notifications(self) -> list[ReceivedNotification]:
        """Every distinct notification stored, in order of first receipt."""
        return list(self._notifications.values())

    def notifications_for(self, recipient: str) -> list[ReceivedNotification]:
        return [n for n in self._notifications.values() if n.recipient == recipient]

    def notification_deliveries(self) -> dict[str, int]:
        """Idempotency key → number of successful deliveries carrying it (repeats included)."""
        counts: dict[str, int] = {}
        for notification in self._notifications.values():
            key = notification.idempotency_key
            counts[key] = counts.get(key, 0) + notification.deliveries
        return counts

    def stored_per_key(self) -> dict[str, int]:
        """Idempotency key → distinct notifications stored under it (exactly-once: all 1)."""
        counts: dict[str, int] = {}
        for notification in self._notifications.values():
            key = notification.idempotency_key
            counts[key] = counts.get(key, 0) + 1
        return counts

    def requests_for(self, target: str) -> list[RequestRecord]:
        return [r for r in self.requests if r.target == target]

    async def wait_for(self, predicate: Callable[[], bool], timeout_seconds: float = 10.0) -> None:
        """Wait until `predicate()` holds, re-checked after every answered request.

        Raises `TimeoutError` after `timeout_seconds`.
        """
        async with asyncio.timeout(timeout_seconds), self._changed:
            await self._changed.wait_for(predicate)

    # --- lifecycle ------------------------------------------------------------------

    async def start(self) -> None:
        if self._runner is not None:
            raise RuntimeError("the simulator is already running")
        app = web.Application()
        app.router.add_post("/providers/{provider_id}/referrals", self._post_referral)
        app.router.add_post("/notifications/{recipient}", self._post_notification)
        app.router.add_get("/health", self._health)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=self._shutdown_timeout)
        await runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.host, self.port))
            site = web.SockSite(runner, sock)
            await site.start()
        except BaseException:
            sock.close()
            await runner.cleanup()
            raise
        self.port = sock.getsockname()[1]
        self._runner = runner
        _log.info("provider simulator listening", url=self.base_url)

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        tasks = list(self._hook_tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # --- handlers -------------------------------------------------------------------

    async def _health(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def _post_referral(self, request: web.Request) -> web.StreamResponse:
        provider_id = request.match_info["provider_id"]
        endpoint = self._providers.setdefault(provider_id, _Endpoint())
        return await self._handle(request, "referral", provider_id, endpoint, self._store_referral)

    async def _post_notification(self, request: web.Request) -> web.StreamResponse:
        recipient = request.match_info["recipient"]
        endpoint = self._recipients.setdefault(recipient, _Endpoint())
        return await self._handle(
            request, "notification", recipient, endpoint, self._store_notification
        )

    async def _handle(
        self,
        request: web.Request,
        kind: str,
        target: str,
        endpoint: _Endpoint,
        store: Callable[[str, str, dict[str, Any], dict[str, str]], web.Response],
    ) -> web.StreamResponse:
        endpoint.requests += 1
        number = endpoint.requests
        fault = endpoint.behaviour.fault_for(number)
        key = request.headers.get("Idempotency-Key")
        response = await self._answer(request, fault, endpoint.behaviour, target, key, store)
        self.requests.append(RequestRecord(kind, target, number, key, fault, response.status))
        _log.info(
            "simulator request",
            kind=kind,
            target=target,
            request_number=number,
            idempotency_key=key,
            fault=fault.value,
            status=response.status,
        )
        async with self._changed:
            self._changed.notify_all()
        return response

    async def _answer(
        self,
        request: web.Request,
        fault: Fault,
        behaviour: Behaviour,
        target: str,
        key: str | None,
        store: Callable[[str, str, dict[str, Any], dict[str, str]], web.Response],
    ) -> web.Response:
        if fault is Fault.SERVER_ERROR:
            return web.json_response({"error": "internal error (simulated)"}, status=500)
        if fault is Fault.GARBAGE:
            return web.Response(status=200, body=GARBAGE_BODY, content_type="text/html")
        if fault is Fault.REJECT:
            return web.json_response({"error": "rejected (simulated)"}, status=400)
        # Read the whole request first: a slow provider has received it, then dawdles.
        raw = await request.read()
        if fault is Fault.SLOW:
            await asyncio.sleep(behaviour.delay)
        if not key:
            return web.json_response({"error": "Idempotency-Key header required"}, status=400)
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return web.json_response({"error": "body must be a JSON object"}, status=400)
        headers = {name.lower(): value for name, value in request.headers.items()}
        return store(target, key, body, headers)

    def _store_referral(
        self, provider_id: str, key: str, body: dict[str, Any], headers: dict[str, str]
    ) -> web.Response:
        existing = self._referrals.get((provider_id, key))
        if existing is not None:
            if existing.body != body:
                return _key_reused()
            existing.deliveries += 1
            return _received("provider_reference", existing.provider_reference, duplicate=True)
        counter = self._reference_counters.setdefault(provider_id, itertools.count(1))
        policy = self.reply_policies.get(provider_id, self.default_reply_policy)
        notice = isinstance(body.get("type"), str)  # news of a referral: nothing to reply
        received = ReceivedReferral(
            provider_id=provider_id,
            provider_reference=f"{provider_id}-R{next(counter):05d}",
            idempotency_key=key,
            body=body,
            headers=headers,
            planned_replies=() if notice else policy.plan(key),
        )
        self._referrals[(provider_id, key)] = received
        if self.on_referral is not None and not notice:
            task = asyncio.create_task(self._run_hook(self.on_referral, received))
            self._hook_tasks.add(task)
            task.add_done_callback(self._hook_tasks.discard)
        return _received("provider_reference", received.provider_reference, duplicate=False)

    def _store_notification(
        self, recipient: str, key: str, body: dict[str, Any], headers: dict[str, str]
    ) -> web.Response:
        existing = self._notifications.get((recipient, key))
        if existing is not None:
            if existing.body != body:
                return _key_reused()
            existing.deliveries += 1
            return _received("notification_id", existing.notification_id, duplicate=True)
        notification = ReceivedNotification(
            recipient=recipient,
            notification_id=f"N{next(self._notification_counter):06d}",
            idempotency_key=key,
            body=body,
            headers=headers,
        )
        self._notifications[(recipient, key)] = notification
        return _received("notification_id", notification.notification_id, duplicate=False)

    async def _run_hook(self, hook: OnReferral, received: ReceivedReferral) -> None:
        try:
            await hook(received)
        except asyncio.CancelledError:
            raise
        except Exception:
            _log.exception(
                "on_referral hook failed",
                provider_id=received.provider_id,
                idempotency_key=received.idempotency_key,
            )


def _received(id_name: str, value: str, *, duplicate: bool) -> web.Response:
    return web.json_response(
        {"status": "received", id_name: value, "duplicate": duplicate}, status=202
    )


def _key_reused() -> web.Response:
    return web.json_response({"error": "Idempotency-Key reused with a different body"}, status=422)


async def _serve(host: str, port: int) -> None:
    async with ProviderSimulator(host=host, port=port):
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.Event().wait()


def main(argv: list[str] | None = None) -> None:
    """Run the simulator on its own (``python -m devtools.provider_simulator``)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args.host, args.port))


__all__ = [
    "GARBAGE_BODY",
    "NORMAL",
    "Behaviour",
    "Fault",
    "OnReferral",
    "PlannedReply",
    "ProviderSimulator",
    "ReceivedNotification",
    "ReceivedReferral",
    "ReplyOutcome",
    "ReplyPolicy",
    "RequestRecord",
    "deliver_planned_replies",
    "main",
]


if __name__ == "__main__":
    main()
