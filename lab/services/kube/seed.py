"""The OFM Social OS objects of the lab: what ``lab up`` and ``lab reset`` put in the Kubernetes API test server.

Namespace ``ofm-production`` with the names of the real deployment (see OFM-CONTEXT): the stable and canary
Deployments and Services, the main Ingress and the canary Ingress (nginx ``canary-weight`` "10"), and the Argo
Rollout ``ofm-social-os-api-rollout`` paused on its first canary step at weight 10 with nginx traffic routing,
matching HAProxy's 90/10 split. ``seed`` brings them back to that state; it does nothing when they are in it.
"""
from __future__ import annotations

import copy
import time
from typing import Any, Callable

from lab.services.kube import resources
from lab.services.kube.errors import ApiError
from lab.services.kube.store import Store
from lab.services.kube.workloads import DEPLOYMENTS, ROLLOUTS

NAMESPACE = "ofm-production"
ROLLOUT = "ofm-social-os-api-rollout"
STABLE = "ofm-social-os-api"
CANARY = "ofm-social-os-api-canary"
CANARY_INGRESS = "ofm-social-os-api-canary"
MAIN_INGRESS = "ofm-social-os-api"
STABLE_IMAGE = "ghcr.io/ofm-social/ofm-social-os-api:2.3.0"
CANARY_IMAGE = "ghcr.io/ofm-social/ofm-social-os-api:2.4.0"
CANARY_WEIGHT = 10
CANARY_REPLICAS = 1
WEIGHT_ANNOTATION = "nginx.ingress.kubernetes.io/canary-weight"
NAMESPACES = resources.NAMESPACES
SERVICES = resources.find("", "v1", "services")
INGRESSES = resources.find("networking.k8s.io", "v1", "ingresses")
LABELS = {"app.kubernetes.io/name": "ofm-social-os", "app.kubernetes.io/component": "api"}


def _template(version: str, image: str) -> dict[str, Any]:
    return {"metadata": {"labels": {**LABELS, "version": version}},
            "spec": {"containers": [{"name": "api", "image": image, "ports": [{"containerPort": 3000}]}]}}


def _deployment(name: str, version: str, image: str, replicas: int) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "labels": {**LABELS, "version": version}},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {**LABELS, "version": version}}, "template": _template(version, image)}}


def _service(name: str, version: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "labels": LABELS},
            "spec": {"selector": {**LABELS, "version": version}, "ports": [{"port": 80, "targetPort": 3000}]}}


def _ingress(name: str, service: str, annotations: dict[str, str]) -> dict[str, Any]:
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": name, "annotations": annotations},
            "spec": {"ingressClassName": "nginx", "rules": [{"host": "api.ofm.social", "http": {"paths": [
                {"path": "/", "pathType": "Prefix", "backend": {"service": {"name": service, "port": {"number": 80}}}}]}}]}}


def rollout(image: str) -> dict[str, Any]:
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "metadata": {"name": ROLLOUT, "labels": LABELS},
            "spec": {"replicas": 2, "selector": {"matchLabels": LABELS}, "template": _template("rollout", image),
                     "strategy": {"canary": {"canaryService": CANARY, "stableService": STABLE,
                                             "trafficRouting": {"nginx": {"stableIngress": MAIN_INGRESS}},
                                             "steps": [{"setWeight": CANARY_WEIGHT}, {"pause": {}}, {"setWeight": 20}, {"pause": {}}]}}}}


def canary_ingress() -> dict[str, Any]:
    return _ingress(CANARY_INGRESS, CANARY, {"nginx.ingress.kubernetes.io/canary": "true", WEIGHT_ANNOTATION: str(CANARY_WEIGHT),
                                             "nginx.ingress.kubernetes.io/canary-by-header": "X-Canary"})


def _get(store: Store, resource: Any, name: str) -> dict[str, Any]:
    try:
        return store.get(resource, NAMESPACE, name)
    except ApiError:
        return {}


def _paused_at_canary_step(store: Store) -> bool:
    status = _get(store, ROLLOUTS, ROLLOUT).get("status") or {}
    weights = (status.get("canary") or {}).get("weights") or {}
    return (status.get("phase") == "Paused" and not status.get("abort") and status.get("currentStepIndex") == 1
            and (weights.get("canary") or {}).get("weight") == CANARY_WEIGHT)


def is_seeded(store: Store) -> bool:
    """True when the OFM objects are in their after-``lab up`` state."""
    ingress = _get(store, INGRESSES, CANARY_INGRESS)
    canary = _get(store, DEPLOYMENTS, CANARY)
    template = _get(store, ROLLOUTS, ROLLOUT).get("spec", {}).get("template", {})
    return (bool(_get(store, DEPLOYMENTS, STABLE)) and (canary.get("spec") or {}).get("replicas") == CANARY_REPLICAS
            and (ingress.get("metadata", {}).get("annotations") or {}).get(WEIGHT_ANNOTATION) == str(CANARY_WEIGHT)
            and template.get("spec", {}).get("containers", [{}])[0].get("image") == CANARY_IMAGE and _paused_at_canary_step(store))


def _wait(condition: Callable[[], bool], tick: Callable[[], None], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"seeding the lab's Kubernetes objects: {what} not reached within {timeout:.0f}s")
        tick()
        time.sleep(0.01)


def seed(store: Store, tick: Callable[[], None], timeout: float = 20.0) -> bool:
    """Put the OFM objects in their after-``lab up`` state (recreating the namespace); False when they already were.

    ``tick`` runs one controller pass: the Rollout is created at the stable image, becomes Healthy, then gets the canary
    image and stops at its first pause (weight 10). The canary Ingress is created last, so the controller never writes
    another weight into it on the way.
    """
    if is_seeded(store):
        return False
    if _namespace_exists(store):
        store.delete(NAMESPACES, "", NAMESPACE)
    store.create(NAMESPACES, "", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}})
    for body in (_deployment(STABLE, "stable", STABLE_IMAGE, 3), _deployment(CANARY, "canary", CANARY_IMAGE, CANARY_REPLICAS)):
        store.create(DEPLOYMENTS, NAMESPACE, body)
    for name, version in ((STABLE, "stable"), (CANARY, "canary")):
        store.create(SERVICES, NAMESPACE, _service(name, version))
    store.create(INGRESSES, NAMESPACE, _ingress(MAIN_INGRESS, STABLE, {}))
    store.create(ROLLOUTS, NAMESPACE, rollout(STABLE_IMAGE))
    _wait(lambda: (_get(store, ROLLOUTS, ROLLOUT).get("status") or {}).get("phase") == "Healthy", tick, timeout, "the Rollout Healthy")
    _wait(lambda: _deploy_canary(store), tick, timeout, "the canary image in the Rollout")
    _wait(lambda: _paused_at_canary_step(store), tick, timeout, f"the Rollout paused at canary weight {CANARY_WEIGHT}")
    store.create(INGRESSES, NAMESPACE, canary_ingress())
    return True


def _deploy_canary(store: Store) -> bool:
    """Put the canary image in the Rollout's template; False when the controller wrote the Rollout in between (a conflict)."""
    wanted = copy.deepcopy(_get(store, ROLLOUTS, ROLLOUT))
    wanted["spec"]["template"] = rollout(CANARY_IMAGE)["spec"]["template"]
    try:
        store.update(ROLLOUTS, NAMESPACE, ROLLOUT, wanted)
    except ApiError as exc:
        if exc.code != 409:
            raise
        return False
    return True


def _namespace_exists(store: Store) -> bool:
    try:
        store.get(NAMESPACES, "", NAMESPACE)
    except ApiError:
        return False
    return True
