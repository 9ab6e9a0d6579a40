"""Fixtures of the security tests (the time-skipping server comes from tests/conftest.py)."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
import structlog

__all__ = ["logging_restored"]


@pytest.fixture
def logging_restored() -> Iterator[None]:
    """configure_logging changes process-wide state: put it back afterwards."""
    saved = structlog.get_config()
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        yield
    finally:
        structlog.configure(**saved)
        for handler in list(root.handlers):
            if handler not in handlers:
                root.removeHandler(handler)
        root.setLevel(level)
