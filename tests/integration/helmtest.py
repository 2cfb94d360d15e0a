"""Helpers for the helm tests: the real helm v3 and v4 binaries (scripts/install-helm.sh) against the Kubernetes API test server."""
from __future__ import annotations

import base64
import gzip
import json
import os
import subprocess
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import pytest
from kubelab import kube_apiserver

from lab.config import REPO_ROOT

CHART = REPO_ROOT / "tests" / "integration" / "charts" / "ofm-mini"
BROKEN_IMAGE = "ofm-social-os-api:broken"
HELM_MAJORS = ("v3", "v4")


def helm_binary(major: str) -> Path:
    """The helm binary of one major version, or a skip that says how to install it."""
    binary = REPO_ROOT / ".tools" / "helm" / major / "helm"
    if not os.access(binary, os.X_OK):
        reason = f"helm {major} is not installed at {binary}: run scripts/install-helm.sh"
        print(f"SKIP: {reason}")
        pytest.skip(reason)
    return binary


@contextmanager
def kube_server(workdir: Path) -> Iterator[Path]:
    """Run the Kubernetes API test server (with BROKEN_IMAGE never becoming ready); yield its kubeconfig."""
    with kube_apiserver(workdir, "--broken-image", BROKEN_IMAGE) as (_url, kubeconfig):
        yield kubeconfig


@dataclass
class Helm:
    """One helm binary bound to the test server's kubeconfig, with its caches kept under the test's directory."""

    binary: Path
    kubeconfig: Path
    home: Path

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "KUBECONFIG": str(self.kubeconfig), "HELM_CACHE_HOME": str(self.home / "cache"),
                "HELM_CONFIG_HOME": str(self.home / "config"), "HELM_DATA_HOME": str(self.home / "data")}

    def __call__(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        result = subprocess.run([str(self.binary), *args], capture_output=True, text=True, env=self.env, timeout=120, check=False)
        if check and result.returncode != 0:
            pytest.fail(f"helm {' '.join(args)} failed ({result.returncode}): {result.stderr}")
        return result

    def install(self, release: str, *values: str) -> None:
        self("install", release, str(CHART), "--namespace", "default", "--wait", "--timeout", "20s", *_set(values))

    def upgrade(self, release: str, *values: str, timeout: str = "20s", check: bool = True) -> subprocess.CompletedProcess:
        return self("upgrade", release, str(CHART), "--namespace", "default", "--wait", "--timeout", timeout, *_set(values), check=check)

    def history(self, release: str) -> list[dict[str, Any]]:
        return json.loads(self("history", release, "--namespace", "default", "-o", "json").stdout)

    def statuses(self, release: str) -> list[tuple[int, str]]:
        return [(entry["revision"], entry["status"]) for entry in self.history(release)]


def _set(values: tuple[str, ...]) -> list[str]:
    return [argument for value in values for argument in ("--set", value)]


def _server(kubeconfig: Path) -> str:
    return json.loads(kubeconfig.read_text())["clusters"][0]["cluster"]["server"]


def _secret_url(kubeconfig: Path, release: str, revision: int) -> str:
    return f"{_server(kubeconfig)}/api/v1/namespaces/default/secrets/sh.helm.release.v1.{release}.v{revision}"


def read_release(kubeconfig: Path, release: str, revision: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """The release Secret helm wrote for ``revision``, and the release record inside it (base64 of gzip of JSON)."""
    with urllib.request.urlopen(_secret_url(kubeconfig, release, revision), timeout=10) as response:
        secret = json.loads(response.read())
    return secret, json.loads(gzip.decompress(base64.b64decode(base64.b64decode(secret["data"]["release"]))))


def set_release_status(kubeconfig: Path, release: str, revision: int, status: str) -> None:
    """Rewrite a revision's status the way an interrupted helm leaves it (record and ``status`` label), as a stuck release."""
    secret, record = read_release(kubeconfig, release, revision)
    record["info"]["status"] = status
    encoded = base64.b64encode(gzip.compress(json.dumps(record).encode())).decode()
    secret["data"]["release"] = base64.b64encode(encoded.encode()).decode()
    secret["metadata"]["labels"]["status"] = status
    request = urllib.request.Request(_secret_url(kubeconfig, release, revision), data=json.dumps(secret).encode(), method="PUT",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10):
        pass


def server_get(kubeconfig: Path, path: str) -> Any:
    """An object or list from the test server, as JSON."""
    with urllib.request.urlopen(f"{_server(kubeconfig)}{path}", timeout=10) as response:
        return json.loads(response.read())


def rendered(kubeconfig: Path, release: str) -> tuple[str, str]:
    """What the cluster runs of the ofm-mini chart: the ConfigMap's message and the Deployment's image."""
    config = server_get(kubeconfig, f"/api/v1/namespaces/default/configmaps/{release}-config")
    deployment = server_get(kubeconfig, f"/apis/apps/v1/namespaces/default/deployments/{release}-api")
    return config["data"]["message"], deployment["spec"]["template"]["spec"]["containers"][0]["image"]
