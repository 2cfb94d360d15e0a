"""A Kubernetes API test server for one test module, and a client to arrange and read its objects."""
from __future__ import annotations

import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
import yaml
from kubernetes import config as kube_config
from kubernetes.dynamic import DynamicClient

from lab.config import REPO_ROOT

STATEFULSET = """
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  replicas: 2
  serviceName: db
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec: {containers: [{name: db, image: "postgres:15"}]}
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


@dataclass
class KubeServer:
    """The running server: its kubeconfig and a dynamic client."""

    kubeconfig: Path
    client: DynamicClient

    def resource(self, api_version: str, kind: str) -> Any:
        return self.client.resources.get(api_version=api_version, kind=kind)

    def apply(self, manifest: str, namespace: str = "default") -> None:
        for body in yaml.safe_load_all(manifest):
            self.resource(body["apiVersion"], body["kind"]).create(body=body, namespace=namespace)

    def get(self, api_version: str, kind: str, name: str, namespace: str = "default") -> dict[str, Any]:
        return self.resource(api_version, kind).get(name=name, namespace=namespace).to_dict()

    def patch(self, api_version: str, kind: str, name: str, body: Any, namespace: str = "default",
              content_type: str = "application/merge-patch+json") -> dict[str, Any]:
        return self.resource(api_version, kind).patch(body=body, name=name, namespace=namespace, content_type=content_type).to_dict()

    def wait_for(self, predicate: Callable[[], Any], what: str, timeout: float = 60) -> Any:
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            last = predicate()
            if last:
                return last
            time.sleep(0.1)
        pytest.fail(f"{what} not reached within {timeout:.0f}s (last value: {last!r})")


@contextmanager
def kube_apiserver(tmp: Path, *extra: str) -> Iterator[tuple[str, Path]]:
    """Start ``lab.services.kube_apiserver`` (with ``extra`` arguments) on a free port; yield its URL and kubeconfig; stop it afterwards."""
    port = free_port()
    kubeconfig, log = tmp / "kubeconfig", tmp / "server.log"
    with open(log, "wb") as output:
        process = subprocess.Popen(  # pylint: disable=consider-using-with
            [sys.executable, "-m", "lab.services.kube_apiserver", "--port", str(port), "--kubeconfig", str(kubeconfig), "--tick", "0.1", *extra],
            cwd=REPO_ROOT, stdout=output, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 15
        while not kubeconfig.exists() or not listening(port):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the Kubernetes API test server did not start: {log.read_text()}")
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}", kubeconfig
    finally:
        process.terminate()
        process.wait(timeout=10)


@contextmanager
def kube_server(tmp: Path) -> Iterator[KubeServer]:
    """The test server with a dynamic client for it."""
    with kube_apiserver(tmp) as (_url, kubeconfig):
        yield KubeServer(kubeconfig, DynamicClient(kube_config.new_client_from_config(str(kubeconfig))))


def deployment_rolled_out(obj: dict[str, Any]) -> bool:
    """Whether a Deployment's controller has seen its latest spec and every wanted replica is updated and available."""
    status = obj.get("status") or {}
    wanted = obj["spec"].get("replicas", 1)
    return (status.get("observedGeneration", 0) >= obj["metadata"]["generation"] and status.get("updatedReplicas") == wanted
            and status.get("availableReplicas") == wanted and status.get("replicas") == wanted)


def deployment_ready(server: KubeServer, name: str) -> Callable[[], bool]:
    return lambda: deployment_rolled_out(server.get("apps/v1", "Deployment", name))
