"""`casework case …`: open a case and drive it through its lifecycle."""

from __future__ import annotations

import typer

case_app = typer.Typer(help="Open cases and drive them through the lifecycle.")
