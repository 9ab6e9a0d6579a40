"""Fault tests: each test starts and breaks a stack of its own (tests/faults/procs.py).

Every test reports its figures (commands sent, accepted, rejected, events written,
faults injected, invariant violations) through `fault_report`; they are printed in a
"fault tests" section at the end of the pytest run, whatever the verbosity.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

REPORTS: list[tuple[str, dict[str, Any]]] = []


class FaultReport:
    """The figures of one test, printed in the terminal summary."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.figures: dict[str, Any] = {}

    def record(self, figures: dict[str, Any]) -> None:
        self.figures.update(figures)


FIGURES = "fault figures"
"""The key of a test's figures in its report's user properties: they travel with the
report, so the section is printed also when pytest-xdist ran the test in a worker."""


@pytest.fixture
def fault_report(request: pytest.FixtureRequest) -> Iterator[FaultReport]:
    report = FaultReport(request.node.name)
    yield report
    if report.figures:
        request.node.user_properties.append((FIGURES, report.figures))


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when != "teardown":
        return
    for key, figures in report.user_properties:
        if key == FIGURES and isinstance(figures, dict):
            REPORTS.append((report.nodeid.rsplit("::", 1)[-1], figures))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not REPORTS:
        return
    terminalreporter.section("fault tests")
    for name, figures in REPORTS:
        terminalreporter.write_line(name)
        for key, value in figures.items():
            terminalreporter.write_line(f"    {key:<24} {value}")
