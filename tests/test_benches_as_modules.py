"""Every benchmark at `--smoke` size, run as a module (`python -m bench.NAME`): the other
half of tests/test_benches.py, in a file of its own so the two halves run on two test
workers."""

from __future__ import annotations

import pytest

from tests.test_benches import BENCHES, MODULE_FORMS, check, run


@pytest.mark.timeout(600)
@pytest.mark.parametrize(("invocation", "name"), MODULE_FORMS)
async def test_bench_smoke_prints_its_figures_as_a_module(
    invocation: list[str], name: str, database_url: str
) -> None:
    finished = await run([*invocation, "--smoke", "--json"], BENCHES[name].timeout, database_url)
    check(name, finished.figures())
