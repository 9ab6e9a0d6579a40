"""Client search: building the client index, its size, search latency and hit rate, and
the quality of the duplicate check at intake.

    python bench/client_search.py [--quick | --smoke] [--json] [--clients N] [--queries Q]
    python -m bench.client_search …   (the same, as a module)

On 2 vCPUs: smoke about 15 s, quick about 8 minutes, full (no flag) over 25 (building
and indexing the 100,000 cases alone took 12 minutes on a busy machine).

Everything is measured in one run on this machine, in scratch databases on the
PostgreSQL at DATABASE_URL or 127.0.0.1:5432 (created, migrated and dropped here; the
server itself is never stopped or reconfigured), through the composition root
(`open_casework`: the event store with its FieldCipher and origin key, development keys
made in a temporary directory). No Temporal server, worker or projector is run: the
index is kept by the process that searches (application/clients/index.py), and a case
is located by its `CaseOpened` in the log when the read model has no row for it.

* **build**: N clients (full 100,000, quick 20,000, smoke 500) from
  `devtools.people.people`, each with one case: a `CaseOpened` appended through the
  event store (personal fields sealed with each client's data key, as the engine writes
  them), in batches of 1,000 by 16 concurrent writers; about 50 cases a caseworker,
  8 caseworkers a team. Timed, not a headline figure;
* **indexing**: `index.catch_up(app)` over all of them, from an empty index (its tables
  never analyzed, as after the migration: see `LOG_TABLES`): clients/s;
* **index size**: `pg_total_relation_size` of `client_index_terms` and
  `client_index_cases` (tables, indexes, TOAST) over N, in bytes a client, and the
  terms (blind tokens) a client;
* **search**: `use_cases.search` as a manager (sees every case) and as the target's own
  caseworker (sees their own cases only), alternately, serially, over queries built
  from the people (Q a kind: full 50, quick 30, smoke 2): the exact name, a misspelt
  name (a letter dropped, doubled or two swapped), given and family names swapped, a
  nickname for the given name, the date of birth alone, the phone in another format,
  the email (its capitals varied). Each search includes what the product does: the
  catch-up (a no-op when current), the token query, the candidates' cases and details
  read from the log, the access-log rows. p50/p99 ms per kind and overall, and the hit
  rate: the share of queries whose target client is among the first 5 answers (and,
  `hit_rate_top5_or_tied`, counting as found a target shown with the same score as the
  5th answer: the synthetic people share full names often, and namesakes of equal
  score come in client_ref order). Alone (manager, untimed in the figures above): the
  no-op catch-up and the token query, and how many candidates the token query gave
  (the product ranks at most `use_cases.CANDIDATES`);
* **duplicate check**: `devtools.people.with_duplicates` (full 20,000 people, 2,000 of
  them recorded twice; quick 5,000 and 500; smoke 400 and 40) in a database of its
  own: the first copy of everyone appended and indexed (catch-up), then, for second
  copies (quick and smoke all of them; full a random 500 of the 2,000: a check costs
  about 0.3 s there), `use_cases.duplicates(app, manager, person, its new client_ref)`,
  as intake asks; a true positive when the first copy is among the matches, a false
  one for any other. Precision, recall, F1 and the latency of a check. Also people
  recorded once (full 200, quick 100, smoke 40) checked against everyone else (their
  own reference excluded): any match is a false alarm. And in memory, with no
  database, over all the records and all the pairs: `candidate_pairs`, then
  `likely_same` on each pair (every pair, and only the pairs intake compares: a second
  copy against an indexed record, with no cap on the candidates).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import os
import platform
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root: bench/common.py

import psutil
from rich.console import Console
from rich.table import Table

from application.bootstrap import Casework, open_casework
from application.clients import index
from application.clients import use_cases as clients
from bench.api import bench_settings
from bench.common import (
    BenchError,
    add_size_arguments,
    positive,
    run_bench,
    server_dsn,
    size_of,
    until_signalled,
)
from bench.lifecycle import bench_database, server_facts
from cases.actors import Actor, Role
from cases.client_matching import NICKNAMES_OF, Person, fold, index_terms, likely_same, query_terms
from devtools.people import candidate_pairs, people, with_duplicates
from events.envelope import EventMetadata, NewEvent
from events.vocabulary import CaseOpened, ClientContact, ClientDetails, ReferralSource
from infrastructure.keys import master_keyring
from infrastructure.logs import configure_logging
from infrastructure.settings import Settings

SEARCH_SEED = 20260501
"""The people of the search index (`devtools.people.people`)."""
DUPLICATES_SEED = 20260502
"""The people of the duplicate check (`devtools.people.with_duplicates`)."""
QUERY_SEED = 11
BATCH = 1_000
"""Clients built and appended at a time."""
WRITERS = 16
"""Concurrent appends of a batch."""
WORKERS_A_TEAM = 8
CASES_A_WORKER = 50
TOP = 5
"""A query hits when its target is among this many first answers."""
WARMUP_QUERIES = 5
OPENED_FROM = datetime(2024, 1, 8, 9, 0, tzinfo=UTC)
MANAGER = Actor(staff_id="max", role=Role.MANAGER)
INTAKE = EventMetadata(actor_id="intake-1", actor_role="caseworker", correlation_id="bench")

KINDS = (
    "exact_name",
    "misspelt_name",
    "swapped_name",
    "nickname",
    "date_of_birth",
    "phone_reformatted",
    "email",
)


@dataclass(frozen=True)
class Sizes:
    clients: int
    """Clients (one case each) in the search index."""
    queries_per_kind: int
    """Searches of each kind (each run as a manager and as a caseworker)."""
    dup_people: int
    """Distinct people of the duplicate check…"""
    dup_duplicates: int
    """…of whom this many are recorded a second time."""
    dup_checks: int
    """Second copies checked through the product (a sample when fewer than all)."""
    dup_once_checks: int
    """People recorded once, checked against everyone else (false alarms)."""


SIZES = {
    "smoke": Sizes(
        clients=500,
        queries_per_kind=2,
        dup_people=400,
        dup_duplicates=40,
        dup_checks=40,
        dup_once_checks=40,
    ),
    "quick": Sizes(
        clients=20_000,
        queries_per_kind=30,
        dup_people=5_000,
        dup_duplicates=500,
        dup_checks=500,
        dup_once_checks=100,
    ),
    "full": Sizes(
        clients=100_000,
        queries_per_kind=50,
        dup_people=20_000,
        dup_duplicates=2_000,
        dup_checks=500,  # a check costs ~0.3 s at this size: all 2,000 would take ~10 min
        dup_once_checks=200,
    ),
}

LOG_TABLES = "events, stream_clients, client_keys"
"""Analyzed after the appends, before the catch-up. Not the index's tables: analyzed
while empty, PostgreSQL plans the catch-up's per-case lookup in `client_index_cases` as
a sequential scan and keeps that plan for the whole catch-up (quadratic: 20,000 cases
took twice as long). A migrated database has them never analyzed, as here."""


# --- the clients and their cases ---------------------------------------------------------


@dataclass(frozen=True)
class Client:
    ref: str
    case_id: uuid.UUID
    person: Person
    team: str
    worker: str

    @property
    def caseworker(self) -> Actor:
        return Actor(staff_id=self.worker, role=Role.CASEWORKER, team=self.team)


def assign(persons: Sequence[Person], prefix: str, seed: int) -> list[Client]:
    """Each person a client reference and a case, about `CASES_A_WORKER` cases a worker."""
    rng = random.Random(seed)
    teams = max(2, len(persons) // (WORKERS_A_TEAM * CASES_A_WORKER))
    workers = teams * WORKERS_A_TEAM
    out = []
    for i, person in enumerate(persons):
        w = i % workers
        team = f"team-{w // WORKERS_A_TEAM:03d}"
        out.append(
            Client(
                ref=f"{prefix}-{i:06d}",
                case_id=uuid.UUID(int=rng.getrandbits(128), version=4),
                person=person,
                team=team,
                worker=f"worker-{w // WORKERS_A_TEAM:03d}-{w % WORKERS_A_TEAM}",
            )
        )
    return out


def opening(client: Client, n: int) -> NewEvent:
    """The client's `CaseOpened`, as intake records it (sealed by the store on append)."""
    p = client.person
    opened = CaseOpened(
        case_id=client.case_id,
        client_ref=client.ref,
        client=ClientDetails(
            name=p.name,
            date_of_birth=p.date_of_birth,
            contact=ClientContact(phone=p.phone, email=p.email),
            identifiers=dict(p.identifiers),
        ),
        referral_source=ReferralSource.SELF_REFERRAL,
        assigned_worker=client.worker,
        team=client.team,
        presenting_needs=["housing"],
    )
    return NewEvent(
        event_id=uuid.uuid4(),
        event_type=opened.type,
        schema_version=opened.schema_version,
        data=opened.to_data(),
        metadata=INTAKE,
        occurred_at=OPENED_FROM + timedelta(minutes=n),
    )


async def _write(app: Casework, pending: Iterator[tuple[Client, NewEvent]]) -> None:
    """One writer: the next case of the batch, until none is left."""
    for client, event in pending:
        await app.store.append(f"case-{client.case_id}", 0, [event])


async def append_cases(app: Casework, every: Sequence[Client], say: Callable[[str], None]) -> float:
    """Each client's `CaseOpened` appended (a stream each), in batches of `BATCH` by
    `WRITERS` concurrent writers; seconds it took."""
    started = time.perf_counter()
    for first in range(0, len(every), BATCH):
        batch = [(c, opening(c, first + k)) for k, c in enumerate(every[first : first + BATCH])]
        pending = iter(batch)
        if first == 0:
            # One append alone first: a signing store records the origin cutover before
            # its first append, and concurrent first appends on a new database race
            # there (SerializationError from events/origin.py `record_cutover`).
            await _write(app, itertools.islice(pending, 1))
        await asyncio.gather(*(_write(app, pending) for _ in range(WRITERS)))
        done = first + len(batch)
        if done % 20_000 == 0 and done < len(every):
            say(f"  {done:,} of {len(every):,} cases appended")
    return time.perf_counter() - started


async def build_index(app: Casework, every: Sequence[Client]) -> tuple[float, int]:
    """`catch_up` from an empty index: seconds, events applied."""
    started = time.perf_counter()
    applied = await index.catch_up(app)
    seconds = time.perf_counter() - started
    if applied != len(every):
        raise BenchError(f"the catch-up applied {applied} events, not the {len(every)} appended")
    return seconds, applied


async def index_size(app: Casework, clients_count: int) -> dict[str, Any]:
    await app.pool.execute("ANALYZE client_index_terms, client_index_cases")
    row = await app.pool.fetchrow(
        """SELECT pg_total_relation_size('client_index_terms') AS terms_bytes,
                  pg_total_relation_size('client_index_cases') AS cases_bytes,
                  (SELECT count(*) FROM client_index_terms) AS terms,
                  (SELECT count(DISTINCT client_ref) FROM client_index_terms) AS indexed"""
    )
    terms_bytes, cases_bytes = int(row["terms_bytes"]), int(row["cases_bytes"])
    return {
        "clients": clients_count,
        "clients_with_terms": int(row["indexed"]),
        "bytes_per_client": round((terms_bytes + cases_bytes) / clients_count, 1),
        "terms_bytes_per_client": round(terms_bytes / clients_count, 1),
        "cases_bytes_per_client": round(cases_bytes / clients_count, 1),
        "terms_bytes": terms_bytes,
        "cases_bytes": cases_bytes,
        "terms_per_client": round(int(row["terms"]) / clients_count, 2),
        "bytes_per_term": round(terms_bytes / int(row["terms"]), 1) if row["terms"] else 0.0,
    }


# --- the queries --------------------------------------------------------------------------


@dataclass(frozen=True)
class Search:
    kind: str
    target: Client
    text: str | None = None
    date_of_birth: date | None = None
    phone: str | None = None
    email: str | None = None

    def terms(self) -> frozenset[tuple[str, str]]:
        return query_terms(
            text=self.text, date_of_birth=self.date_of_birth, phone=self.phone, email=self.email
        )


def _misspelt(rng: random.Random, name: str) -> str | None:
    """One part of four letters or more with a letter dropped, doubled, or two swapped."""
    words = name.split()
    long_ = [i for i, w in enumerate(words) if sum(ch.isalpha() for ch in w) >= 4]
    if not long_:
        return None
    i = rng.choice(long_)
    word = words[i]
    k = rng.choice([k for k in range(1, len(word)) if word[k].isalpha()])
    how = rng.randrange(3)
    if how == 2 and k + 1 < len(word) and word[k + 1].isalpha() and word[k] != word[k + 1]:
        word = word[:k] + word[k + 1] + word[k] + word[k + 2 :]
    elif how == 1:
        word = word[:k] + word[k] + word[k:]
    else:
        word = word[:k] + word[k + 1 :]
    words[i] = word
    return " ".join(words)


def _swapped(name: str) -> str | None:
    """Given and family names the other way round ("Family, Given" written as "Given
    Family", "Given Family" as "Family Given")."""
    if ", " in name:
        family, given = name.split(", ", 1)
        return f"{given} {family}"
    words = name.split()
    if len(words) < 2:
        return None
    return " ".join([words[-1], *words[:-1]])


def _nicknamed(rng: random.Random, name: str) -> str | None:
    words = name.split()
    for i, word in enumerate(words):
        nicknames = NICKNAMES_OF.get(fold(word.strip(",")))
        if nicknames:
            words[i] = rng.choice(nicknames).capitalize() + ("," if word.endswith(",") else "")
            return " ".join(words)
    return None


def _reformatted(rng: random.Random, phone: str) -> str:
    """The same number written another way (national, international, grouped)."""
    digits = "".join(ch for ch in phone if ch.isdigit())
    if digits.startswith("0044"):
        digits = "0" + digits[4:]
    elif digits.startswith("44"):
        digits = "0" + digits[2:]
    rest = digits[1:]
    styles = [
        digits,
        f"{digits[:5]} {digits[5:]}",
        f"+44{rest}",
        f"+44 ({rest[:4]}) {rest[4:]}",
        f"0044-{rest[:4]}-{rest[4:]}",
        f"{digits[:4]}.{digits[4:7]}.{digits[7:]}",
    ]
    others = [s for s in styles if s != phone]
    return rng.choice(others)


def _email(rng: random.Random, email: str) -> str:
    return rng.choice((email, email.upper(), email.capitalize(), f" {email} "))


def make_search(kind: str, rng: random.Random, client: Client) -> Search | None:
    """A search of `kind` for `client`, or None when the person has no such detail."""
    p = client.person
    if kind == "exact_name":
        return Search(kind, client, text=p.name)
    if kind == "misspelt_name":
        text = _misspelt(rng, p.name)
        return None if text is None else Search(kind, client, text=text)
    if kind == "swapped_name":
        text = _swapped(p.name)
        return None if text is None else Search(kind, client, text=text)
    if kind == "nickname":
        text = _nicknamed(rng, p.name)
        return None if text is None else Search(kind, client, text=text)
    if kind == "date_of_birth":
        dob = p.date_of_birth
        return None if dob is None else Search(kind, client, date_of_birth=dob)
    if kind == "phone_reformatted":
        return None if p.phone is None else Search(kind, client, phone=_reformatted(rng, p.phone))
    if kind == "email":
        return None if p.email is None else Search(kind, client, email=_email(rng, p.email))
    raise ValueError(kind)


def make_searches(every: Sequence[Client], per_kind: int) -> list[Search]:
    """`per_kind` searches of each kind, each for a different client, in a shuffled order."""
    rng = random.Random(QUERY_SEED)
    out: list[Search] = []
    for kind in KINDS:
        made: list[Search] = []
        for i in rng.sample(range(len(every)), len(every)):
            search = make_search(kind, rng, every[i])
            if search is not None:
                made.append(search)
                if len(made) == per_kind:
                    break
        if len(made) < per_kind:
            raise BenchError(f"only {len(made)} clients can be searched by {kind}")
        out += made
    rng.shuffle(out)
    return out


# --- measuring searches ----------------------------------------------------------------------


def pct(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def latency(seconds: Sequence[float]) -> dict[str, Any]:
    if not seconds:
        return {"n": 0, "p50_ms": 0.0, "p99_ms": 0.0, "mean_ms": 0.0}
    return {
        "n": len(seconds),
        "p50_ms": round(pct(seconds, 0.50) * 1000, 2),
        "p99_ms": round(pct(seconds, 0.99) * 1000, 2),
        "mean_ms": round(statistics.fmean(seconds) * 1000, 2),
    }


@dataclass
class Outcome:
    kind: str
    seconds: float
    hit: bool
    shown: int
    rank: int | None
    """The target's place among the answers (1 first), None when not shown."""
    tied: bool
    """A hit, or shown with a score equal to the last of the first 5 (namesakes the
    query cannot tell apart, ordered by client_ref)."""


async def one_search(app: Casework, actor: Actor, search: Search) -> Outcome:
    started = time.perf_counter()
    found = await clients.search(
        app,
        actor,
        text=search.text,
        date_of_birth=search.date_of_birth,
        phone=search.phone,
        email=search.email,
    )
    seconds = time.perf_counter() - started
    refs = [c.client_ref for c in found]
    rank = refs.index(search.target.ref) + 1 if search.target.ref in refs else None
    hit = rank is not None and rank <= TOP
    tied = hit or (rank is not None and found[rank - 1].score >= found[TOP - 1].score)
    return Outcome(search.kind, seconds, hit, len(found), rank, tied)


def summarise(outcomes: Sequence[Outcome]) -> dict[str, Any]:
    def block(rows: Sequence[Outcome]) -> dict[str, Any]:
        return {
            **latency([o.seconds for o in rows]),
            "hit_rate_top5": round(sum(o.hit for o in rows) / len(rows), 3) if rows else 0.0,
            "hit_rate_top5_or_tied": round(sum(o.tied for o in rows) / len(rows), 3)
            if rows
            else 0.0,
            "found_at_all": round(sum(o.rank is not None for o in rows) / len(rows), 3)
            if rows
            else 0.0,
            "shown_mean": round(statistics.fmean(o.shown for o in rows), 1) if rows else 0.0,
        }

    return {
        **block(outcomes),
        "by_kind": {kind: block([o for o in outcomes if o.kind == kind]) for kind in KINDS},
    }


async def measure_searches(
    app: Casework, searches: Sequence[Search], say: Callable[[str], None]
) -> dict[str, Any]:
    """Each search as a manager and as the target's caseworker, alternately (which goes
    first alternates too); then, alone, the no-op catch-up and the token query."""
    for search in searches[:WARMUP_QUERIES]:  # untimed: caches, prepared statements
        await one_search(app, MANAGER, search)
        await one_search(app, search.target.caseworker, search)
    logged_before = int(await app.pool.fetchval("SELECT count(*) FROM access_log"))
    manager: list[Outcome] = []
    caseworker: list[Outcome] = []
    for n, search in enumerate(searches):
        if n % 2 == 0:
            manager.append(await one_search(app, MANAGER, search))
            caseworker.append(await one_search(app, search.target.caseworker, search))
        else:
            caseworker.append(await one_search(app, search.target.caseworker, search))
            manager.append(await one_search(app, MANAGER, search))
        if (n + 1) % 100 == 0:
            say(f"  {n + 1} of {len(searches)} searches (each as a manager and a caseworker)")
    logged = int(await app.pool.fetchval("SELECT count(*) FROM access_log")) - logged_before

    # The parts alone, as a manager's search runs them.
    catch_ups: list[float] = []
    tokens: list[float] = []
    candidates: dict[str, list[int]] = {kind: [] for kind in KINDS}
    key = index.index_key(app)
    for search in searches:
        started = time.perf_counter()
        applied = await index.catch_up(app)
        catch_ups.append(time.perf_counter() - started)
        if applied:
            raise BenchError(f"a catch-up applied {applied} events with nothing appended")
        started = time.perf_counter()
        hits = await index.matching(app, key.tokens(search.terms()), clients.CANDIDATES)
        tokens.append(time.perf_counter() - started)
        candidates[search.kind].append(len(hits))
    return {
        "queries": len(searches),
        "queries_per_kind": len(searches) // len(KINDS),
        "top": TOP,
        "by_role": {"manager": summarise(manager), "caseworker": summarise(caseworker)},
        "access_log_rows_per_search": round(logged / (2 * len(searches)), 2),
        "parts_alone": {
            "catch_up_noop": latency(catch_ups),
            "token_query": latency(tokens),
            "candidates_cap": clients.CANDIDATES,
            "candidates_mean_by_kind": {
                kind: round(statistics.fmean(v), 1) if v else 0.0 for kind, v in candidates.items()
            },
            "at_cap_share": round(
                sum(x >= clients.CANDIDATES for v in candidates.values() for x in v)
                / len(searches),
                3,
            ),
        },
    }


# --- the duplicate check ---------------------------------------------------------------------


def prf(tp: int, fp: int, fn: int) -> dict[str, Any]:
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "f1": round(f1, 4),
    }


async def in_memory(
    records: Sequence[Person], pairs: Sequence[tuple[int, int]], seconds_of: set[int]
) -> dict[str, Any]:
    """`candidate_pairs` + `likely_same` over every record, and over the pairs intake
    compares (a second copy against a record of the index), with no cap on candidates.
    In this thread, a chunk of pairs at a time (a signal stops it between two)."""
    truth = set(pairs)
    started = time.perf_counter()
    candidates = candidate_pairs(records)
    grouped_s = time.perf_counter() - started
    every = Counter[str]()
    intake = Counter[str]()
    fp_reasons = Counter[str]()
    started = time.perf_counter()
    for n, (i, j) in enumerate(candidates):
        if n % 20_000 == 0:
            await asyncio.sleep(0)
        reason = likely_same(records[j], records[i])
        outcome = None if reason is None else "tp" if (i, j) in truth else "fp"
        if outcome is not None:
            every[outcome] += 1
            if outcome == "fp":
                fp_reasons[str(reason)] += 1
        if (i in seconds_of) != (j in seconds_of):  # one second copy, one indexed record
            intake["compared"] += 1
            if outcome is not None:
                intake[outcome] += 1
    compared_s = time.perf_counter() - started
    pair_found = truth & candidates
    return {
        "records": len(records),
        "candidate_pairs": len(candidates),
        "true_pairs_among_candidates": len(pair_found),
        "candidate_pairs_seconds": round(grouped_s, 1),
        "likely_same_seconds": round(compared_s, 1),
        "likely_same_us_per_pair": round(1e6 * compared_s / len(candidates), 1)
        if candidates
        else 0.0,
        "all_pairs": {
            **prf(every["tp"], every["fp"], len(truth) - every["tp"]),
            "fp_by_reason": dict(fp_reasons.most_common()),
        },
        "intake_pairs": {
            "compared": intake["compared"],
            **prf(intake["tp"], intake["fp"], len(truth) - intake["tp"]),
        },
    }


async def duplicate_check(
    server: str, settings: Settings, sizes: Sizes, say: Callable[[str], None]
) -> dict[str, Any]:
    records, pairs = with_duplicates(DUPLICATES_SEED, sizes.dup_people, sizes.dup_duplicates)
    first_of = {j: i for i, j in pairs}
    every = assign(records, "DUP", DUPLICATES_SEED)
    indexed = [c for k, c in enumerate(every) if k not in first_of]
    say(
        f"duplicate check: {len(records):,} records ({sizes.dup_people:,} people, "
        f"{len(pairs):,} recorded twice); appending and indexing the {len(indexed):,} first "
        "copies"
    )
    async with contextlib.AsyncExitStack() as exits:
        dsn = await exits.enter_async_context(bench_database(server))
        app = await exits.enter_async_context(open_casework(settings, dsn=dsn, pool_size=4))
        append_s = await append_cases(app, indexed, say)
        await app.pool.execute(f"ANALYZE {LOG_TABLES}")
        index_s, _ = await build_index(app, indexed)
        await app.pool.execute("ANALYZE")

        rng = random.Random(QUERY_SEED)
        checked = sorted(rng.sample(sorted(first_of), min(sizes.dup_checks, len(first_of))))
        say(
            f"duplicate check: {len(checked):,} of the {len(pairs):,} second copies checked "
            "as a manager"
        )
        seconds: list[float] = []
        tp = fp = fn = hidden = 0
        reasons = {"tp": Counter[str](), "fp": Counter[str]()}
        visible_counts: list[int] = []
        for n, j in enumerate(checked):
            started = time.perf_counter()
            found = await clients.duplicates(app, MANAGER, records[j], every[j].ref)
            seconds.append(time.perf_counter() - started)
            hidden += found.hidden
            visible_counts.append(len(found.visible))
            wanted = every[first_of[j]].ref
            if not any(c.client_ref == wanted for c in found.visible):
                fn += 1
            for candidate in found.visible:
                outcome = "tp" if candidate.client_ref == wanted else "fp"
                reasons[outcome][candidate.reason or "?"] += 1
                if outcome == "tp":
                    tp += 1
                else:
                    fp += 1
            if (n + 1) % 250 == 0:
                say(f"  {n + 1:,} of {len(checked):,} checked")

        in_pairs = {k for pair in pairs for k in pair}
        alone = [k for k in range(len(records)) if k not in in_pairs]
        sample = rng.sample(alone, min(sizes.dup_once_checks, len(alone)))
        say(f"duplicate check: {len(sample):,} people recorded once, against everyone else")
        alarms = 0
        alarm_reasons = Counter[str]()
        alone_seconds: list[float] = []
        for k in sample:
            started = time.perf_counter()
            found = await clients.duplicates(app, MANAGER, records[k], every[k].ref)
            alone_seconds.append(time.perf_counter() - started)
            alarms += bool(found.visible)
            alarm_reasons.update(c.reason or "?" for c in found.visible)

    say("duplicate check in memory: candidate_pairs and likely_same over every record")
    memory = await in_memory(records, pairs, set(first_of))
    return {
        "people": sizes.dup_people,
        "duplicated": len(pairs),
        "records": len(records),
        "indexed": len(indexed),
        "append_seconds": round(append_s, 1),
        "index_seconds": round(index_s, 2),
        "index_clients_per_s": round(len(indexed) / index_s) if index_s else 0,
        "product": {
            "checked": len(seconds),
            "of_duplicated": len(pairs),
            **prf(tp, fp, fn),
            "hidden": hidden,
            "matches_mean": round(statistics.fmean(visible_counts), 2) if visible_counts else 0.0,
            "tp_by_reason": dict(reasons["tp"].most_common()),
            "fp_by_reason": dict(reasons["fp"].most_common()),
            "seconds": round(sum(seconds), 1),
            **latency(seconds),
        },
        "recorded_once": {
            "checked": len(sample),
            "flagged": alarms,
            "false_alarm_rate": round(alarms / len(sample), 4) if sample else 0.0,
            "by_reason": dict(alarm_reasons.most_common()),
            **latency(alone_seconds),
        },
        "in_memory": memory,
    }


# --- the run -----------------------------------------------------------------------------------


async def measure(size: str, sizes: Sizes, say: Callable[[str], None]) -> dict[str, Any]:
    started = time.perf_counter()
    load_at_start = [round(x, 2) for x in os.getloadavg()]
    server = server_dsn()
    say(f"people: {sizes.clients:,} from devtools.people (seed {SEARCH_SEED})")
    every = assign(people(SEARCH_SEED, sizes.clients), "CL", SEARCH_SEED)
    terms_in_memory = statistics.fmean(len(index_terms(c.person)) for c in every)
    searches = make_searches(every, sizes.queries_per_kind)
    with tempfile.TemporaryDirectory(prefix="casework-client-search-") as data_dir:
        async with contextlib.AsyncExitStack() as exits:
            dsn = await exits.enter_async_context(bench_database(server))
            settings, _ = bench_settings(dsn, Path(data_dir))
            master_keyring(settings)  # the development keys, made once for both databases
            app = await exits.enter_async_context(
                open_casework(settings, dsn=dsn, pool_size=WRITERS + 1)
            )
            say(f"build: appending {len(every):,} sealed CaseOpened, {WRITERS} writers")
            append_s = await append_cases(app, every, say)
            await app.pool.execute(f"ANALYZE {LOG_TABLES}")
            say(f"indexing: catch_up over {len(every):,} cases")
            index_s, applied = await build_index(app, every)
            size_ = await index_size(app, len(every))
            await app.pool.execute("ANALYZE")
            say(
                f"search: {len(searches)} queries ({sizes.queries_per_kind} of each of "
                f"{len(KINDS)} kinds), each as a manager and as a caseworker"
            )
            search = await measure_searches(app, searches, say)
            facts = await server_facts(app.pool)
            say("dropping the search database")
        dup = await duplicate_check(server, settings, sizes, say)
    return {
        "benchmark": "client_search",
        "size": size,
        "quick": size == "quick",
        "sizes": {
            "clients": sizes.clients,
            "queries_per_kind": sizes.queries_per_kind,
            "kinds": list(KINDS),
            "dup_people": sizes.dup_people,
            "dup_duplicates": sizes.dup_duplicates,
            "dup_checks": sizes.dup_checks,
            "dup_once_checks": sizes.dup_once_checks,
        },
        "build": {
            "clients": len(every),
            "cases": len(every),
            "writers": WRITERS,
            "batch": BATCH,
            "append_seconds": round(append_s, 1),
            "append_clients_per_s": round(len(every) / append_s) if append_s else 0,
        },
        "index": {
            "events_applied": applied,
            "catch_up_seconds": round(index_s, 2),
            "clients_per_s": round(len(every) / index_s) if index_s else 0,
            **size_,
            "terms_per_client_in_memory": round(terms_in_memory, 2),
        },
        "search": search,
        "duplicates": dup,
        "load_average_at_start": load_at_start,
        "seconds": round(time.perf_counter() - started, 1),
        "machine": {
            "cpus": os.cpu_count(),
            "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
            "load_average": [round(x, 2) for x in os.getloadavg()],
            "python": platform.python_version(),
            "platform": platform.platform(),
            "postgres": facts,
        },
    }


# --- the report ------------------------------------------------------------------------------


def report(console: Console, f: dict[str, Any]) -> None:
    b, ix, s = f["build"], f["index"], f["search"]
    console.print(
        f"build: {b['clients']:,} clients, one CaseOpened each, appended in "
        f"{b['append_seconds']} s ({b['append_clients_per_s']:,}/s, {b['writers']} writers)"
    )
    console.print(
        f"index: catch_up over {ix['events_applied']:,} cases in {ix['catch_up_seconds']} s: "
        f"[bold]{ix['clients_per_s']:,} clients/s[/]; {ix['bytes_per_client']:,.0f} bytes a "
        f"client (terms {ix['terms_bytes_per_client']:,.0f}, cases "
        f"{ix['cases_bytes_per_client']:,.0f}), {ix['terms_per_client']} terms a client"
    )
    table = Table(
        title=(
            f"Searches over {b['clients']:,} clients ({s['queries_per_kind']} a kind), ms; "
            f"hit: the target among the first {s['top']}"
        )
    )
    for column in (
        "kind", "manager p50", "p99", "hit", "or tied", "caseworker p50", "p99", "hit", "or tied"
    ):  # fmt: skip
        table.add_column(column, justify="left" if column == "kind" else "right")
    roles = s["by_role"]
    for kind in (*KINDS, None):
        m = roles["manager"] if kind is None else roles["manager"]["by_kind"][kind]
        w = roles["caseworker"] if kind is None else roles["caseworker"]["by_kind"][kind]
        table.add_row(
            kind or "all",
            f"{m['p50_ms']:.1f}", f"{m['p99_ms']:.1f}", f"{m['hit_rate_top5']:.0%}",
            f"{m['hit_rate_top5_or_tied']:.0%}",
            f"{w['p50_ms']:.1f}", f"{w['p99_ms']:.1f}", f"{w['hit_rate_top5']:.0%}",
            f"{w['hit_rate_top5_or_tied']:.0%}",
        )  # fmt: skip
    console.print(table)
    parts = s["parts_alone"]
    console.print(
        f"alone: no-op catch-up p50 {parts['catch_up_noop']['p50_ms']:.1f} ms, token query p50 "
        f"{parts['token_query']['p50_ms']:.1f} ms (p99 {parts['token_query']['p99_ms']:.1f}); "
        f"{parts['at_cap_share']:.0%} of queries hit the {parts['candidates_cap']}-candidate "
        f"cap; {s['access_log_rows_per_search']} access-log rows a search"
    )
    d = f["duplicates"]
    p, once, mem = d["product"], d["recorded_once"], d["in_memory"]
    console.print(
        f"duplicate check ({d['people']:,} people, {d['duplicated']:,} recorded twice; "
        f"indexed {d['indexed']:,} at {d['index_clients_per_s']:,} clients/s): precision "
        f"{p['precision']:.3f}, recall {p['recall']:.3f}, F1 {p['f1']:.3f} "
        f"(tp {p['tp']}, fp {p['fp']}, fn {p['fn']}; {p['checked']:,} second copies "
        f"checked); a check p50 {p['p50_ms']:.0f} ms, p99 "
        f"{p['p99_ms']:.0f} ms; people recorded once flagged: {once['flagged']} of "
        f"{once['checked']}"
    )
    for name, label in (("intake_pairs", "intake's pairs, uncapped"), ("all_pairs", "all pairs")):
        q = mem[name]
        console.print(
            f"  in memory, {label}: precision {q['precision']:.3f}, recall {q['recall']:.3f}, "
            f"F1 {q['f1']:.3f} (tp {q['tp']}, fp {q['fp']}, fn {q['fn']})"
        )
    console.print(
        f"  in memory: {mem['candidate_pairs']:,} candidate pairs in "
        f"{mem['candidate_pairs_seconds']} s, likely_same "
        f"{mem['likely_same_us_per_pair']} µs a pair"
    )
    mc = f["machine"]
    console.print(
        f"{mc['cpus']} CPUs, {mc['memory_gib']} GiB; load average at the start "
        f"{f['load_average_at_start']}, at the end {mc['load_average']}; "
        f"PostgreSQL {mc['postgres'].get('server_version')}; {f['seconds']} s in all"
    )


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    size = size_of(args)
    sizes = SIZES[size]
    if args.clients is not None:
        sizes = replace(sizes, clients=args.clients)
    if args.queries is not None:
        sizes = replace(sizes, queries_per_kind=args.queries)
    progress = Console(stderr=True)

    def say(message: str) -> None:
        progress.log(message)

    f = await until_signalled(measure(size, sizes, say))
    report(Console(width=140), f)
    return f


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    add_size_arguments(
        parser,
        quick="20,000 clients, 30 searches a kind, 5,000 people: about 8 minutes",
        smoke="500 clients, 2 searches a kind, 400 people (the test suite)",
    )
    parser.add_argument("--clients", type=positive, default=None, help="clients in the index")
    parser.add_argument("--queries", type=positive, default=None, help="searches of each kind")
    args = parser.parse_args()
    configure_logging(Settings.model_validate({"CASEWORK_LOG_LEVEL": "WARNING"}))
    return run_bench("client search", lambda: main_async(args), args.json)


if __name__ == "__main__":
    sys.exit(main())
