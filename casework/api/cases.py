"""`/api/v1/cases`: open a case, read it (with its ETag), and send it commands.

Every command of the command table (cases/command_table.py) has its route,
`POST /api/v1/cases/{case_id}/commands/{update}`, whose body is the command without
its actor (the caller is the actor) and with staff ids where the command names other
staff (resolved in the directory, never trusted from the body).

- **Conflicts are detected, not overwritten**: a read answers `ETag: "<version>"`; a
  command must send `If-Match` with it (428 without), and answers 412 with the current
  version when the case moved on meanwhile. The check runs inside the case workflow,
  under its lock, so of two clients sending the same version exactly one wins.
- **Retries are safe**: an `Idempotency-Key` header becomes the Temporal update id (for
  an open, the new case's id is derived from it); the same key with the same body
  answers the first result, with another body 422.
- A case out of the caller's scope answers 404 exactly as a case that does not exist,
  for commands as for reads; a caller who may see the case but whose role may not send
  the command (the access table, through the command table's `action`) gets 403. Both
  refusals are written to the access log.

The routes only translate: every step of a command (the access check and its log entry,
staff ids resolved, references checked, the idempotency key claimed, the case client)
is application/case_commands.py `send` (`refer` for a referral), the use case the
console's forms call too; `refused` maps its typed refusals to problems.
"""

from __future__ import annotations

import unicodedata
import uuid
from typing import Annotated, Any
from urllib.parse import unquote

from fastapi import APIRouter, Depends, Header, Request, Response
from pydantic import BaseModel, ConfigDict, Field, create_model

from application import case_commands, idempotency
from application.bootstrap import Casework
from application.case_client import CaseCommandRejected
from application.case_export import export_case
from application.case_reads import read_case, read_history
from cases import commands as c
from cases.access import (
    AccessDenied,
    Action,
    BreakGlassRefused,
    CaseNotVisible,
    NotPermitted,
    check,
)
from cases.actors import Actor
from cases.command_table import TABLE, CaseCommand
from casework.api.auth import Caller, casework_of
from casework.api.problems import ApiProblem, FieldProblem, invalid, speak, validation_message
from casework.i18n import N_, _
from directory import DirectoryError
from events.fields import Identifier
from events.vocabulary import ClientDetails, ReferralSource, SharedField
from workflows.case import CommandResult

router = APIRouter(prefix="/api/v1/cases", tags=["cases"])

NOT_BY_THIS_ROUTE = {"refer", "forget", "apply_policy", "attach_document"}
"""Commands with routes of their own: a referral's channel comes from the resource
directory; a document is attached by uploading it (casework/api/documents.py);
forgetting a client and applying a policy are not commands on one case."""

MAX_REASON = 2000
"""The longest reason the access log keeps (its column's check)."""


def _header_text(name: str, value: str | None) -> str | None:
    """A free-text header: percent-encoded UTF-8 (so a reason may be in any language),
    at most MAX_REASON characters once decoded, no control characters; else 422."""
    if value is None:
        return None
    try:
        text = unquote(value, errors="strict")
    except UnicodeDecodeError:
        message = N_("not percent-encoded UTF-8")
        raise invalid([FieldProblem(field=name, message=message)]) from None
    if len(text) > MAX_REASON:
        message = _("at most %(limit)s characters", limit=MAX_REASON)
        raise invalid([FieldProblem(field=name, message=message)])
    if any(unicodedata.category(ch) == "Cc" for ch in text):
        message = N_("control characters are not allowed")
        raise invalid([FieldProblem(field=name, message=message)])
    return text


def _reason(
    value: Annotated[
        str | None,
        Header(
            alias="Casework-Reason",
            description="Why you read the case (percent-encoded UTF-8).",
        ),
    ] = None,
) -> str | None:
    return _header_text("Casework-Reason", value)


def _break_glass(
    value: Annotated[
        str | None,
        Header(
            alias="Casework-Break-Glass",
            description="Emergency access to a case outside your scope, with the reason "
            "(percent-encoded UTF-8): recorded, and the case's supervisors are notified.",
        ),
    ] = None,
) -> str | None:
    return _header_text("Casework-Break-Glass", value)


ReasonHeader = Annotated[str | None, Depends(_reason)]
BreakGlassHeader = Annotated[str | None, Depends(_break_glass)]
IfMatch = Annotated[
    str | None,
    Header(
        alias="If-Match",
        description='The ETag of the case you saw: "<version>"; `*` acts on the case as it '
        "stands (no conflict check).",
    ),
]
IdempotencyKey = Annotated[
    str | None,
    Header(alias="Idempotency-Key", description="Send the same key to retry safely."),
]


COMMAND_REFUSALS: dict[int | str, dict[str, Any]] = {
    403: {"description": "Your role may not send this command to this case"},
    404: {"description": "No such case visible to you"},
    409: {"description": "The case's rules refuse the command"},
    412: {"description": "The case changed since the ETag sent"},
    428: {"description": "If-Match missing"},
}
READ_REFUSALS: dict[int | str, dict[str, Any]] = {
    403: {"description": "Your role may not read cases, or emergency access was refused"},
    404: {"description": "No such case visible to you"},
}


def etag(version: int) -> str:
    return f'"{version}"'


def expected_version(if_match: str | None) -> int | None:
    """The version the caller saw; None for `If-Match: *` (RFC 9110: whatever the case's
    current version is — the caller chose to act on the case as it stands)."""
    if if_match is None:
        raise ApiProblem(
            428,
            N_("If-Match required"),
            N_('send If-Match: "<version>" with the ETag of the case as you last read it'),
            kind="if-match-required",
        )
    if if_match.strip() == "*":
        return None
    value = if_match.strip().removeprefix("W/").strip('"')
    if not value.isdigit():
        raise invalid([FieldProblem(field="If-Match", message=N_('expected "<version>"'))])
    return int(value)


def not_found(case_id: str) -> ApiProblem:
    return ApiProblem(
        404,
        N_("No such case"),
        _("no case %(case_id)s visible to you", case_id=case_id),
        kind="case-not-found",
    )


def refused(case_id: str, refusal: case_commands.Refusal, *, hint: bool = True) -> ApiProblem:
    """A refusal of the command use case as the problem the API has always answered
    (`hint`: a version conflict's detail says what to do, as the table's routes do)."""
    match refusal:
        case case_commands.NotFound():
            return not_found(case_id)
        case case_commands.NotPermitted(reason=reason, for_role=True):
            return ApiProblem(403, N_("Not for your role"), reason, kind="access-denied")
        case case_commands.NotPermitted(reason=reason):
            return ApiProblem(403, N_("Not permitted"), reason, kind="not-permitted")
        case case_commands.Rejected(field=field, reason=reason):
            return invalid([FieldProblem(field=field, message=reason)])
        case case_commands.Invalid(error=error):
            return invalid(
                [
                    FieldProblem(
                        field=".".join(str(p) for p in e["loc"]) or "body",
                        message=validation_message(e),
                    )
                    for e in error.errors()
                ]
            )
        case case_commands.IdempotencyMismatch(reason=reason):
            return invalid([FieldProblem(field="Idempotency-Key", message=reason)])
        case case_commands.VersionConflict(reason=reason, current=current):
            again = N_("%(reason)s; read it again and send its new ETag as If-Match")
            return ApiProblem(
                412,
                N_("The case changed"),
                _(again, reason=speak(reason)) if hint else reason,
                kind="case-changed",
                current_version=current,
                headers={"ETag": etag(current)},
            )
        case case_commands.RuleRefused(reason=reason):
            return ApiProblem(409, N_("Command refused"), reason, kind="command-refused")


def answer(
    result: CommandResult | case_commands.Refusal,
    case_id: str,
    response: Response,
    *,
    hint: bool = True,
) -> CommandResult:
    if not isinstance(result, CommandResult):
        raise refused(case_id, result, hint=hint)
    response.headers["ETag"] = etag(result.stream_version)
    return result


def _body_fields(command: type[c.Command]) -> dict[str, Any]:
    """The command's fields a caller sends: not the actor, not the version (If-Match);
    staff named by the command as staff ids."""
    fields: dict[str, Any] = {}
    for name, info in command.model_fields.items():
        if name in ("actor", "expected_version"):
            continue
        if info.annotation is Actor:
            fields[name] = (Identifier, Field(description=f"{name}: a staff id"))
        elif info.annotation == Actor | None:
            fields[name] = (Identifier | None, Field(None, description=f"{name}: a staff id"))
        else:
            fields[name] = (info.annotation, info)
    return fields


def body_model(command: type[c.Command]) -> type[BaseModel]:
    model: type[BaseModel] = create_model(
        f"{command.__name__}Body",
        __config__=ConfigDict(extra="forbid"),
        __doc__=command.__doc__,
        **_body_fields(command),
    )
    return model


def _command_route(entry: CaseCommand[Any]) -> None:
    Body = body_model(entry.command)

    async def route(
        case_id: str,
        body: Body,  # type: ignore[valid-type]
        request: Request,
        response: Response,
        caller: Caller,
        if_match: IfMatch = None,
        idempotency_key: IdempotencyKey = None,
    ) -> CommandResult:
        app = casework_of(request)
        version = expected_version(if_match)
        sent: BaseModel = body
        result = await case_commands.send(
            app, caller.actor, case_id, entry.update, sent.model_dump(),
            expected_version=version, idempotency_key=idempotency_key,
            key_body=sent.model_dump(mode="json"),
        )  # fmt: skip
        return answer(result, case_id, response)

    # The body's model is made here: give FastAPI the class, not the name (annotations are
    # strings under `from __future__ import annotations`).
    route.__annotations__["body"] = Body
    router.add_api_route(
        f"/{{case_id}}/commands/{entry.update}",
        route,
        methods=["POST"],
        response_model=CommandResult,
        name=entry.update,
        summary=(entry.command.__doc__ or entry.update).strip().splitlines()[0],
        responses=COMMAND_REFUSALS,
    )


for _entry in TABLE:
    if _entry.update not in NOT_BY_THIS_ROUTE:
        _command_route(_entry)


class OpenCaseBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    client_ref: Identifier
    client: ClientDetails
    referral_source: ReferralSource = ReferralSource.SELF_REFERRAL
    referring_agency: str | None = None
    assignee: Identifier = Field(description="The assigned worker's staff id.")
    presenting_needs: list[str] = Field(min_length=1, max_length=50)
    confirm_new_client: bool = Field(
        default=False,
        description="The duplicate check answered 409 with clients this one looks like, "
        "and none of them is this person: open the case for a new client (recorded). To "
        "use an existing client instead, send their `client_ref`.",
    )


OPEN_TARGET = "cases/OpenCase"
"""What an Idempotency-Key sent with an open is claimed for (commands: the case and the
command's name)."""


@router.post(
    "",
    status_code=201,
    response_model=CommandResult,
    summary="Open a case",
    description="With an `Idempotency-Key`, the case id is derived from the key: the same "
    "key with the same body answers the first result (the same case, 201), however often "
    "it is sent, and opens no second case; with another body 422 naming the header.",
    responses={
        403: {"description": "Your role may not open a case for this team"},
        409: {"description": "The rules refuse the case"},
    },
)
async def open_case(
    body: OpenCaseBody,
    request: Request,
    response: Response,
    caller: Caller,
    idempotency_key: IdempotencyKey = None,
) -> CommandResult:
    app = casework_of(request)
    try:
        assignee = await app.actor(body.assignee)
    except (LookupError, DirectoryError) as exc:
        raise invalid([FieldProblem(field="assignee", message=str(exc))]) from None
    if assignee.team is not None:  # (an assignee of no team: the rules name the field)
        try:
            check(caller.actor, Action.OPEN, team=assignee.team, assigned_worker=assignee.staff_id)
        except NotPermitted as exc:
            raise ApiProblem(403, N_("Not permitted"), str(exc), kind="not-permitted") from None
    review = await _duplicate_check(app, caller.actor, body)
    case_id = uuid.uuid4()
    if idempotency_key is not None:
        sent = body.model_dump(mode="json")
        try:
            update_id = await idempotency.claim(
                app.pool, caller.actor.staff_id, idempotency_key, OPEN_TARGET, sent
            )
        except idempotency.IdempotencyKeyReused as exc:
            raise invalid([FieldProblem(field="Idempotency-Key", message=str(exc))]) from None
        case_id = idempotency.created_id(update_id)
    cmd = c.OpenCase(
        actor=caller.actor,
        case_id=case_id,
        assignee=assignee,
        intake_review=review,
        **body.model_dump(exclude={"assignee", "confirm_new_client"}),
    )
    try:
        cases = await app.cases()
        result = await (cases.open(cmd) if idempotency_key is None else cases.open_again(cmd))
    except CaseCommandRejected as exc:
        raise ApiProblem(409, N_("Command refused"), str(exc), kind="command-refused") from None
    response.headers["Location"] = f"/api/v1/cases/{result.case_id}"
    return answer(result, str(result.case_id), response)


async def _duplicate_check(
    app: Casework, actor: Actor, body: OpenCaseBody
) -> c.IntakeReview | None:
    """Does the new client look like existing ones? Unless the caller confirmed a new
    client, 409 with the matches they may see (and how many more they may not); with
    the confirmation, what they saw is recorded with the opening."""
    from application.clients.use_cases import duplicates
    from cases.client_matching import Person

    matches = await duplicates(app, actor, Person.of(body.client), body.client_ref)
    if not matches.any:
        return None
    if not body.confirm_new_client:
        shown = ", ".join(f"{m.client_ref} ({m.reason})" for m in matches.visible) or _("none")
        detail = (
            _(
                "this client looks like existing clients: %(shown)s; %(hidden)s more on "
                "cases you may not see. Send their client_ref to use an existing client, "
                "or confirm_new_client: true",
                shown=shown,
                hidden=matches.hidden,
            )
            if matches.hidden
            else _(
                "this client looks like existing clients: %(shown)s. Send their client_ref "
                "to use an existing client, or confirm_new_client: true",
                shown=shown,
            )
        )
        raise ApiProblem(
            409,
            N_("Possible duplicate client"),
            detail,
            kind="possible-duplicate",
            candidates=[m.model_dump(mode="json") for m in matches.visible],
            hidden_matches=matches.hidden,
        )
    return c.IntakeReview(
        candidates=[m.client_ref for m in matches.visible][:50], hidden=matches.hidden
    )


class ReferBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    provider: Identifier
    service: Identifier
    goal: Identifier
    shared_fields: list[SharedField] = Field(default_factory=list)
    note: str = Field("", max_length=10_000)


@router.post(
    "/{case_id}/referrals",
    response_model=CommandResult,
    summary="Refer the client",
    responses=COMMAND_REFUSALS,
)
async def refer(
    case_id: str,
    body: ReferBody,
    request: Request,
    response: Response,
    caller: Caller,
    if_match: IfMatch = None,
    idempotency_key: IdempotencyKey = None,
) -> CommandResult:
    """Refer to a provider's service from the resource directory (dispatched to it)."""
    app = casework_of(request)
    version = expected_version(if_match)
    result = await case_commands.refer(
        app, caller.actor, case_id,
        provider=body.provider, service=body.service, goal=body.goal,
        shared_fields=body.shared_fields, note=body.note, expected_version=version,
        idempotency_key=idempotency_key, key_body=body.model_dump(mode="json"),
    )  # fmt: skip
    return answer(result, case_id, response, hint=False)


def _read_refused(case_id: str, exc: Exception) -> ApiProblem:
    if isinstance(exc, BreakGlassRefused):
        title = N_("Emergency access refused")
        return ApiProblem(403, title, str(exc), kind="break-glass-refused")
    if isinstance(exc, AccessDenied):
        return ApiProblem(403, N_("Not for your role"), str(exc), kind="access-denied")

    return not_found(case_id)


@router.get(
    "/{case_id}",
    summary="The case as it stands (recorded in the access log)",
    responses=READ_REFUSALS,
)
async def show_case(
    case_id: str,
    request: Request,
    response: Response,
    caller: Caller,
    reason: ReasonHeader = None,
    break_glass: BreakGlassHeader = None,
) -> dict[str, Any]:
    app = casework_of(request)
    try:
        uuid.UUID(case_id)
        state = await read_case(app, caller.actor, case_id, reason=reason, break_glass=break_glass)
    except ValueError:
        raise not_found(case_id) from None
    except (CaseNotVisible, AccessDenied, BreakGlassRefused) as exc:
        raise _read_refused(case_id, exc) from None
    response.headers["ETag"] = etag(int(state["stream_version"]))
    return state


@router.get(
    "/{case_id}/history",
    summary="Every event of the case: who did what, when",
    responses=READ_REFUSALS,
)
async def case_history(
    case_id: str,
    request: Request,
    caller: Caller,
    reason: ReasonHeader = None,
    break_glass: BreakGlassHeader = None,
) -> list[dict[str, Any]]:
    app = casework_of(request)
    try:
        uuid.UUID(case_id)
        return await read_history(
            app, caller.actor, case_id, reason=reason, break_glass=break_glass
        )
    except ValueError:
        raise not_found(case_id) from None
    except (CaseNotVisible, AccessDenied, BreakGlassRefused) as exc:
        raise _read_refused(case_id, exc) from None


@router.get(
    "/{case_id}/export",
    summary="A case file the auditor verifies alone (recorded in the access log)",
    description=(
        "The case's events as stored, each with its inclusion proof against the latest "
        "signed checkpoint, the checkpoint and its signature, and (unless `personal=false`) "
        "the personal fields decrypted with the client's data key included so they can be "
        "checked. One JSON document in its canonical form: save it byte for byte and check "
        "it with `casework verify-export FILE --public-key KEY` (no database needed). "
        "Supervisors of the case's team, managers and auditors."
    ),
    responses={**READ_REFUSALS, 200: {"content": {"application/json": {}}}},
    response_class=Response,
)
async def case_export(
    case_id: str,
    request: Request,
    caller: Caller,
    personal: bool = True,
    reason: ReasonHeader = None,
    break_glass: BreakGlassHeader = None,
) -> Response:
    app = casework_of(request)
    try:
        uuid.UUID(case_id)
    except ValueError:
        raise not_found(case_id) from None
    try:
        content = await export_case(
            app, caller.actor, case_id, personal=personal, reason=reason, break_glass=break_glass
        )
    except (CaseNotVisible, AccessDenied, BreakGlassRefused) as exc:
        raise _read_refused(case_id, exc) from None
    return Response(
        content,
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="case-{case_id}.json"'},
    )
