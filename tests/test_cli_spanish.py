"""The command line speaks the language of its environment (`CASEWORK_LANGUAGE`, else
`LANGUAGE`/`LC_ALL`/`LC_MESSAGES`/`LANG`): refusals, results and table headers in
Spanish under `LANG=es_ES.UTF-8`, English under `LANG=C`; `--json` stays as it is."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli_session import served_cli
from tests.conftest import ROOT


def casework(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`casework …` as a person runs it, in an environment of `env`'s locale."""
    base = {
        k: v
        for k, v in os.environ.items()
        if k not in ("LANG", "LANGUAGE", "LC_ALL", "LC_MESSAGES", "CASEWORK_LANGUAGE")
    }
    base.pop("CASEWORK_TOKEN", None)
    variables = {
        **base,
        "CASEWORK_CONFIG_DIR": str(tmp_path / "config"),
        "CASEWORK_API_URL": "http://127.0.0.1:9",
        **env,
    }
    return subprocess.run(
        [sys.executable, "-c", "import starter; starter.main()", *args],
        cwd=ROOT,
        env=variables,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_refusal_naming_the_field_is_in_spanish(tmp_path: Path) -> None:
    args = ("case", "action", "add", "c1", "--goal", "g", "--description", "d", "--due", "x")
    for env in ({"LANG": "es_ES.UTF-8"}, {"CASEWORK_LANGUAGE": "es", "LANG": "C"}):
        done = casework(tmp_path, *args, **env)
        assert done.returncode == 1, done.stderr
        assert done.stderr.startswith(
            "error: --due: 'x' no es AAAA-MM-DD (el final de ese día, UTC) ni una hora ISO"
        ), done.stderr
    english = casework(tmp_path, *args, LANG="C")
    assert english.stderr.startswith(
        "error: --due: 'x' is not YYYY-MM-DD (the end of that day, UTC) or an ISO time"
    ), english.stderr


def test_not_signed_in_and_an_unreachable_api_in_spanish(tmp_path: Path) -> None:
    done = casework(tmp_path, "case", "show", "c1", "--json", LANG="es_ES.UTF-8")
    assert done.returncode == 4
    error = json.loads(done.stdout)["error"]
    assert error["code"] == "not-signed-in"  # machine-readable: as it was
    assert error["message"].startswith("no ha iniciado sesión en http://127.0.0.1:9")
    down = casework(tmp_path, "case", "show", "c1", LANG="es_ES.UTF-8", CASEWORK_TOKEN="t")
    assert down.returncode == 3
    assert "no se puede acceder a la API de Casework" in down.stderr, down.stderr
    assert "CASEWORK_API_URL" in down.stderr


def test_a_result_in_spanish_and_in_english(tmp_path: Path) -> None:
    spanish = casework(tmp_path, "logout", LANG="es_ES.UTF-8")
    assert spanish.returncode == 0 and spanish.stdout == "no tenía una sesión iniciada aquí\n"
    english = casework(tmp_path, "logout", LANG="C")
    assert english.returncode == 0 and english.stdout == "you were not signed in here\n"
    machine = casework(tmp_path, "logout", "--json", LANG="es_ES.UTF-8")
    assert json.loads(machine.stdout) == {"ok": True, "signed_out": False}


async def test_results_tables_and_refusals_against_the_api(
    database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    async with served_cli(database_url, monkeypatch, tmp_path) as cli:
        await cli.bootstrap_admin("ada", "Ada Admin")
        monkeypatch.setenv("LANG", "es_ES.UTF-8")
        for name in ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "CASEWORK_LANGUAGE"):
            monkeypatch.delenv(name, raising=False)

        code, out, err = await cli.run("staff", "add-team", "north", "--name", "North", as_="ada")
        assert code == 0, err
        assert out.startswith("equipo añadido: north North"), out

        code, out, err = await cli.run("staff", "list", as_="ada")
        assert code == 0, err
        assert "id del personal" in out and "nombre" in out and "equipos: north" in out, out

        code, out, err = await cli.run("staff", "list", "--team", "nowhere", as_="ada")
        assert code == 1
        assert "no hay ningún equipo 'nowhere' en el directorio de personal" in err, err

        code, out, err = await cli.run("token", "list", as_="ada")
        assert code == 0, err
        assert "último uso" in out and "revocado" in out, out

        monkeypatch.setenv("LANG", "C")
        code, out, err = await cli.run("staff", "list", as_="ada")
        assert code == 0, err
        assert "staff id" in out and "teams: north" in out, out
