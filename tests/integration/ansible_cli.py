"""Run single modules (``ansible -m``) and scratch playbooks through the real commands, on localhost.

``labtest.run_playbook`` runs the repository's own playbooks against the lab inventory; these helpers run one module,
or a playbook written by a test, with nothing but this checkout's collection configured.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from labtest import ansible_bin

from lab.config import REPO_ROOT

_RESULT_MARKERS = (" | SUCCESS => ", " | CHANGED => ", " | FAILED! => ")


@dataclass
class ModuleRun:
    """One ad-hoc module run: its exit code, its result dict and what it printed."""

    returncode: int
    result: dict[str, Any]
    stdout: str
    stderr: str

    @property
    def failed(self) -> bool:
        return self.returncode != 0 or bool(self.result.get("failed"))


def ansible_env(workdir: Path, extra: Optional[dict[str, str]] = None) -> dict[str, str]:
    """The environment of an ansible command: this checkout's collection, JSON results, no colours, no user config."""
    env = {name: value for name, value in os.environ.items() if not name.startswith(("ANSIBLE_", "OFM_OPS_API_", "PROMETHEUS_"))}
    env.update({
        "ANSIBLE_COLLECTIONS_PATH": str(REPO_ROOT / ".collections"),
        "ANSIBLE_CALLBACK_RESULT_FORMAT": "json",
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_HOME": str(workdir / "ansible-home"),
        "ANSIBLE_LOCAL_TEMP": str(workdir / "ansible-tmp"),
    })
    env.update(extra or {})
    return env


def run_module(module: str, args: dict[str, Any], workdir: Path, *, check: bool = False, diff: bool = False,
               env: Optional[dict[str, str]] = None, timeout: float = 300) -> ModuleRun:
    """``ansible localhost -m ofm.rollback.<module> -a <json>`` and its parsed result."""
    argv = [ansible_bin("ansible"), "localhost", "-i", "localhost,", "-c", "local",
            "-e", f"ansible_python_interpreter={sys.executable}", "-m", f"ofm.rollback.{module}"]
    argv += ["-a", json.dumps(args)] * bool(args) + ["--check"] * check + ["--diff"] * diff
    done = subprocess.run(argv, cwd=workdir, env=ansible_env(workdir, env), capture_output=True, text=True, timeout=timeout, check=False)
    return ModuleRun(done.returncode, _result(done.stdout, done.stderr), done.stdout, done.stderr)


def run_local_playbook(playbook: Path, workdir: Path, *, extra_vars: Optional[dict[str, Any]] = None, env: Optional[dict[str, str]] = None,
                       timeout: float = 600) -> subprocess.CompletedProcess:
    """``ansible-playbook`` on localhost with ``extra_vars`` passed as JSON."""
    argv = [ansible_bin("ansible-playbook"), "-i", "localhost,", "-c", "local", "-e", f"ansible_python_interpreter={sys.executable}",
            "-e", json.dumps(extra_vars or {}), str(playbook)]
    return subprocess.run(argv, cwd=workdir, env=ansible_env(workdir, env), capture_output=True, text=True, timeout=timeout, check=False)


def _result(stdout: str, stderr: str) -> dict[str, Any]:
    for marker in _RESULT_MARKERS:
        if marker in stdout:
            return json.JSONDecoder().raw_decode(stdout.split(marker, 1)[1])[0]
    raise AssertionError(f"no module result in the ansible output:\n{stdout}\n{stderr}")
