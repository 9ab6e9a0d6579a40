"""The worker writes the workflow module's bytecode when Python would not.

The sandbox runs `workflows/case.py` afresh for every workflow run; without bytecode
on disk (PYTHONDONTWRITEBYTECODE and an editable install) each run compiled it from
source, a quarter of the worker's CPU while cases opened (docs/performance.md)."""

from __future__ import annotations

import importlib.util
import struct
import sys
from pathlib import Path

import pytest

import workflows
from application.runtime import cache_workflow_bytecode


def test_the_workflow_modules_bytecode_is_written_where_imports_read_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    monkeypatch.setattr(sys, "pycache_prefix", str(tmp_path))  # leave the tree alone
    assert cache_workflow_bytecode()
    source = Path(workflows.__file__).parent / "case.py"
    cached = Path(importlib.util.cache_from_source(str(source)))
    assert cached.is_relative_to(tmp_path) and cached.exists()
    # Valid for this source: the import system checks these fields before using it.
    magic, flags, mtime, size = struct.unpack("<4sIII", cached.read_bytes()[:16])
    stat = source.stat()
    assert magic == importlib.util.MAGIC_NUMBER and flags == 0
    assert (mtime, size) == (int(stat.st_mtime) & 0xFFFFFFFF, stat.st_size & 0xFFFFFFFF)


def test_nothing_is_written_when_python_writes_it_itself(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    monkeypatch.setattr(sys, "pycache_prefix", str(tmp_path))
    assert cache_workflow_bytecode()
    assert list(tmp_path.iterdir()) == []
