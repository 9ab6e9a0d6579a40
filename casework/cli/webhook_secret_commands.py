"""`casework provider webhook-secret …`: a provider's Standard Webhooks signing secrets.

Clients of the API (casework/api/provider_webhooks.py), as an admin signed in with
`casework login`. A new secret is printed once: give it to the provider's system now,
Casework never shows it again.
"""

from __future__ import annotations

from typing import Any

import typer
from rich.markup import escape

from casework.cli.api_client import api_path
from casework.cli.context import JsonOption, staff_call
from casework.cli.output import console, emit
from casework.i18n import _

webhook_secret_app = typer.Typer(
    help="A provider's webhook signing secrets (Standard Webhooks): rotate, revoke, list."
)


def _shown_once(data: dict[str, Any]) -> None:
    console.print(
        _(
            "New webhook secret %(secret_id)s of provider %(provider_id)s:",
            secret_id=data["secret_id"],
            provider_id=data["provider_id"],
        ),
        highlight=False,
    )
    console.print(escape(data["secret"]), highlight=False, soft_wrap=True)
    if data.get("retiring"):
        console.print(
            _(
                "The previous secrets (%(ids)s) stay valid until %(at)s.",
                ids=", ".join(data["retiring"]),
                at=data["retires_at"],
            ),
            highlight=False,
        )
    console.print(
        _("Store it now: it is shown this once and cannot be read again."), highlight=False
    )


@webhook_secret_app.command("rotate")
def rotate_command(
    provider_id: str = typer.Argument(..., help="The provider."),
    overlap_hours: float = typer.Option(
        24.0, "--overlap-hours", help="How long the previous secrets stay valid (0 to 720)."
    ),
    as_json: bool = JsonOption,
) -> None:
    """A new signing secret for the provider (its first, or replacing the live ones)."""
    data = staff_call(
        "POST",
        api_path("/api/v1/providers/{}/webhook-secret:rotate", provider_id),
        as_json=as_json,
        body={"overlap_hours": overlap_hours},
    )
    emit({"ok": True, **data}, as_json, lambda _d: _shown_once(data))


@webhook_secret_app.command("revoke")
def revoke_command(
    provider_id: str = typer.Argument(..., help="The provider."),
    as_json: bool = JsonOption,
) -> None:
    """Revoke every signing secret of the provider at once (a leaked secret)."""
    data = staff_call(
        "POST",
        api_path("/api/v1/providers/{}/webhook-secret:revoke", provider_id),
        as_json=as_json,
    )
    emit(
        {"ok": True, **data},
        as_json,
        lambda _d: console.print(
            _(
                "Revoked webhook secrets of %(provider_id)s: %(ids)s",
                provider_id=provider_id,
                ids=", ".join(data["revoked"]),
            ),
            highlight=False,
        ),
    )


@webhook_secret_app.command("list")
def list_command(
    provider_id: str = typer.Argument(..., help="The provider."),
    as_json: bool = JsonOption,
) -> None:
    """The provider's signing secrets, without their values."""
    rows = staff_call(
        "GET", api_path("/api/v1/providers/{}/webhook-secret", provider_id), as_json=as_json
    )

    def render(_d: Any) -> None:
        if not rows:
            console.print(_("No webhook secret."), highlight=False)
        for row in rows:
            state = _("live") if row["live"] else _("not live")
            console.print(
                f"{row['secret_id']}  {row['created_at']}  {state}"
                + (f"  → {row['retires_at']}" if row["retires_at"] else ""),
                highlight=False,
            )

    emit({"ok": True, "secrets": rows}, as_json, render)
