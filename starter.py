"""The `casework` command line: opens cases and drives them, and runs the stack.

Each area lives in a module of casework/cli/; this module assembles them.
"""

from __future__ import annotations

import typer

from casework.cli import (
    access_commands,
    case_commands,
    client_commands,
    directory_commands,
    operator_commands,
    policy_commands,
    projection_commands,
    stack_commands,
    store_commands,
)
from infrastructure.logs import configure_logging
from infrastructure.settings import get_settings

app = typer.Typer(
    name="casework",
    help="Casework: event-sourced case management for human-services agencies.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
for _module_app in (
    stack_commands.app,
    store_commands.app,
    projection_commands.app,
    operator_commands.app,
    access_commands.app,
):
    app.registered_commands.extend(_module_app.registered_commands)
app.add_typer(case_commands.case_app, name="case")
app.add_typer(directory_commands.staff_app, name="staff")
app.add_typer(directory_commands.provider_app, name="provider")
app.add_typer(projection_commands.projections_app, name="projections")
app.add_typer(policy_commands.policy_app, name="policy")
app.add_typer(client_commands.client_app, name="client")


@app.callback()
def _setup(ctx: typer.Context) -> None:
    """Settings are read once here and handed to every command through the context."""
    settings = get_settings()
    configure_logging(settings)
    ctx.obj = settings


def main() -> None:
    app()


if __name__ == "__main__":
    main()
