"""A small client for HAProxy's runtime API, used by the lab's ops API stand-in.

The runtime API (https://docs.haproxy.org/2.6/management.html, section 9.3) answers one
command per connection on the ``stats socket``: a UNIX socket path or a ``host:port`` TCP
address. The lab runs the real HAProxy from the Debian package, so this client talks to the
real thing; only the ops API in front of it is a stand-in.
"""
from __future__ import annotations

import re
import socket
from typing import Union

NAME_PATTERN = re.compile(r"^[A-Za-z0-9_.:-]+$")
WEIGHT_PATTERN = re.compile(r"^(\d+) \(initial (\d+)\)$")
MAX_WEIGHT = 256

Address = Union[str, tuple[str, int]]


class HaproxyRuntimeError(Exception):
    """A runtime API command could not be sent or HAProxy refused it."""


def parse_address(address: str) -> Address:
    """A UNIX socket path, or ``(host, port)`` for ``host:port`` / ``[v6]:port``.

    HAProxy's own ``unix@``, ``ipv4@`` and ``ipv6@`` prefixes are accepted too.
    """
    family, at, rest = address.partition("@")
    if at and family in ("unix", "ipv4", "ipv6"):
        return rest if family == "unix" else parse_address(rest)
    if address.startswith(("/", ".")) or ":" not in address:
        return address
    host, _colon, port = address.rpartition(":")
    if not port.isdigit():
        raise ValueError(f"HAProxy runtime address {address!r} is neither a socket path nor host:port")
    return host.strip("[]"), int(port)


def check_name(kind: str, value: str) -> None:
    if not NAME_PATTERN.match(value):
        raise ValueError(f"HAProxy {kind} name {value!r} may only hold letters, digits and _.:-")


class HaproxyRuntime:
    """Sends runtime API commands to one HAProxy ``stats socket``."""

    def __init__(self, address: str, timeout: float = 5.0):
        self.address = address
        self.timeout = timeout
        self._target = parse_address(address)

    def describe(self) -> str:
        if isinstance(self._target, str):
            return f"unix socket {self._target}"
        return f"TCP address {self._target[0]}:{self._target[1]}"

    def command(self, cmd: str) -> str:
        """Send one command and return HAProxy's answer without the trailing blank line."""
        if "\n" in cmd or ";" in cmd:
            raise ValueError(f"HAProxy runtime command {cmd!r} must be a single command (no newline or ';')")
        try:
            with self._connect() as conn:
                conn.sendall(cmd.encode() + b"\n")
                return self._read_all(conn).decode(errors="replace").rstrip("\n")
        except OSError as exc:
            raise HaproxyRuntimeError(
                f"HAProxy runtime API at {self.describe()}: command {cmd!r} failed: {exc}. "
                "Check that HAProxy runs and that its 'stats socket' line names this address with 'level admin'."
            ) from exc

    def get_weight(self, backend: str, server: str) -> tuple[int, int]:
        """The server's ``(current, initial)`` weight."""
        cmd = f"get weight {self._server_ref(backend, server)}"
        answer = self.command(cmd)
        match = WEIGHT_PATTERN.match(answer.strip())
        if not match:
            raise self._refused(cmd, answer)
        return int(match.group(1)), int(match.group(2))

    def set_weight(self, backend: str, server: str, weight: int) -> None:
        if not 0 <= weight <= MAX_WEIGHT:
            raise ValueError(f"HAProxy weight {weight} for {backend}/{server} is outside 0..{MAX_WEIGHT}")
        cmd = f"set weight {self._server_ref(backend, server)} {weight}"
        answer = self.command(cmd)
        if answer.strip():
            raise self._refused(cmd, answer)

    def show_servers_state(self, backend: str) -> list[dict[str, str]]:
        """One dict per server of ``backend``, keyed by the header fields HAProxy prints."""
        check_name("backend", backend)
        cmd = f"show servers state {backend}"
        answer = self.command(cmd)
        lines = [line for line in answer.splitlines() if line.strip()]
        header = next((line for line in lines if line.startswith("# ")), None)
        if header is None:
            raise self._refused(cmd, answer)
        fields = header[2:].split()
        return [dict(zip(fields, line.split())) for line in lines[lines.index(header) + 1:]]

    @staticmethod
    def _server_ref(backend: str, server: str) -> str:
        check_name("backend", backend)
        check_name("server", server)
        return f"{backend}/{server}"

    def _connect(self) -> socket.socket:
        if isinstance(self._target, str):
            conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            conn.settimeout(self.timeout)
            try:
                conn.connect(self._target)
            except OSError:
                conn.close()
                raise
            return conn
        return socket.create_connection(self._target, timeout=self.timeout)

    @staticmethod
    def _read_all(conn: socket.socket) -> bytes:
        chunks = []
        while chunk := conn.recv(65536):
            chunks.append(chunk)
        return b"".join(chunks)

    def _refused(self, cmd: str, answer: str) -> HaproxyRuntimeError:
        reason = answer.strip().splitlines()[0] if answer.strip() else "empty answer"
        return HaproxyRuntimeError(
            f"HAProxy runtime API at {self.describe()}: command {cmd!r} was refused: {reason}. "
            "Check the names against 'show servers state' and that the socket has 'level admin'."
        )
