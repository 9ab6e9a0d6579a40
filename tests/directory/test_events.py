"""Directory events are validated with the field at fault named."""

from __future__ import annotations

import pytest

from events.catalog import default_registry
from events.directory_events import DIRECTORY_EVENT_MODELS
from events.registry import EventValidationError

REGISTRY = default_registry()


def problems(event_type: str, data: dict[str, object]) -> str:
    with pytest.raises(EventValidationError) as err:
        REGISTRY.validate_new(event_type, 1, data)
    return str(err.value)


def test_every_directory_event_is_registered() -> None:
    for model in DIRECTORY_EVENT_MODELS:
        assert model.model_fields["type"].default in REGISTRY


@pytest.mark.parametrize("role", ["caseworker", "supervisor"])
def test_caseworkers_and_supervisors_need_a_team(role: str) -> None:
    message = problems("StaffMemberAdded", {"staff_id": "x", "display_name": "X", "role": role})
    assert f"team: Value error, required for a {role}" in message


@pytest.mark.parametrize("role", ["manager", "auditor", "admin", "operator"])
def test_other_roles_need_no_team(role: str) -> None:
    REGISTRY.validate_new(
        "StaffMemberAdded", 1, {"staff_id": "x", "display_name": "X", "role": role}
    )


def test_system_is_not_a_staff_role() -> None:
    message = problems("StaffMemberAdded", {"staff_id": "x", "display_name": "X", "role": "system"})
    assert "role:" in message


@pytest.mark.parametrize(
    "url",
    [
        "ftp://host/x",
        "not a url",
        "https://",
        "http://user:secret@host/x",
        "https://host:99999/x",
        "javascript:alert(1)",
        "",
    ],
)
def test_invalid_webhook_url_is_refused_naming_the_field(url: str) -> None:
    message = problems(
        "ProviderAdded",
        {
            "provider_id": "p",
            "name": "P",
            "category": "housing",
            "channel": {"webhook_url": url},
        },
    )
    assert "channel.webhook_url:" in message


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080/hook", "https://provider.example/r?x=1"])
def test_http_and_https_webhooks_are_accepted(url: str) -> None:
    REGISTRY.validate_new(
        "ProviderAdded",
        1,
        {"provider_id": "p", "name": "P", "category": "other", "channel": {"webhook_url": url}},
    )


def test_contact_phone_and_email_are_checked() -> None:
    message = problems(
        "ProviderAdded",
        {
            "provider_id": "p",
            "name": "P",
            "category": "food_assistance",
            "channel": {"webhook_url": "https://p.example", "phone": "call me", "email": "nope"},
        },
    )
    assert "channel.phone:" in message and "channel.email:" in message


def test_unknown_category_is_refused() -> None:
    message = problems(
        "ProviderAdded",
        {
            "provider_id": "p",
            "name": "P",
            "category": "spa",
            "channel": {"webhook_url": "https://p.x"},
        },
    )
    assert "category:" in message


def test_service_domains_are_required_known_and_distinct() -> None:
    base = {"provider_id": "p", "service_id": "s", "name": "S"}
    assert "domains:" in problems("ProviderServiceAdded", {**base, "domains": []})
    assert "domains.0:" in problems("ProviderServiceAdded", {**base, "domains": ["astrology"]})
    assert "each domain may be named once" in problems(
        "ProviderServiceAdded", {**base, "domains": ["housing", "housing"]}
    )


def test_staff_webhook_is_optional_but_checked() -> None:
    message = problems(
        "StaffMemberAdded",
        {"staff_id": "x", "display_name": "X", "role": "admin", "webhook_url": "mailto:x@y.z"},
    )
    assert "webhook_url:" in message
