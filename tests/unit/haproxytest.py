# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A real HAProxy of the tests' own for the server weight/state tests (unit and integration): five backends (one server tracks another), a TCP frontend
whose sessions can be held open, both a UNIX and a TCP admin socket; read and reset with raw socket code, not the code
under test."""
from __future__ import annotations

import contextlib
import shutil
import socket
import threading
from pathlib import Path
from typing import Iterator

import pytest
from unithelpers import Addresses, _wait_for, free_port, haproxy_command, haproxy_running

BIG = 50
INITIAL = {
    "app": {"a1": (10, "ready"), "a2": (20, "ready"), "a3": (30, "maint")},
    "drain": {"d1": (10, "ready")},
    "tracked": {"main": (1, "ready")},
    "tracking": {"follower": (1, "ready")},
    "big": {f"s{index:02d}": (index, "ready") for index in range(1, BIG + 1)},
}
TEMPLATE = """\
global
    stats socket {admin} level admin
    stats socket 127.0.0.1:{tcp_port} level admin
    stats socket {operator} level operator

defaults
    mode tcp
    timeout connect 1s
    timeout client 30s
    timeout server 30s

frontend drain_front
    bind 127.0.0.1:{front_port}
    default_backend drain

backend drain
    server d1 127.0.0.1:{echo_port} weight 10

backend app
    server a1 127.0.0.1:{stable_port} weight 10
    server a2 127.0.0.1:{stable_port} weight 20
    server a3 127.0.0.1:{stable_port} weight 30 disabled

backend tracked
    server main 127.0.0.1:{echo_port} weight 1 check inter 60s

backend tracking
    server follower 127.0.0.1:{echo_port} weight 1 track tracked/main

backend big
{big}
"""


class Listener:
    """A TCP server that holds each connection until the other end closes it (the server of HAProxy's backend ``drain``)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.accepted: list[socket.socket] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                conn, _address = self.sock.accept()
                self.accepted.append(conn)
                threading.Thread(target=self._hold, args=(conn,), daemon=True).start()

    @staticmethod
    def _hold(conn: socket.socket) -> None:
        """Hold the connection until HAProxy closes it (the client left), then close this end too."""
        with contextlib.suppress(OSError), conn:
            while conn.recv(4096):
                pass

    def close(self) -> None:
        self.sock.close()
        for conn in self.accepted:
            conn.close()


@contextlib.contextmanager
def lb_running(workdir: Path) -> Iterator[tuple[Addresses, int]]:
    """The tests' HAProxy (``TEMPLATE``); yields its addresses and the port of its frontend to the backend ``drain``."""
    listener = Listener()
    front_port = free_port()
    big = "\n".join(f"    server {name} 127.0.0.1:{listener.port} weight {weight}" for name, (weight, _state) in INITIAL["big"].items())
    try:
        with haproxy_running(workdir, TEMPLATE, front_port=front_port, echo_port=listener.port, big=big) as addresses:
            yield addresses, front_port
    finally:
        listener.close()


def _needs_haproxy(request: pytest.FixtureRequest) -> None:
    """Skip a unit test where haproxy is not installed; fail an integration test (the lab installs it)."""
    if shutil.which("haproxy") is None:
        missing = pytest.fail if "integration" in Path(str(request.path)).parts else pytest.skip
        missing("haproxy is not installed (apt-get install haproxy)")


# Fixtures: a test module imports them by name (from haproxytest import fixture_lb, fixture_lb_process, ...).

@pytest.fixture(scope="module", name="lb_process")
def fixture_lb_process(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Addresses, int]]:
    """The tests' HAProxy for a test module: its addresses and its frontend's port."""
    _needs_haproxy(request)
    with lb_running(tmp_path_factory.mktemp("lb")) as running:
        yield running


@pytest.fixture(name="lb")
def fixture_lb(lb_process: tuple[Addresses, int]) -> Addresses:
    """The module's HAProxy with every server at its configured weight and state."""
    reset(lb_process[0])
    return lb_process[0]


@pytest.fixture(name="own_lb")
def fixture_own_lb(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Addresses]:
    """An HAProxy for one test, to stop or freeze."""
    _needs_haproxy(request)
    with lb_running(tmp_path_factory.mktemp("own-lb")) as (addresses, _front):
        yield addresses


def reset(addresses: Addresses) -> None:
    """Every server back at its configured weight and state, in one line of commands."""
    commands = [f"set server {backend}/{server} weight {weight}; set server {backend}/{server} state {state}"
                for backend, servers in INITIAL.items() for server, (weight, state) in servers.items()]
    answer = haproxy_command(addresses.admin, "; ".join(commands))
    assert not answer.strip(), answer


def state_rows(addresses: Addresses) -> list[list[str]]:
    """``show servers state`` as raw rows, without the field that counts seconds (srv_time_since_last_change)."""
    lines = [line.split() for line in haproxy_command(addresses.admin, "show servers state").splitlines()[2:] if line.strip()]
    return [row[:9] + row[10:] for row in lines]


def settings(addresses: Addresses) -> dict[str, dict[str, tuple[int, int]]]:
    """``{backend: {server: (weight, srv_admin_state)}}`` read with raw socket code."""
    found: dict[str, dict[str, tuple[int, int]]] = {}
    for row in haproxy_command(addresses.admin, "show servers state").splitlines()[2:]:
        if row.strip():
            fields = row.split()
            found.setdefault(fields[1], {})[fields[3]] = (int(fields[7]), int(fields[6]))
    return found


@contextlib.contextmanager
def held_session(addresses: Addresses, front_port: int) -> Iterator[socket.socket]:
    """A client connection through the frontend to server ``drain/d1``, open until the block ends (or it is closed)."""
    # A session of an earlier test may still be counted: wait until it is gone, or this one would count as two.
    _wait_for(lambda: _scur(addresses) == 0, "no session on drain/d1")
    client = socket.create_connection(("127.0.0.1", front_port), timeout=5)
    try:
        _wait_for(lambda: _scur(addresses) == 1, "a session on drain/d1")
        yield client
    finally:
        client.close()


def _scur(addresses: Addresses) -> int:
    lines = haproxy_command(addresses.admin, "show stat drain 4 -1").splitlines()
    fields = lines[0][2:].split(",")
    return int(dict(zip(fields, lines[1].split(",")))["scur"] or 0)
