"""Importing the community's service directory (Open Referral HSDS 3.0) into the
resource directory, and reading what was imported.

`import_directory(app, actor, data, filename=, now=)` (admins: `Action.DIRECTORY` is the
directories' own rule, `require_admin`) reads the package, plans it against the
directory (directory/hsds/plan.py) and appends the plan's events to the resource
directory's stream in chunks of `CHUNK`, each at the fold's version; when another
writer moved the stream, the rest is planned again on the newer directory (a chunk
already written then plans as unchanged). A summary `DirectoryImported` goes to the
stream `directory-imports`. A dry run plans and writes nothing. A package-level
problem (`PackageRefused`) refuses the whole file before anything is written.
"""

from __future__ import annotations

import dataclasses
import hashlib
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

import structlog

from application.bootstrap import Casework
from cases.access import Query, query_relation
from cases.actors import Actor
from directory import (
    NotFound,
    ResourceDirectory,
    load_resource_directory,
    remember_resources,
    require_admin,
)
from directory.errors import DirectoryError
from directory.hsds import ImportPlan, PackageRefused, import_package
from directory.hsds.package import read_package
from directory.portal import portal_channel
from events.directory_events import PROVIDER_STREAM
from events.envelope import EventMetadata
from events.hsds_events import IMPORTS_STREAM, DirectoryImported
from events.store import ConcurrencyError
from events.vocabulary import Domain

log = structlog.get_logger("casework.directory.import")

CHUNK = 500
"""Events appended per transaction."""

MAX_ATTEMPTS = 20

__all__ = [
    "ImportReport",
    "PackageRefused",
    "RefusedRow",
    "import_directory",
    "max_bytes",
    "show_import",
]


@dataclass(frozen=True)
class RefusedRow:
    resource: str
    row: int
    id: str | None
    field: str
    reason: str
    values: Mapping[str, object] = dataclasses.field(default_factory=dict)

    @property
    def where(self) -> str:
        return f"{self.resource}[{self.row}].{self.field}"


@dataclass(frozen=True)
class ImportReport:
    import_id: str
    dry_run: bool
    hsds_version: str
    source_sha256: str
    added: list[str]
    changed: dict[str, list[str]]
    unchanged: int
    withdrawn: list[str]
    providers_added: list[str]
    providers_changed: list[str]
    refused: list[RefusedRow]
    events_written: int


def max_bytes(app: Casework) -> int:
    """The largest package accepted (`CASEWORK_HSDS_MAX_BYTES`)."""
    return app.settings.hsds_max_bytes


def _public_url(app: Casework) -> str:
    return app.settings.public_url or app.settings.api_base_url


def _report(
    plan: ImportPlan, import_id: str, sha: str, dry_run: bool, written: int
) -> ImportReport:
    return ImportReport(
        import_id=import_id,
        dry_run=dry_run,
        hsds_version=plan.version,
        source_sha256=sha,
        added=list(plan.added),
        changed={c.service_id: list(c.fields) for c in plan.changed},
        unchanged=len(plan.unchanged),
        withdrawn=list(plan.withdrawn),
        providers_added=list(plan.providers_added),
        providers_changed=list(plan.providers_changed),
        refused=[
            RefusedRow(r.resource, r.row, r.id, r.field, r.reason, dict(r.values))
            for r in plan.refusals
        ],
        events_written=written,
    )


async def import_directory(
    app: Casework,
    actor: Actor,
    data: bytes,
    *,
    filename: str | None = None,
    now: datetime,
    dry_run: bool = False,
    withdraw_missing: bool = False,
    needs_map: Mapping[str, Domain] | None = None,
) -> ImportReport:
    """Import the HSDS package `data` (PackageRefused: the file as a whole; NotPermitted:
    not an admin). Rows that break a rule are refused one by one and reported."""
    require_admin(actor, "import the service directory")
    import_id = str(uuid.uuid4())
    sha = hashlib.sha256(data).hexdigest()
    limit = max_bytes(app)
    read_package(data, max_unpacked=4 * limit)  # the whole file's problems, before planning
    base = _public_url(app)

    def channel_for(provider_id: str) -> str:
        return portal_channel(base, provider_id)

    def planned(directory_now: ResourceDirectory) -> ImportPlan:
        return import_package(
            data,
            directory_now,
            import_id=import_id,
            channel_for=channel_for,
            max_unpacked=4 * limit,
            needs_map=needs_map,
            withdraw_missing=withdraw_missing,
        )

    directory = await load_resource_directory(app.store)
    first = planned(directory)
    if dry_run:
        return _report(first, import_id, sha, True, 0)
    metadata = EventMetadata(actor_id=actor.staff_id, actor_role=actor.role.value)
    written = 0
    plan = first
    for attempt in range(1, MAX_ATTEMPTS + 1):
        try:
            for start in range(0, len(plan.events), CHUNK):
                chunk = plan.events[start : start + CHUNK]
                await app.store.append_domain(
                    PROVIDER_STREAM,
                    directory.version,
                    [(uuid.uuid4(), e) for e in chunk],
                    metadata=metadata,
                    occurred_at=now,
                )
                written += len(chunk)
                directory = directory.fold(chunk)
            break
        except ConcurrencyError:
            log.info("directory.import.conflict", attempt=attempt, written=written)
            directory = await load_resource_directory(app.store)
            plan = planned(directory)
    else:
        raise DirectoryError(f"{PROVIDER_STREAM} kept changing; try again")
    # What was appended is folded already: the process's next read starts from it.
    remember_resources(app.store, directory)
    # The report counts the first plan (what this package changed), not the re-plans.
    summary = DirectoryImported(
        import_id=import_id,
        source_sha256=sha,
        hsds_version=first.version,
        added=len(first.added),
        changed=len(first.changed),
        unchanged=len(first.unchanged),
        withdrawn=len(first.withdrawn),
        refused=len(first.refusals),
        refusals=[r.record() for r in first.refusals[:1000]],
    )
    for _attempt in range(MAX_ATTEMPTS):
        version = await app.store.stream_version(IMPORTS_STREAM)
        try:
            await app.store.append_domain(
                IMPORTS_STREAM,
                version,
                [(uuid.uuid4(), summary)],
                metadata=metadata,
                occurred_at=now,
            )
            break
        except ConcurrencyError:
            continue
    log.info(
        "directory.imported",
        import_id=import_id,
        added=len(first.added),
        changed=len(first.changed),
        refused=len(first.refusals),
        events=written,
        actor_id=actor.staff_id,
    )
    return _report(first, import_id, sha, False, written)


async def show_import(app: Casework, actor: Actor, import_id: str) -> DirectoryImported:
    """One import's summary (every role reads the directories)."""
    query_relation(actor, Query.DIRECTORIES)
    for recorded in await app.store.read_stream(IMPORTS_STREAM):
        event = app.store.decode(recorded)
        if isinstance(event, DirectoryImported) and event.import_id == import_id:
            return event
    raise NotFound(f"no directory import {import_id!r}")
