"""Planning an HSDS 3.0 import against the resource directory, without a server: the
hand-written packages of tests/fixtures/hsds/ (JSON and a CSV data package)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from directory import ResourceDirectory
from directory.hsds import (
    ImportPlan,
    PackageRefused,
    open_at,
    plan_import,
    read_package,
    synthetic_package,
    zip_directory,
)
from events.hsds_events import Schedule, ServiceProfileRecorded
from events.vocabulary import Domain
from tests.directory.factories import resource_directory

FIXTURES = Path(__file__).parent.parent / "fixtures" / "hsds"
LIMIT = 10_000_000
BEDS = "5e7c0000-0000-4000-8000-000000000001"
TENANCY = "5e7c0000-0000-4000-8000-000000000002"
HARBOUR = "0b6a3c2e-1f1a-4e7e-9d0a-000000000001"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def csv_package() -> bytes:
    return zip_directory({p.name: p.read_bytes() for p in (FIXTURES / "csv").iterdir()})


def plan(
    data: bytes, directory: ResourceDirectory | None = None, *, withdraw_missing: bool = False
) -> ImportPlan:
    return plan_import(
        read_package(data, max_unpacked=LIMIT),
        directory or ResourceDirectory(),
        import_id="imp-1",
        channel_for=lambda p: f"https://casework.example/portal/providers/{p}/inbox",
        withdraw_missing=withdraw_missing,
    )


@pytest.mark.parametrize("source", ["json", "csv"])
def test_a_package_adds_its_providers_and_services(source: str) -> None:
    first = plan(fixture("directory.json") if source == "json" else csv_package())
    assert len(first.added) == 3 and not first.refusals
    assert len(first.providers_added) == 2
    directory = ResourceDirectory().fold(first.events)
    beds = directory.service(HARBOUR, BEDS)
    assert beds.domains == (Domain.HOUSING,)
    assert beds.profile is not None and beds.profile.languages == ["en", "es"]
    assert beds.profile.contacts[0].phone == "+44 20 7946 0101"
    provider = directory.provider(HARBOUR)
    assert provider.channel.webhook_url.endswith(f"/portal/providers/{HARBOUR}/inbox")
    assert provider.channel.email == "intake@harbour.example"
    # The same package again changes nothing.
    again = plan(fixture("directory.json") if source == "json" else csv_package(), directory)
    assert (again.events, again.added, len(again.unchanged)) == ([], [], 3)


def test_json_and_csv_give_the_same_profiles() -> None:
    from_json = ResourceDirectory().fold(plan(fixture("directory.json")).events)
    again = plan(csv_package(), from_json)
    assert again.events == [] and len(again.unchanged) == 3


def test_a_changed_package_names_the_changed_fields_and_withdraws_inactive() -> None:
    directory = ResourceDirectory().fold(plan(fixture("directory.json")).events)
    second = plan(fixture("directory_v2.json"), directory)
    recorded = [e for e in second.events if isinstance(e, ServiceProfileRecorded)]
    assert [(e.service_id, e.changed) for e in recorded] == [(BEDS, ["description", "languages"])]
    assert second.withdrawn == [TENANCY]
    after = directory.fold(second.events)
    assert not after.provider(HARBOUR).find_service(TENANCY).active  # type: ignore[union-attr]


def test_broken_rows_are_refused_by_name_and_the_rest_imports() -> None:
    result = plan(fixture("broken.json"))
    assert len(result.added) == 3
    assert sorted(r.where for r in result.refusals) == [
        "services[3].name",
        "services[4].organization_id",
        "services[5].id",
        "services[6].attributes",
    ]


def test_missing_services_are_withdrawn_only_when_asked() -> None:
    directory = ResourceDirectory().fold(plan(fixture("directory.json")).events)
    smaller = read_package(fixture("directory.json"), max_unpacked=LIMIT)
    smaller.resources["services"] = smaller.resources["services"][:1]
    kept = plan_import(smaller, directory, import_id="i2", channel_for=str)
    assert kept.withdrawn == []
    gone = plan_import(smaller, directory, import_id="i2", channel_for=str, withdraw_missing=True)
    assert sorted(gone.withdrawn) == sorted([TENANCY, "5e7c0000-0000-4000-8000-000000000003"])


def test_services_added_by_hand_are_not_withdrawn_as_missing() -> None:
    result = plan(fixture("directory.json"), resource_directory(), withdraw_missing=True)
    assert result.withdrawn == []


@pytest.mark.parametrize(
    ("name", "status", "field"),
    [("wrong_version.json", 422, "version"), ("not_hsds.txt", 415, "file")],
)
def test_a_package_level_error_refuses_the_whole_file(name: str, status: int, field: str) -> None:
    with pytest.raises(PackageRefused) as refused:
        read_package(fixture(name), max_unpacked=LIMIT)
    assert (refused.value.status, refused.value.field) == (status, field)


def test_a_csv_without_datapackage_is_refused() -> None:
    data = zip_directory({"services.csv": b"id,name\n1,x\n"})
    with pytest.raises(PackageRefused) as refused:
        read_package(data, max_unpacked=LIMIT)
    assert refused.value.field == "file" and "datapackage.json" in str(refused.value)


def test_open_at_follows_days_hours_overnight_and_zones() -> None:
    london = ZoneInfo("Europe/London")
    night = Schedule(byday="MO", opens_at="18:00", closes_at="08:00", timezone="Europe/London")
    assert open_at([night], datetime(2025, 1, 6, 19, 0, tzinfo=UTC), london)  # Monday evening
    assert open_at([night], datetime(2025, 1, 7, 7, 0, tzinfo=UTC), london)  # Tuesday early
    assert not open_at([night], datetime(2025, 1, 7, 19, 0, tzinfo=UTC), london)
    office = Schedule(byday="MO,TU", opens_at="09:00", closes_at="17:00", timezone="-5")
    assert open_at([office], datetime(2025, 1, 6, 15, 0, tzinfo=UTC), london)  # 10:00 at -5
    assert not open_at([office], datetime(2025, 1, 6, 13, 0, tzinfo=UTC), london)


def test_the_synthetic_package_imports_whole() -> None:
    result = plan(synthetic_package(50))
    assert len(result.added) == 50 and not result.refusals
    changed = plan(synthetic_package(50, changed=0.1), ResourceDirectory().fold(result.events))
    assert len(changed.changed) == 5 and len(changed.unchanged) == 45
