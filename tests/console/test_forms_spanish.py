"""The case page's action forms in Spanish (issue 33): a browser asking for Spanish gets
the forms' titles, labels, choices and buttons in Spanish, and a form sent with a field
missing answers in Spanish beside that field; a model's own reason comes back translated.

Forms are filled and sent through the page's DOM (values set, `form.submit()`), so the
test holds whichever way the page lays its forms out (open or folded away)."""

from __future__ import annotations

from playwright.async_api import Page, expect

from tests.console.conftest import PASSWORD, WAIT_MS, Stack


async def signed_in_spanish(stack: Stack, staff_id: str) -> Page:
    context = await stack.browser.new_context(
        base_url=stack.url, locale="es-ES", extra_http_headers={"Accept-Language": "es"}
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


async def send(page: Page, action: str, values: dict[str, str]) -> None:
    """Fill the form's inputs by name and send it, as a person would (shown or not)."""
    form = page.locator(f"form[action$='/do/{action}']")
    await form.evaluate(
        """(form, values) => {
            for (const [name, value] of Object.entries(values)) {
                form.querySelector(`[name="${name}"]`).value = value;
            }
            form.submit();
        }""",
        values,
    )
    await page.wait_for_load_state("domcontentloaded")


def form_of(page: Page, action: str) -> str:
    return f"form[action$='/do/{action}']"


async def test_the_forms_speak_spanish(stack: Stack) -> None:
    case_id = await stack.open_case_with_plan("CL-ES-FORMS-1")
    await stack.until_projected(case_id)
    alice = await signed_in_spanish(stack, "alice")
    await alice.goto(f"/console/cases/{case_id}")

    contact = alice.locator(form_of(alice, "log_contact"))
    await expect(contact.locator("button[type=submit]")).to_have_text("Anotar el contacto")
    await expect(contact.locator("label[for='log_contact-kind']")).to_contain_text("Tipo")
    await expect(contact.locator("label[for='log_contact-contact-date']")).to_contain_text("Fecha")
    kinds = contact.locator("select[name=kind] option")
    await expect(kinds.first).to_have_text("— elija —")
    await expect(contact.locator("select[name=kind] option[value=home_visit]")).to_have_text(
        "visita a domicilio"
    )
    await expect(alice.locator("#form-log_contact")).to_have_text("Anotar un contacto")

    assessment = alice.locator(form_of(alice, "record_assessment"))
    await expect(assessment.locator("button[type=submit]")).to_have_text("Registrar la valoración")
    await expect(
        assessment.locator("label[for='record_assessment-assessment-domains-housing-rating']")
    ).to_contain_text("Vivienda: puntuación")
    await expect(
        assessment.locator("select[name='assessment.domains.housing.rating'] option[value='4']")
    ).to_have_text("4 — grave / inmediato")

    action = alice.locator(form_of(alice, "add_action"))
    await expect(action.locator("select[name='owner.kind'] option[value=caseworker]")).to_have_text(
        "gestor/a de casos"
    )
    await expect(action.locator("select[name=crisis_plan] option[value=true]")).to_have_text("sí")
    circle = alice.locator(form_of(alice, "add_circle_member"))
    await expect(circle.locator("button[type=submit]")).to_have_text("Añadir")
    await expect(circle.locator("select[name=role] option[value=carer]")).to_have_text("cuidador/a")

    # A contact sent without its date: the Spanish message beside the date's label.
    await send(alice, "log_contact", {"kind": "phone", "contact_date": ""})
    contact = alice.locator(form_of(alice, "log_contact"))
    invalid = contact.locator(".field.invalid")
    await expect(invalid).to_have_count(1)
    await expect(invalid.locator("label")).to_contain_text("Fecha")
    await expect(invalid.locator(".field-error")).to_have_text("Campo obligatorio")
    await expect(contact.locator("select[name=kind]")).to_have_value("phone")

    # A model's own reason (another worker's action names the worker), in Spanish.
    opened = (await stack.cases.state(case_id)).opened_at.date()
    await send(
        alice,
        "add_action",
        {
            "goal_id": "housing",
            "description": "Llevar los documentos a la oficina de vivienda",
            "owner.kind": "worker",
            "due_at": opened.isoformat(),
        },
    )
    action = alice.locator(form_of(alice, "add_action"))
    await expect(action).to_contain_text("una acción a cargo de otro profesional")
    await expect(action).not_to_contain_text("Value error")


async def test_english_is_unchanged(stack: Stack) -> None:
    case_id = await stack.open_case("CL-EN-FORMS-1")
    await stack.until_projected(case_id)
    alice = await stack.signed_in("alice")
    await alice.goto(f"/console/cases/{case_id}")
    contact = alice.locator(form_of(alice, "log_contact"))
    await expect(contact.locator("button[type=submit]")).to_have_text("Log the contact")
    await expect(contact.locator("select[name=kind] option").first).to_have_text("— choose —")
    await send(alice, "log_contact", {"kind": "phone", "contact_date": ""})
    invalid = alice.locator(form_of(alice, "log_contact")).locator(".field.invalid")
    await expect(invalid.locator(".field-error")).to_have_text("Field required")
