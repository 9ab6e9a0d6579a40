"""The ports Casework picks, and whether one is free.

Linux hands out the ephemeral ports (32768-60999 unless configured otherwise, see
/proc/sys/net/ipv4/ip_local_port_range) as the local end of outgoing connections: a
server whose fixed port lies in that range finds it taken, now and then, by some
client's connection. Every port Casework chooses by default, or once for good (the
provider simulator's, kept in the data directory), lies outside it.
"""

from __future__ import annotations

import errno
import random
import socket
from pathlib import Path

LINUX_EPHEMERAL_PORTS = range(32768, 61000)
"""Linux's default ephemeral range (net.ipv4.ip_local_port_range 32768 60999)."""

STABLE_PORTS = range(20000, 32768)
"""Where a port chosen once and kept is taken from: registered, below the ephemeral range."""


def ephemeral_ports(config: Path = Path("/proc/sys/net/ipv4/ip_local_port_range")) -> range:
    """This machine's ephemeral port range (Linux's default where it cannot be read)."""
    try:
        low, high = (int(part) for part in config.read_text().split())
    except (OSError, ValueError):
        return LINUX_EPHEMERAL_PORTS
    return range(low, high + 1)


def port_taken(port: int, host: str = "127.0.0.1") -> bool:
    """Whether a server could not bind `host:port` now because another socket holds it
    (listening or merely bound). Bound as servers bind (SO_REUSEADDR), so a port whose
    last connection is only waiting out TIME_WAIT counts as free."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return True
            raise
    return False


def free_stable_port(
    host: str = "127.0.0.1", ports: range = STABLE_PORTS, attempts: int = 200
) -> int:
    """A port that is free now and outside the ephemeral range, picked at random from
    `ports` (so that two stacks choosing at the same moment rarely pick the same)."""
    ephemeral = ephemeral_ports()
    candidates = [p for p in ports if p not in ephemeral]
    if not candidates:
        raise ValueError(f"ports {ports.start}-{ports.stop - 1} are all ephemeral here")
    for port in random.sample(candidates, min(attempts, len(candidates))):
        if not port_taken(port, host):
            return port
    raise OSError(errno.EADDRINUSE, f"no free port among {attempts} tried in {ports}")
