"""The client's language through the HTTP API (cases/features/client_language.py): given
at the opening, changed with `record_client_language`, a bad tag refused naming the
field with nothing written, only by those who work the case."""

from __future__ import annotations

from typing import Any

from tests.api.conftest import Api, open_case_body, problem


async def test_open_with_a_language_change_it_refuse_a_bad_tag(api: Api) -> None:
    alice = await api.sign_in("alice")
    body: dict[str, Any] = open_case_body("CL-LANG-1")
    body["client"] = {**body["client"], "preferred_language": "pt_br", "interpreter_needed": True}
    opened = await api.http.post("/api/v1/cases", json=body, headers=alice)
    assert opened.status_code == 201, opened.text
    case_id, etag = opened.json()["case_id"], opened.headers["ETag"]
    client = (await api.http.get(f"/api/v1/cases/{case_id}", headers=alice)).json()["client"]
    assert (client["preferred_language"], client["interpreter_needed"]) == ("pt-BR", True)

    # Not a language tag, at the opening: refused naming the field, no case opened.
    bad = {**body, "client_ref": "CL-LANG-2"}
    bad["client"] = {**body["client"], "preferred_language": "Portuguese"}
    found = problem(await api.http.post("/api/v1/cases", json=bad, headers=alice), 422)
    assert any("preferred_language" in e["field"] for e in found["errors"]), found

    path = f"/api/v1/cases/{case_id}/commands/record_client_language"
    before = await api.app.store.stream_version(f"case-{case_id}")
    for spoiled, field in (
        ({"preferred_language": "español", "interpreter_needed": False}, "preferred_language"),
        ({"preferred_language": "es-", "interpreter_needed": False}, "preferred_language"),
        ({"preferred_language": "es", "interpreter_needed": "perhaps"}, "interpreter_needed"),
        ({"preferred_language": "es", "admin": True}, "admin"),
    ):
        found = problem(
            await api.http.post(path, json=spoiled, headers={**alice, "If-Match": etag}), 422
        )
        assert field in [e["field"] for e in found["errors"]], found
    assert await api.app.store.stream_version(f"case-{case_id}") == before

    # Another team's worker may not; the case's worker may.
    erin = await api.sign_in("erin")
    change = {"preferred_language": "es", "interpreter_needed": False}
    problem(await api.http.post(path, json=change, headers={**erin, "If-Match": etag}), 404)
    done = await api.http.post(path, json=change, headers={**alice, "If-Match": etag})
    assert done.status_code == 200, done.text
    assert done.json()["events"] == ["ClientLanguageRecorded"]
    client = (await api.http.get(f"/api/v1/cases/{case_id}", headers=alice)).json()["client"]
    assert (client["preferred_language"], client["interpreter_needed"]) == ("es", False)

    # The same again changes nothing: refused, naming the field.
    again = problem(
        await api.http.post(path, json=change, headers={**alice, "If-Match": done.headers["ETag"]}),
        409,
    )
    assert "preferred_language" in again["detail"], again
    history = (await api.http.get(f"/api/v1/cases/{case_id}/history", headers=alice)).json()
    assert [row["type"] for row in history].count("ClientLanguageRecorded") == 1
