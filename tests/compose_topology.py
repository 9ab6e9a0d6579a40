"""docker-compose.yml's Casework services run as processes, from the file itself.

Docker is not available here, so each container the file declares becomes a process:
exactly its service's `command` and `environment` (with the compose file's `${VAR:-default}`
interpolation, YAML merges resolved, and the image's `ENV` from the Dockerfile beneath),
and nothing of the test's own environment. What containers would give each process is
given the same way:

* its own filesystem: a directory of its own stands for the image's data directory
  (`/var/lib/casework`), so no process sees another's files;
* its secrets: `/run/secrets/<name>` is the file the top-level `secrets:` names (under
  CASEWORK_SECRETS_DIR, as an operator sets it), mounted by rewriting the path;
* its volumes: a named volume is one directory shared by the services that mount it;
* its network: the compose hosts `temporal:7233` and `casework-postgresql:5432` are the
  test's Temporal dev server and scratch database (the file's credentials and database
  name mapped onto the scratch one), and each replica's listening ports (the API's
  8000, the metrics endpoint) get a free port of this host, as a container's own
  network namespace would.

`deploy.replicas` processes start per service; one-shot services (`casework-setup`,
`casework-verify`) run to completion. The same class starts a process like an operator's
`docker compose run --rm SERVICE casework ...`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shlex
import signal
import sys
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from infrastructure.embedded_postgres import free_port
from tests.conftest import ROOT

COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
BIN = Path(sys.executable).parent

_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}|\$\$")


def interpolate(value: str, variables: Mapping[str, str]) -> str:
    """Compose's interpolation: `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `$$`."""

    def one(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, default = match.group(1), match.group(2)
        found = variables.get(name)
        return found if found else (default or "")

    return _VARIABLE.sub(one, value)


def image_environment() -> dict[str, str]:
    """The Dockerfile's `ENV` lines (the image's environment under every service's)."""
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    env: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("ENV "):
            for token in shlex.split(line[4:]):
                name, _, value = token.partition("=")
                env[name] = value
    return env


@dataclass
class ServiceSpec:
    name: str
    command: list[str]
    environment: dict[str, str]
    secrets: list[str]
    volumes: list[tuple[str, str]]
    """(named volume, container path)."""
    replicas: int
    ports: list[str]
    healthcheck: list[str] | None
    """The health check's command (`test` of form CMD), None without one."""


def read_compose(variables: Mapping[str, str]) -> tuple[dict[str, ServiceSpec], dict[str, Path]]:
    """The Casework services of the compose file, and its secrets' files."""
    compose = yaml.safe_load(COMPOSE_FILE.read_text())
    services: dict[str, ServiceSpec] = {}
    for name, service in compose["services"].items():
        command = service.get("command")
        if not command or command[0] != "casework":
            continue  # PostgreSQL, Temporal and its UI: the test's own servers stand in
        environment = {
            key: interpolate(str(value), variables)
            for key, value in (service.get("environment") or {}).items()
        }
        volumes = []
        for volume in service.get("volumes") or []:
            source, target = str(volume).split(":")[:2]
            volumes.append((source, target))
        services[name] = ServiceSpec(
            name=name,
            command=list(command),
            environment=environment,
            secrets=list(service.get("secrets") or []),
            volumes=volumes,
            replicas=int((service.get("deploy") or {}).get("replicas", 1)),
            ports=[str(p) for p in service.get("ports") or []],
            healthcheck=_health_command(service.get("healthcheck")),
        )
    secrets = {
        name: Path(interpolate(spec["file"], variables))
        for name, spec in (compose.get("secrets") or {}).items()
    }
    return services, secrets


def _health_command(healthcheck: object) -> list[str] | None:
    test = healthcheck.get("test") if isinstance(healthcheck, dict) else None
    if isinstance(test, list) and test and test[0] == "CMD":
        return [str(part) for part in test[1:]]
    return None


@dataclass
class Container:
    """One process standing for one container."""

    service: str
    index: int
    process: asyncio.subprocess.Process
    log: Path
    env: dict[str, str]
    stopped: bool = False
    """Stopped by the test (not exited by itself)."""

    @property
    def http_url(self) -> str | None:
        port = self.env.get("CASEWORK_HTTP_PORT")
        return f"http://127.0.0.1:{port}" if port else None

    def log_tail(self, chars: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""


@dataclass
class Topology:
    """The compose file's Casework services as processes (see the module's docstring)."""

    root: Path
    database_url: str
    temporal_address: str
    variables: dict[str, str]
    services: dict[str, ServiceSpec] = field(init=False)
    secret_files: dict[str, Path] = field(init=False)
    containers: list[Container] = field(default_factory=list)
    _count: int = 0

    def __post_init__(self) -> None:
        self.services, self.secret_files = read_compose(self.variables)
        self.image_env = image_environment()

    def _map_value(self, value: str, mounts: Mapping[str, Path]) -> str:
        if value.startswith("postgresql://") and "@casework-postgresql:5432/" in value:
            return self.database_url
        value = value.replace("temporal:7233", self.temporal_address)
        for target, source in mounts.items():
            if value == target or value.startswith(target + "/"):
                return str(source) + value[len(target) :]
        return value

    def environment(self, spec: ServiceSpec, home: Path) -> dict[str, str]:
        """What the container's process sees: the image's ENV, the service's environment
        (hosts, secrets and volumes mapped), a free port for each port it listens on."""
        mounts: dict[str, Path] = {
            f"/run/secrets/{name}": self.secret_files[name] for name in spec.secrets
        }
        for volume, target in spec.volumes:
            shared = self.root / "volumes" / volume
            shared.mkdir(parents=True, exist_ok=True)
            mounts[target] = shared
        data_dir = self.image_env.get("CASEWORK_DATA_DIR", "/var/lib/casework")
        mounts.setdefault(data_dir, home / "data")
        env = {key: self._map_value(v, mounts) for key, v in self.image_env.items()}
        env.update({key: self._map_value(v, mounts) for key, v in spec.environment.items()})
        if "CASEWORK_HTTP_PORT" in env:
            env["CASEWORK_HTTP_PORT"] = str(free_port())
        env["CASEWORK_METRICS_PORT"] = str(free_port())
        env["PATH"] = f"{BIN}:/usr/bin:/bin"
        env["HOME"] = str(home)
        return env

    def _home(self, label: str) -> Path:
        self._count += 1
        home = self.root / "containers" / f"{label}-{self._count}"
        (home / "data").mkdir(parents=True, exist_ok=True)
        return home

    async def _spawn(self, spec: ServiceSpec, args: list[str], label: str) -> Container:
        home = self._home(label)
        env = self.environment(spec, home)
        log = home / "output.log"
        program = str(BIN / args[0]) if args[0] == "casework" else args[0]
        with log.open("wb") as out:
            process = await asyncio.create_subprocess_exec(
                program, *args[1:], cwd=home, env=env,
                stdin=asyncio.subprocess.DEVNULL, stdout=out, stderr=out,
            )  # fmt: skip
        return Container(spec.name, self._count, process, log, env)

    async def start(self, name: str, replicas: int | None = None) -> list[Container]:
        """`docker compose up SERVICE`: its replicas, each its own process."""
        spec = self.services[name]
        started = [
            await self._spawn(spec, spec.command, name)
            for _ in range(spec.replicas if replicas is None else replicas)
        ]
        self.containers += started
        return started

    async def run(self, name: str, *args: str) -> tuple[int, str]:
        """`docker compose run --rm SERVICE [ARGS]`: one process of the service's
        environment (its command, or `args`), to completion: (exit code, output)."""
        spec = self.services[name]
        container = await self._spawn(spec, list(args) or spec.command, f"{name}-run")
        code = await asyncio.wait_for(container.process.wait(), 300)
        return code, container.log.read_text(errors="replace")

    def running(self, name: str) -> list[Container]:
        return [c for c in self.containers if c.service == name and c.process.returncode is None]

    async def stop(self, container: Container, sig: int = signal.SIGTERM) -> int:
        """`docker compose stop` (SIGTERM, then the grace period) or `kill` (SIGKILL)."""
        container.stopped = True
        if container.process.returncode is None:
            container.process.send_signal(sig)
        try:
            return await asyncio.wait_for(container.process.wait(), 90)
        except TimeoutError:
            container.process.kill()
            return await container.process.wait()

    async def down(self) -> dict[str, int]:
        """Every container stopped (SIGTERM); the exit code of each, by container."""
        codes: dict[str, int] = {}
        for container in reversed(self.containers):
            codes[f"{container.service}-{container.index}"] = await self.stop(container)
        return codes

    def dead(self) -> list[str]:
        """Long-running containers that exited by themselves, with their logs' ends."""
        return [
            f"{c.service}-{c.index} exited {c.process.returncode}:\n{c.log_tail()}"
            for c in self.containers
            if c.process.returncode is not None and not c.stopped
        ]


def environ_without_casework() -> dict[str, str]:
    """The test's environment less every Casework and Temporal setting (a person's shell
    running the command line against the deployment)."""
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CASEWORK_", "TEMPORAL_", "DATABASE_URL"))
    }


class RoundRobin:
    """The load balancer an operator puts in front of the API replicas (compose publishes
    them on ports of their own): a TCP proxy handing each new connection to the next
    replica, so a person's successive commands land on alternate replicas."""

    def __init__(self, backends: list[tuple[str, int]]) -> None:
        self.backends = backends
        self.connections: Counter[int] = Counter()
        self._next = 0
        self._server: asyncio.Server | None = None
        self.url = ""

    async def __aenter__(self) -> RoundRobin:
        self._server = await asyncio.start_server(self._forward, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    async def _forward(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        index = self._next % len(self.backends)
        self._next += 1
        self.connections[index] += 1
        host, port = self.backends[index]
        try:
            up_reader, up_writer = await asyncio.open_connection(host, port)
        except OSError:
            writer.close()
            return

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                with contextlib.suppress(Exception):
                    dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
