"""Helpers for the helm tests: the real helm v3 and v4 binaries (scripts/install-helm.sh) against a Kubernetes target (kubelab)."""
from __future__ import annotations

import base64
import gzip
import json
import os
import subprocess
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import pytest
from kubelab import KubeServer, kube_namespace, kube_target

from lab.config import REPO_ROOT

CHART = REPO_ROOT / "tests" / "integration" / "charts" / "ofm-mini"
CHART_IMAGE = "ofm-social-os-api:1.0.0"
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
def kube_server(workdir: Path, target: str = "test-server") -> Iterator[KubeServer]:
    """``target`` (the test server with BROKEN_IMAGE never becoming ready, or a real cluster), in a fresh namespace on a real cluster."""
    with kube_target(target, workdir, "--broken-image", BROKEN_IMAGE) as cluster, kube_namespace(cluster) as kube:
        yield kube


@dataclass
class Helm:
    """One helm binary bound to a target's kubeconfig and namespace, with its caches kept under the test's directory."""

    binary: Path
    kube: KubeServer
    home: Path

    @property
    def kubeconfig(self) -> Path:
        return self.kube.kubeconfig

    @property
    def namespace(self) -> str:
        return self.kube.namespace

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
        self("install", release, str(CHART), "--namespace", self.namespace, "--wait", "--timeout", self.rollout_timeout, *self.set(values))

    def upgrade(self, release: str, *values: str, timeout: str = "", check: bool = True) -> subprocess.CompletedProcess:
        return self("upgrade", release, str(CHART), "--namespace", self.namespace, "--wait", "--timeout", timeout or self.rollout_timeout,
                    *self.set(values), check=check)

    def history(self, release: str) -> list[dict[str, Any]]:
        return json.loads(self("history", release, "--namespace", self.namespace, "-o", "json").stdout)

    def statuses(self, release: str) -> list[tuple[int, str]]:
        return [(entry["revision"], entry["status"]) for entry in self.history(release)]

    @property
    def rollout_timeout(self) -> str:
        """helm's ``--timeout`` for a rollout that must succeed: a real cluster pulls images first."""
        return f"{self.kube.patience:.0f}s" if self.kube.real else "20s"

    def set(self, values: tuple[str, ...]) -> list[str]:
        """``--set`` arguments; images as the target runs them, and on a real cluster the chart's image replaced by one that runs."""
        values = (f"image={CHART_IMAGE}",) * self.kube.real + values
        mapped = [f"image={self.kube.image(value[len('image='):])}" if value.startswith("image=") else value for value in values]
        return [argument for value in mapped for argument in ("--set", value)]


def _secret(helm: Helm, release: str, revision: int) -> dict[str, Any]:
    return helm.kube.get("v1", "Secret", f"sh.helm.release.v1.{release}.v{revision}")


def read_release(helm: Helm, release: str, revision: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """The release Secret helm wrote for ``revision``, and the release record inside it (base64 of gzip of JSON)."""
    secret = _secret(helm, release, revision)
    return secret, json.loads(gzip.decompress(base64.b64decode(base64.b64decode(secret["data"]["release"]))))


def set_release_status(helm: Helm, release: str, revision: int, status: str) -> None:
    """Rewrite a revision's status the way an interrupted helm leaves it (record and ``status`` label), as a stuck release."""
    secret, record = read_release(helm, release, revision)
    record["info"]["status"] = status
    encoded = base64.b64encode(gzip.compress(json.dumps(record).encode())).decode()
    secret["data"]["release"] = base64.b64encode(encoded.encode()).decode()
    secret["metadata"]["labels"]["status"] = status
    helm.kube.resource("v1", "Secret").replace(body=secret, namespace=helm.namespace)


def release_secrets(helm: Helm, release: str) -> list[dict[str, Any]]:
    """The Secrets that ``helm history`` lists: label selector ``owner=helm,name=<release>``."""
    secrets = helm.kube.resource("v1", "Secret").get(namespace=helm.namespace, label_selector=f"owner=helm,name={release}")
    return [item.to_dict() for item in secrets.items]


def rendered(helm: Helm, release: str) -> tuple[str, str]:
    """What the target runs of the ofm-mini chart: the ConfigMap's message and the Deployment's image."""
    config = helm.kube.get("v1", "ConfigMap", f"{release}-config")
    deployment = helm.kube.get("apps/v1", "Deployment", f"{release}-api")
    return config["data"]["message"], deployment["spec"]["template"]["spec"]["containers"][0]["image"]
