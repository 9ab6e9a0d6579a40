"""The one way to connect to Temporal: same namespace, data converter and codec everywhere.

`data_converter(settings)` is the pydantic data converter with the encryption codec
of infrastructure/codec.py over the settings' keyring, and failure messages and stack
traces moved into (encrypted) encoded attributes: nothing Casework sends to
Temporal is readable without the keys. The client (`connect`), the worker (it
inherits the client's converter), the tests and the replayer all use it.
"""

from __future__ import annotations

import dataclasses

from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes

from infrastructure.codec import EncryptionCodec, Keyring, development_keyring
from infrastructure.environment import ServerNotAnswering, one_line
from infrastructure.keys import CODEC, development_key_path, key_spec
from infrastructure.settings import Settings

PLAIN_DATA_CONVERTER: DataConverter = pydantic_data_converter
"""The pydantic converter *without* the codec: only for inspecting what Temporal
stores (tests) — never for a client or worker that starts or runs cases."""


def keyring(settings: Settings) -> Keyring:
    """CASEWORK_CODEC_KEYS (or its file) when set, else the development keyring in the
    data directory (made only by the embedded stack: infrastructure/keys.py)."""
    spec = key_spec(settings, CODEC)
    if spec is not None:
        return Keyring.parse(spec)
    development_key_path(settings, CODEC)
    return development_keyring(settings.data_dir)


def codec(settings: Settings) -> EncryptionCodec:
    return EncryptionCodec(keyring(settings))


def data_converter(settings: Settings) -> DataConverter:
    """The pydantic converter with the encryption codec over `settings`' keyring."""
    return dataclasses.replace(
        pydantic_data_converter,
        payload_codec=codec(settings),
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )


async def connect(settings: Settings, *, serve_metrics: bool = False, lazy: bool = False) -> Client:
    """A client; `serve_metrics` for the worker process (see infrastructure/metrics.py).
    ServerNotAnswering (infrastructure/environment.py) when Temporal does not answer.
    `lazy`: connect at the first call (whose own timeout then bounds the attempt, so
    nothing is left connecting when a caller gives up)."""
    from infrastructure.metrics import logging_runtime, runtime_for
    from infrastructure.tracing import configure_tracing, temporal_interceptors

    try:
        return await Client.connect(
            settings.temporal_address,
            namespace=settings.temporal_namespace,
            data_converter=data_converter(settings),
            # Tracing (when OTEL_EXPORTER_OTLP_ENDPOINT is set): the client's spans, and
            # a worker on this client inherits the interceptor (infrastructure/tracing.py).
            interceptors=temporal_interceptors(configure_tracing(settings)),
            runtime=runtime_for(settings) if serve_metrics else logging_runtime(),
            lazy=lazy,
        )
    except RuntimeError as exc:  # what temporalio raises when it cannot connect
        raise ServerNotAnswering(
            f"Temporal does not answer at {settings.temporal_address} ({one_line(str(exc))})",
            "TEMPORAL_ADDRESS",
            "start the stack (`casework up`), or set TEMPORAL_ADDRESS to a Temporal that runs",
        ) from exc


async def worker_polls(client: Client, task_queue: str) -> bool:
    """Whether a worker polls `task_queue` for workflow tasks (it started and reached
    both servers). The server remembers a poller for a minute after it stops."""
    reply = await client.workflow_service.describe_task_queue(
        DescribeTaskQueueRequest(
            namespace=client.namespace,
            task_queue=TaskQueue(name=task_queue),
            task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
        )
    )
    return bool(reply.pollers)
