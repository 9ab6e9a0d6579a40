"""The case page's timeline in the reader's language (issue 33), through the page, over
the real stack (tests/console/conftest.py): a caseworker whose browser speaks Spanish
reads the case's lines in Spanish (from the `timeline` read model's `description_said`,
and from the log for a version the read model lacks), one whose browser speaks English
reads them as they always were, and a row recorded before the lines were messages
(`description_said` NULL) shows its English `description`."""

from __future__ import annotations

import asyncio

from playwright.async_api import Page

from tests.console.conftest import WAIT_MS, Stack
from tests.console.test_pages_spanish import in_spanish, spoken


async def _lines(page: Page, case_id: str) -> list[str]:
    await page.goto(f"/console/cases/{case_id}")
    await page.wait_for_selector("ol.timeline li")
    return [text.strip() for text in await page.locator("ol.timeline li").all_inner_texts()]


async def _until_in_timeline(stack: Stack, case_id: str) -> int:
    """Wait until the timeline read model holds every event of the case."""
    want = await stack.app.store.stream_version(f"case-{case_id}")
    deadline = asyncio.get_running_loop().time() + WAIT_MS / 1000
    while asyncio.get_running_loop().time() < deadline:
        found = await stack.app.pool.fetchval(
            "SELECT count(*) FROM case_timeline WHERE case_id = $1", case_id
        )
        if found >= want:
            return want
        await asyncio.sleep(0.1)
    raise AssertionError(f"case {case_id}'s timeline not projected at v{want}")


async def test_the_timeline_speaks_the_readers_language(stack: Stack) -> None:
    case_id = await stack.open_case_with_plan("CL-TL-1")
    versions = await _until_in_timeline(stack, case_id)
    await stack.until_projected(case_id)

    alice = await in_spanish(stack, "alice")
    lines = await _lines(alice, case_id)
    assert await spoken(alice) == "es"
    assert len(lines) == versions
    text = "\n".join(lines)
    assert "Caso abierto para el cliente CL-TL-1 (" in text, text
    assert "Valoración " in text and "riesgo " in text, text
    assert "Plan " in text and " activado" in text, text
    for english in ("Case opened", "Assessment ", "recorded", "activated", "requested"):
        assert english not in text, f"{english!r} left in {text}"

    english_reader = await stack.signed_in("alice")
    english_lines = "\n".join(await _lines(english_reader, case_id))
    assert "Case opened for client CL-TL-1 (self referral), assigned to" in english_lines
    assert " activated" in english_lines

    # A row recorded before the messages were (NULL): the page shows its English.
    await stack.app.pool.execute(
        "UPDATE case_timeline SET description_said = NULL WHERE case_id = $1 "
        "AND stream_version = 1",
        case_id,
    )
    lines = await _lines(alice, case_id)
    assert "Case opened for client CL-TL-1 (self referral)" in lines[-1], lines[-1]
    assert all("Case opened" not in line for line in lines[:-1])

    # A version the read model lacks is read from the log and said in Spanish too.
    await stack.app.pool.execute(
        "DELETE FROM case_timeline WHERE case_id = $1 AND stream_version = $2",
        case_id,
        versions,
    )
    lines = await _lines(alice, case_id)
    assert len(lines) == versions
    assert "activated" not in lines[0] and "requested" not in lines[0], lines[0]
