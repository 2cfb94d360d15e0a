"""canary_ingress run through ansible against each Kubernetes target (kubelab.TARGETS)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from kubelab import KubeServer, deployment_ready
from kubernetes.dynamic.exceptions import NotFoundError
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


@pytest.fixture(name="kube")
def fixture_kube(kube: KubeServer) -> KubeServer:
    """The target with OBJECTS in place, applied once per namespace: the test server's module shares one, and each test leaves them as it found them."""
    try:
        kube.get("networking.k8s.io/v1", "Ingress", "api-canary")
    except NotFoundError:
        kube.apply(OBJECTS)
        kube.wait_for(deployment_ready(kube, "api-canary"), "api-canary ready")
    return kube


def canary(kube: KubeServer, tmp_path: Path, check: bool = False, **args: Any) -> AnsibleRun:
    return run_module("canary_ingress", {**kube.connection, **args}, tmp_path, check=check, diff=check)


def weight(kube: KubeServer) -> str:
    return kube.get("networking.k8s.io/v1", "Ingress", "api-canary")["metadata"]["annotations"]["nginx.ingress.kubernetes.io/canary-weight"]


def replicas(kube: KubeServer) -> int:
    return kube.get("apps/v1", "Deployment", "api-canary")["spec"]["replicas"]


def test_weight_and_replicas_down_and_back(kube: KubeServer, tmp_path: Path):
    checked = canary(kube, tmp_path, check=True, name="api-canary", weight=0, deployment="api-canary", replicas=0)
    assert not checked.failed, checked.output
    assert checked.result["changed"] is True and checked.result["current"] == {"weight": 0, "replicas": 0}
    assert (weight(kube), replicas(kube)) == ("20", 2)

    down = canary(kube, tmp_path, name="api-canary", weight=0, deployment="api-canary", replicas=0)
    assert not down.failed, down.output
    assert down.result["previous"] == {"weight": 20, "replicas": 2} and down.result["changed"] is True
    assert (weight(kube), replicas(kube)) == ("0", 0)
    assert canary(kube, tmp_path, name="api-canary", weight=0, deployment="api-canary", replicas=0).result["changed"] is False

    back = canary(kube, tmp_path, name="api-canary", weight=20, deployment="api-canary", replicas=2)
    assert back.result["previous"] == {"weight": 0, "replicas": 0} and back.result["changed"] is True
    assert (weight(kube), replicas(kube)) == ("20", 2)


def test_the_main_ingress_is_refused(kube: KubeServer, tmp_path: Path):
    run = canary(kube, tmp_path, name="api", weight=0)
    assert run.failed and "the Ingress is not a canary" in run.result["msg"] and run.result["changed"] is False


def test_a_missing_ingress_is_not_found(kube: KubeServer, tmp_path: Path):
    run = canary(kube, tmp_path, name="absent")
    assert run.failed and run.result["error"]["type"] == "NotFoundError" and run.result["error"]["status"] == 404
