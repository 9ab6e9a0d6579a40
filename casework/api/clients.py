"""`/api/v1/clients/{client_ref}/forget` and `/api/v1/client-keys/rewrap`: a client's
personal data and the keys that protect it (the CLI's `client forget`, `client rewrap`).

Forgetting a client destroys their data key: every personal field of every event of
theirs reads as erased from then on, and a `ClientForgotten` event (with the reason) is
recorded on each of their cases. It cannot be undone, so the body must repeat the
client's reference in `confirm`; anything else answers 422 naming `confirm`, and
nothing is destroyed. Run again, it destroys nothing more (`destroyed_now: false`) and
records `ClientForgotten` only where it is missing.

Only admins forget clients or rewrap keys (`application.forget`): anyone else gets 403
and nothing changes. A client no case was ever opened for answers 404.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, ConfigDict, Field

from application import forget
from application.forget import ForgetResult, NotAdmin
from casework.api.auth import Caller, casework_of
from casework.api.problems import ApiProblem, FieldProblem, invalid
from casework.i18n import N_, _
from events.fields import Identifier, ShortText
from events.keys import UnknownClient

router = APIRouter(prefix="/api/v1", tags=["clients"])

ClientRef = Annotated[Identifier, Path(description="The client's reference (as on their cases).")]

ADMIN_ONLY: dict[int | str, dict[str, str]] = {
    403: {"description": "Only an admin may"},
}


class ForgetClient(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: ShortText = Field(description="Why (recorded in ClientForgotten on each case).")
    confirm: str = Field(
        max_length=100,
        description="The client's reference again: forgetting cannot be undone.",
    )


class Rewrapped(BaseModel):
    rewrapped: int = Field(description="Data keys re-wrapped with the current master key.")


def _not_admin(exc: NotAdmin) -> ApiProblem:
    return ApiProblem(403, N_("Not permitted"), str(exc), kind="not-permitted")


@router.post(
    "/clients/{client_ref}/forget",
    response_model=ForgetResult,
    summary="Erase a client's personal data everywhere, irreversibly (admins)",
    responses={
        **ADMIN_ONLY,
        404: {"description": "No case was ever opened for this client"},
        422: {"description": "A field is invalid, or `confirm` is not the client's reference"},
    },
)
async def forget_client(
    client_ref: ClientRef, body: ForgetClient, request: Request, caller: Caller
) -> ForgetResult:
    if body.confirm != client_ref:
        raise invalid(
            [
                FieldProblem(
                    field="confirm",
                    message=_(
                        "must repeat the client's reference (%(client_ref)s): "
                        "forgetting a client cannot be undone",
                        client_ref=client_ref,
                    ),
                )
            ]
        )
    app = casework_of(request)
    try:
        return await forget.forget(
            app.store, caller.actor, client_ref, body.reason, await app.cases()
        )
    except NotAdmin as exc:
        raise _not_admin(exc) from None
    except UnknownClient as exc:
        raise ApiProblem(404, N_("No such client"), str(exc), kind="client-not-found") from None


@router.post(
    "/client-keys/rewrap",
    response_model=Rewrapped,
    summary="Re-wrap every client data key with the current master key (admins)",
    responses=ADMIN_ONLY,
)
async def rewrap(request: Request, caller: Caller) -> Rewrapped:
    try:
        count = await forget.rewrap(casework_of(request).store, caller.actor)
    except NotAdmin as exc:
        raise _not_admin(exc) from None
    return Rewrapped(rewrapped=count)
