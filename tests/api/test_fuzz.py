"""The HTTP API fuzzed with schemathesis against its own OpenAPI document.

In-process, over the real event store, the real PostgreSQL and a real case worker on the
time-skipping Temporal server, with real signed-in staff (an administrator, who reaches
the directory and identity routes, and a caseworker and a manager, who reach case data):
every generated request, valid and invalid, must get an answer that is not a server
error, whose status the document lists for the operation, whose content type it
declares and whose body matches the declared schema; invalid input must be refused.

schemathesis generates the cases (hypothesis strategies from the document); the test
sends them itself through `httpx.ASGITransport` on the test's own event loop, since the
asyncpg pool and the Temporal client belong to that loop. Hypothesis runs in a worker
thread and hands each request to the loop.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from typing import Any

import httpx
import schemathesis
from hypothesis import HealthCheck, Phase, given, reject, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from infrastructure.logs import get_logger
from tests.api.conftest import Api

log = get_logger(component="test-fuzz")

EXAMPLES = 3
"""Examples per operation, generation mode and caller: bounded so the whole run stays
well under two minutes on a busy two-core machine."""

SEND_TIMEOUT = 60.0
"""Seconds one request may take before the run fails (generous: a shared machine)."""

CASE_DATA = {"cases", "read models"}
"""The tags of the operations on case data, which an administrator may not read."""

LEAVE_OUT = {"DELETE /api/v1/sessions/current"}
"""Signing out would end the fuzzing caller's own session (tested in test_api.py)."""

OPEN_CASE: dict[str, Any] = {
    "client_ref": "CL-FUZZ-1",
    "client": {"name": "Rosalind Quennell-Ashby"},
    "assignee": "alice",
    "presenting_needs": ["housing"],
}

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


class Fuzzer:
    """Sends schemathesis' cases through the app on the test's loop, from a hypothesis thread."""

    def __init__(self, api: Api, loop: asyncio.AbstractEventLoop) -> None:
        self.api = api
        self.loop = loop
        self.statuses: Counter[int] = Counter()
        self.failures: list[str] = []

    def _request(self, case: schemathesis.Case[Any]) -> httpx.Request:
        """The case as an httpx request, or rejected when no HTTP client could send it
        (a header with a line break, say): only building it may be refused, never the
        app's answer."""
        kwargs = case.as_transport_kwargs(base_url=str(self.api.http.base_url).rstrip("/"))
        body: dict[str, Any] = {}
        if "json" in kwargs:
            body["json"] = kwargs["json"]
        elif isinstance(kwargs.get("data"), (bytes, str)):
            body["content"] = kwargs["data"]
        elif kwargs.get("data") is not None:
            body["data"] = kwargs["data"]
        try:
            return self.api.http.build_request(
                kwargs["method"],
                kwargs["url"],
                headers=kwargs.get("headers"),
                params=kwargs.get("params"),
                **body,
            )
        except (httpx.LocalProtocolError, UnicodeEncodeError, ValueError, TypeError):
            reject()

    def send(self, case: schemathesis.Case[Any], token: str, mode: GenerationMode) -> None:
        """(In the hypothesis thread.) Send `case` as the caller of `token` on the app's
        loop; check the answer."""
        case.headers["Authorization"] = f"Bearer {token}"
        request = self._request(case)
        sent = asyncio.run_coroutine_threadsafe(self.api.http.send(request), self.loop)
        response = sent.result(SEND_TIMEOUT)
        self.statuses[response.status_code] += 1
        checks = [*CHECKS, negative_data_rejection] if mode is GenerationMode.NEGATIVE else CHECKS
        case.validate_response(response, checks=checks, headers=dict(request.headers))

    def _property(self, strategy: Any, token: str, mode: GenerationMode) -> Callable[[], None]:
        """A hypothesis test sending `strategy`'s cases as the caller of `token`."""

        @settings(
            max_examples=EXAMPLES,
            derandomize=True,
            database=None,
            deadline=None,
            phases=[Phase.explicit, Phase.generate, Phase.shrink],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=strategy)
        def fuzz(case: schemathesis.Case[Any]) -> None:
            self.send(case, token, mode)

        result: Callable[[], None] = fuzz
        return result

    def run(
        self,
        operation: Any,
        token: str,
        case_id: str | None = None,
        modes: tuple[GenerationMode, ...] = tuple(GenerationMode),
    ) -> None:
        """(In the hypothesis thread.) Fuzz one operation in each of `modes`; with
        `case_id`, on that case, and its commands sent with `If-Match: *` when valid (so
        that they reach the case's rules, not only the If-Match check)."""
        for mode in modes:
            on_case = {"case_id": case_id} if case_id is not None else None
            if_match = "If-Match" in {p.name for p in operation.headers}
            headers = {"If-Match": "*"} if on_case and if_match and mode.is_positive else None
            strategy = operation.as_strategy(
                generation_mode=mode, path_parameters=on_case, headers=headers
            )

            fuzz = self._property(strategy, token, mode)
            try:
                fuzz()
            except Unsatisfiable:
                assert mode is GenerationMode.NEGATIVE, operation.label  # no input to spoil
            except (Exception, BaseExceptionGroup) as exc:  # every operation's, not the first
                self.failures.append(f"{operation.label} ({mode.value}): {exc}")


def _operations(spec: dict[str, Any]) -> list[Any]:
    """Every operation of the document but those left out; a malformed operation fails."""
    schema = schemathesis.openapi.from_dict(spec)
    operations = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result
        if result.ok().label not in LEAVE_OUT:
            operations.append(result.ok())
    return operations


async def _token(api: Api, staff_id: str) -> str:
    header = await api.sign_in(staff_id)
    return header["Authorization"].removeprefix("Bearer ")


async def test_the_api_answers_every_generated_request_as_its_schema_says(
    api_with_visibility: Api,
) -> None:
    api = api_with_visibility
    spec = (await api.http.get("/openapi.json")).json()
    operations = _operations(spec)
    assert len(operations) >= 30, [op.label for op in operations]
    alice = await api.sign_in("alice")
    opened = await api.http.post("/api/v1/cases", json=OPEN_CASE, headers=alice)
    assert opened.status_code == 201, opened.text
    case_id = opened.json()["case_id"]
    callers = {name: await _token(api, name) for name in ("root", "alice")}
    fuzzer = Fuzzer(api, asyncio.get_running_loop())

    def fuzz_all() -> None:
        for operation in operations:
            # The administrator reaches the directories, the policy and the accounts; the
            # caseworker the case data, on a case of her own (its routes behind the case
            # lookup, not only its 404) and elsewhere.
            fuzzer.run(operation, callers["root"])
            if CASE_DATA.intersection(operation.tags or ()):
                has_case = any(p.name == "case_id" for p in operation.path_parameters)
                fuzzer.run(
                    operation,
                    callers["alice"],
                    case_id if has_case else None,
                    # invalid input is refused before the caller matters: once is enough
                    modes=(GenerationMode.POSITIVE,),
                )

    await asyncio.to_thread(fuzz_all)
    log.info("fuzzed", statuses=dict(sorted(fuzzer.statuses.items())))
    assert not fuzzer.failures, "\n\n".join(fuzzer.failures)
    # Not vacuous: many requests got through to the routes and were answered.
    assert sum(fuzzer.statuses.values()) >= len(operations) * len(callers) * EXAMPLES
    assert sum(n for s, n in fuzzer.statuses.items() if 200 <= s < 300) >= 50, fuzzer.statuses
    # And the fuzzing callers are still signed in (no run of 401s hid the routes).
    for token in callers.values():
        me = await api.http.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
        assert me.status_code == 200, me.text
