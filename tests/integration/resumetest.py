"""Helpers for the crash-safe re-run tests: a real ``ansible-playbook`` started in a session of its own, killed with SIGKILL (its
process group, and the workers and programs below it, which Ansible puts in sessions of their own) at a chosen point, then run
again with the same incident id.

The point is found in the run's own audit log (OFM_AUDIT_LOG): the callback appends a task's record when the task ends, so
``kill_after`` kills the run right after the task the predicate picks has finished. ``kill_when`` kills it when any condition
the test can observe holds (a file the module writes half-way, a row in the journal), for a point inside one task.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

import pytest
from labtest import ansible_bin

from lab.config import REPO_ROOT

POLL = 0.02


@dataclass
class Killed:
    """A run killed at its point: what it printed until then, and the audit record (or value) that set the point."""

    stdout: str
    mark: Any


def audit_records(path: Path) -> list[dict[str, Any]]:
    """The complete lines of an audit log (a line being written is left out)."""
    if not path.exists():
        return []
    records = []
    for line in path.read_text().splitlines():
        try:
            records.append(json.loads(line))
        except ValueError:
            continue
    return records


def journal_task(step: str, status: str = "done") -> Callable[[dict[str, Any]], bool]:
    """The audit record of the run journal task that marks ``step`` ``status`` (state=step)."""
    def match(record: dict[str, Any]) -> bool:
        args = record.get("args") or {}
        return (record.get("type") == "task" and record.get("module") == "ofm.rollback.run_journal" and record.get("status") != "skipped"
                and args.get("step") == step and args.get("status") == status)
    return match


def journal(record_dir: Path, incident: str, procedure: str) -> dict[str, Any]:
    path = record_dir / incident / f"journal-{procedure}.json"
    return json.loads(path.read_text()) if path.exists() else {}


def start(playbook: str, extra_vars: dict[str, Any], audit_log: Path, *args: str, env: Optional[dict[str, str]] = None) -> subprocess.Popen:
    """``ansible-playbook playbooks/<playbook>`` with the repository's ansible.cfg (the lab inventory), in a session of its own."""
    environment = {**os.environ, "ANSIBLE_CONFIG": str(REPO_ROOT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1", "ANSIBLE_FORCE_COLOR": "0",
                   "OFM_AUDIT_LOG": str(audit_log), **(env or {})}
    command = [ansible_bin("ansible-playbook"), str(REPO_ROOT / "playbooks" / playbook), *args, "-e", json.dumps(extra_vars)]
    return subprocess.Popen(command, cwd=REPO_ROOT, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)


def kill_when(process: subprocess.Popen, condition: Callable[[], Any], timeout: float, what: str) -> Killed:
    """SIGKILL the process group of ``process`` as soon as ``condition()`` is truthy; fail when the run ends first."""
    deadline = time.monotonic() + timeout
    mark = None
    while time.monotonic() < deadline:
        mark = condition()
        if mark or process.poll() is not None:
            break
        time.sleep(POLL)
    if process.poll() is None:
        crash(process)
    stdout, _stderr = process.communicate(timeout=60)
    if not mark:
        pytest.fail(f"{what} not reached within {timeout:.0f}s (rc {process.returncode}):\n{stdout[-4000:]}")
    assert process.returncode == -signal.SIGKILL, f"the run ended by itself (rc {process.returncode}) before it was killed {what}:\n{stdout[-4000:]}"
    return Killed(stdout, mark)


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (from /proc), children first found first."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents.setdefault(int(fields[1]), []).append(int(entry.name))
    found, queue = [], [pid]
    while queue:
        children = parents.get(queue.pop(0), [])
        found += children
        queue += children
    return found


def crash(process: subprocess.Popen) -> None:
    """What a lost controller does to a run: SIGKILL to ``ansible-playbook``'s process group and to every process below it.

    The group alone is not enough: Ansible's worker processes (one per running task) call setsid(), so the task in progress and
    the programs its module runs (pgbackrest, helm) are in sessions of their own and would go on after a killpg.
    """
    # Frozen first, from the top down, so that no process starts another between the reading of the tree and the kill.
    os.killpg(process.pid, signal.SIGSTOP)
    below: list[int] = []
    while True:
        new = [pid for pid in descendants(process.pid) if pid not in below]
        if not new:
            break
        for pid in new:
            _signal(pid, signal.SIGSTOP)
        below += new
    os.killpg(process.pid, signal.SIGKILL)
    for pid in below:
        _signal(pid, signal.SIGKILL)
    _wait_gone(below)


def _signal(pid: int, number: int) -> None:
    try:
        os.kill(pid, number)
    except ProcessLookupError:
        pass


def _wait_gone(pids: list[int], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(Path(f"/proc/{pid}").exists() and _state(pid) != "Z" for pid in pids):
        time.sleep(POLL)


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return "Z"


def kill_after(process: subprocess.Popen, audit_log: Path, predicate: Callable[[dict[str, Any]], bool], timeout: float = 180) -> Killed:
    """SIGKILL the run right after the task whose audit record ``predicate`` picks has ended."""
    def seen() -> Optional[dict[str, Any]]:
        return next((record for record in audit_records(audit_log) if predicate(record)), None)
    return kill_when(process, seen, timeout, "the task's audit record")


def finish(process: subprocess.Popen, timeout: float = 300) -> subprocess.CompletedProcess:
    """Wait for a run that is not killed; its exit code and output."""
    try:
        stdout, _stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        stdout, _stderr = process.communicate()
        pytest.fail(f"the run did not end within {timeout:.0f}s:\n{stdout[-4000:]}")
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, "")


def no_process_left(process: subprocess.Popen, timeout: float = 10.0) -> bool:
    """Whether nothing of the killed run is alive any more, within ``timeout`` (a SIGKILLed group takes a moment to be reaped):
    its process group, its workers and the commands its modules ran."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            os.killpg(process.pid, 0)
        except ProcessLookupError:
            if not descendants(process.pid):
                return True
        if time.monotonic() > deadline:
            return False
        time.sleep(POLL)
