"""Helpers of the external load-balancer tests (OpenShift Routes on the lab's Kubernetes test server, the ALB on moto's
server): the lab with just the components they use running, and a listener that accepts connections and never answers."""
from __future__ import annotations

import json
import socket
import threading
from contextlib import contextmanager
from typing import Iterator

import pytest
from labtest import run_lab

from lab.config import HOST, LabConfig, load_config


def lab_with(*components: str) -> LabConfig:
    """The lab, failing (not skipping) the test when one of ``components`` is not running."""
    cfg = load_config()
    if not cfg.config_file.exists():
        pytest.fail(f"no lab at {cfg.state_dir}: run `lab up` (or the suite with scripts/test.sh)")
    status = json.loads(run_lab("status", "--json", check=False).stdout)
    down = [row["component"] for row in status["components"] if row["component"] in components and row["state"] != "running"]
    if down:
        pytest.fail(f"lab components not running: {down}; see {cfg.state_dir}/logs")
    return cfg


@contextmanager
def hanging_listener() -> Iterator[str]:
    """``host:port`` of a TCP listener that accepts every connection and never answers (closed afterwards)."""
    server = socket.socket()
    server.bind((HOST, 0))
    server.listen(16)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"{HOST}:{server.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(5)
        for conn in accepted:
            conn.close()
        server.close()


def closed_port() -> int:
    """A port nothing listens on."""
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]
