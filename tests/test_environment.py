"""A problem of the environment ends any command with one line and exit code 3.

A port another program holds, a server that does not answer, a data directory whose
keys are not the database's: the `casework` command, run as a person runs it, says
what happened and which setting to change, on one line of stderr, exits 3, and shows
no traceback (infrastructure/environment.py, casework/cli/output.py).

Every port here is one of the test's own, chosen outside the ephemeral range and free
(infrastructure/ports.py); the data directory is temporary. Nothing is started on the
shared PostgreSQL beyond the test's own database.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import stat
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from application.bootstrap import open_casework
from application.key_check import check_keys_match
from devtools.stack import simulator_url
from infrastructure.embedded_postgres import port_answers
from infrastructure.ports import ephemeral_ports, free_stable_port
from infrastructure.settings import Settings
from tests.events.test_personal_data import open_case
from tests.keys import deployment_keys

pytestmark = pytest.mark.timeout(240)

CASEWORK = Path(sys.executable).with_name("casework")
"""The `casework` command this virtualenv installed (pyproject's [project.scripts])."""

LOGS_NOTICE = "logs: "
"""`casework up` first says where its log lines go (devtools/commands.py `_logs_to_file`)."""


def clean_environment() -> dict[str, str]:
    """The test process's environment without any Casework or Temporal setting (a
    DATABASE_URL of the test run must not reach the command)."""
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CASEWORK_", "TEMPORAL_")) and k != "DATABASE_URL"
    }


def stack_environment(data_dir: Path) -> dict[str, str]:
    """A `casework up` of the test's own: its data directory, free ports outside the
    ephemeral range for everything it would start, the embedded PostgreSQL."""
    return {
        **clean_environment(),
        "CASEWORK_DATA_DIR": str(data_dir),
        "CASEWORK_EMBEDDED_PG_PORT": str(free_stable_port()),
        "TEMPORAL_ADDRESS": f"127.0.0.1:{free_stable_port()}",
        "CASEWORK_TEMPORAL_UI_PORT": str(free_stable_port()),
        "CASEWORK_HTTP_PORT": str(free_stable_port()),
    }


def port_of(env: dict[str, str], setting: str) -> int:
    return int(env[setting].rsplit(":", 1)[-1])


@contextmanager
def held(port: int, *, listening: bool) -> Iterator[socket.socket]:
    """Another program's socket on 127.0.0.1:`port`: listening, or only bound."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", port))
        if listening:
            sock.listen()
        yield sock


def casework(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """`casework ARGS` as a person runs it (in `cwd`, so no .env of the repository)."""
    return subprocess.run(
        [str(CASEWORK), *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=180,
    )


def the_one_line(done: subprocess.CompletedProcess[str]) -> str:
    """Exit code 3, no traceback, and stderr one error line (besides `up`'s notice of
    where its logs go): that line."""
    assert done.returncode == 3, (done.returncode, done.stdout[-2000:], done.stderr[-2000:])
    assert "Traceback" not in done.stdout + done.stderr, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if not line.startswith(LOGS_NOTICE)]
    assert len(errors) == 1, done.stderr
    assert errors[0].startswith("error: "), errors
    return errors[0]


# --- casework up: a port another program holds -------------------------------------


@pytest.mark.parametrize(
    ("setting", "listening", "what"),
    [
        ("CASEWORK_EMBEDDED_PG_PORT", True, "embedded PostgreSQL"),
        ("CASEWORK_EMBEDDED_PG_PORT", False, "embedded PostgreSQL"),
        ("TEMPORAL_ADDRESS", True, "Temporal dev server"),
        ("TEMPORAL_ADDRESS", False, "Temporal dev server"),
        ("CASEWORK_TEMPORAL_UI_PORT", True, "Temporal UI"),
        ("CASEWORK_HTTP_PORT", True, "HTTP API"),
    ],
    ids=["pg-listening", "pg-bound", "temporal-listening", "temporal-bound", "ui", "api"],
)
def test_up_names_the_setting_of_a_port_another_program_holds(
    setting: str, listening: bool, what: str, tmp_path: Path
) -> None:
    env = stack_environment(tmp_path / "data")
    port = port_of(env, setting)
    with held(port, listening=listening):
        done = casework("up", env=env, cwd=tmp_path)
    line = the_one_line(done)
    assert f"port {port}" in line and what in line, line
    assert f"set {setting}" in line, line
    # nothing was left running on the ports it would have used
    for other in ("CASEWORK_EMBEDDED_PG_PORT", "TEMPORAL_ADDRESS", "CASEWORK_TEMPORAL_UI_PORT"):
        assert not port_answers("127.0.0.1", port_of(env, other)), other


def test_up_with_json_answers_one_error_object_naming_the_setting(tmp_path: Path) -> None:
    env = stack_environment(tmp_path / "data")
    port = port_of(env, "CASEWORK_EMBEDDED_PG_PORT")
    with held(port, listening=True):
        done = casework("up", "--json", env=env, cwd=tmp_path)
    line = the_one_line(done)
    [answer] = [json.loads(text) for text in done.stdout.splitlines() if text.strip()]
    assert answer["ok"] is False
    assert answer["error"]["code"] == "environment"
    assert answer["error"]["field"] == "CASEWORK_EMBEDDED_PG_PORT"
    assert line == f"error: {answer['error']['message']}"


# --- casework up: a data directory whose keys are not the database's ----------------


def test_up_refuses_a_database_made_with_another_data_directorys_keys(
    database_url: str, tmp_path: Path
) -> None:
    """A case opened with the keys of data directory `first`; `casework up` on the same
    database with data directory `second` (keys made afresh) stops before starting
    Temporal, naming the master keys setting, instead of running on data it cannot read."""
    made_with = Settings(DATABASE_URL=database_url, CASEWORK_DATA_DIR=tmp_path / "first")

    async def make_data() -> None:
        async with open_casework(made_with, dsn=database_url) as app:
            await open_case(app.store)
        await check_keys_match(made_with, database_url)  # its own keys open it

    asyncio.run(make_data())
    env = {**stack_environment(tmp_path / "second"), "DATABASE_URL": database_url}
    done = casework("up", env=env, cwd=tmp_path)
    line = the_one_line(done)
    assert "CASEWORK_MASTER_KEYS" in line and "made with other keys" in line, line
    assert str(tmp_path / "second" / "keys" / "master.keys") in line, line
    assert not port_answers("127.0.0.1", port_of(env, "TEMPORAL_ADDRESS"))  # not started


# --- any command: a server that must answer does not ----------------------------------


@pytest.mark.parametrize(
    "args",
    [["verify", "--chains-only"], ["migrate"], ["notary", "checkpoint"], ["projections", "status"]],
    ids=["verify", "migrate", "notary", "projections"],
)
def test_a_command_names_the_database_setting_when_no_postgresql_answers(
    args: list[str], tmp_path: Path
) -> None:
    port = free_stable_port()  # nobody listens there
    env = {
        **clean_environment(),
        "DATABASE_URL": f"postgresql://postgres@127.0.0.1:{port}/casework",
        "CASEWORK_DATA_DIR": str(tmp_path / "data"),
        **deployment_keys(tmp_path / "keys"),
    }
    line = the_one_line(casework(*args, env=env, cwd=tmp_path))
    assert f"no PostgreSQL answers at 127.0.0.1:{port}" in line, line
    assert "set DATABASE_URL" in line, line


def test_verify_names_the_temporal_setting_when_temporal_does_not_answer(
    database_url: str, tmp_path: Path
) -> None:
    port = free_stable_port()
    env = {
        **clean_environment(),
        "DATABASE_URL": database_url,
        "CASEWORK_DATA_DIR": str(tmp_path / "data"),
        "TEMPORAL_ADDRESS": f"127.0.0.1:{port}",
        "CASEWORK_LOG_LEVEL": "ERROR",
        **deployment_keys(tmp_path / "keys"),
    }
    line = the_one_line(casework("verify", env=env, cwd=tmp_path))
    assert f"Temporal does not answer at 127.0.0.1:{port}" in line, line
    assert "TEMPORAL_ADDRESS" in line and "--chains-only" in line, line


def test_a_malformed_setting_is_named_without_its_value(tmp_path: Path) -> None:
    env = {**clean_environment(), "CASEWORK_EMBEDDED_PG_PORT": "fifteen-thousand"}
    line = the_one_line(casework("verify", env=env, cwd=tmp_path))
    assert "CASEWORK_EMBEDDED_PG_PORT is not valid" in line and "fifteen" not in line, line


# --- the ports Casework picks -------------------------------------------------------


def test_no_default_port_lies_in_the_ephemeral_range(tmp_path: Path) -> None:
    defaults = Settings.model_construct()  # the declared defaults, no environment
    linux = range(32768, 61000)
    picked = {
        "CASEWORK_EMBEDDED_PG_PORT": defaults.embedded_pg_port,
        "TEMPORAL_ADDRESS": defaults.temporal_port,
        "CASEWORK_TEMPORAL_UI_PORT": defaults.temporal_ui_port,
        "CASEWORK_HTTP_PORT": defaults.http_port,
        "CASEWORK_METRICS_PORT": defaults.metrics_port,
        "provider simulator": int(simulator_url(tmp_path / "data").rsplit(":", 1)[1]),
    }
    assert picked["CASEWORK_EMBEDDED_PG_PORT"] == 15432
    for name, port in picked.items():
        assert port not in linux and port not in ephemeral_ports(), (name, port)
    # the simulator's port is chosen once and kept
    assert simulator_url(tmp_path / "data").endswith(f":{picked['provider simulator']}")


# --- casework up: a server that will not start ----------------------------------------


def test_up_says_why_the_temporal_dev_server_did_not_start(
    database_url: str, tmp_path: Path
) -> None:
    """The data directory's Temporal database is not one (a disk that lost it, a file
    copied over it): the dev server exits while starting, and `casework up` says so with
    the server's own error, where its log is, and the setting to change."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "temporal.db").write_bytes(b"not an SQLite database " * 500)
    env = {**stack_environment(data_dir), "DATABASE_URL": database_url}
    done = casework("up", env=env, cwd=tmp_path)
    line = the_one_line(done)
    assert "the Temporal dev server exited with code" in line, line
    assert "file is not a database" in line, line
    assert f"see {data_dir.resolve() / 'temporal.log'}" in line, line
    assert "set CASEWORK_DATA_DIR" in line, line
    assert not port_answers("127.0.0.1", port_of(env, "TEMPORAL_ADDRESS"))


def test_up_says_why_the_embedded_postgresql_did_not_start(tmp_path: Path) -> None:
    """The data directory's PostgreSQL cluster is damaged (its files gone but its version
    marker): the server refuses to start, and `casework up` says so in one line with the
    server's own reason, where its log is, and the setting to change."""
    data_dir = tmp_path / "data"
    pgdata = data_dir / "postgres" / "pgdata"
    pgdata.mkdir(parents=True, mode=0o700)
    (pgdata / "PG_VERSION").write_text("16\n")
    env = stack_environment(data_dir)
    done = casework("up", env=env, cwd=tmp_path)
    line = the_one_line(done)
    port = port_of(env, "CASEWORK_EMBEDDED_PG_PORT")
    assert f"the embedded PostgreSQL in {pgdata.resolve()} did not start on port {port}" in line
    assert f"see {pgdata.parent.resolve() / 'postgres.log'}" in line, line
    assert "set DATABASE_URL" in line, line
    assert not port_answers("127.0.0.1", port)


# --- keys: a process outside the embedded stack never makes its own ---------------------


@pytest.mark.parametrize(
    ("args", "settings"),
    [
        (["worker"], ["CASEWORK_CODEC_KEYS", "CASEWORK_MASTER_KEYS", "CASEWORK_ORIGIN_KEYS"]),
        (["serve"], ["CASEWORK_CODEC_KEYS", "CASEWORK_MASTER_KEYS", "CASEWORK_ORIGIN_KEYS"]),
        (["setup"], ["CASEWORK_CODEC_KEYS", "CASEWORK_MASTER_KEYS", "CASEWORK_ORIGIN_KEYS"]),
        (["notary"], ["CASEWORK_NOTARY_KEY_FILE"]),
        (["verify"], ["CASEWORK_CODEC_KEYS", "CASEWORK_MASTER_KEYS", "CASEWORK_ORIGIN_KEYS"]),
        (["codec-server"], ["CASEWORK_CODEC_KEYS"]),
    ],
    ids=["worker", "serve", "setup", "notary", "verify", "codec-server"],
)
def test_a_process_without_keys_refuses_to_start_naming_each_setting(
    args: list[str], settings: list[str], tmp_path: Path
) -> None:
    env = {
        **clean_environment(),
        "DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/never-reached",
        "CASEWORK_DATA_DIR": str(tmp_path / "data"),
    }
    done = casework(*args, env=env, cwd=tmp_path)
    assert done.returncode == 3, done.stderr
    line = the_one_line(done)
    for setting in settings:
        assert f"{setting} (or {setting}_FILE)" in line or setting in line, line
    assert "casework keys generate" in line, line
    assert not (tmp_path / "data" / "keys").exists()  # nothing invented


def test_keys_from_files_as_docker_secrets(tmp_path: Path) -> None:
    """`casework keys generate --dir` writes the secrets; the _FILE settings read them; a
    file that cannot be read, or a key set twice, is one line naming the setting."""
    secrets = tmp_path / "secrets"
    made = casework(
        "keys", "generate", "--dir", str(secrets), "--json", env=clean_environment(), cwd=tmp_path
    )
    assert made.returncode == 0, made.stderr
    files = json.loads(made.stdout)["settings"]
    assert set(files) == {
        "CASEWORK_CODEC_KEYS_FILE", "CASEWORK_MASTER_KEYS_FILE", "CASEWORK_ORIGIN_KEYS_FILE",
        "CASEWORK_NOTARY_KEY_FILE", "CASEWORK_NOTARY_PUBLIC_KEYS",
    }  # fmt: skip
    for path in files.values():
        assert Path(path).exists()
    assert stat.S_IMODE(Path(files["CASEWORK_MASTER_KEYS_FILE"]).stat().st_mode) == 0o600
    again = casework(
        "keys", "generate", "--dir", str(secrets), env=clean_environment(), cwd=tmp_path
    )
    assert again.returncode != 0 and "already exist" in again.stderr  # never overwritten

    port = free_stable_port()  # nobody listens: the keys are read, then the database fails
    base = {
        **clean_environment(),
        "DATABASE_URL": f"postgresql://postgres@127.0.0.1:{port}/casework",
        "CASEWORK_DATA_DIR": str(tmp_path / "data"),
    }
    line = the_one_line(casework("verify", env={**base, **files}, cwd=tmp_path))
    assert f"no PostgreSQL answers at 127.0.0.1:{port}" in line, line

    missing = {**files, "CASEWORK_MASTER_KEYS_FILE": str(tmp_path / "nowhere.keys")}
    line = the_one_line(casework("verify", env={**base, **missing}, cwd=tmp_path))
    assert "CASEWORK_MASTER_KEYS_FILE" in line and "cannot be read" in line, line
    printed = casework("keys", "generate", "--json", env=clean_environment(), cwd=tmp_path)
    twice = {**files, **json.loads(printed.stdout)["settings"]}
    line = the_one_line(casework("verify", env={**base, **twice}, cwd=tmp_path))
    assert "not both" in line, line
    assert not (tmp_path / "data" / "keys").exists()


def test_ready_names_the_server_that_is_down(database_url: str, tmp_path: Path) -> None:
    """`casework ready` (the containers' health check): exit 1 naming the dependency that
    does not answer, 0 when every one it needs does; it needs no key."""
    port = free_stable_port()  # nobody listens there
    env = {
        **clean_environment(),
        "DATABASE_URL": database_url,
        "TEMPORAL_ADDRESS": f"127.0.0.1:{port}",
        "CASEWORK_DATA_DIR": str(tmp_path / "data"),
    }
    down = casework("ready", "--json", env=env, cwd=tmp_path)
    assert down.returncode == 1, down.stderr
    answer = json.loads(down.stdout)
    assert answer["ready"] is False and answer["checks"]["postgresql"] == "ok"
    assert answer["checks"]["temporal"].startswith("unavailable"), answer
    up = casework("ready", "--needs", "postgresql", "--json", env=env, cwd=tmp_path)
    assert up.returncode == 0 and json.loads(up.stdout)["ready"] is True, up.stderr
    gone = {**env, "DATABASE_URL": f"postgresql://postgres@127.0.0.1:{port}/casework"}
    refused = casework("ready", "--needs", "postgresql", env=gone, cwd=tmp_path)
    assert refused.returncode == 1 and "not ready: postgresql unavailable" in refused.stdout
    assert "Traceback" not in refused.stdout + refused.stderr
