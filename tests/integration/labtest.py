"""Helpers for the integration tests, which run against the lab that scripts/test.sh brings up."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any, Callable, Optional

import pytest

from lab.config import REPO_ROOT, LabConfig


def run_lab(*args: str, env: Optional[dict[str, str]] = None, check: bool = True) -> subprocess.CompletedProcess:
    """Run the real ``lab`` command."""
    result = subprocess.run([sys.executable, "-m", "lab", *args], cwd=REPO_ROOT, capture_output=True, text=True,
                            env={**os.environ, **(env or {})}, timeout=180, check=False)
    if check and result.returncode != 0:
        raise AssertionError(f"lab {' '.join(args)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
    return result


def wait_until(predicate: Callable[[], Any], timeout: float, interval: float = 1.0, what: str = "condition") -> Any:
    """Poll until ``predicate`` returns a truthy value; fail the test naming ``what`` otherwise."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    pytest.fail(f"{what} not reached within {timeout:.0f}s (last value: {last!r})")


class Prometheus:
    """A tiny reader of the lab Prometheus, for assertions."""

    def __init__(self, url: str):
        self.url = url

    def query(self, expr: str) -> dict[str, float]:
        """Instant query; the values keyed by their ``version`` label (or ``""``)."""
        params = urllib.parse.urlencode({"query": expr})
        with urllib.request.urlopen(f"{self.url}/api/v1/query?{params}", timeout=5) as response:
            body = json.load(response)
        assert body["status"] == "success", body
        return {item["metric"].get("version", ""): float(item["value"][1]) for item in body["data"]["result"]}

    def value(self, expr: str, version: str) -> Optional[float]:
        return self.query(expr).get(version)


def credentials(lab: LabConfig) -> dict[str, Any]:
    return json.loads(Path(lab.credentials_file).read_text())


def ansible_bin(name: str) -> str:
    """An ansible command of the Python that runs the tests (the project's .venv in scripts/test.sh)."""
    return str(Path(sys.executable).parent / name)


def run_playbook(playbook: str, *args: str, extra_vars: Optional[dict[str, Any]] = None, audit_log: Optional[Path] = None,
                 timeout: float = 600) -> subprocess.CompletedProcess:
    """Run ``playbooks/<playbook>`` against the lab inventory with the repository's ansible.cfg."""
    env = {**os.environ, "ANSIBLE_CONFIG": str(REPO_ROOT / "ansible.cfg"), "ANSIBLE_FORCE_COLOR": "0", "ANSIBLE_NOCOLOR": "1"}
    if audit_log:
        env["OFM_AUDIT_LOG"] = str(audit_log)
    command = [ansible_bin("ansible-playbook"), str(REPO_ROOT / "playbooks" / playbook), *args]
    if extra_vars:
        command += ["-e", json.dumps(extra_vars)]
    return subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, env=env, timeout=timeout, check=False)
