"""The operator commands speak the language of their environment too: `notary keygen`,
`keys generate` and `verify-export` (offline, no database) print their results and
refusals in Spanish under `LANG=es_ES.UTF-8`, in English under `LANG=C`; `--json`
stays as it is."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT


def casework(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`casework …` as an operator runs it, in an environment of `env`'s locale."""
    base = {
        k: v
        for k, v in os.environ.items()
        if k not in ("LANG", "LANGUAGE", "LC_ALL", "LC_MESSAGES", "CASEWORK_LANGUAGE")
    }
    base.pop("CASEWORK_TOKEN", None)
    # wide enough that Rich does not wrap a long temporary path
    variables = {**base, "CASEWORK_CONFIG_DIR": str(tmp_path / "config"), "COLUMNS": "500", **env}
    return subprocess.run(
        [sys.executable, "-c", "import starter; starter.main()", *args],
        cwd=ROOT,
        env=variables,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_new_signing_key_and_a_refusal_in_spanish(tmp_path: Path) -> None:
    key = tmp_path / "notary.key"
    done = casework(tmp_path, "notary", "keygen", str(key), LANG="es_ES.UTF-8")
    assert done.returncode == 0, done.stderr
    first, line = done.stdout.splitlines()
    assert first.startswith(f"{key}: clave "), done.stdout
    assert line.startswith(first.rsplit(" ", 1)[1] + " ")  # the public-key line, as it was

    again = casework(tmp_path, "notary", "keygen", str(key), LANG="es_ES.UTF-8")
    assert again.returncode == 1
    assert again.stderr.startswith(f"error: out: no se puede crear {key} ("), again.stderr
    english = casework(tmp_path, "notary", "keygen", str(key), LANG="C")
    assert english.stderr.startswith(f"error: out: cannot create {key} ("), english.stderr
    machine = casework(tmp_path, "notary", "keygen", str(key), "--json", LANG="es_ES.UTF-8")
    error = json.loads(machine.stdout)["error"]
    assert error["field"] == "out" and error["message"].startswith("out: no se puede crear")

    bad_id = casework(tmp_path, "keys", "generate", "--id", "a b", CASEWORK_LANGUAGE="es")
    assert bad_id.returncode == 1
    assert bad_id.stderr.startswith("error: --id: solo letras, dígitos y '-', 40 como máximo")


def test_a_case_file_that_does_not_verify_in_spanish(tmp_path: Path) -> None:
    made = casework(tmp_path, "notary", "keygen", str(tmp_path / "notary.key"), LANG="C")
    assert made.returncode == 0, made.stderr
    trusted = tmp_path / "notary.pub"
    trusted.write_text(made.stdout.splitlines()[1] + "\n", encoding="utf-8")
    case_file = tmp_path / "case.json"
    case_file.write_text("not a case file\n", encoding="utf-8")
    args = ("verify-export", str(case_file), "--public-key", str(trusted))

    spanish = casework(tmp_path, *args, LANG="es_ES.UTF-8")
    assert spanish.returncode == 1
    lines = spanish.stdout.splitlines()
    assert lines[0] == "NO verificado: 1 problema(s)", spanish.stdout
    assert "No demostrado:" in lines, spanish.stdout

    english = casework(tmp_path, *args, LANG="C")
    assert english.returncode == 1
    assert english.stdout.splitlines()[0] == "NOT verified: 1 problem(s)", english.stdout
    assert "Not proven:" in english.stdout.splitlines()

    machine = casework(tmp_path, *args, "--json", LANG="es_ES.UTF-8")
    assert machine.returncode == 1
    assert json.loads(machine.stdout)["ok"] is False
