from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

from events.envelope import EventMetadata, NewEvent
from events.vocabulary import ContactKind, ContactLogged

METADATA = EventMetadata(actor_id="worker-1", actor_role="caseworker", correlation_id="test")


def contact_event(n: int = 0, event_id: uuid.UUID | None = None, notes: str = "") -> NewEvent:
    data = ContactLogged(
        contact_id=f"contact-{n}",
        kind=ContactKind.PHONE,
        contact_date=date(2026, 1, 1),
        duration_minutes=n % 60,
        notes=notes or f"call number {n}",
    )
    return NewEvent(
        event_id=event_id or uuid.uuid4(),
        event_type=data.type,
        schema_version=data.schema_version,
        data=data.to_data(),
        metadata=METADATA,
        occurred_at=datetime(2026, 1, 1, 12, 0, n % 60, 123456, tzinfo=UTC),
    )
