"""`lab up` is idempotent, `lab status` reports every component, `lab down` leaves nothing behind.

Runs a second, short-lived lab beside the suite's own (ports shifted by 4000, its own state dir; the suite uses 1000 and 2000).
"""
from __future__ import annotations

import json
import shutil
import socket
import tempfile
from pathlib import Path
from typing import Iterator

import pytest
from labtest import run_lab

from lab.components import COMPONENTS
from lab.process import is_alive, port_open


@pytest.fixture(name="state_dir")
def fixture_state_dir() -> Iterator[Path]:
    """A state directory the OS user postgres can reach (pytest's own temporary directories are private to root)."""
    directory = Path(tempfile.mkdtemp(prefix="ofm-lab-lifecycle-"))
    directory.chmod(0o755)
    yield directory / "lab"
    shutil.rmtree(directory, ignore_errors=True)


def test_up_twice_status_down(state_dir: Path):
    env = {"OFM_LAB_STATE_DIR": str(state_dir), "OFM_LAB_PORT_OFFSET": "4000", "OFM_LAB_LOAD_RATE": "2"}
    try:
        first = run_lab("up", env=env)
        status = json.loads(run_lab("status", "--json", env=env).stdout)
        rows = {row["component"]: row for row in status["components"]}
        assert set(rows) == {component.name for component in COMPONENTS}
        assert all(row["state"] == "running" and row["pid"] for row in rows.values()), rows
        assert rows["prometheus"]["ports"] == {"prometheus": 18190 + 4000}
        assert rows["haproxy"]["ports"]["haproxy"] == 18080 + 4000
        pids = {name: row["pid"] for name, row in rows.items()}

        second = run_lab("up", env=env)
        assert second.stdout.count("already running") == len(COMPONENTS), second.stdout
        status_again = json.loads(run_lab("status", "--json", env=env).stdout)
        assert {row["component"]: row["pid"] for row in status_again["components"]} == pids
        assert "started" in first.stdout

        run_lab("down", env=env)
        ports = [port for row in rows.values() for port in row["ports"].values()]
        assert [port for port in ports if port_open("127.0.0.1", port)] == []
        assert [pid for pid in pids.values() if is_alive(pid)] == []
        stopped = json.loads(run_lab("status", "--json", env=env, check=False).stdout)
        assert {row["state"] for row in stopped["components"]} == {"stopped"}
    finally:
        run_lab("down", env=env, check=False)


def test_up_refuses_a_port_taken_by_another_program(tmp_path: Path):
    env = {"OFM_LAB_STATE_DIR": str(tmp_path / "lab"), "OFM_LAB_PORT_OFFSET": "5000"}
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 18081 + 5000))
        blocker.listen()
        result = run_lab("up", env=env, check=False)
    try:
        assert result.returncode == 2
        assert "ofm-api-stable" in result.stderr and "23081" in result.stderr and "already in use" in result.stderr
    finally:
        run_lab("down", env=env, check=False)
