"""What several sub-domains of the case vocabulary share: the base of the events' parts
(`_Part`), the enumerations more than one kind of event names (assessment domains, risk
levels, the fields a client may consent to share, closure reasons) and the parts used in
more than one place (a contact, the participants of a plan or a case conference).
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from events.choices import Domain as Domain
from events.choices import SharedField as SharedField
from events.fields import Identifier, ShortText


class _Part(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RiskLevel(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRISIS = "crisis"


class ClientContact(_Part):
    phone: ShortText | None = None
    email: ShortText | None = None
    address: ShortText | None = None


class Participants(_Part):
    """Who besides the client took part (in a plan, a case conference): staff by staff id,
    members of the client's circle of support by member id (their names are in the
    circle, sealed with the client's key)."""

    staff: list[Identifier] = Field(default_factory=list, max_length=50)
    circle: list[Identifier] = Field(default_factory=list, max_length=50)
