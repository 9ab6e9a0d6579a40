"""The staff console: server-rendered pages for caseworkers, supervisors, auditors and
administrators, served by the same application as the HTTP API (`install(api)` from
`casework.api.app.create_api`), on the same application-layer use cases.

| page | module |
|---|---|
| sign in, sign out, timed out, locked | `sign_in.py` |
| my caseload | `caseload.py` |
| a case and every action the viewer may take | `case_page.py`, `case_actions.py`, `forms.py` |
| a case's documents: upload, download, withdraw, the plan for signature | `documents.py` |
| find the client (the header's search box, the results), the client page, links | `clients.py` |
| approvals inbox | `approvals.py` |
| overdue and escalations board | `board.py` |
| audit view and access log | `audit.py` |
| transfers inbox | `transfers.py` |
| outcomes: goals, closures, advocacy by barrier, feedback by provider | `outcomes.py` |
| KPI dashboard: the signed KPI report as charts and tables | `dashboard.py`, `charts.py` |
| directory and policy | `directory.py` |
| the language picker (the staff member's setting) | `language.py` |
| the provider portal (a provider's referrals and its answers) | `portal.py` |
| a case's service finder: the directory by need, language, area, open now; refer | `services.py` |
| every list page's "Download CSV" / "Download Excel" | `exports.py` |

Session cookie, CSRF and security headers: `web.py`. See docs/console.md.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles

from casework.console import (
    approvals,
    audit,
    board,
    case_page,
    caseload,
    clients,
    dashboard,
    directory,
    documents,
    exports,
    language,
    my_actions,
    outcomes,
    portal,
    services,
    sign_in,
    transfers,
)
from casework.console.web import (
    CONSOLE_HEADERS,
    PREFIX,
    CsrfRefused,
    SignInNeeded,
    page,
    redirect,
    sign_in_redirect,
)
from casework.i18n import _

__all__ = ["install"]


def install(api: FastAPI) -> None:
    """Mount the console on `api` under /console (and send / there)."""
    api.mount(
        f"{PREFIX}/static",
        StaticFiles(directory=str(Path(__file__).parent / "static")),
        name="console-static",
    )
    for module in (sign_in, caseload, case_page, approvals, board, audit, transfers, directory):
        api.include_router(module.router)
    api.include_router(outcomes.router)
    api.include_router(dashboard.router)
    api.include_router(my_actions.router)
    api.include_router(documents.router)
    api.include_router(clients.router)
    api.include_router(exports.router)
    api.include_router(language.router)
    api.include_router(portal.router)
    api.include_router(services.router)

    @api.get("/", include_in_schema=False)
    async def root() -> Response:
        return redirect(f"{PREFIX}/")

    @api.exception_handler(SignInNeeded)
    async def _sign_in_needed(request: Request, exc: SignInNeeded) -> Response:
        return sign_in_redirect(exc.why, exc.next_path)

    @api.exception_handler(CsrfRefused)
    async def _csrf_refused(request: Request, exc: CsrfRefused) -> Response:
        return page(
            request,
            "refused.html",
            title=_("The form had expired"),
            message=_(
                "The form was not sent from this console page (or the page is too old): "
                "nothing was done. Go back, reload the page and send it again."
            ),
            status_code=403,
        )

    @api.middleware("http")
    async def console_headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        if request.url.path == "/" or request.url.path.startswith(PREFIX):
            response.headers.update(CONSOLE_HEADERS)
        return response
