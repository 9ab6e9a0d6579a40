"""`casework demo`: a live caseload on the embedded stack, then a summary.

1. Seeds the staff and resource directories (idempotent) with webhooks served by the
   demo's own provider simulator, and applies a policy with second-scale durations.
   When the demo ends, the webhooks are handed over to the simulated providers that
   every `casework up` on the data directory serves (`devtools.stack.simulator_url`),
   so the demo's agency keeps working after the demo.
2. Opens the caseload (seeded: the same `--seed` gives the same clients, paths and
   replies; case ids are fresh each run so the demo can run again on the same data)
   and walks every case through its path concurrently. Providers accept or decline
   referrals after varied delays, as signals to the case workflows.
   Meanwhile every other case's worker does its reviews on time (a reassessment
   shortly before each is due) for as long as the case is open and the demo watches.
3. Watches the neglected cases' reviews go due, lapse and escalate, then prints the
   caseload, open escalations, reviews done and lapsed, outcomes and closures from the
   read models and the log.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from temporalio.client import Client

from application.bootstrap import Casework, open_casework
from application.policies import apply_policy
from application.reports.kpi import NoCheckpoint, headline, kpi_report
from cases import commands as c
from cases.actors import SYSTEM_ACTOR, Actor, Role
from cases.state import CaseState
from devtools.demo.accounts import ensure_demo_accounts
from devtools.demo.caseload import CasePath, CaseScript, caseload
from devtools.demo.lifecycle import CaseRun
from devtools.demo.notarised import checkpoint_covering, checkpoint_summary, closed_case
from devtools.demo.reviews import tally_reviews
from devtools.demo.setup import (
    AGENCY_POLICY,
    DEMO_POLICY,
    REVIEW_LEAD,
    seed_directories,
    webhook_templates,
)
from devtools.provider_simulator import ProviderSimulator, ReceivedReferral
from devtools.stack import StackAlreadyRunning, running_stack, simulator_url
from events.store import EventStore
from infrastructure.logs import get_logger
from infrastructure.settings import Settings
from projections import queries
from projections.catalog import all_projections
from projections.reviews import OpenEscalation
from projections.status import projection_status
from workflows.case import CaseWorkflow

MANAGER = Actor(staff_id="m.okafor", role=Role.MANAGER)
EVERYTHING = 100_000
"""A limit for the read-model queries: the database may hold earlier demo runs too."""


@dataclass
class DemoReport:
    cases: int
    seed: int
    paths: dict[str, int]
    failures: list[str]
    escalations_by_level: dict[int, int]
    caseload: list[dict[str, Any]]
    outcomes: dict[str, Any]
    interesting_case: str | None
    """A case escalated to the manager (or at least escalated), if any has been."""
    ui_url: str
    psql: str
    elapsed_seconds: float
    notifications_delivered: int = 0
    reviews: dict[str, Any] = field(default_factory=dict)
    """From the log: reviews done on time and late, and lapsed by case path."""
    escalations_by_path: dict[str, int] = field(default_factory=dict)
    """Open escalations by the path of their case."""
    overdue_by_path: dict[str, int] = field(default_factory=dict)
    """Open cases whose review is overdue, by path."""
    extra: dict[str, Any] = field(default_factory=dict)
    api_url: str | None = None
    """The HTTP API (and staff console) of the stack, when it serves one."""
    sign_ins: dict[str, str] = field(default_factory=dict)
    """Demo accounts to sign in with, by staff id: their passwords."""
    actions_overdue_by_team: dict[str, dict[str, int]] = field(default_factory=dict)
    action_escalations_by_level: dict[int, int] = field(default_factory=dict)
    """Open escalations of overdue critical actions (not in `escalations_by_level`)."""
    """Plan actions overdue on open cases, by team: how many, and of them of a crisis plan."""
    policy_in_force: int | None = None
    """The agency's policy version the demo leaves in force (AGENCY_POLICY, realistic)."""
    escalated_after: int = 0
    """Cases of the demo with an open escalation once that policy is in force (the
    neglected cases' overdue critical actions; reviews are rescheduled by it)."""
    kpis: dict[str, Any] | None = None
    """The agency's KPIs over the report's twelve months, one figure each, and the
    checkpoint they were computed from (application/reports/kpi.py; None without one)."""
    checkpoint: dict[str, Any] | None = None
    """The latest signed checkpoint, covering `checkpoint["case_id"]`, and the auditor's
    commands to export that case and verify it offline (demo/notarised.py)."""


def reviews_line(reviews: dict[str, Any], escalations_by_path: dict[str, int]) -> str:
    """The reviews in one sentence: done on time, late, and whose lapsed."""

    def by_path(counts: dict[str, int]) -> str:
        total = sum(counts.values())
        return f"{total}" + (
            " (" + ", ".join(f"{k} {v}" for k, v in counts.items()) + ")" if total else ""
        )

    return (
        f"Reviews done on time: {reviews.get('on_time', 0)}, late: {reviews.get('late', 0)}; "
        f"lapsed: {by_path(reviews.get('lapsed_by_path', {}))}; "
        f"open escalations: {by_path(escalations_by_path)}"
    )


def actions_line(
    by_team: dict[str, dict[str, int]], escalated: dict[Any, int] | None = None
) -> str:
    """The summary's "actions overdue by team" line (and the critical ones escalated)."""
    line = "Actions overdue by team: " + (
        ", ".join(
            f"{team} {n['overdue']}"
            + (f" ({n['crisis_plan']} of a crisis plan)" if n["crisis_plan"] else "")
            for team, n in sorted(by_team.items())
        )
        or "none"
    )
    if escalated:
        levels = ", ".join(f"level {k}: {v}" for k, v in sorted(escalated.items()))
        line += f"; critical actions escalated: {levels}"
    return line


def escalated_case(open_escalations: Sequence[OpenEscalation]) -> str | None:
    """The case the summary points to as "an escalated case": one escalated to the
    manager if any, else any escalated one, else None (the summary then names none)."""
    return next(
        (e.case_id for e in open_escalations if e.level >= 2),
        next((e.case_id for e in open_escalations), None),
    )


async def kpi_headline(app: Casework) -> dict[str, Any] | None:
    """The summary's KPIs: the manager's report as of the newest signed checkpoint, one
    figure per KPI (None when there is no checkpoint to compute it from)."""
    try:
        report = await kpi_report(app, MANAGER)
    except NoCheckpoint as exc:
        get_logger(component="demo").warning("no KPI report", reason=str(exc))
        return None
    return {
        "sequence": report.checkpoint["sequence"],
        "first_month": report.first_month,
        "last_month": report.last_month,
        "figures": [f.model_dump(mode="json") for f in headline(report)],
    }


async def projections_caught_up(pool: asyncpg.Pool) -> None:
    """Wait (a minute at most) until every read model has folded the log."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(60):
            while True:
                standing = await projection_status(pool, all_projections())
                if all(p.lag_events == 0 for p in standing):
                    return
                await asyncio.sleep(0.5)  # the read models have no wake-up to wait on


@contextlib.asynccontextmanager
async def webhooks_handed_over(store: EventStore, data_dir: Path) -> AsyncIterator[None]:
    """On the way out (also on an error or Ctrl-C), point the demo agency's webhooks at
    the data directory's simulated providers (`devtools.stack.simulator_url`), which
    every `casework up` serves: the demo's own simulator stops with the demo, and
    referrals and escalations made afterwards must still be answered."""
    try:
        yield
    finally:
        base = simulator_url(data_dir)
        try:
            await seed_directories(store, *webhook_templates(base))
        except Exception as exc:  # report it, never hide the demo's own outcome
            get_logger(component="demo").warning(
                "demo webhooks not handed over to the stack's simulator",
                simulator=base,
                error=str(exc),
            )


@contextlib.asynccontextmanager
async def attached(settings: Settings) -> AsyncIterator[tuple[Casework, str, str]]:
    """A stack started here for the demo's duration, or the one `casework up` runs."""
    try:
        async with running_stack(settings) as stack:
            yield stack.app, stack.ui_url, stack.psql_command
            return
    except StackAlreadyRunning:
        pass
    async with open_casework(settings, pool_size=10) as app:
        yield app, f"http://127.0.0.1:{settings.temporal_ui_port}", "psql (see casework up)"


SIGN_INS = ("j.morales", "s.patel", "m.okafor", "a.lindqvist")
"""The demo accounts the summary offers: a caseworker, a supervisor, a manager, an auditor."""


class ReplyDesk:
    """Plays the providers: accepts or declines each referral after a varied delay."""

    def __init__(self, client: Client, seed: int) -> None:
        self.client = client
        self.seed = seed
        self.scripts: dict[str, CaseScript] = {}
        self.tasks: set[asyncio.Task[None]] = set()

    async def on_referral(self, received: ReceivedReferral) -> None:
        case_id, referral_id = received.case_id, received.referral_id
        if case_id is None or referral_id is None or case_id not in self.scripts:
            return
        script = self.scripts[case_id]
        rng = random.Random(f"{self.seed}:{script.index}:{referral_id}")
        await asyncio.sleep(rng.uniform(0.3, 2.5))
        declined = script.path is CasePath.DECLINED and referral_id == "referral-1"
        reply = c.ReferralReply(
            actor=SYSTEM_ACTOR,
            referral_id=referral_id,
            outcome="declined" if declined else "accepted",
            reason=script.decline_reason if declined else None,
            note="" if declined else "Intake appointment offered",
        )
        handle = self.client.get_workflow_handle(f"case-{case_id}")
        with contextlib.suppress(Exception):
            await handle.signal(CaseWorkflow.provider_replied, reply)


async def run_demo(
    settings: Settings,
    console: Console,
    *,
    cases: int = 200,
    seed: int = 7,
    concurrency: int = 12,
    watch_seconds: float = 100.0,
) -> DemoReport:
    log = get_logger(component="demo", seed=seed)
    started = time.monotonic()
    scripts = caseload(seed, cases, datetime.now(UTC).date())
    async with attached(settings) as (app, ui_url, psql):
        client, pool, store = await app.temporal(), app.pool, app.store
        desk = ReplyDesk(client, seed)
        async with (
            webhooks_handed_over(store, settings.data_dir),
            ProviderSimulator(on_referral=desk.on_referral) as simulator,
        ):
            admin = await seed_directories(store, *webhook_templates(simulator.base_url))
            passwords = await ensure_demo_accounts(app, admin, settings.data_dir)
            policy = await apply_policy(store, client, admin, DEMO_POLICY)
            log.info("demo policy applied", version=policy.version)
            case_client = await app.cases()
            failures: list[str] = []
            paths = Counter(s.path.value for s in scripts)
            runs = [
                CaseRun(case_client, s, simulator.provider_url, datetime.now(UTC).date())
                for s in scripts
            ]
            for run in runs:
                desk.scripts[str(run.case_id)] = run.script
            with Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=console,
                transient=False,
            ) as progress:
                opened = progress.add_task("cases opened", total=len(runs))
                planned = progress.add_task(
                    "plans approved",
                    total=sum(1 for s in scripts if s.path is not CasePath.WITHDREW),
                )
                finished = progress.add_task("lifecycles walked", total=len(runs))
                closed = progress.add_task(
                    "cases closed",
                    total=sum(
                        1 for s in scripts if s.path not in (CasePath.ONGOING, CasePath.NEGLECTED)
                    ),
                )
                escalated = progress.add_task(
                    "neglected cases escalated to the manager",
                    total=paths.get(CasePath.NEGLECTED.value, 0),
                )
                reviewed = progress.add_task("reviews done on time by the workers", total=None)
                neglected = {str(r.case_id) for r in runs if r.script.path is CasePath.NEGLECTED}

                def review_done(run: CaseRun, before: CaseState) -> None:
                    if before.review_lapsed_at is None:
                        progress.advance(reviewed)

                # Every case but the neglected ones: its worker keeps its reviews on time.
                reviewing = asyncio.Event()
                reviewers = [
                    asyncio.create_task(run.keep_reviews(reviewing, REVIEW_LEAD, review_done))
                    for run in runs
                    if run.script.path is not CasePath.NEGLECTED
                ]

                async def escalated_to_manager() -> int:
                    """Neglected cases at the ladder's top, the manager told (the webhook
                    received) and the read model showing it."""
                    told = {
                        n.body.get("case_id")
                        for n in simulator.notifications
                        if n.body.get("notify") == "manager" and n.body.get("level", 0) >= 2
                    }
                    rows = await queries.escalations(pool, MANAGER, limit=EVERYTHING)
                    top = {
                        e.case_id
                        for e in rows
                        if e.level >= 2
                        and e.case_id in neglected
                        and e.case_id in told
                        and e.subject != "action"  # the review's ladder, not an action's
                    }
                    progress.update(escalated, completed=len(top))
                    return len(top)

                async def watch_escalations(stop: asyncio.Event) -> None:
                    while not stop.is_set():
                        with contextlib.suppress(asyncpg.PostgresError):
                            await escalated_to_manager()
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(stop.wait(), timeout=2)

                walking = asyncio.Event()
                watcher = asyncio.create_task(watch_escalations(walking))
                gate = asyncio.Semaphore(concurrency)

                def tick(step: str) -> None:
                    task = {"opened": opened, "planned": planned, "closed": closed}.get(step)
                    if task is not None:
                        progress.advance(task)

                async def walk(run: CaseRun) -> None:
                    async with gate:
                        try:
                            await run.run(tick)
                        except Exception as exc:  # one case's failure must not stop the demo
                            failures.append(f"case {run.case_id} ({run.script.path}): {exc}")
                            log.warning(
                                "demo case failed", case_id=str(run.case_id), error=str(exc)
                            )
                        progress.advance(finished)

                path_of = {str(r.case_id): r.script.path.value for r in runs}
                try:
                    await asyncio.gather(*(walk(r) for r in runs))
                    walking.set()
                    await watcher

                    # The neglected cases' reviews go due, lapse and climb the ladder.
                    deadline = time.monotonic() + watch_seconds
                    while time.monotonic() < deadline:
                        if await escalated_to_manager() >= len(neglected):
                            break
                        await asyncio.sleep(2)

                    # The picture, taken while the workers still keep up with reviews.
                    every_escalation = [
                        e
                        for e in await queries.escalations(pool, MANAGER, limit=EVERYTHING)
                        if e.case_id in path_of
                    ]
                    open_escalations = [e for e in every_escalation if e.subject != "action"]
                    action_escalations = [e for e in every_escalation if e.subject == "action"]
                    overdue = [
                        r
                        for r in await queries.reviews(
                            pool, MANAGER, overdue_only=True, limit=EVERYTHING
                        )
                        if r.case_id in path_of
                    ]
                    load = await queries.caseload(pool, MANAGER)
                    overdue_actions = await queries.overdue_actions_by_team(pool, MANAGER)
                    outcome = await queries.outcomes(pool, MANAGER)
                except BaseException:
                    for task in (watcher, *reviewers):
                        task.cancel()
                    raise
                finally:
                    reviewing.set()
                    walking.set()
                    await asyncio.gather(watcher, *reviewers, return_exceptions=True)
                    failures += [
                        f"case {run.case_id} ({run.script.path.value}): "
                        f"{len(run.review_failures)} review step(s) failed, the last: "
                        f"{run.review_failures[-1]}"
                        for run in runs
                        if run.review_failures
                    ]
            by_level = Counter(e.level for e in open_escalations)
            by_path = Counter(path_of[e.case_id] for e in open_escalations)
            tally = await tally_reviews(pool, path_of)
            delivered = len(simulator.notifications)
            # The end: a signed checkpoint covering a closed case the auditor can export.
            exported = await closed_case(pool, path_of)
            signed = await checkpoint_covering(settings, exported) if exported else None
            notarised = checkpoint_summary(settings, signed, exported)
            # The agency the demo leaves behind works to a realistic policy again: with
            # the second-scale one still in force, every open case would lapse and climb
            # the ladder within a minute of the demo's end.
            restored = await apply_policy(store, client, admin, AGENCY_POLICY)
            log.info("agency policy restored", version=restored.version)
            failures += [
                f"policy version {restored.version} not applied: {why}"
                for why in restored.cases_failed
            ]
            await projections_caught_up(pool)
            kpis = await kpi_headline(app)
            still_escalated = [
                e
                for e in await queries.escalations(pool, MANAGER, limit=EVERYTHING)
                if e.case_id in path_of
            ]
    interesting = escalated_case(still_escalated)
    report = DemoReport(
        cases=len(scripts),
        seed=seed,
        paths=dict(paths),
        failures=failures,
        escalations_by_level=dict(sorted(by_level.items())),
        caseload=[row.model_dump(mode="json") for row in load],
        outcomes=outcome,
        interesting_case=interesting,
        ui_url=ui_url,
        psql=psql,
        elapsed_seconds=round(time.monotonic() - started, 1),
        notifications_delivered=delivered,
        reviews={**asdict(tally), "lapsed": tally.lapsed},
        escalations_by_path=dict(sorted(by_path.items())),
        overdue_by_path=dict(sorted(Counter(path_of[r.case_id] for r in overdue).items())),
        api_url=settings.api_base_url if settings.http_port else None,
        sign_ins={s: passwords[s] for s in SIGN_INS if s in passwords},
        action_escalations_by_level=dict(
            sorted(Counter(e.level for e in action_escalations).items())
        ),
        actions_overdue_by_team={
            t.team: {"overdue": t.overdue, "crisis_plan": t.critical} for t in overdue_actions
        },
        checkpoint=notarised,
        kpis=kpis,
        policy_in_force=restored.version,
        escalated_after=len({e.case_id for e in still_escalated}),
    )
    return report
