"""The lab's Helm release ``ofm-social-os`` in namespace ofm-production, with a history to roll back through.

Six revisions, one per API release (2.0.0 ... 2.4.0, the newest being the bad one the canary runs), installed with the real
helm binary (``scripts/install-helm.sh``) against the Kubernetes API test server, so that the checklist's
``helm rollback ofm-social-os [5] -n ofm-production`` and the planned rollback's helm method can be tried on the lab. The
chart (``lab/charts/ofm-social-os``) holds the release's ConfigMap only: the Deployments are the seeded ones.
``ensure`` puts the release back in that state after a rollback (uninstall and install again); it does nothing when the
history is already the lab's.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Optional

from lab.components.base import repo_file
from lab.config import LabConfig

RELEASE = "ofm-social-os"
NAMESPACE = "ofm-production"
RELEASES = ("2.0.0", "2.1.0", "2.2.0", "2.2.1", "2.3.0", "2.4.0")
CHART = repo_file("lab", "charts", "ofm-social-os")


def helm_binary() -> Optional[Path]:
    binary = repo_file(".tools", "helm", "v3", "helm")
    return binary if os.access(binary, os.X_OK) else None


def _helm(cfg: LabConfig, binary: Path, *args: str) -> subprocess.CompletedProcess:
    home = cfg.path("helm")
    env = {**os.environ, "KUBECONFIG": str(cfg.path("kubeconfig")), "HELM_CACHE_HOME": str(home / "cache"),
           "HELM_CONFIG_HOME": str(home / "config"), "HELM_DATA_HOME": str(home / "data")}
    return subprocess.run([str(binary), *args, "-n", NAMESPACE], capture_output=True, text=True, env=env, timeout=60, check=False)


def _chart(cfg: LabConfig, version: str) -> Path:
    """The chart with ``appVersion`` set to the release's version, as a release pipeline packages it."""
    chart = cfg.path("helm", "charts", version)
    shutil.rmtree(chart, ignore_errors=True)
    shutil.copytree(CHART, chart)
    manifest = chart / "Chart.yaml"
    manifest.write_text(re.sub(r'^appVersion: .*$', f'appVersion: "{version}"', manifest.read_text(), flags=re.MULTILINE))
    return chart


def history(cfg: LabConfig, binary: Path) -> list[dict]:
    run = _helm(cfg, binary, "history", RELEASE, "-o", "json")
    return json.loads(run.stdout) if run.returncode == 0 and run.stdout.strip() else []


def description(number: int, version: str) -> str:
    return f"{'Install' if number == 1 else 'Upgrade'} to {version}"


def in_lab_state(entries: list[dict]) -> bool:
    """The six revisions the lab installs, in order, the newest deployed (no rollback since)."""
    wanted = [description(number, version) for number, version in enumerate(RELEASES, start=1)]
    return [entry.get("description") for entry in entries] == wanted and entries[-1].get("status") == "deployed"


def ensure(cfg: LabConfig) -> str:
    """Install the release's history when it is not the lab's; returns what was done (or why nothing could be)."""
    binary = helm_binary()
    if binary is None:
        return "no helm release: helm v3 is not installed (scripts/install-helm.sh)"
    entries = history(cfg, binary)
    if in_lab_state(entries):
        return f"helm release {RELEASE}: {len(entries)} revisions"
    if entries:
        _helm(cfg, binary, "uninstall", RELEASE, "--wait")
    for number, version in enumerate(RELEASES, start=1):
        verb = "install" if number == 1 else "upgrade"
        run = _helm(cfg, binary, verb, RELEASE, str(_chart(cfg, version)), "--set-string", f"version={version}", "--description",
                    description(number, version))
        if run.returncode != 0:
            raise RuntimeError(f"helm {verb} {RELEASE} {version}: {run.stderr.strip()}")
    return f"helm release {RELEASE}: installed with {len(RELEASES)} revisions"
