"""The resource directory fold and its decisions, without any server."""

from __future__ import annotations

import pytest

from directory import (
    KEEP,
    NotFound,
    NotPermitted,
    Refused,
    decide_add_provider,
    decide_add_service,
    decide_change_provider,
    decide_deactivate_provider,
    decide_withdraw_service,
)
from events.directory_events import ProviderCategory
from events.registry import EventValidationError
from events.vocabulary import Domain
from tests.directory.factories import ADMIN, SUPERVISOR, resource_directory


def test_lookups() -> None:
    directory = resource_directory()
    provider = directory.provider("shelter-1")
    assert provider.channel.webhook_url == "https://shelter.example/referrals"
    assert directory.service("shelter-1", "beds").domains == (Domain.HOUSING,)
    assert [s.service_id for s in directory.services_for(Domain.HOUSING)] == ["beds"]
    assert directory.services_for(Domain.INCOME) == []
    assert [p.provider_id for p in directory.listing(domain=Domain.HOUSING)] == ["shelter-1"]
    assert directory.listing(category=ProviderCategory.FOOD_ASSISTANCE) == []
    with pytest.raises(LookupError, match="no provider 'nope'"):
        directory.provider("nope")
    with pytest.raises(NotFound, match="has no service 'meals'"):
        directory.service("shelter-1", "meals")


def test_add_provider_rules() -> None:
    directory = resource_directory()
    event = decide_add_provider(
        directory,
        ADMIN,
        "pantry",
        "Pantry",
        "food_assistance",
        "http://127.0.0.1:8000/hook",
        phone="+44 20 7946 0000",
        email="intake@pantry.example",
    )
    assert event.channel.phone == "+44 20 7946 0000"
    with pytest.raises(Refused, match="provider_id: 'shelter-1' is already"):
        decide_add_provider(directory, ADMIN, "shelter-1", "S", "housing", "https://x.example")
    with pytest.raises(NotPermitted, match="only an admin"):
        decide_add_provider(directory, SUPERVISOR, "p2", "P", "housing", "https://x.example")
    with pytest.raises(EventValidationError, match=r"channel\.webhook_url:"):
        decide_add_provider(directory, ADMIN, "p2", "P", "housing", "gopher://x")
    with pytest.raises(EventValidationError, match="category:"):
        decide_add_provider(directory, ADMIN, "p2", "P", "spa", "https://x.example")


def test_add_service_rules() -> None:
    directory = resource_directory()
    event = decide_add_service(
        directory, ADMIN, "shelter-1", "advice", "Tenancy advice", ["housing", "benefits"]
    )
    assert event.domains == [Domain.HOUSING, Domain.BENEFITS]
    with pytest.raises(Refused, match="service_id: provider 'shelter-1' already has 'beds'"):
        decide_add_service(directory, ADMIN, "shelter-1", "beds", "Beds", ["housing"])
    with pytest.raises(NotFound, match="no provider 'ghost'"):
        decide_add_service(directory, ADMIN, "ghost", "x", "X", ["housing"])
    with pytest.raises(EventValidationError, match="domains:"):
        decide_add_service(directory, ADMIN, "shelter-1", "x", "X", [])


def test_change_provider_keeps_what_is_not_named() -> None:
    directory = resource_directory()
    event = decide_change_provider(
        directory,
        ADMIN,
        "shelter-1",
        email="beds@shelter.example",
        reason="new inbox",
    )
    changed = directory.fold([event]).provider("shelter-1")
    assert changed.channel.email == "beds@shelter.example"
    assert changed.channel.webhook_url == "https://shelter.example/referrals"
    assert changed.eligibility == "adults"
    assert [s.service_id for s in changed.services] == ["beds"]
    with pytest.raises(Refused, match="nothing to change"):
        decide_change_provider(directory, ADMIN, "shelter-1", name=KEEP, phone=None)
    with pytest.raises(EventValidationError, match=r"channel\.webhook_url:"):
        decide_change_provider(directory, ADMIN, "shelter-1", webhook_url="shelter.example")


def test_deactivated_provider_and_withdrawn_service_are_not_found() -> None:
    directory = resource_directory()
    withdrawn = directory.fold(
        [decide_withdraw_service(directory, ADMIN, "shelter-1", "beds", "closed for winter")]
    )
    with pytest.raises(NotFound, match="'beds' of provider 'shelter-1' is withdrawn"):
        withdrawn.service("shelter-1", "beds")
    with pytest.raises(Refused, match="already has 'beds'"):
        decide_add_service(withdrawn, ADMIN, "shelter-1", "beds", "Beds", ["housing"])
    gone = directory.fold([decide_deactivate_provider(directory, ADMIN, "shelter-1", "closed")])
    with pytest.raises(NotFound, match="'shelter-1' is deactivated \\(closed\\)"):
        gone.provider("shelter-1")
    with pytest.raises(NotFound):
        gone.service("shelter-1", "beds")
    assert gone.listing() == [] and len(gone.listing(include_inactive=True)) == 1
    with pytest.raises(NotFound):
        decide_deactivate_provider(gone, ADMIN, "shelter-1", "again")
