"""Every projection the projector runs, by name."""

from __future__ import annotations

from projections import (
    actions,
    approvals,
    case_summary,
    circle,
    documents,
    kpi,
    outcomes,
    referrals,
    reviews,
    service_directory,
    timeline,
    transfers,
)
from projections.base import Projection


def all_projections() -> list[Projection]:
    return [
        case_summary.PROJECTION,
        approvals.PROJECTION,
        referrals.PROJECTION,
        reviews.REVIEWS_PROJECTION,
        reviews.ESCALATIONS_PROJECTION,
        outcomes.PROJECTION,
        timeline.PROJECTION,
        transfers.PROJECTION,
        actions.PROJECTION,
        circle.PROJECTION,
        documents.PROJECTION,
        kpi.PROJECTION,
        service_directory.PROJECTION,
    ]


def projection_named(name: str) -> Projection:
    for projection in all_projections():
        if projection.name == name:
            return projection
    known = ", ".join(p.name for p in all_projections())
    raise LookupError(f"no projection named {name!r} (known: {known})")
