"""What must hold after any fault, once the system has recovered.

`check_all` returns a list of violations (empty when everything holds):

1. Every accepted command's events are in the log exactly once: the events carrying
   its Update id as correlation id form one contiguous block ending at the
   `stream_version` the command returned, and the events of the command's actor in
   it are exactly `CommandResult.events`. A rejected command, or one whose fate
   stayed unknown, wrote nothing. Every case's events by staff add up to its opening
   plus the events of its accepted commands: nothing nobody asked for.
2. Stream versions are contiguous and every hash chain verifies (`verify_chains`).
3. Every case workflow's state equals the fold of its stream.
4. Every read model equals a rebuild from the log.
5. Every escalation level raised reached each recipient exactly once: its outbox
   rows are all delivered, and the receiving end stored one notification per key.
6. Every referral made has exactly one dispatch outcome (`ReferralDispatched` or
   `ReferralDispatchFailed`); a dispatched one was stored once by its provider.

`settle` waits for the system to go quiet first (timers that were due have fired,
notifications and dispatches have finished, the projector has caught up).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from cases.actors import SYSTEM_ACTOR
from cases.evolve import fold
from cases.state import workflow_id_for
from devtools.provider_simulator import Fault, ProviderSimulator
from events.chain import verify_chains
from projections.catalog import all_projections
from projections.rebuild import rebuild
from projections.status import projection_status
from tests.faults.load import Ledger, Outcome, Sent
from tests.faults.procs import FaultStack
from workflows.case import CaseWorkflow

SYSTEM = SYSTEM_ACTOR.staff_id


@dataclass(frozen=True)
class LoggedEvent:
    stream_id: str
    version: int
    event_type: str
    correlation_id: str | None
    actor_id: str
    referral_id: str | None
    provider_id: str | None
    escalation_id: str | None
    level: int | None


@dataclass
class Findings:
    violations: list[str] = field(default_factory=list)

    def fail(self, message: str) -> None:
        self.violations.append(message)


async def wait_until(
    probe: Callable[[], Awaitable[bool]], within: float, interval: float = 0.5
) -> bool:
    deadline = time.monotonic() + within
    while True:
        try:
            if await probe():
                return True
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
            pass
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(interval)


async def case_events(pool: asyncpg.Pool) -> list[LoggedEvent]:
    rows = await pool.fetch(
        """SELECT stream_id, stream_version, event_type,
                  metadata->>'correlation_id' AS correlation_id,
                  metadata->>'actor_id' AS actor_id,
                  data->>'referral_id' AS referral_id,
                  data->>'provider_id' AS provider_id,
                  data->>'escalation_id' AS escalation_id,
                  (data->>'level')::int AS level
             FROM events WHERE stream_id LIKE 'case-%'
            ORDER BY stream_id, stream_version"""
    )
    return [
        LoggedEvent(
            r["stream_id"],
            r["stream_version"],
            r["event_type"],
            r["correlation_id"],
            r["actor_id"],
            r["referral_id"],
            r["provider_id"],
            r["escalation_id"],
            r["level"] if r["event_type"] == "EscalationRaised" else None,
        )
        for r in rows
    ]


async def _quiet(stack: FaultStack, ledger: Ledger, quiet_for: float) -> bool:
    """Nothing happened for `quiet_for` seconds and nothing is left half-way."""
    if time.monotonic() - ledger.last_command_at < quiet_for:
        return False
    row = await stack.pool.fetchrow(
        """SELECT count(*) AS n, extract(epoch FROM now() - max(recorded_at)) AS idle
             FROM events"""
    )
    assert row is not None
    if row["idle"] is None or float(row["idle"]) < quiet_for:
        return False
    pending = await stack.pool.fetchval(
        "SELECT count(*) FROM notification_outbox WHERE delivered_at IS NULL"
    )
    if pending:
        return False
    events = await case_events(stack.pool)
    if _referrals_without_outcome(events):
        return False
    return not await _escalations_without_notice(stack.pool, events)


async def _escalations_without_notice(pool: asyncpg.Pool, events: list[LoggedEvent]) -> list[str]:
    """Escalations raised whose notification has not written its outbox rows yet: its
    activity may still be on its way (a task handed out as Temporal died is handed out
    again only after its start-to-close timeout, a minute)."""
    rows = await pool.fetch(
        "SELECT DISTINCT case_id, escalation_id, level FROM notification_outbox"
    )
    noticed = {f"case-{r['case_id']}:{r['escalation_id']}:{r['level']}" for r in rows}
    return sorted(
        key
        for key in (
            f"{e.stream_id}:{e.escalation_id}:{e.level}"
            for e in events
            if e.event_type == "EscalationRaised"
        )
        if key not in noticed
    )


def _referrals_without_outcome(events: list[LoggedEvent]) -> list[tuple[str, str]]:
    made = {(e.stream_id, e.referral_id) for e in events if e.event_type == "ReferralMade"}
    done = {
        (e.stream_id, e.referral_id)
        for e in events
        if e.event_type in ("ReferralDispatched", "ReferralDispatchFailed")
    }
    return sorted((s, r or "?") for s, r in made - done)


async def settle(stack: FaultStack, ledger: Ledger, *, quiet_for: float, within: float) -> bool:
    """Wait until the system has been quiet for `quiet_for` seconds (see `_quiet`)."""
    return await wait_until(lambda: _quiet(stack, ledger, quiet_for), within, interval=1.0)


# --- 1. commands against the log ------------------------------------------------------------


def check_commands(ledger: Ledger, events: list[LoggedEvent], findings: Findings) -> None:
    by_correlation: dict[str, list[LoggedEvent]] = defaultdict(list)
    for event in events:
        if event.correlation_id:
            by_correlation[event.correlation_id].append(event)
    known: set[str] = set()
    staff_events_expected: Counter[str] = Counter()
    for sent in ledger.sent:
        stream = f"case-{sent.case_id}"
        known.add(sent.update_id)
        block = by_correlation.get(sent.update_id, [])
        if sent.outcome is not Outcome.ACCEPTED:
            if block:
                findings.fail(
                    f"{sent.command} {sent.update_id} on {stream} was {sent.outcome} "
                    f"({sent.error}) but wrote {[e.event_type for e in block]}"
                )
            continue
        if sent.command == "OpenCase":
            known.add(workflow_id_for(sent.case_id))
            staff_events_expected[stream] += 1
            opened = [e for e in events if e.stream_id == stream and e.event_type == "CaseOpened"]
            if len(opened) != 1 or opened[0].version != 1:
                findings.fail(
                    f"{stream}: {len(opened)} CaseOpened events "
                    f"(versions {[e.version for e in opened]}); expected one at v1"
                )
            continue
        _check_block(sent, stream, block, findings)
        assert sent.result is not None
        staff_events_expected[stream] += len(sent.result.events)
    strays = sorted({c for c in by_correlation if c not in known})
    for correlation in strays:
        block = by_correlation[correlation]
        findings.fail(
            f"events no command asked for: correlation {correlation} on {block[0].stream_id}: "
            f"{[(e.version, e.event_type) for e in block]}"
        )
    staff_events = Counter(e.stream_id for e in events if e.actor_id != SYSTEM)
    for stream in sorted(set(staff_events) | set(staff_events_expected)):
        if staff_events[stream] != staff_events_expected[stream]:
            findings.fail(
                f"{stream}: {staff_events[stream]} events by staff in the log, "
                f"{staff_events_expected[stream]} from the commands accepted"
            )


def _check_block(sent: Sent, stream: str, block: list[LoggedEvent], findings: Findings) -> None:
    assert sent.result is not None
    expected = list(sent.result.events)
    label = f"{sent.command} {sent.update_id} on {stream}"
    if not expected and not block:
        return
    if not block:
        findings.fail(f"{label}: returned {expected}, none of its events is in the log")
        return
    if {e.stream_id for e in block} != {stream}:
        findings.fail(f"{label}: events in streams {sorted({e.stream_id for e in block})}")
        return
    versions = [e.version for e in block]
    if versions != list(range(versions[0], versions[0] + len(versions))):
        findings.fail(f"{label}: its events are not one contiguous block: versions {versions}")
    if versions[-1] != sent.result.stream_version:
        findings.fail(
            f"{label}: returned stream_version {sent.result.stream_version}, "
            f"its events end at v{versions[-1]}"
        )
    own = [e.event_type for e in block if e.actor_id == sent.actor]
    if own != expected:
        findings.fail(f"{label}: returned {expected}, the log holds {own} (by {sent.actor})")


# --- 2. chains --------------------------------------------------------------------------------


async def check_chains(pool: asyncpg.Pool, findings: Findings) -> int:
    async with pool.acquire() as conn:
        report = await verify_chains(conn)
    for finding in report.findings:
        findings.fail(f"hash chain: {finding}")
    return report.events


# --- 3. workflow state against the fold of the log ---------------------------------------------


async def check_workflow_states(
    stack: FaultStack, case_ids: list[str], findings: Findings, *, within: float = 20.0
) -> None:
    gate = asyncio.Semaphore(6)

    async def one(case_id: str) -> None:
        async with gate:
            stream = f"case-{case_id}"
            handle = stack.client.get_workflow_handle(workflow_id_for(case_id))
            problem = "never queried"
            deadline = time.monotonic() + within
            while time.monotonic() < deadline:
                try:
                    state = await handle.query(CaseWorkflow.case)
                    log = await stack.store.read_stream(stream)
                except Exception as exc:
                    problem = f"query failed: {type(exc).__name__}: {exc}"
                    await asyncio.sleep(1.0)
                    continue
                if state is None:
                    problem = "the workflow has no state"
                elif state.stream_version != len(log):
                    problem = f"workflow at v{state.stream_version}, log at v{len(log)}"
                elif state != fold(log, stack.store.registry):
                    problem = "workflow state differs from the fold of its stream"
                else:
                    return
                await asyncio.sleep(0.5)
            findings.fail(f"{stream}: {problem}")

    await asyncio.gather(*(one(case_id) for case_id in case_ids))


# --- 4. read models against a rebuild ----------------------------------------------------------


async def _snapshot(pool: asyncpg.Pool, tables: tuple[str, ...]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for table in tables:
        rows = await pool.fetch(f"SELECT * FROM public.{table}")
        out[table] = sorted(repr(tuple(r.values())) for r in rows)
    return out


async def check_read_models(stack: FaultStack, findings: Findings, *, within: float) -> None:
    """The projector (running) catches up; then, stopped, its tables equal a rebuild."""
    projections = all_projections()
    total = await stack.pool.fetchval("SELECT count(*) FROM events")

    async def caught_up() -> bool:
        stack.check_processes()
        statuses = await projection_status(stack.pool, projections)
        return all(s.lag_events == 0 and not s.last_error for s in statuses)

    if not await wait_until(caught_up, within):
        statuses = await projection_status(stack.pool, projections)
        for s in statuses:
            if s.lag_events or s.last_error:
                findings.fail(
                    f"projection {s.name} did not catch up: lag {s.lag_events} of {total} "
                    f"events, error {s.last_error!r}"
                )
        return
    await stack.projector.stop()
    for projection in projections:
        live = await _snapshot(stack.pool, projection.tables)
        await rebuild(stack.dsn, projection, settle=0.5)
        rebuilt = await _snapshot(stack.pool, projection.tables)
        for table in projection.tables:
            if live[table] != rebuilt[table]:
                only_live = sorted(set(live[table]) - set(rebuilt[table]))[:3]
                only_rebuilt = sorted(set(rebuilt[table]) - set(live[table]))[:3]
                findings.fail(
                    f"read model {table} ({len(live[table])} rows) differs from its rebuild "
                    f"({len(rebuilt[table])} rows): live only {only_live}, "
                    f"rebuild only {only_rebuilt}"
                )


# --- 5. escalation notifications ---------------------------------------------------------------


async def check_notifications(
    pool: asyncpg.Pool,
    events: list[LoggedEvent],
    simulator: ProviderSimulator,
    findings: Findings,
) -> int:
    rows = await pool.fetch(
        """SELECT key, case_id, escalation_id, level, recipient, channel_url, delivered_at
             FROM notification_outbox
            WHERE escalation_id LIKE 'escalation-%'"""  # not reminders, not break-glass
    )
    by_level: dict[str, list[asyncpg.Record]] = defaultdict(list)
    for row in rows:
        by_level[f"case-{row['case_id']}:{row['escalation_id']}:{row['level']}"].append(row)
    raised = [e for e in events if e.event_type == "EscalationRaised"]
    raised_keys = Counter(f"{e.stream_id}:{e.escalation_id}:{e.level}" for e in raised)
    for key, n in raised_keys.items():
        if n != 1:
            findings.fail(f"escalation {key} raised {n} times")
        if not by_level.get(key):
            findings.fail(f"escalation {key}: nobody was notified (no outbox row)")
    for key in by_level:
        if key not in raised_keys:
            findings.fail(f"outbox rows for {key}, which the log never raised")
    stored = simulator.stored_per_key()
    for row in rows:
        if row["delivered_at"] is None:
            findings.fail(f"notification {row['key']} never delivered")
        if row["channel_url"] and stored.get(row["key"], 0) != 1:
            findings.fail(
                f"notification {row['key']} stored {stored.get(row['key'], 0)} times "
                "by its recipient"
            )
    outbox_keys = {row["key"] for row in rows}
    for key, count in stored.items():
        if count != 1:
            findings.fail(f"notification key {key} stored {count} times")
        if key not in outbox_keys:
            findings.fail(f"the recipient stored notification {key}, which the outbox lacks")
    return len(rows)


# --- 6. referral dispatch ----------------------------------------------------------------------


def check_referrals(
    events: list[LoggedEvent], simulator: ProviderSimulator, findings: Findings
) -> dict[str, int]:
    outcomes: dict[tuple[str, str], list[str]] = defaultdict(list)
    made: dict[tuple[str, str], str] = {}
    for e in events:
        if e.event_type == "ReferralMade" and e.referral_id:
            made[(e.stream_id, e.referral_id)] = e.event_type
        if e.event_type in ("ReferralDispatched", "ReferralDispatchFailed") and e.referral_id:
            outcomes[(e.stream_id, e.referral_id)].append(e.event_type)
    stored = {r.idempotency_key: r for r in simulator.referrals}
    figures: Counter[str] = Counter()
    for stream, referral_id in sorted(made):
        got = outcomes.get((stream, referral_id), [])
        if len(got) != 1:
            findings.fail(f"{stream} {referral_id}: dispatch outcomes {got}; expected exactly one")
            continue
        figures[got[0]] += 1
        key = f"{stream.removeprefix('case-')}:{referral_id}"
        if got[0] == "ReferralDispatched" and key not in stored:
            findings.fail(f"{stream} {referral_id} recorded as dispatched; provider never got it")
    for stream, referral_id in sorted(outcomes.keys() - made.keys()):
        findings.fail(f"{stream} {referral_id}: a dispatch outcome for a referral never made")
    return dict(figures)


# --- everything --------------------------------------------------------------------------------


def dispatch_outcomes(events: list[LoggedEvent]) -> dict[str, Counter[str]]:
    """Provider id → how its referrals' dispatches ended (event type → count)."""
    provider_of = {
        (e.stream_id, e.referral_id): e.provider_id or "?"
        for e in events
        if e.event_type == "ReferralMade"
    }
    outcomes: dict[str, Counter[str]] = defaultdict(Counter)
    for e in events:
        if e.event_type in ("ReferralDispatched", "ReferralDispatchFailed"):
            outcomes[provider_of.get((e.stream_id, e.referral_id), "?")][e.event_type] += 1
    return dict(outcomes)


@dataclass
class Verdict:
    violations: list[str]
    figures: dict[str, Any]
    events: list[LoggedEvent]


async def check_all(
    stack: FaultStack,
    ledger: Ledger,
    simulator: ProviderSimulator,
    *,
    settle_within: float = 150.0,
    quiet_for: float = 4.0,
) -> Verdict:
    """Settle, then check every invariant; the worker and projector are stopped at the end."""
    findings = Findings()
    stack.check_processes()
    if not await settle(stack, ledger, quiet_for=quiet_for, within=settle_within):
        events = await case_events(stack.pool)
        undelivered = await stack.pool.fetch(
            "SELECT key, attempts, last_error FROM notification_outbox WHERE delivered_at IS NULL"
        )
        findings.fail(
            f"the system did not settle within {settle_within:.0f}s: referrals without an "
            f"outcome {_referrals_without_outcome(events)[:5]}, undelivered notifications "
            f"{[dict(r) for r in undelivered][:5]}, escalations nobody was told of yet "
            f"{(await _escalations_without_notice(stack.pool, events))[:5]}"
        )
    await check_workflow_states(stack, ledger.opened, findings)
    # From here the log must stand still: no worker, so no timer can append.
    await stack.worker.stop()
    events = await case_events(stack.pool)
    check_commands(ledger, events, findings)
    for sent in ledger.unexpected_rejections:
        findings.fail(f"{sent.command} on case-{sent.case_id} refused unexpectedly: {sent.error}")
    for sent in ledger.missing_rejections:
        findings.fail(f"{sent.command} on case-{sent.case_id} accepted; it must be refused")
    events_total = await check_chains(stack.pool, findings)
    notifications = await check_notifications(stack.pool, events, simulator, findings)
    dispatch = check_referrals(events, simulator, findings)
    await check_read_models(stack, findings, within=60.0)
    faulted = sum(1 for r in simulator.requests if r.fault is not Fault.OK)
    if faulted:
        stack.faults["webhook answer faulted"] = faulted
    for service in (stack.worker, stack.projector):
        for code, log_tail in service.unexpected_exits:
            # The end of its log says why (a traceback): kept in the finding, since the
            # test's temporary directory is gone by the time a CI run is read.
            findings.fail(
                f"the {service.name} process exited by itself with code {code}; "
                f"the end of its log:\n{log_tail}"
            )
    latencies = sorted(s.seconds for s in ledger.sent) or [0.0]
    figures: dict[str, Any] = {
        "commands sent": len(ledger.sent),
        "accepted": ledger.count(Outcome.ACCEPTED),
        "rejected": ledger.count(Outcome.REJECTED),
        "unknown": ledger.count(Outcome.UNKNOWN),
        "sent again (same id)": sum(1 for s in ledger.sent if s.attempts > 1),
        "round trip p50 / max": f"{latencies[len(latencies) // 2]:.2f} s / {latencies[-1]:.1f} s",
        "cases": len(ledger.opened),
        "events written": events_total,
        "case events": len(events),
        "notifications": notifications,
        **{k: v for k, v in sorted(dispatch.items())},
        "faults injected": sum(stack.faults.values()),
        "faults": ", ".join(f"{k} x{v}" for k, v in sorted(stack.faults.items())),
        "invariant violations": len(findings.violations),
    }
    return Verdict(findings.violations, figures, events)
