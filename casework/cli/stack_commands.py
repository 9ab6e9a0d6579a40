"""Top-level commands that run things: up, demo, worker (filled by the stack work)."""

from __future__ import annotations

import typer

app = typer.Typer()
