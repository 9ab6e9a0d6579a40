"""The worker writes the workflow module's bytecode when Python would not.

The sandbox runs `workflows/case/` afresh for every workflow run; without bytecode
on disk (PYTHONDONTWRITEBYTECODE and an editable install) each run compiled it from
source, a quarter of the worker's CPU while cases opened (docs/performance.md)."""

from __future__ import annotations

import importlib.machinery
import importlib.util
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
    source = Path(workflows.__file__).parent / "case" / "workflow.py"
    cached = Path(importlib.util.cache_from_source(str(source)))
    assert cached.is_relative_to(tmp_path) and cached.exists()
    # What an import of the module now does: read that bytecode, compile nothing.
    loader = importlib.machinery.SourceFileLoader("workflows.case.workflow", str(source))

    def no_compiling(*_: object, **__: object) -> None:
        raise AssertionError("compiled from source")

    monkeypatch.setattr(loader, "source_to_code", no_compiling)
    assert loader.get_code("workflows.case.workflow") is not None


def test_nothing_is_written_when_python_writes_it_itself(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    monkeypatch.setattr(sys, "pycache_prefix", str(tmp_path))
    assert cache_workflow_bytecode()
    assert list(tmp_path.iterdir()) == []
