"""canary_ingress run through ansible against the Kubernetes API test server."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pytest
from kubelab import KubeServer, deployment_ready, kube_server
from labtest import AnsibleRun, run_module

OBJECTS = """
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: api-canary
  annotations: {nginx.ingress.kubernetes.io/canary: "true", nginx.ingress.kubernetes.io/canary-weight: "20"}
spec:
  ingressClassName: nginx
  rules: [{host: api.ofm.social, http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: api-canary, port: {number: 80}}}}]}}]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: api}
spec:
  ingressClassName: nginx
  rules: [{host: api.ofm.social, http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: api, port: {number: 80}}}}]}}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: api-canary}
spec:
  replicas: 2
  selector: {matchLabels: {app: api-canary}}
  template:
    metadata: {labels: {app: api-canary}}
    spec: {containers: [{name: api, image: "ofm/api:2"}]}
"""


@pytest.fixture(scope="module", name="server")
def fixture_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubeServer]:
    with kube_server(tmp_path_factory.mktemp("kube")) as server:
        server.apply(OBJECTS)
        server.wait_for(deployment_ready(server, "api-canary"), "api-canary ready")
        yield server


def canary(server: KubeServer, tmp_path: Path, check: bool = False, **args: Any) -> AnsibleRun:
    return run_module("canary_ingress", {"kubeconfig": str(server.kubeconfig), **args}, tmp_path, check=check, diff=check)


def weight(server: KubeServer) -> str:
    return server.get("networking.k8s.io/v1", "Ingress", "api-canary")["metadata"]["annotations"]["nginx.ingress.kubernetes.io/canary-weight"]


def replicas(server: KubeServer) -> int:
    return server.get("apps/v1", "Deployment", "api-canary")["spec"]["replicas"]


def test_weight_and_replicas_down_and_back(server: KubeServer, tmp_path: Path):
    checked = canary(server, tmp_path, check=True, name="api-canary", weight=0, deployment="api-canary", replicas=0)
    assert not checked.failed, checked.output
    assert checked.result["changed"] is True and checked.result["current"] == {"weight": 0, "replicas": 0}
    assert (weight(server), replicas(server)) == ("20", 2)

    down = canary(server, tmp_path, name="api-canary", weight=0, deployment="api-canary", replicas=0)
    assert not down.failed, down.output
    assert down.result["previous"] == {"weight": 20, "replicas": 2} and down.result["changed"] is True
    assert (weight(server), replicas(server)) == ("0", 0)
    assert canary(server, tmp_path, name="api-canary", weight=0, deployment="api-canary", replicas=0).result["changed"] is False

    back = canary(server, tmp_path, name="api-canary", weight=20, deployment="api-canary", replicas=2)
    assert back.result["previous"] == {"weight": 0, "replicas": 0} and back.result["changed"] is True
    assert (weight(server), replicas(server)) == ("20", 2)


def test_the_main_ingress_is_refused(server: KubeServer, tmp_path: Path):
    run = canary(server, tmp_path, name="api", weight=0)
    assert run.failed and "the Ingress is not a canary" in run.result["msg"] and run.result["changed"] is False


def test_a_missing_ingress_is_not_found(server: KubeServer, tmp_path: Path):
    run = canary(server, tmp_path, name="absent")
    assert run.failed and run.result["error"]["type"] == "NotFoundError" and run.result["error"]["status"] == 404
