"""Runs a Temporal worker for the case task queue.

`casework worker` runs it on its own; `casework up` runs it beside the embedded stack.
What the worker runs is assembled in application/runtime.py.
"""

from __future__ import annotations

import asyncio

from application.runtime import run_worker
from infrastructure.database import database_url
from infrastructure.keys import CODEC, MASTER, ORIGIN, require_keys
from infrastructure.logs import configure_logging
from infrastructure.settings import get_settings


def main() -> None:
    settings = get_settings()
    configure_logging(settings)
    require_keys(settings, (CODEC, MASTER, ORIGIN), "worker.py")
    asyncio.run(run_worker(settings, dsn=settings.engine_database_url or database_url(settings)))


if __name__ == "__main__":
    main()
