"""The console's client, directory and dashboard pages in Spanish (issue 33), in a real
browser whose language is Spanish (`locale="es-ES"` and its `Accept-Language`), over
the real stack (tests/console/conftest.py): a caseworker finds a client and opens the
client page, a manager opens the KPI dashboard (no signed checkpoint in this module's
log: the page that says so, with its form), a supervisor reads the directory. Each page
says `lang="es"` and shows its headings and labels in Spanish.

The dashboard's figures are numbers with Spanish separators: this module's log has no
figures to show, so that is checked on a unit level (the tables' text, the charts'
values and accessible names, the documents' sizes), and every KPI title the dashboard
shows is a catalog entry translated into Spanish.
"""

from __future__ import annotations

import re

from playwright.async_api import Page, expect

from cases.kpi import KPIS, Kpi
from casework import i18n
from casework.console import dashboard
from casework.console.charts import Chart, Series, svg
from casework.console.documents import size_shown
from casework.console.numbers import decimal_text, localized, whole
from tests.console.conftest import PASSWORD, WAIT_MS, Stack


async def in_spanish(stack: Stack, staff_id: str) -> Page:
    """A browser whose language is Spanish, signed in as `staff_id`."""
    context = await stack.browser.new_context(
        base_url=stack.url, locale="es-ES", extra_http_headers={"Accept-Language": "es-ES,es"}
    )
    context.set_default_timeout(WAIT_MS)
    stack.contexts.append(context)
    page = await context.new_page()
    await page.goto("/console/sign-in")
    await page.fill("#staff_id", staff_id)
    await page.fill("#password", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_selector("header.top .who")
    return page


async def spoken(page: Page) -> str | None:
    return await page.locator("html").get_attribute("lang")


async def test_the_client_search_and_the_client_page_in_spanish(stack: Stack) -> None:
    case_id = await stack.open_case("CL-ES-1")
    await stack.until_projected(case_id)
    alice = await in_spanish(stack, "alice")

    await alice.goto("/console/clients")
    assert await spoken(alice) == "es"
    await expect(alice.get_by_role("heading", level=1)).to_have_text("Buscar a un cliente")
    await expect(alice.locator("label[for=search-date_of_birth]")).to_have_text(
        "Fecha de nacimiento"
    )

    await alice.fill("#search-q", "Marguerite Okonkwo-Hale")
    await alice.press("#search-q", "Enter")
    await alice.wait_for_url(re.compile(r"/console/clients\?q="))
    assert await spoken(alice) == "es"
    await expect(alice.locator("#results-title")).to_have_text(
        re.compile(r"^\d+ clientes? encontrados?$")
    )
    head = alice.locator("table.clients thead")
    await expect(head).to_contain_text("Puntuación (sobre 100)")
    await expect(head).to_contain_text("Página del cliente")
    row = alice.locator("table.clients tbody tr", has_text="CL-ES-1")
    await expect(row).to_contain_text("del equipo north (alice), abierto el")

    await row.get_by_role("link", name="Cliente CL-ES-1").click()
    await alice.wait_for_url(re.compile(r"/console/clients/CL-ES-1$"))
    assert await spoken(alice) == "es"
    await expect(alice.get_by_role("heading", level=1)).to_have_text("Cliente CL-ES-1")
    await expect(alice.locator("#details-title")).to_have_text("Datos")
    await expect(alice.locator("dl.facts")).to_contain_text("Fecha de nacimiento")
    await expect(alice.locator("#cases-title")).to_have_text("Casos")
    await expect(alice.locator("table.client-cases thead")).to_contain_text("Apertura")
    await expect(alice.locator("#linked-title")).to_have_text("Referencias vinculadas")


async def test_the_dashboard_in_spanish(stack: Stack) -> None:
    manager = await in_spanish(stack, "max")
    await manager.goto("/console/dashboard")
    assert await spoken(manager) == "es"
    await expect(manager.get_by_role("heading", level=1)).to_have_text("Panel de indicadores")
    # This module's log has no signed checkpoint: the page says so, in Spanish.
    await expect(manager.locator("#unavailable-title")).to_have_text(
        "Aún no hay ningún punto de control firmado"
    )
    await expect(manager.locator("label[for=since]")).to_have_text("Desde el mes")
    await expect(manager.locator("label[for=worker]")).to_have_text("Profesional")
    await expect(manager.locator("form.kpi-filters button")).to_have_text("Mostrar")

    # A month that is not one: refused beside its field, in Spanish.
    await manager.goto("/console/dashboard?since=2026-001")
    await expect(manager.locator("#since-error")).to_have_text(
        "since: se esperaba un mes como AAAA-MM"
    )


async def test_the_directory_in_spanish(stack: Stack) -> None:
    carol = await in_spanish(stack, "carol")
    await carol.goto("/console/directory")
    assert await spoken(carol) == "es"
    await expect(carol.get_by_role("heading", level=1)).to_have_text("Directorio y política")
    await expect(carol.locator("#staff-title")).to_have_text("Personal y equipos")
    await expect(carol.locator("#providers-title")).to_have_text("Proveedores y servicios")
    await expect(carol.locator("#policy-title")).to_contain_text("Política de revisión (versión")
    await expect(carol.locator("table").first).to_contain_text("Miembros del personal")
    await expect(carol.locator("dl.facts")).to_contain_text("Escala de escalamiento")


# --- on a unit level --------------------------------------------------------------------------


def test_numbers_keep_english_and_take_spanish_separators() -> None:
    assert [localized(t, "en") for t in ("12.3", "12345", "1234.56", "—")] == [
        "12.3", "12345", "1234.56", "—",
    ]  # fmt: skip
    # Spanish groups thousands with a point (as the `number` filter does), with a decimal
    # comma; the digits are the English text's, never rounded again.
    assert localized("12345.6", "es") == "12.345,6"
    assert localized("1234", "es") == "1.234" == i18n.format_number(1234, "es")
    assert localized("123456", "es") == "123.456"
    assert decimal_text(2.675, 2, "es") == "2,67" == decimal_text(2.675, 2, "en").replace(".", ",")
    assert whole(98765, "es") == "98.765"
    with i18n.speaking("es"):
        assert size_shown(12_345) == "12,3 KB"
        assert size_shown(980) == "980 bytes"
    assert size_shown(12_345) == "12.3 KB"


def test_the_dashboard_tables_and_charts_in_spanish() -> None:
    with i18n.speaking("es"):
        assert dashboard._text(dashboard.DAYS, 12345.678) == "12.345,7"
        assert dashboard._measured(12000, 0) == "12.000"
        assert dashboard.words("mental_health") == i18n.raw_gettext("mental health")
        assert dashboard.words("") == "(ninguno)"
        assert i18n.pgettext("referrals", "Ended") == "Terminadas"
    assert dashboard._text(dashboard.DAYS, 12345.678) == "12345.7"
    assert i18n.pgettext("referrals", "Ended") == "Ended"

    chart = Chart(
        key="es-test", title="Duración del caso, por mes y equipo", kind="line",
        labels=("2026-01", "2026-02"), axis="Media, días", decimals=1,
        series=(Series("north", (12345.5, 2.25)),), language="es",
    )  # fmt: skip
    drawn = str(svg(chart))
    assert "12.345,5" in drawn
    assert "Duración del caso, por mes y equipo (gráfico; sus cifras están en la tabla" in drawn
    english = str(svg(Chart(**{**chart.__dict__, "key": "en-test", "language": "en"})))
    assert "12345.5" in english and "12.345,5" not in english


def test_every_kpi_title_is_a_catalog_entry_in_spanish() -> None:
    assert set(dashboard.KPI_TITLES) == {info.title for info in KPIS.values()}
    with i18n.speaking("es"):
        for kpi in Kpi:
            assert dashboard.kpi_title(kpi) != KPIS[kpi].title, kpi
        assert dashboard.kpi_title(Kpi.CASE_DURATION) == "Duración del caso"
