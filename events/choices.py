"""The choices of the vocabulary: the enums its events and the staff directory use, with
no model and no pydantic, so the command line can offer them as options cheaply
(casework/cli/choices.py). events/vocabulary/ and events/directory_events.py re-export
them; their members are kept for good (stored events and every client name them)."""

from __future__ import annotations

from enum import StrEnum


class ApprovalKind(StrEnum):
    PLAN = "plan"
    CLOSURE = "closure"


class ReferralSource(StrEnum):
    AGENCY_REFERRAL = "agency_referral"
    OUTREACH = "outreach"
    SELF_REFERRAL = "self_referral"


class SharedField(StrEnum):
    """What a client may consent to share with a provider."""

    NAME = "name"
    CONTACT = "contact"
    DATE_OF_BIRTH = "date_of_birth"
    PRESENTING_NEEDS = "presenting_needs"
    ASSESSMENT_SUMMARY = "assessment_summary"
    HEALTH = "health"
    FINANCIAL = "financial"
    LANGUAGE = "language"
    """The client's preferred language and whether they need an interpreter."""


class ContactKind(StrEnum):
    HOME_VISIT = "home_visit"
    PHONE = "phone"
    OFFICE = "office"
    OUTREACH = "outreach"


class GoalStatus(StrEnum):
    NOT_STARTED = "not_started"
    IN_PROGRESS = "in_progress"
    MET = "met"
    NOT_MET = "not_met"


class ClosureReason(StrEnum):
    GOALS_MET = "goals_met"
    CLIENT_WITHDREW = "client_withdrew"
    MOVED_AWAY = "moved_away"
    UNABLE_TO_CONTACT = "unable_to_contact"
    TRANSFERRED_OUT = "transferred_out"


class Domain(StrEnum):
    """Assessment domains, grouped biopsychosocial / sociocultural / financial."""

    MENTAL_HEALTH = "mental_health"
    PHYSICAL_HEALTH = "physical_health"
    SUBSTANCE_USE = "substance_use"
    FAMILY = "family"
    SOCIAL_SUPPORT = "social_support"
    CULTURE = "culture"
    INCOME = "income"
    BENEFITS = "benefits"
    HOUSING = "housing"
    EMPLOYMENT = "employment"


class CircleRole(StrEnum):
    """How a member of the client's circle of support stands to them."""

    FAMILY_MEMBER = "family_member"
    CARER = "carer"
    FRIEND = "friend"
    ADVOCATE = "advocate"
    GP = "gp"
    TEACHER = "teacher"
    PROBATION_OFFICER = "probation_officer"
    AGENCY_WORKER = "agency_worker"
    """A worker of another agency or service (another discipline or organisation)."""
    OTHER_PROFESSIONAL = "other_professional"
    OTHER = "other"


class CircleShare(StrEnum):
    """What a client may consent to share with a member of their circle of support."""

    PLAN = "plan"
    """The active plan: goals in the client's words, objectives, target dates."""
    CONFERENCE_DECISIONS = "conference_decisions"
    """Decisions and agreed actions of case conferences."""
    ASSESSMENT_SUMMARY = "assessment_summary"
    """Risk level and need level per domain."""
    PROGRESS = "progress"
    """Progress on the goals of the active plan."""
    CONTACT_DETAILS = "contact_details"
    """The client's own phone, email and address."""


class AdvocacyBarrier(StrEnum):
    """What stood between the client and a service (issue 16, advocacy)."""

    SERVICE_REFUSED = "service_refused"
    BENEFIT_DENIED = "benefit_denied"
    BENEFIT_STOPPED = "benefit_stopped"
    ELIGIBILITY_DISPUTE = "eligibility_dispute"
    DISCRIMINATION = "discrimination"
    WAITING_LIST = "waiting_list"
    OTHER = "other"


class AdvocacyAction(StrEnum):
    """What the worker did on the client's behalf."""

    REQUEST = "request"
    COMPLAINT = "complaint"
    APPEAL = "appeal"
    HEARING = "hearing"
    """Representation at a hearing."""
    ESCALATION = "escalation"
    """Escalation to a manager at the organisation."""


class AdvocacyOutcome(StrEnum):
    RESOLVED = "resolved"
    PARTLY_RESOLVED = "partly_resolved"
    NOT_RESOLVED = "not_resolved"
    WITHDRAWN = "withdrawn"


class ConsentGiver(StrEnum):
    """Whose consent the worker acts on."""

    CLIENT = "client"
    GUARDIAN = "guardian"
    REPRESENTATIVE = "representative"
    """A legal representative (power of attorney, appointee)."""


class FeedbackSubject(StrEnum):
    """What the client gave their opinion of."""

    SERVICE = "service"
    REFERRAL = "referral"
    PLAN = "plan"


class StaffRole(StrEnum):
    """Roles a staff member can hold (the values of `cases.actors.Role` for people)."""

    CASEWORKER = "caseworker"
    SUPERVISOR = "supervisor"
    MANAGER = "manager"
    AUDITOR = "auditor"
    ADMIN = "admin"
    OPERATOR = "operator"
    PROVIDER = "provider"
    """A member of a provider organisation (the provider portal); has a provider, no team."""


class ProviderCategory(StrEnum):
    HOUSING = "housing"
    FOOD_ASSISTANCE = "food_assistance"
    MENTAL_HEALTH = "mental_health"
    SUBSTANCE_USE_TREATMENT = "substance_use_treatment"
    JOB_TRAINING = "job_training"
    BENEFITS_ADVICE = "benefits_advice"
    FAMILY_SUPPORT = "family_support"
    OTHER = "other"


class DocumentKind(StrEnum):
    """What a document on a case is (cases/features/documents.py)."""

    CONSENT_FORM = "consent_form"
    IDENTITY = "identity"
    LETTER = "letter"
    REPORT = "report"
    PLAN = "plan"
    """The approved plan rendered for the client to sign (generated by Casework)."""
    OTHER = "other"
