"""docker-compose.yml and the README agree (Docker itself is not needed to check it)."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from infrastructure.settings import Settings
from tests.conftest import ROOT

CASEWORK_SERVICES = ("casework-setup", "casework-worker", "casework-projector", "casework-api")


@pytest.fixture(scope="module")
def services() -> dict[str, Any]:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert isinstance(compose, dict)
    services = compose["services"]
    assert isinstance(services, dict)
    return services


def documented_services() -> set[str]:
    """Service names in the first column of the README's production table."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Production", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `([a-z0-9-]+)` \|", section, flags=re.MULTILINE))


def test_every_documented_service_exists(services: dict[str, Any]) -> None:
    documented = documented_services()
    assert {"temporal", "temporal-ui", "casework-worker", "casework-projector"} <= documented
    assert documented == set(services)


def test_the_architecture_doc_names_only_real_services(services: dict[str, Any]) -> None:
    text = (ROOT / "docs" / "architecture.md").read_text()
    assert "docker-compose.yml" in text
    for name in re.findall(r"`(casework-[a-z]+(?:-[a-z]+)*)`", text):
        assert name in services


def test_workers_and_api_are_replicated(services: dict[str, Any]) -> None:
    assert services["casework-worker"]["deploy"]["replicas"] >= 2
    assert services["casework-api"]["deploy"]["replicas"] >= 2
    assert services["casework-api"]["command"] == ["casework", "serve"]
    assert services["casework-api"]["environment"]["CASEWORK_HTTP_HOST"] == "0.0.0.0"
    assert services["casework-worker"]["command"] == ["casework", "worker"]
    assert services["casework-projector"]["command"] == ["casework", "projector"]


def test_temporal_starts_with_enough_history_shards(services: dict[str, Any]) -> None:
    """Fixed at Temporal's first boot: the image's 4 would serialise a wave of timers."""
    shards = services["temporal"]["environment"]["NUM_HISTORY_SHARDS"]
    match = re.fullmatch(r"\$\{TEMPORAL_HISTORY_SHARDS:-(\d+)\}", shards)
    assert match and int(match[1]) >= 128


@pytest.mark.parametrize("name", CASEWORK_SERVICES)
def test_casework_services_are_configured(services: dict[str, Any], name: str) -> None:
    service = services[name]
    env = service["environment"]
    assert env["DATABASE_URL"].startswith("postgresql://")
    assert "@casework-postgresql:" in env["DATABASE_URL"]
    assert env["TEMPORAL_ADDRESS"] == "temporal:7233"
    assert env["CASEWORK_LOG_FORMAT"] == "json"
    assert "build" in service or service["image"] == services["casework-setup"]["image"]


def test_dependencies_exist_and_long_running_services_are_checked(
    services: dict[str, Any],
) -> None:
    for name, service in services.items():
        depends = service.get("depends_on", {})
        targets = depends if isinstance(depends, list) else list(depends)
        for target in targets:
            assert target in services, f"{name} depends on unknown service {target}"
        if service.get("restart") != "no":
            assert "healthcheck" in service, f"{name} has no healthcheck"
    assert services["casework-worker"]["depends_on"]["casework-setup"] == {
        "condition": "service_completed_successfully"
    }


def test_readme_documents_every_setting() -> None:
    readme = (ROOT / "README.md").read_text()
    for name, info in Settings.model_fields.items():
        assert f"| `{name}` | `{info.alias}` |" in readme, f"README lacks setting {name}"


def test_dockerfile_builds_the_casework_image() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert dockerfile.startswith("#") and "FROM python:3.11-slim" in dockerfile
    assert "pip install ." in dockerfile
