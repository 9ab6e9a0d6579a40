"""The `casework` command line: opens cases and drives them, and runs the stack.

Each area lives in a module of casework/cli/; this module assembles them.
"""

from __future__ import annotations

import typer

from casework.cli import store_commands
from casework.logs import configure_logging
from casework.settings import get_settings

app = typer.Typer(
    name="casework",
    help="Casework: event-sourced case management for human-services agencies.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
app.registered_commands.extend(store_commands.app.registered_commands)


@app.callback()
def _setup() -> None:
    configure_logging(get_settings())


def main() -> None:
    app()


if __name__ == "__main__":
    main()
