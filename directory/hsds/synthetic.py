"""A synthetic HSDS 3.0 package of `n` services, for benchmarks and tests (pure and
reproducible: the same `n` and `changed` give the same bytes)."""

from __future__ import annotations

import json
import uuid
from typing import Any

NEEDS = ("housing", "employment", "mental_health", "income", "family", "benefits")
LANGUAGES = ("en", "es", "fr", "vi", "ar")
AREAS = ("north", "south", "east", "west")
NAMESPACE = uuid.UUID("6f1c2d3e-0000-4000-8000-000000000034")


def _id(kind: str, i: int) -> str:
    return str(uuid.uuid5(NAMESPACE, f"{kind}-{i}"))


def synthetic_package(n: int, *, changed: float = 0.0, per_org: int = 10) -> bytes:
    """`n` services under `n / per_org` organizations as HSDS JSON; the first
    `changed` share of services have a changed description (a second version)."""
    orgs = [
        {"id": _id("org", o), "name": f"Organization {o}", "description": f"Provider number {o}"}
        for o in range((n + per_org - 1) // per_org)
    ]
    services: list[dict[str, Any]] = []
    for i in range(n):
        need = NEEDS[i % len(NEEDS)]
        edited = i < int(n * changed)
        services.append(
            {
                "id": _id("service", i),
                "organization_id": orgs[i // per_org]["id"],
                "name": f"Service {i}",
                "status": "active",
                "description": f"Service {i} for {need}" + (" (updated)" if edited else ""),
                "languages": [{"code": LANGUAGES[i % len(LANGUAGES)]}, {"code": "en"}],
                "schedules": [
                    {"byday": "MO,TU,WE,TH,FR", "opens_at": "09:00", "closes_at": "17:00"}
                ],
                "service_areas": [{"name": AREAS[i % len(AREAS)]}],
                "attributes": [
                    {
                        "taxonomy_term": {
                            "id": _id("term", i % len(NEEDS)),
                            "code": need,
                            "name": need,
                        }
                    }
                ],
            }
        )
    package = {"version": "3.0", "organizations": orgs, "services": services}
    return json.dumps(package, separators=(",", ":")).encode()
