"""The community's service directory in Open Referral HSDS 3.0: reading a package,
checking it row by row, and planning its import into the resource directory (pure).

`read_package(bytes)` → `RawPackage` (or `PackageRefused`, the whole file);
`plan_import(package, directory, …)` → `ImportPlan` (events to append, counts, the
refused rows); `import_package` does both; `open_at(schedules, when, tz)` says whether a
service is open; `synthetic_package(n)` makes a package for the benchmarks.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from directory.hsds.package import REASONS, PackageRefused, RawPackage, read_package, zip_directory
from directory.hsds.plan import Change, ImportPlan, Refusal, changed_fields, plan_import
from directory.hsds.schedule import open_at
from directory.hsds.synthetic import synthetic_package
from directory.resources import ResourceDirectory
from events.vocabulary import Domain


def import_package(
    data: bytes,
    directory: ResourceDirectory,
    *,
    import_id: str,
    channel_for: Callable[[str], str],
    max_unpacked: int,
    needs_map: Mapping[str, Domain] | None = None,
    withdraw_missing: bool = False,
) -> ImportPlan:
    """Read `data` and plan its import into `directory` (PackageRefused: the whole file)."""
    return plan_import(
        read_package(data, max_unpacked=max_unpacked),
        directory,
        import_id=import_id,
        channel_for=channel_for,
        needs_map=needs_map,
        withdraw_missing=withdraw_missing,
    )


__all__ = [
    "REASONS",
    "Change",
    "ImportPlan",
    "PackageRefused",
    "RawPackage",
    "Refusal",
    "changed_fields",
    "import_package",
    "open_at",
    "plan_import",
    "read_package",
    "synthetic_package",
    "zip_directory",
]
