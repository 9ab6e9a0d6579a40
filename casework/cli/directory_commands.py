"""`casework staff …` and `casework provider …`: the staff and resource directories."""

from __future__ import annotations

import typer

staff_app = typer.Typer(help="The staff directory: people, roles and teams.")
provider_app = typer.Typer(help="The resource directory: providers and their services.")
