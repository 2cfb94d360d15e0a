"""The Kubernetes targets of the integration tests, and a client to arrange and read their objects.

Every module test of the k8s modules runs on two targets:

- ``test-server``: the Kubernetes API test server (``lab.services.kube_apiserver``), started on a free port, always;
- ``real-cluster``: the cluster of the kubeconfig named by ``OFM_TEST_KUBECONFIG`` (a disposable one, such as kind's),
  only when that variable is set; otherwise skipped with the reason printed (``pytest -rs``). ``KUBECONFIG`` alone
  never selects it, so a shell that points at production does not get test objects.

On the test server a test module shares one server and the ``default`` namespace, as before; on a real cluster every
test gets a fresh namespace, deleted afterwards, and images that exist (``REAL_IMAGES``).
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

import pytest
import yaml
from kubernetes import config as kube_config
from kubernetes.dynamic import DynamicClient
from kubernetes.dynamic.exceptions import ResourceNotFoundError

from lab.config import REPO_ROOT

REAL_CLUSTER_ENV = "OFM_TEST_KUBECONFIG"
TARGETS = ("test-server", "real-cluster")
# The images the tests name, as images that a real cluster can pull and run (the pause container runs until stopped).
REAL_IMAGES = {
    **{f"ofm/api:{tag}": f"registry.k8s.io/pause:{version}" for tag, version in (("1", "3.8"), ("2", "3.9"), ("3", "3.10"))},
    **{f"agent:{tag}": f"registry.k8s.io/pause:{version}" for tag, version in (("1", "3.8"), ("2", "3.9"), ("3", "3.10"))},
    "postgres:15": "registry.k8s.io/pause:3.9", "postgres:16": "registry.k8s.io/pause:3.10",
    "ofm-social-os-api:1.0.0": "registry.k8s.io/pause:3.9",
}
# An image whose tag says "broken" never becomes ready on the test server; on a real cluster it is made unpullable.
UNPULLABLE_REGISTRY = "ofm-test.invalid"

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
    """One target (the test server or a real cluster) seen from one namespace: its kubeconfig and a dynamic client."""

    kubeconfig: Path
    client: DynamicClient
    namespace: str = "default"
    real: bool = False

    @property
    def patience(self) -> float:
        """Seconds to wait for a rollout: a real cluster pulls images and schedules pods."""
        return 180 if self.real else 60

    @property
    def connection(self) -> dict[str, str]:
        """The options that point a module of the collection at this target and namespace."""
        return {"kubeconfig": str(self.kubeconfig), "namespace": self.namespace}

    def image(self, name: str) -> str:
        """The image a test names, as this target runs it."""
        if not self.real:
            return name
        if "broken" in name.rsplit(":", 1)[-1]:
            return f"{UNPULLABLE_REGISTRY}/{name}"
        return REAL_IMAGES[name]

    def has(self, api_version: str, kind: str) -> bool:
        try:
            self.resource(api_version, kind)
        except ResourceNotFoundError:
            return False
        return True

    def resource(self, api_version: str, kind: str) -> Any:
        return self.client.resources.get(api_version=api_version, kind=kind)

    def apply(self, manifest: str) -> None:
        for body in yaml.safe_load_all(manifest):
            for container in (((body.get("spec") or {}).get("template") or {}).get("spec") or {}).get("containers", []):
                container["image"] = self.image(container["image"])
            self.resource(body["apiVersion"], body["kind"]).create(body=body, namespace=self.namespace)

    def get(self, api_version: str, kind: str, name: str) -> dict[str, Any]:
        return self.resource(api_version, kind).get(name=name, namespace=self.namespace).to_dict()

    def patch(self, api_version: str, kind: str, name: str, body: Any, content_type: str = "application/merge-patch+json") -> dict[str, Any]:
        return self.resource(api_version, kind).patch(body=body, name=name, namespace=self.namespace, content_type=content_type).to_dict()

    def wait_for(self, predicate: Callable[[], Any], what: str, timeout: Optional[float] = None) -> Any:
        timeout = timeout or self.patience
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


def real_cluster_kubeconfig() -> Path:
    """The kubeconfig of the real cluster to test on (``OFM_TEST_KUBECONFIG``, else ``KUBECONFIG``), or a printed skip.

    The tests touch nothing outside the ``ofm-test-<random>`` namespaces they create and delete.
    """
    name = REAL_CLUSTER_ENV if os.environ.get(REAL_CLUSTER_ENV) else "KUBECONFIG"
    value = os.environ.get(name)
    if not value:
        reason = (f"real-cluster target: neither KUBECONFIG nor {REAL_CLUSTER_ENV} is set; point one at the kubeconfig of a "
                  "cluster (e.g. kind's) to run these tests there too")
        print(f"SKIP: {reason}")
        pytest.skip(reason)
    kubeconfig = Path(value.split(os.pathsep)[0])
    if not kubeconfig.is_file():
        pytest.fail(f"{name}={value} names no file")
    return kubeconfig


@contextmanager
def kube_target(target: str, tmp: Path, *server_args: str) -> Iterator[KubeServer]:
    """A client for ``target`` (one of ``TARGETS``) in the ``default`` namespace; the test server is started (with ``server_args``) and stopped."""
    with ExitStack() as stack:
        real = target == "real-cluster"
        kubeconfig = real_cluster_kubeconfig() if real else stack.enter_context(kube_apiserver(tmp, *server_args))[1]
        yield KubeServer(kubeconfig, DynamicClient(kube_config.new_client_from_config(str(kubeconfig))), real=real)


@contextmanager
def kube_namespace(target: KubeServer) -> Iterator[KubeServer]:
    """``target`` itself on the test server; on a real cluster, the same client in a fresh namespace, deleted afterwards."""
    if not target.real:
        yield target
        return
    name = f"ofm-test-{uuid.uuid4().hex[:8]}"
    namespaces = target.resource("v1", "Namespace")
    labels = {"app.kubernetes.io/created-by": "ofm-rollback-tests"}
    namespaces.create(body={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}})
    try:
        yield KubeServer(target.kubeconfig, target.client, name, real=True)
    finally:
        namespaces.delete(name=name)


@pytest.fixture(scope="module", params=TARGETS, name="kube_cluster")
def fixture_kube_cluster(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubeServer]:
    """Each target in turn, for a whole test module (the test server is started once per module)."""
    with kube_target(request.param, tmp_path_factory.mktemp("kube")) as target:
        yield target


@pytest.fixture(name="kube")
def fixture_kube(kube_cluster: KubeServer) -> Iterator[KubeServer]:
    """The target of this test, in its own namespace on a real cluster."""
    with kube_namespace(kube_cluster) as target:
        yield target


def require_api(target: KubeServer, api_version: str, kind: str, what: str) -> None:
    """Skip, with the reason printed, when ``target`` does not serve ``kind`` of ``api_version``."""
    if not target.has(api_version, kind):
        reason = f"{'the real cluster' if target.real else 'the test server'} serves no {kind} of {api_version}: install {what} to run this test"
        print(f"SKIP: {reason}")
        pytest.skip(reason)


def deployment_rolled_out(obj: dict[str, Any]) -> bool:
    """Whether a Deployment's controller has seen its latest spec and every wanted replica is updated and available."""
    status = obj.get("status") or {}
    wanted = obj["spec"].get("replicas", 1)
    return (status.get("observedGeneration", 0) >= obj["metadata"]["generation"] and status.get("updatedReplicas") == wanted
            and status.get("availableReplicas") == wanted and status.get("replicas") == wanted)


def deployment_ready(server: KubeServer, name: str) -> Callable[[], bool]:
    return lambda: deployment_rolled_out(server.get("apps/v1", "Deployment", name))


def kubeconfig_with_token(kubeconfig: Path, token: str, path: Path) -> str:
    """A copy of ``kubeconfig`` at ``path`` whose users authenticate with the bearer ``token`` (mode 0600); its path."""
    config = yaml.safe_load(kubeconfig.read_text())
    for user in config["users"]:
        user["user"] = {"token": token}
    path.write_text(yaml.safe_dump(config))
    path.chmod(0o600)
    return str(path)
