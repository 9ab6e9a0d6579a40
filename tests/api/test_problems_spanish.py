"""The API's problem documents in the request's language (issue 33): with
`Accept-Language: es` every refusal a caseworker meets reads in Spanish (title, detail
and the fields' messages; the fields keep their API names); without the header, or in a
language Casework does not speak, in English as always. `Content-Language` says which."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from casework import i18n
from casework.api.problems import speak, validation_message
from tests.api.conftest import Api, Case, open_case_body, problem
from tests.projections.conftest import catch_up

ES = {"Accept-Language": "es"}
FR = {"Accept-Language": "fr-FR, fr;q=0.9"}


def spoken(answer: httpx.Response, status: int, language: str) -> dict[str, Any]:
    body = problem(answer, status)
    assert answer.headers["Content-Language"] == language
    return body


async def test_refusals_in_the_request_language(api: Api, database_url: str) -> None:
    http = api.http

    # 401: not signed in, and a token nobody issued.
    for headers, language in (({}, "en"), (FR, "en"), (ES, "es")):
        body = spoken(await http.get("/api/v1/me", headers=headers), 401, language)
        if language == "es":
            assert body["title"] == "Sesión no iniciada"
            assert body["detail"] == "envíe Authorization: Bearer <token> (inicie sesión primero)"
        else:
            assert body["title"] == "Not signed in"
            assert body["detail"] == "send Authorization: Bearer <token> (sign in first)"
    bogus = {"Authorization": "Bearer cws_not-a-real-token"}
    body = spoken(await http.get("/api/v1/me", headers={**bogus, **ES}), 401, "es")
    assert body["detail"].startswith("sesión no iniciada: la sesión o el token")

    alice, carol, audrey = [await api.sign_in(s) for s in ("alice", "carol", "audrey")]

    # 422: invalid input names the field (its API name) with a Spanish message.
    bad = open_case_body("CL-ES-0")
    del bad["presenting_needs"]
    body = spoken(await http.post("/api/v1/cases", json=bad, headers={**alice, **ES}), 422, "es")
    assert body["title"] == "Datos no válidos"
    assert body["errors"] == [{"field": "presenting_needs", "message": "Campo obligatorio"}]
    assert body["detail"] == "presenting_needs: Campo obligatorio"
    body = spoken(await http.post("/api/v1/cases", json=bad, headers=alice), 422, "en")
    assert body["title"] == "Invalid input"
    assert body["errors"] == [{"field": "presenting_needs", "message": "Field required"}]
    query = await http.get("/api/v1/caseload?limit=0", headers={**alice, **ES})
    body = spoken(query, 422, "es")
    assert body["errors"] == [{"field": "limit", "message": "Debe ser mayor o igual que 1"}]

    opened = await http.post("/api/v1/cases", json=open_case_body("CL-ES-1"), headers=alice)
    assert opened.status_code == 201, opened.text
    case_id, etag = opened.json()["case_id"], opened.headers["ETag"]
    case = Case(api, case_id)

    # 404: no such case (or not visible).
    missing = f"/api/v1/cases/{uuid.uuid4()}"
    body = spoken(await http.get(missing, headers={**alice, **ES}), 404, "es")
    assert body["title"] == "No existe el caso"
    assert (
        body["detail"].startswith("no hay ningún caso ") and "visible para usted" in body["detail"]
    )
    body = spoken(await http.get(missing, headers={**alice, **FR}), 404, "en")
    assert body["title"] == "No such case"

    # 403: a role that may not, and a colleague who is not the case's worker.
    note = {"text": "Llamada con la clienta"}
    path = f"/api/v1/cases/{case_id}/commands/record_note"
    star = {"If-Match": "*"}
    body = spoken(await http.post(path, json=note, headers={**audrey, **star, **ES}), 403, "es")
    assert body["title"] == "No permitido para su rol"
    assert body["detail"].startswith("audrey (") and "no tiene permiso para" in body["detail"]
    body = spoken(await http.post(path, json=note, headers={**audrey, **star}), 403, "en")
    assert body["title"] == "Not for your role"
    assert body["detail"] == "audrey (auditor) may not note cases"
    assign = f"/api/v1/cases/{case_id}/commands/assign"
    reassign = {"assignee": "frank", "reason": "vacaciones"}
    body = spoken(
        await http.post(assign, json=reassign, headers={**alice, **star, **ES}), 403, "es"
    )
    assert body["title"] == "No permitido para su rol"
    assert body["detail"].startswith("alice (") and body["detail"].endswith(
        ") no tiene permiso para «assign» en los casos"
    )

    # 412: the case changed since the ETag sent.
    done = await http.post(path, json=note, headers={**alice, "If-Match": etag})
    assert done.status_code == 200, done.text
    current = done.json()["stream_version"]
    stale = await http.post(path, json=note, headers={**alice, "If-Match": etag, **ES})
    body = spoken(stale, 412, "es")
    assert body["title"] == "El caso ha cambiado"
    assert body["current_version"] == current
    assert body["detail"] == (
        f"expected_version: el caso está en la versión {current}, no en la {etag.strip(chr(34))}"
        ": ha cambiado desde que usted lo leyó; vuelva a leerlo y envíe su nuevo ETag como "
        "If-Match"
    )
    stale = await http.post(path, json=note, headers={**alice, "If-Match": etag})
    assert spoken(stale, 412, "en")["detail"].endswith(
        "it changed since you read it; read it again and send its new ETag as If-Match"
    )

    # 409: a command the case's rules refuse (reopening an open case).
    reopen = f"/api/v1/cases/{case_id}/commands/reopen"
    why = {"reason": "la clienta volvió"}
    body = spoken(await http.post(reopen, json=why, headers={**carol, **star, **ES}), 409, "es")
    assert body["title"] == "Orden rechazada"
    assert body["detail"] == "el caso está abierto: solo se puede reabrir un caso cerrado"
    for headers in ({}, FR):
        refused = await http.post(reopen, json=why, headers={**carol, **star, **headers})
        body = spoken(refused, 409, "en")
        assert body["title"] == "Command refused"
        assert body["detail"] == "the case is open: only a closed case can be reopened"

    # A closed case: a note answers as a case no longer there; reopening it on an old
    # ETag, as a case that changed.
    await case.ok(alice, "request_closure", {"reason": "goals_met"})
    await case.ok(carol, "decide_approval", {"kind": "closure", "approve": True})
    await catch_up(database_url, api.app.store)
    body = spoken(await http.post(path, json=note, headers={**carol, **star, **ES}), 404, "es")
    assert body["title"] == "No existe el caso"
    stale = await http.post(reopen, json=why, headers={**carol, "If-Match": etag, **ES})
    body = spoken(stale, 412, "es")
    assert body["title"] == "El caso ha cambiado"
    assert body["detail"].startswith("expected_version: el caso está en la versión "), body


def test_rule_messages_by_shape() -> None:
    conflict = "expected_version: the case is at version 7, not 5: it changed since you read it"
    closed = "the case is closed: a contact needs an open case (reopen it first)"
    unknown = "a message no table knows"
    with i18n.speaking("en"):
        for text in (conflict, closed, unknown, "Not permitted"):
            assert speak(text) == text
    with i18n.speaking("es"):
        assert speak(conflict) == (
            "expected_version: el caso está en la versión 7, no en la 5: "
            "ha cambiado desde que usted lo leyó"
        )
        assert speak(closed) == (
            "el caso está cerrado: un contacto requiere un caso abierto (reábralo primero)"
        )
        assert speak("alice is not the case's assigned worker (frank)") == (
            "alice no es el profesional asignado al caso (frank)"
        )
        assert (
            speak("risk_level: one of low, medium, high") == "risk_level: uno de low, medium, high"
        )
        assert speak("Not permitted") == "No permitido"
        assert speak(unknown) == unknown


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")

    needs: list[str]
    count: int = Field(ge=1, le=5)


def test_validation_messages_are_pydantic_in_english_and_spanish_in_spanish() -> None:
    errors: list[Any] = []
    try:
        _Body.model_validate({"count": 9, "extra": 1})
    except ValidationError as exc:
        errors = list(exc.errors())
    with i18n.speaking("en"):
        assert [validation_message(e) for e in errors] == [e["msg"] for e in errors]
    with i18n.speaking("es"):
        assert [validation_message(e) for e in errors] == [
            "Campo obligatorio",
            "Debe ser menor o igual que 5",
            "No se permiten campos adicionales",
        ]
