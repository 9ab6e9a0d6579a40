"""The codec server: lets operators read encrypted payloads in the Temporal UI and CLI, by proof.

Temporal's codec server protocol
--------------------------------
``POST /encode`` and ``POST /decode`` take and answer ``{"payloads": [...]}``, the
protobuf JSON form of ``temporal.api.common.v1.Payloads`` (metadata values and data
in base64). ``/decode`` decrypts what `infrastructure.codec.EncryptionCodec` encrypted
(and passes other payloads through); ``/encode`` encrypts with the current key
(``temporal workflow start --codec-endpoint`` uses it).

The front door (the same as the HTTP API's)
-------------------------------------------
* Both need ``Authorization: Bearer <token>``: a Casework session or personal access
  token (the Temporal CLI's ``--codec-auth "Bearer cwp_…"``), or the single sign-on
  access token the Temporal UI forwards when told to pass it — checked by
  `application.identity.authenticate`, against the staff directory, on every request.
  Without a token or with a bad one: 401 with ``WWW-Authenticate: Bearer``.
* Only roles the access table lets decode payloads (``Query.PAYLOADS``: operators and
  admins); any other role: 403.
* Each request is written to the access log before a payload is touched (a refused
  one too): who, how they authenticated, the request id (``X-Request-ID`` when safe,
  else a new one; answered back), the client address, the namespace, the workflow
  when the client names it in ``X-Workflow-Id`` (its case, for a case's workflow),
  and how many payloads.
* The ``X-Namespace`` header, when present, must name the configured namespace
  (``TEMPORAL_NAMESPACE``); another namespace answers 403.
* CORS only for the origins configured (``CASEWORK_CODEC_ALLOWED_ORIGINS`` and
  ``--allow-origin``: the Temporal UI's origin); none by default. Preflight ``OPTIONS``
  answers 204 without a token (browsers send none).
* A body that is not a Payloads message answers 400; a payload naming a key the
  keyring lacks, or failing authentication, answers 422 with the reason. The
  answer never carries key material. ``GET /health`` is open and names the current
  key id only.

Point the dev server's UI and the CLI at it (docs/security.md, "Codec server")::

    temporal server start-dev --ui-codec-endpoint http://127.0.0.1:8888
    temporal workflow show --workflow-id case-... --codec-endpoint http://127.0.0.1:8888 \\
        --codec-auth "Bearer $CASEWORK_TOKEN"
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Collection, MutableMapping, Sequence
from contextlib import AsyncExitStack
from datetime import UTC, datetime

from aiohttp import web
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload, Payloads

from application import access_log, request_context
from application.access_log import PayloadOperation
from application.bootstrap import Casework, open_casework
from application.identity import NotAuthenticated, Principal, authenticate
from application.request_context import REQUEST_ID_HEADER
from cases.access import AccessDenied
from infrastructure.codec import CodecError, EncryptionCodec
from infrastructure.logs import get_logger
from infrastructure.settings import Settings, browser_origin
from infrastructure.temporal import codec as settings_codec

DEFAULT_PORT = 8888
NAMESPACE_HEADER = "X-Namespace"
WORKFLOW_HEADER = "X-Workflow-Id"
ALLOWED_HEADERS = (
    "Content-Type, Authorization, Authorization-Extras, X-Namespace, X-Workflow-Id, X-Request-ID"
)
MAX_BODY_BYTES = 16 * 1024 * 1024
MAX_WORKFLOW_ID = 200

_WORKFLOW_ID = re.compile(rf"[^\x00-\x20\x7f]{{1,{MAX_WORKFLOW_ID}}}")
"""A workflow id as recorded: 1 to 200 characters, no spaces or control characters."""

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response({"error": message}, status=status, headers=headers)


class _Refused(Exception):
    """A request refused before any payload is touched: answer `response`."""

    def __init__(self, response: web.Response) -> None:
        super().__init__(response.status)
        self.response = response


def _unauthenticated(detail: str) -> _Refused:
    return _Refused(
        _error(401, detail, headers={"WWW-Authenticate": 'Bearer realm="casework-codec"'})
    )


def create_app(
    casework: Casework,
    codec: EncryptionCodec,
    *,
    namespace: str,
    allowed_origins: Collection[str],
    clock: Clock = system_clock,
) -> web.Application:
    """The aiohttp application serving /encode and /decode with `codec`, for the staff
    `casework` authenticates, recorded in its access log."""
    origins = frozenset(allowed_origins)
    log = get_logger(component="codec-server")

    def allow(origin: str | None, headers: MutableMapping[str, str]) -> None:
        headers["Vary"] = "Origin"
        if origin is not None and origin in origins:
            headers["Access-Control-Allow-Origin"] = origin
            headers["Access-Control-Allow-Credentials"] = "true"
            headers["Access-Control-Allow-Methods"] = "POST, OPTIONS"
            headers["Access-Control-Allow-Headers"] = ALLOWED_HEADERS
            headers["Access-Control-Expose-Headers"] = REQUEST_ID_HEADER
            headers["Access-Control-Max-Age"] = "600"

    @web.middleware
    async def cors(request: web.Request, handler: Handler) -> web.StreamResponse:
        origin = request.headers.get("Origin")
        if request.method == "OPTIONS":
            response: web.StreamResponse = web.Response(status=204)
        else:
            try:
                response = await handler(request)
            except web.HTTPException as exc:
                allow(origin, exc.headers)
                raise
        allow(origin, response.headers)
        return response

    @web.middleware
    async def context(request: web.Request, handler: Handler) -> web.StreamResponse:
        """The request's id and client address, for the access log; the id answered back."""
        bound = request_context.for_request(request.headers.get(REQUEST_ID_HEADER), request.remote)
        request_id = str(bound.request_id)
        with request_context.bound(bound):
            try:
                response = await handler(request)
            except web.HTTPException as exc:
                exc.headers[REQUEST_ID_HEADER] = request_id
                raise
        response.headers[REQUEST_ID_HEADER] = request_id
        return response

    async def principal(request: web.Request) -> Principal:
        """The caller proven by the bearer token (401 otherwise)."""
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise _unauthenticated(
                "send Authorization: Bearer <token> (a Casework session or personal access "
                "token, or the single sign-on access token)"
            )
        try:
            found = await authenticate(casework, token, now=clock())
        except NotAuthenticated as exc:
            raise _unauthenticated(str(exc)) from None
        request_context.authenticated(found.method, found.credential_id)
        return found

    def workflow_of(request: web.Request) -> str | None:
        workflow_id = request.headers.get(WORKFLOW_HEADER)
        if workflow_id is None:
            return None
        if not _WORKFLOW_ID.fullmatch(workflow_id):
            raise _Refused(
                _error(
                    400,
                    f"{WORKFLOW_HEADER}: a workflow id of 1 to {MAX_WORKFLOW_ID} characters "
                    "without spaces or control characters",
                )
            )
        return workflow_id

    async def transform(
        request: web.Request,
        operation: PayloadOperation,
        apply: Callable[[Sequence[Payload]], Awaitable[list[Payload]]],
    ) -> web.Response:
        try:
            caller = await principal(request)
            asked = request.headers.get(NAMESPACE_HEADER)
            if asked is not None and asked != namespace:
                return _error(
                    403, f"this codec server serves namespace {namespace!r}, not {asked!r}"
                )
            workflow_id = workflow_of(request)
        except _Refused as refused:
            return refused.response
        payloads = Payloads()
        try:
            json_format.Parse(await request.text(), payloads)
        except (json_format.ParseError, UnicodeDecodeError) as exc:
            return _error(400, f"the body is not a JSON Payloads message: {exc}")
        count = len(payloads.payloads)
        fields = {"staff_id": caller.actor.staff_id, "workflow_id": workflow_id, "count": count}
        try:
            entry = await access_log.authorise_payloads(
                casework.pool, caller.actor, operation,
                count=count, namespace=namespace, workflow_id=workflow_id,
            )  # fmt: skip
        except AccessDenied as exc:
            log.warning(f"{operation} refused", reason="role", **fields)
            return _error(403, str(exc))
        try:
            result = await apply(payloads.payloads)
        except CodecError as exc:
            log.warning(f"{operation} failed", reason=str(exc), **fields)
            return _error(422, str(exc))
        log.info(str(operation), access_id=entry.access_id, namespace=namespace, **fields)
        body = json_format.MessageToJson(Payloads(payloads=result))
        return web.Response(text=body, content_type="application/json")

    async def encode(request: web.Request) -> web.Response:
        return await transform(request, PayloadOperation.ENCODE, codec.encode)

    async def decode(request: web.Request) -> web.Response:
        return await transform(request, PayloadOperation.DECODE, codec.decode)

    async def health(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "current_key_id": codec.current_key_id})

    app = web.Application(middlewares=[cors, context], client_max_size=MAX_BODY_BYTES)
    app.router.add_post("/encode", encode)
    app.router.add_post("/decode", decode)
    app.router.add_get("/health", health)
    return app


class CodecServer:
    """A running codec server (``async with CodecServer(settings, port=0) as server``).

    It authenticates callers against `casework` (or, if none is given, a Casework it
    opens on the settings' database while it runs).
    """

    def __init__(
        self,
        settings: Settings,
        *,
        casework: Casework | None = None,
        host: str = "127.0.0.1",
        port: int = DEFAULT_PORT,
        extra_origins: Collection[str] = (),
        clock: Clock = system_clock,
    ) -> None:
        self.settings = settings
        self.casework = casework
        self.host = host
        self.port = port
        self.extra_origins = tuple(browser_origin(o) for o in extra_origins)  # ValueError
        self.clock = clock
        self.codec = settings_codec(settings)  # a bad keyring fails here, before serving
        self._resources = AsyncExitStack()
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def start(self) -> None:
        try:
            casework = self.casework
            if casework is None:
                casework = await self._resources.enter_async_context(
                    open_casework(self.settings, pool_size=4)
                )
            app = create_app(
                casework,
                self.codec,
                namespace=self.settings.temporal_namespace,
                allowed_origins=[*self.settings.codec_allowed_origins, *self.extra_origins],
                clock=self.clock,
            )
            self._runner = web.AppRunner(app, access_log=None)
            await self._runner.setup()
            self._resources.push_async_callback(self._runner.cleanup)
            await web.TCPSite(self._runner, self.host, self.port).start()
        except BaseException:
            await self._resources.aclose()
            raise
        if self.port == 0:
            self.port = int(self._runner.addresses[0][1])

    async def stop(self) -> None:
        await self._resources.aclose()

    async def __aenter__(self) -> CodecServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


async def serve(
    settings: Settings,
    *,
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    extra_origins: Collection[str] = (),
    stop: asyncio.Event | None = None,
    on_ready: Callable[[CodecServer], None] | None = None,
) -> None:
    """Serve until `stop` is set (or forever)."""
    async with CodecServer(settings, host=host, port=port, extra_origins=extra_origins) as server:
        get_logger(component="codec-server").info(
            "codec server listening", url=server.url, namespace=settings.temporal_namespace
        )
        if on_ready is not None:
            on_ready(server)
        await (stop or asyncio.Event()).wait()
