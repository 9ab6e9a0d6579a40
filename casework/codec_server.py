"""The codec server: lets an operator holding the keys read payloads in the Temporal UI and CLI.

Temporal's codec server protocol
--------------------------------
``POST /encode`` and ``POST /decode`` take and answer ``{"payloads": [...]}``, the
protobuf JSON form of ``temporal.api.common.v1.Payloads`` (metadata values and data
in base64). ``/decode`` decrypts what `infrastructure.codec.EncryptionCodec` encrypted
(and passes other payloads through); ``/encode`` encrypts with the current key
(``temporal workflow start --codec-endpoint`` uses it).

* The ``X-Namespace`` header, when present, must name the configured namespace
  (``TEMPORAL_NAMESPACE``); another namespace answers 403.
* CORS: the Temporal UI calls the codec server from the browser, so requests from
  the UI's origins (``http://127.0.0.1:<ui port>`` and ``http://localhost:<ui port>``
  by default) are allowed, with credentials; preflight ``OPTIONS`` answers 204.
* A body that is not a Payloads message answers 400; a payload naming a key the
  keyring lacks, or failing authentication, answers 422 with the reason. The
  answer never carries key material.

Anyone who can reach this server can decrypt: it listens on 127.0.0.1 unless told
otherwise. In production put it behind the same single sign-on as the Temporal
UI (docs/security.md).

Point the dev server's UI at it::

    temporal server start-dev --ui-codec-endpoint http://127.0.0.1:8888
    temporal workflow show --workflow-id case-... --codec-endpoint http://127.0.0.1:8888
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Collection, MutableMapping, Sequence

from aiohttp import web
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload, Payloads

from infrastructure.codec import CodecError, EncryptionCodec
from infrastructure.logs import get_logger
from infrastructure.settings import Settings
from infrastructure.temporal import codec as settings_codec

DEFAULT_PORT = 8888
NAMESPACE_HEADER = "X-Namespace"
ALLOWED_HEADERS = "Content-Type, X-Namespace, Authorization"
MAX_BODY_BYTES = 16 * 1024 * 1024

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def ui_origins(settings: Settings) -> list[str]:
    """The browser origins of the Temporal UI that `casework up` runs."""
    port = settings.temporal_ui_port
    return [f"http://127.0.0.1:{port}", f"http://localhost:{port}"]


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def create_app(
    codec: EncryptionCodec, *, namespace: str, allowed_origins: Collection[str]
) -> web.Application:
    """The aiohttp application serving /encode and /decode with `codec`."""
    origins = frozenset(allowed_origins)
    log = get_logger(component="codec-server")

    def allow(origin: str | None, headers: MutableMapping[str, str]) -> None:
        headers["Vary"] = "Origin"
        if origin is not None and origin in origins:
            headers["Access-Control-Allow-Origin"] = origin
            headers["Access-Control-Allow-Credentials"] = "true"
            headers["Access-Control-Allow-Methods"] = "POST, OPTIONS"
            headers["Access-Control-Allow-Headers"] = ALLOWED_HEADERS
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

    async def transform(
        request: web.Request,
        operation: str,
        apply: Callable[[Sequence[Payload]], Awaitable[list[Payload]]],
    ) -> web.Response:
        asked = request.headers.get(NAMESPACE_HEADER)
        if asked is not None and asked != namespace:
            return _error(403, f"this codec server serves namespace {namespace!r}, not {asked!r}")
        payloads = Payloads()
        try:
            json_format.Parse(await request.text(), payloads)
        except (json_format.ParseError, UnicodeDecodeError) as exc:
            return _error(400, f"the body is not a JSON Payloads message: {exc}")
        try:
            result = await apply(payloads.payloads)
        except CodecError as exc:
            log.warning(f"{operation} refused", reason=str(exc), count=len(payloads.payloads))
            return _error(422, str(exc))
        log.info(operation, count=len(result), namespace=asked or namespace)
        body = json_format.MessageToJson(Payloads(payloads=result))
        return web.Response(text=body, content_type="application/json")

    async def encode(request: web.Request) -> web.Response:
        return await transform(request, "encode", codec.encode)

    async def decode(request: web.Request) -> web.Response:
        return await transform(request, "decode", codec.decode)

    async def health(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "current_key_id": codec.current_key_id})

    app = web.Application(middlewares=[cors], client_max_size=MAX_BODY_BYTES)
    app.router.add_post("/encode", encode)
    app.router.add_post("/decode", decode)
    app.router.add_get("/health", health)
    return app


def app_for(settings: Settings, *, extra_origins: Collection[str] = ()) -> web.Application:
    return create_app(
        settings_codec(settings),
        namespace=settings.temporal_namespace,
        allowed_origins=[*ui_origins(settings), *extra_origins],
    )


class CodecServer:
    """A running codec server (``async with CodecServer(settings, port=0) as server``)."""

    def __init__(
        self,
        settings: Settings,
        *,
        host: str = "127.0.0.1",
        port: int = DEFAULT_PORT,
        extra_origins: Collection[str] = (),
    ) -> None:
        self.app = app_for(settings, extra_origins=extra_origins)
        self.host = host
        self.port = port
        self._runner = web.AppRunner(self.app, access_log=None)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def start(self) -> None:
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, self.port).start()
        if self.port == 0:
            self.port = int(self._runner.addresses[0][1])

    async def stop(self) -> None:
        await self._runner.cleanup()

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
