"""Output shared by every command: `--json` for machines, Rich for people."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable, Coroutine
from typing import Any, NoReturn, TypeVar

import typer
from rich.console import Console

console = Console()
err_console = Console(stderr=True)

T = TypeVar("T")


def emit(data: Any, as_json: bool, render: Callable[[Any], None] | None = None) -> None:
    """Print `data` as JSON, or hand it to `render` for people."""
    if as_json or render is None:
        sys.stdout.write(json.dumps(data, default=str, ensure_ascii=False) + "\n")
    else:
        render(data)


def fail(message: str, as_json: bool = False, code: int = 1) -> NoReturn:
    """Reject a command: the reason on stderr (and as JSON on stdout with --json)."""
    if as_json:
        sys.stdout.write(json.dumps({"ok": False, "error": message}) + "\n")
    err_console.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(code)


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)
