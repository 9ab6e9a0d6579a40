"""post_json: one HTTP attempt, headers as promised, every outcome classified."""

from __future__ import annotations

import asyncio
import dataclasses
import socket
from collections.abc import AsyncIterator
from datetime import timedelta

import aiohttp
import pytest
import structlog
from aiohttp import web
from aiohttp.test_utils import TestServer
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities import webhooks
from activities.webhooks import RETRYABLE_TYPES, WebhookReply, post_json
from devtools.provider_simulator import Behaviour, Fault, ProviderSimulator

SECRET = "Jane Example, 12 Secret Road"


def _app() -> web.Application:
    """Answers whatever the test asks for through the path."""

    async def status(request: web.Request) -> web.Response:
        code = int(request.match_info["code"])
        headers = (
            {"Retry-After": request.query["retry_after"]}
            if "retry_after" in request.query
            else None
        )
        if code == 204:
            return web.Response(status=204)
        if 300 <= code < 400:
            return web.Response(status=code, headers={"Location": "/status/200"})
        return web.json_response({"code": code}, status=code, headers=headers)

    async def body(request: web.Request) -> web.Response:
        kind = request.match_info["kind"]
        if kind == "list":
            return web.json_response([1, 2])
        if kind == "empty":
            return web.Response(status=200, body=b"")
        if kind == "huge":
            return web.Response(status=200, body=b"[" + b"1," * webhooks.MAX_RESPONSE_BYTES + b"1]")
        if kind == "echo":
            return web.json_response({"received": await request.json()})
        raise web.HTTPNotFound()

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(2)
        return web.json_response({})

    app = web.Application()
    app.router.add_post("/status/{code}", status)
    app.router.add_post("/body/{kind}", body)
    app.router.add_post("/slow", slow)
    return app


@pytest.fixture
async def server() -> AsyncIterator[TestServer]:
    srv = TestServer(_app())
    async with srv:
        yield srv


def url(server: TestServer, path: str) -> str:
    return str(server.make_url(path))


async def post(target: str, **kwargs: object) -> WebhookReply:
    return await post_json(target, {"name": SECRET}, idempotency_key="key-1", **kwargs)  # type: ignore[arg-type]


async def failure(target: str, **kwargs: object) -> ApplicationError:
    with pytest.raises(ApplicationError) as err:
        await post(target, **kwargs)
    return err.value


async def test_2xx_json_returns_the_parsed_body_and_sends_the_headers(
    simulator: ProviderSimulator,
) -> None:
    reply = await post_json(
        simulator.provider_url("p1"),
        {"referral_id": "r1", "shared": {"name": SECRET}},
        idempotency_key="referral-r1",
        headers={"Authorization": "Bearer t", "Idempotency-Key": "ignored"},
    )
    assert reply.status == 202
    assert reply.body["status"] == "received"
    (received,) = simulator.referrals
    assert received.headers["idempotency-key"] == "referral-r1"
    assert received.headers["content-type"] == "application/json"
    assert received.headers["authorization"] == "Bearer t"
    assert received.body == {"referral_id": "r1", "shared": {"name": SECRET}}


async def test_2xx_with_any_json_value_is_accepted(server: TestServer) -> None:
    assert (await post(url(server, "/body/list"))).body == [1, 2]
    assert (await post(url(server, "/status/200"))).body == {"code": 200}


async def test_204_is_an_acknowledgement_without_body(server: TestServer) -> None:
    assert await post(url(server, "/status/204")) == WebhookReply(status=204, body=None)


@pytest.mark.parametrize("path", ["/body/empty", "/body/huge"])
async def test_2xx_without_readable_json_is_a_retryable_bad_response(
    server: TestServer, path: str
) -> None:
    error = await failure(url(server, path))
    assert error.type == "WebhookBadResponse"
    assert not error.non_retryable


async def test_garbage_from_the_simulator_is_a_retryable_bad_response(
    simulator: ProviderSimulator,
) -> None:
    simulator.configure("p1", Behaviour.garbage_first(1))
    error = await failure(simulator.provider_url("p1"))
    assert (error.type, error.non_retryable) == ("WebhookBadResponse", False)
    assert "200" in error.message
    assert simulator.referrals == []


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        (408, "WebhookTimeout"),
        (425, "WebhookTimeout"),
        (429, "WebhookThrottled"),
        (500, "WebhookServerError"),
        (502, "WebhookServerError"),
        (503, "WebhookServerError"),
    ],
)
async def test_transient_statuses_are_retryable(server: TestServer, code: int, kind: str) -> None:
    error = await failure(url(server, f"/status/{code}"))
    assert error.type == kind
    assert not error.non_retryable
    assert str(code) in error.message
    assert error.type in RETRYABLE_TYPES


async def test_retry_after_becomes_the_next_retry_delay(server: TestServer) -> None:
    error = await failure(url(server, "/status/429?retry_after=7"))
    assert error.next_retry_delay == timedelta(seconds=7)
    error = await failure(url(server, "/status/503?retry_after=999999"))
    assert error.next_retry_delay == webhooks.MAX_RETRY_AFTER
    error = await failure(url(server, "/status/500?retry_after=7"))
    assert error.next_retry_delay is None


@pytest.mark.parametrize("code", [400, 401, 403, 404, 409, 410, 413, 422, 301, 302, 307])
async def test_other_4xx_and_redirects_are_rejected_for_good(server: TestServer, code: int) -> None:
    error = await failure(url(server, f"/status/{code}"))
    assert error.type == "WebhookRejected"
    assert error.non_retryable
    assert str(code) in error.message


async def test_no_answer_in_time_is_a_retryable_timeout(server: TestServer) -> None:
    error = await failure(url(server, "/slow"), timeout_seconds=0.2)
    assert (error.type, error.non_retryable) == ("WebhookTimeout", False)


async def test_connection_refused_is_retryable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    error = await failure(f"http://127.0.0.1:{port}/hook")
    assert (error.type, error.non_retryable) == ("WebhookConnectionError", False)


@pytest.mark.parametrize("bad", ["ftp://example.org/x", "not a url", "http://", "/relative"])
async def test_bad_urls_are_not_retried(bad: str) -> None:
    error = await failure(bad)
    assert (error.type, error.non_retryable) == ("WebhookInvalidUrl", True)


async def test_unserialisable_document_or_bad_key_is_not_retried(server: TestServer) -> None:
    with pytest.raises(ApplicationError) as err:
        await post_json(url(server, "/status/200"), {"x": object()}, idempotency_key="k")
    assert (err.value.type, err.value.non_retryable) == ("WebhookInvalidPayload", True)
    with pytest.raises(ApplicationError) as err:
        await post_json(url(server, "/status/200"), {"x": float("nan")}, idempotency_key="k")
    assert err.value.type == "WebhookInvalidPayload"
    with pytest.raises(ApplicationError) as err:
        await post_json(url(server, "/status/200"), {}, idempotency_key="a\nb")
    assert err.value.type == "WebhookInvalidPayload"


async def test_a_shared_session_is_used_and_left_open(server: TestServer) -> None:
    async with aiohttp.ClientSession() as session:
        reply = await post(url(server, "/body/echo"), session=session)
        assert reply.body == {"received": {"name": SECRET}}
        assert not session.closed


async def test_logs_name_host_status_key_and_attempt_but_never_the_body(
    simulator: ProviderSimulator, server: TestServer
) -> None:
    env = ActivityEnvironment()
    env.info = dataclasses.replace(env.info, attempt=3)
    with structlog.testing.capture_logs() as logs:
        await env.run(post, simulator.provider_url("p1"))
        with pytest.raises(ApplicationError):
            await env.run(post, url(server, "/status/500"))
    delivered = next(e for e in logs if e["event"] == "webhook delivered")
    assert delivered["host"] == "127.0.0.1"
    assert delivered["status"] == 202
    assert delivered["idempotency_key"] == "key-1"
    assert delivered["attempt"] == 3
    failed = next(e for e in logs if e["event"] == "webhook not delivered")
    assert failed["outcome"] == "WebhookServerError" and failed["retryable"] is True
    assert SECRET not in repr(logs)


async def test_simulator_rejection_is_not_retryable(simulator: ProviderSimulator) -> None:
    simulator.configure("p1", Behaviour.always(Fault.REJECT))
    error = await failure(simulator.provider_url("p1"))
    assert (error.type, error.non_retryable) == ("WebhookRejected", True)
    assert "400" in error.message
