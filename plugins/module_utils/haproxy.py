# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A client for HAProxy's runtime API (the ``stats socket``): server weights and server state.

HAProxy answers one line per connection on a UNIX socket or a TCP address
(https://docs.haproxy.org/2.6/management.html#9.3); a line may hold several commands separated by ``;``, which it
runs in order, each answer ending with an empty line (``commands``). Names and weights are checked before anything
is sent, and every refusal becomes an error of ``errors.py`` that names the socket and the command. A connection that
cannot be made is tried again twice (nothing was sent; HAProxy re-binds its socket while it reloads); one that was made
is never sent again.
``haproxy_servers.py`` builds the server weights and states, drains and the reload check on this client.
"""

from __future__ import annotations

import re
import socket
import time
from dataclasses import dataclass
from typing import Any, Mapping, Optional, Sequence, Union

from ansible_collections.ofm.rollback.plugins.module_utils.errors import (
    AuthorizationError,
    DataError,
    InputError,
    NotFoundError,
    OfmRollbackError,
    UnavailableError,
)

SYSTEM = "HAProxy runtime API"
MAX_WEIGHT = 256
DEFAULT_TIMEOUT = 5.0
# A line of ';'-separated commands stays below HAProxy's default buffer (tune.bufsize 16384); longer batches take more lines.
MAX_LINE = 15000
RETRY_DELAYS = (0.2, 0.5)
NAME_HELP = "a name of letters, digits and the characters _ . : -"
ADDRESS_HELP = "a UNIX socket path (/run/haproxy/admin.sock), host:port (127.0.0.1:9999), [v6]:port, or HAProxy's unix@/ipv4@/ipv6@ forms"

# The connection options of the modules that take any server of any backend (doc fragment ofm.rollback.haproxy.runtime_api).
HAPROXY_RUNTIME_SPEC: dict[str, dict[str, Any]] = {
    "haproxy_runtime_api": {"type": "str", "required": True},
    "haproxy_timeout": {"type": "float", "default": DEFAULT_TIMEOUT},
}

_NAME = re.compile(r"^[A-Za-z0-9_.:-]+$")
_WEIGHT_ANSWER = re.compile(r"^(\d+) \(initial (\d+)\)$")
_NOT_FOUND_ANSWERS = ("No such backend", "No such server", "Can't find backend")
_PERMISSION_ANSWER = "Permission denied"

Endpoint = Union[str, tuple[str, int]]


@dataclass(frozen=True)
class ServerWeight:
    """A server's weight now (``current``, as set at run time) and as configured (``initial``)."""

    current: int
    initial: int


def parse_address(address: str, option: str = "haproxy_runtime_api") -> Endpoint:
    """A UNIX socket path, or ``(host, port)`` for ``host:port`` and ``[v6]:port``; ``unix@``, ``ipv4@``, ``ipv6@`` prefixes work too."""
    text = (address or "").strip()
    family, at, rest = text.partition("@")
    if at and family == "unix" and rest:
        return rest
    if at and family in ("ipv4", "ipv6"):
        return _host_port(rest, address, option)
    if "/" in text or (text and ":" not in text and "@" not in text):
        return text
    return _host_port(text, address, option)


def _host_port(text: str, address: str, option: str) -> tuple[str, int]:
    host, colon, port = text.rpartition(":")
    host = host.strip("[]")
    if not (colon and host and port.isdigit() and 0 < int(port) < 65536):
        raise InputError(f"{address!r} is neither a socket path nor host:port", system=SYSTEM, option=option, accepted=ADDRESS_HELP)
    return host, int(port)


def describe(endpoint: Endpoint) -> str:
    """``unix socket <path>`` or ``<host>:<port>``, for messages."""
    if isinstance(endpoint, str):
        return f"unix socket {endpoint}"
    host, port = endpoint
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def check_name(kind: str, value: str, option: Optional[str] = None) -> str:
    """``value`` if it is a valid HAProxy ``kind`` (backend, server) name, else an ``InputError``."""
    if not isinstance(value, str) or not _NAME.match(value):
        raise InputError(f"HAProxy {kind} name {value!r} is not valid", system=SYSTEM, option=option, accepted=NAME_HELP)
    return value


def check_weight(weight: int, option: Optional[str] = None) -> int:
    """``weight`` if HAProxy accepts it as an absolute weight (0 to 256), else an ``InputError``."""
    if isinstance(weight, bool) or not isinstance(weight, int) or not 0 <= weight <= MAX_WEIGHT:
        raise InputError(f"HAProxy weight {weight!r} is not valid", system=SYSTEM, option=option, accepted=f"an integer from 0 to {MAX_WEIGHT}")
    return weight


class HaproxyRuntimeClient:
    """Sends runtime API commands to one HAProxy ``stats socket``; ``set`` commands need ``level admin``."""

    def __init__(self, address: str, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        if timeout <= 0:
            raise InputError(f"timeout must be more than 0 seconds, got {timeout:g}", system=SYSTEM, option="haproxy_timeout",
                             accepted="a number of seconds above 0")
        self.endpoint = parse_address(address)
        self.target = describe(self.endpoint)
        self.timeout = timeout
        self.round_trips = 0
        self.sleep = time.sleep

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> "HaproxyRuntimeClient":
        """A client from the module's ``haproxy_runtime_api`` and ``haproxy_timeout`` options (``traffic.HAPROXY_ROUTER_SPEC``)."""
        return cls(params["haproxy_runtime_api"], timeout=params["haproxy_timeout"])

    def command(self, command: str) -> str:
        """Send one command and return HAProxy's answer without trailing blank lines."""
        return self._exchange(self._checked(command), command).rstrip()

    def commands(self, commands: Sequence[str]) -> list[str]:
        """Send ``commands`` joined by ``;`` on one connection (more only when the line would pass ``MAX_LINE``); their answers.

        Every command is checked before the first is sent. An answer is the lines up to the empty line that ends it (empty for a
        ``set`` command that succeeded), so no command's output may hold an empty line itself (``show`` and ``set`` outputs don't).
        """
        lines = _batches([self._checked(command) for command in commands])
        answers: list[str] = []
        for line in lines:
            answer = self._exchange(line, _shown(line))
            answers.extend(_split_answers(answer, line.count("; ") + 1, self, line))
        return answers

    def _checked(self, command: str) -> str:
        if not isinstance(command, str) or not command.strip() or any(char in command for char in "\r\n;"):
            raise InputError(f"{command!r} must be one non-empty command without newlines or ';'", system=SYSTEM,
                             operation="command check", target=self.target)
        return command

    def _exchange(self, line: str, shown: str) -> str:
        """Send one line, read the answer until HAProxy closes the connection."""
        conn, attempt = self._open(shown)
        try:
            with conn:
                conn.sendall(line.encode() + b"\n")
                return _read_all(conn).decode(errors="replace")
        except socket.timeout as exc:
            raise self._unavailable(shown, f"no answer within {self.timeout:g}s", attempts=attempt) from exc
        except OSError as exc:
            raise self._unavailable(shown, exc.strerror or str(exc), attempts=attempt) from exc

    def _open(self, shown: str) -> tuple[socket.socket, int]:
        """A connection and the attempt that made it; a failed one (nothing sent) is tried again after each of ``RETRY_DELAYS``,
        since HAProxy re-binds its stats socket while it reloads."""
        attempt = 0
        while True:
            attempt += 1
            self.round_trips += 1
            try:
                return self._connect(), attempt
            except OSError as exc:
                if attempt > len(RETRY_DELAYS):
                    reason = f"no connection within {self.timeout:g}s" if isinstance(exc, socket.timeout) else exc.strerror or str(exc)
                    raise self._unavailable(shown, reason, attempts=attempt, sent=False) from exc
                self.sleep(RETRY_DELAYS[attempt - 1])

    def get_weight(self, backend: str, server: str) -> ServerWeight:
        """The server's current and initial weight."""
        command = f"get weight {_server_ref(backend, server)}"
        answer = self.command(command)
        match = _WEIGHT_ANSWER.match(answer)
        if match is None:
            raise self.refused(command, answer)
        return ServerWeight(int(match.group(1)), int(match.group(2)))

    def set_weight(self, backend: str, server: str, weight: int) -> None:
        """Set the server's absolute weight (0 to 256); 0 sends it no new traffic."""
        command = f"set weight {_server_ref(backend, server)} {check_weight(weight)}"
        answer = self.command(command)
        if answer:
            raise self.refused(command, answer)

    def show_servers_state(self, backend: Optional[str] = None) -> list[dict[str, str]]:
        """One dict per server (of ``backend``, or of every backend), keyed by HAProxy's field names (``srv_name``, ``srv_uweight``, ...)."""
        command = f"show servers state {check_name('backend', backend)}" if backend else "show servers state"
        return self.servers_state_rows(command, self.command(command))

    def servers_state_rows(self, command: str, answer: str) -> list[dict[str, str]]:
        """The rows of a ``show servers state`` answer (``show_servers_state``), for an answer read in a batch."""
        lines = [line for line in answer.splitlines() if line.strip()]
        header = next((index for index, line in enumerate(lines) if line.startswith("# ")), None)
        if header is None:
            raise self.refused(command, answer)
        fields = lines[header][2:].split()
        rows = [line.split() for line in lines[header + 1:]]
        if any(len(row) != len(fields) for row in rows):
            raise DataError(f"a server line does not have the {len(fields)} fields of the header", system=SYSTEM,
                            operation=f"command '{command}'", target=self.target, details={"answer": answer[:2000]},
                            hint="Check that the address is HAProxy's stats socket and that HAProxy is version 1.8 or later.")
        return [dict(zip(fields, row)) for row in rows]

    def _connect(self) -> socket.socket:
        if isinstance(self.endpoint, tuple):
            return socket.create_connection(self.endpoint, timeout=self.timeout)
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        conn.settimeout(self.timeout)
        try:
            conn.connect(self.endpoint)
        except OSError:
            conn.close()
            raise
        return conn

    def _unavailable(self, command: str, reason: str, *, attempts: int = 1, sent: Optional[bool] = None) -> UnavailableError:
        return UnavailableError(reason, system=SYSTEM, operation=f"command '{command}'", target=self.target, attempts=attempts, sent=sent,
                                hint="Check that HAProxy runs, that its 'stats socket' line names this address, "
                                     "and that this user may open the socket.")

    def refused(self, command: str, answer: str) -> OfmRollbackError:
        reason = answer.splitlines()[0].strip() if answer else "empty answer"
        common = {"system": SYSTEM, "operation": f"command '{command}'", "target": self.target, "details": {"answer": answer[:2000]}}
        if reason.startswith(_NOT_FOUND_ANSWERS):
            return NotFoundError(reason, **common, hint="Check the backend and server names against 'show servers state'.")
        if reason.startswith(_PERMISSION_ANSWER):
            return AuthorizationError(reason, **common, hint="Give this stats socket 'level admin' in haproxy.cfg to change weights.")
        return InputError(f"HAProxy refused the command: {reason}", **common,
                          hint="Check the command against the runtime API of this HAProxy version (help).")


def _batches(commands: list[str]) -> list[str]:
    lines: list[str] = []
    for command in commands:
        if lines and len(lines[-1]) + len(command) + 2 <= MAX_LINE:
            lines[-1] += "; " + command
        else:
            lines.append(command)
    return lines


def _shown(line: str) -> str:
    """A batch's commands for messages: the first ones and how many more."""
    commands = line.split("; ")
    return line if len(commands) <= 3 else f"{'; '.join(commands[:3])}; ... ({len(commands)} commands)"


def _split_answers(answer: str, count: int, client: HaproxyRuntimeClient, line: str) -> list[str]:
    """The answers of ``count`` commands: each is the lines before the empty line that ends it."""
    answers: list[str] = []
    current: list[str] = []
    for text in answer.split("\n"):
        if text.strip():
            current.append(text)
            continue
        if len(answers) < count:
            answers.append("\n".join(current))
            current = []
    if len(answers) != count or current or not answer.endswith("\n"):
        raise DataError(f"{len(answers)} complete answers to {count} commands", system=SYSTEM, operation=f"command '{_shown(line)}'",
                        target=client.target, details={"answer": answer[:2000]},
                        hint="Check that the address is HAProxy's stats socket (HAProxy 1.8 or later), and that HAProxy did not stop half-way.")
    return answers


def _server_ref(backend: str, server: str) -> str:
    return f"{check_name('backend', backend)}/{check_name('server', server)}"


def _read_all(conn: socket.socket) -> bytes:
    chunks = []
    while True:
        chunk = conn.recv(65536)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
