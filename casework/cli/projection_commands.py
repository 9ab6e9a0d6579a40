"""The projector and the read-model queries (filled by the projections work)."""

from __future__ import annotations

import typer

app = typer.Typer()
projections_app = typer.Typer(help="Read models: status and rebuild.")
