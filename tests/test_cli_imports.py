"""The staff commands are clients of the API, and import like one (issue 29).

Building `casework` (every command, with its options) and running a staff command must
not load the server side: the application, the workflows and activities, the read
models, the API, Temporal's SDK, asyncpg. Those cost seconds of every command; the
operator commands import them when they run. No timings here: bench/cli.py measures.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from enum import StrEnum
from pathlib import Path

import pytest

from casework.cli import choices

ROOT = Path(__file__).resolve().parent.parent

SERVER_SIDE = (
    "temporalio",
    "asyncpg",
    "fastapi",
    "application",
    "projections",
    "workflows",
    "activities",
    "casework.api",
    "casework.console",
    "casework.codec_server",
    "devtools.stack",
)

# In a fresh interpreter: build the whole command line (as `--help` does), then run two
# staff commands as far as they go without a session (to "not signed in", exit 4: no
# request is sent), through the `casework` callback (settings, logging) and the commands'
# bodies. Prints the exit codes and the server-side modules then loaded.
CHILD = """
import json, sys
import typer
import starter

typer.main.get_command(starter.app)
codes = []
for args in (["whoami"], ["case", "show", "case-1"], ["case", "show", "case-1", "--json"]):
    try:
        codes.append(starter.app(args, standalone_mode=False))
    except SystemExit as done:
        codes.append(done.code)
loaded = sorted(
    name for name in sys.modules
    if any(name == top or name.startswith(top + ".") for top in json.loads(sys.argv[1]))
)
print(json.dumps({"codes": codes, "loaded": loaded}))
"""


def test_staff_commands_do_not_load_the_server_side(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CASEWORK_")}
    env.update(
        CASEWORK_CONFIG_DIR=str(tmp_path / "nobody"),  # nobody signed in here
        CASEWORK_API_URL="http://127.0.0.1:9",  # never reached: no session, no request
        CASEWORK_LOG_LEVEL="WARNING",
    )
    done = subprocess.run(
        [sys.executable, "-c", CHILD, json.dumps(SERVER_SIDE)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    assert answer["codes"] == [4, 4, 4], (answer, done.stderr[-3000:])
    assert "not signed in" in done.stderr
    assert answer["loaded"] == [], (
        "building `casework` or running a staff command imported the server side: "
        f"{answer['loaded']} (import it inside the operator command that needs it)"
    )


def _originals() -> list[tuple[type[StrEnum], type[StrEnum]]]:
    from application.readiness import Dependency
    from events import directory_events, vocabulary

    pairs: list[tuple[type[StrEnum], type[StrEnum]]] = [(choices.Dependency, Dependency)]
    for name, choice in vars(choices).items():
        if isinstance(choice, type) and issubclass(choice, StrEnum) and choice is not StrEnum:
            for module in (vocabulary, directory_events):
                if hasattr(module, name):
                    pairs.append((choice, getattr(module, name)))
    return pairs


def test_the_vocabulary_choices_are_the_vocabulary_enums() -> None:
    """No copy: the options take the very enums the events use (events/choices.py)."""
    for choice, original in _originals():
        if choice is not choices.Dependency:
            assert choice is original, choice


@pytest.mark.parametrize(("copy", "original"), _originals(), ids=lambda e: e.__qualname__)
def test_each_choice_is_its_enum(copy: type[StrEnum], original: type[StrEnum]) -> None:
    """Same members, same values, same order (the order of the choices in `--help`)."""
    assert [(m.name, m.value) for m in copy] == [(m.name, m.value) for m in original]


def test_every_choice_has_its_original() -> None:
    copies = {
        value
        for value in vars(choices).values()
        if isinstance(value, type) and issubclass(value, StrEnum) and value is not StrEnum
    }
    assert copies == {copy for copy, _ in _originals()}


def test_the_pg_bin_option_is_the_one_backup_names() -> None:
    from application.backup import PG_BIN_OPTION

    assert choices.PG_BIN_OPTION == PG_BIN_OPTION
