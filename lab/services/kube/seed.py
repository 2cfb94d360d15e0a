"""The OFM Social OS objects of the lab: what ``lab up`` and ``lab reset`` put in the Kubernetes API test server.

Namespace ``ofm-production`` with the names of the real deployment (see OFM-CONTEXT): the stable and canary
Deployments and Services, the main Ingress and the canary Ingress (nginx ``canary-weight`` "10"), and the Argo
Rollout ``ofm-social-os-api-rollout`` paused on its first canary step at weight 10 with nginx traffic routing,
matching HAProxy's 90/10 split. ``seed`` brings them back to that state; it does nothing when they are in it.

Every rollback method has a bad release to go back from, as the Helm release has (lab/components/helm_release.py):
the API Deployment ``ofm-social-os-api`` holds two revisions, 2.3.0 then the bad 2.4.0 (the current one), so that
``kubectl rollout undo deployment/ofm-social-os-api`` (the planned rollback's kubectl method) returns to 2.3.0; the
Rollout's revision 1 runs 2.3.0 and its revision 2, the canary in progress, 2.4.0 (its argo method aborts and undoes).

The API's configuration (what the configuration rollback snapshots and restores): ConfigMap ``ofm-social-os-config``
(``CONFIG``), Secret ``ofm-social-os-secrets`` (``SECRET_KEYS``, with the lab's generated values: the kube server gets
them from its environment, see lab/components/kube_apiserver.py) and, in every revision of both API Deployments'
pod template, container ``api``'s ``envFrom`` the ConfigMap and ``env`` NODE_ENV, FEATURE_FLAGS (lab/flags.py) and
TIKTOK_API_KEY from the Secret. ``seed`` puts a changed configuration back without recreating the namespace when the
workloads are still in their seeded state; ``seed_config`` puts back the configuration alone (``lab config good``).

The OpenShift Route ``ofm-api`` (``route.openshift.io/v1``) splits api.ofm.social between the two Services as HAProxy
does: ``spec.to`` Service ofm-social-os-api weight 90, ``alternateBackends`` Service ofm-social-os-api-canary weight 10
(``ROUTE_WEIGHTS``). ``seed`` puts a changed Route spec back in place (``seed_route``) without recreating the namespace.
"""
from __future__ import annotations

import base64
import copy
import time
from typing import Any, Callable, Mapping, Optional

from lab import flags
from lab.config import OFM_API_SECRETS
from lab.services.kube import resources
from lab.services.kube.errors import ApiError
from lab.services.kube.store import Store
from lab.services.kube.workloads import DEPLOYMENTS, REVISION, ROLLOUTS

NAMESPACE = "ofm-production"
ROLLOUT = "ofm-social-os-api-rollout"
STABLE = "ofm-social-os-api"
CANARY = "ofm-social-os-api-canary"
CANARY_INGRESS = "ofm-social-os-api-canary"
MAIN_INGRESS = "ofm-social-os-api"
STABLE_IMAGE = "ghcr.io/ofm-social/ofm-social-os-api:2.3.0"
CANARY_IMAGE = "ghcr.io/ofm-social/ofm-social-os-api:2.4.0"
# The API Deployment's history: (image, change-cause) per revision, the newest being the bad release.
API_RELEASES = ((STABLE_IMAGE, "deploy 2.3.0"), (CANARY_IMAGE, "deploy 2.4.0 (the bad release)"))
CHANGE_CAUSE = "kubernetes.io/change-cause"
CANARY_WEIGHT = 10
CANARY_REPLICAS = 1
WEIGHT_ANNOTATION = "nginx.ingress.kubernetes.io/canary-weight"
NAMESPACES = resources.NAMESPACES
SERVICES = resources.find("", "v1", "services")
INGRESSES = resources.find("networking.k8s.io", "v1", "ingresses")
CONFIGMAPS = resources.find("", "v1", "configmaps")
SECRETS = resources.find("", "v1", "secrets")
ROUTES = resources.find("route.openshift.io", "v1", "routes")
ROUTE = "ofm-api"
ROUTE_HOST = "api.ofm.social"
ROUTE_WEIGHTS = {STABLE: 90, CANARY: 10}
LABELS = {"app.kubernetes.io/name": "ofm-social-os", "app.kubernetes.io/component": "api"}
CONFIGMAP = "ofm-social-os-config"
SECRET = "ofm-social-os-secrets"
CONTAINER = "api"
CONFIG = {"LOG_LEVEL": "info", "PUBLISH_TIMEOUT_MS": "30000", "WEBHOOK_URL_TIKTOK": "https://hooks.ofm.social/tiktok",
          "WEBHOOK_URL_META": "https://hooks.ofm.social/meta"}
SECRET_KEYS = tuple(OFM_API_SECRETS)
# The Secret's values when the caller has none (unit tests); the lab passes the generated ones of its credentials file.
PLACEHOLDER_SECRETS = {key: f"lab-placeholder-{key.lower().replace('_', '-')}" for key in SECRET_KEYS}


def container_env() -> dict[str, Any]:
    """``envFrom`` and ``env`` of container ``api`` in both API Deployments, as seeded."""
    return {"envFrom": [{"configMapRef": {"name": CONFIGMAP}}],
            "env": [{"name": "NODE_ENV", "value": "production"}, {"name": "FEATURE_FLAGS", "value": flags.render(flags.FLAGS)},
                    {"name": "TIKTOK_API_KEY", "valueFrom": {"secretKeyRef": {"name": SECRET, "key": "TIKTOK_API_KEY"}}}]}


def secret_data(secrets: Mapping[str, str]) -> dict[str, str]:
    """The Secret's ``data`` (base64) for the values ``secrets``."""
    return {key: base64.b64encode(secrets[key].encode()).decode() for key in SECRET_KEYS}


def _template(version: str, image: str, env: bool = True) -> dict[str, Any]:
    container = {"name": CONTAINER, "image": image, "ports": [{"containerPort": 3000}], **(container_env() if env else {})}
    return {"metadata": {"labels": {**LABELS, "version": version}}, "spec": {"containers": [container]}}


def _deployment(name: str, version: str, image: str, replicas: int, cause: str = "") -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name, "labels": {**LABELS, "version": version}}
    if cause:
        metadata["annotations"] = {CHANGE_CAUSE: cause}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": metadata,
            "spec": {"replicas": replicas, "selector": {"matchLabels": {**LABELS, "version": version}}, "template": _template(version, image)}}


def _service(name: str, version: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "labels": LABELS},
            "spec": {"selector": {**LABELS, "version": version}, "ports": [{"port": 80, "targetPort": 3000}]}}


def _ingress(name: str, service: str, annotations: dict[str, str]) -> dict[str, Any]:
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": name, "annotations": annotations},
            "spec": {"ingressClassName": "nginx", "rules": [{"host": "api.ofm.social", "http": {"paths": [
                {"path": "/", "pathType": "Prefix", "backend": {"service": {"name": service, "port": {"number": 80}}}}]}}]}}


def _config_objects(secrets: Mapping[str, str]) -> list[tuple[Any, dict[str, Any]]]:
    return [(CONFIGMAPS, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": CONFIGMAP, "labels": LABELS}, "data": dict(CONFIG)}),
            (SECRETS, {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": SECRET, "labels": LABELS}, "type": "Opaque",
                       "data": secret_data(secrets)})]


def rollout(image: str) -> dict[str, Any]:
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "metadata": {"name": ROLLOUT, "labels": LABELS},
            "spec": {"replicas": 2, "selector": {"matchLabels": LABELS}, "template": _template("rollout", image, env=False),
                     "strategy": {"canary": {"canaryService": CANARY, "stableService": STABLE,
                                             "trafficRouting": {"nginx": {"stableIngress": MAIN_INGRESS}},
                                             "steps": [{"setWeight": CANARY_WEIGHT}, {"pause": {}}, {"setWeight": 20}, {"pause": {}}]}}}}


def canary_ingress() -> dict[str, Any]:
    return _ingress(CANARY_INGRESS, CANARY, {"nginx.ingress.kubernetes.io/canary": "true", WEIGHT_ANNOTATION: str(CANARY_WEIGHT),
                                             "nginx.ingress.kubernetes.io/canary-by-header": "X-Canary"})


def route() -> dict[str, Any]:
    """The Route ``ofm-api``: the stable Service in ``spec.to``, the canary one its alternate backend (``ROUTE_WEIGHTS``)."""
    backends = [{"kind": "Service", "name": name, "weight": weight} for name, weight in ROUTE_WEIGHTS.items()]
    return {"apiVersion": "route.openshift.io/v1", "kind": "Route", "metadata": {"name": ROUTE, "labels": LABELS},
            "spec": {"host": ROUTE_HOST, "to": backends[0], "alternateBackends": backends[1:], "port": {"targetPort": 3000},
                     "wildcardPolicy": "None"}}


def route_seeded(store: Store) -> bool:
    """The Route ``ofm-api`` has the seeded spec."""
    return _get(store, ROUTES, ROUTE).get("spec") == route()["spec"]


def seed_route(store: Store) -> bool:
    """Create the Route ``ofm-api`` or put its seeded spec back, leaving every other object as it is; False when it was seeded."""
    current = _get(store, ROUTES, ROUTE)
    if not current:
        store.create(ROUTES, NAMESPACE, route())
        return True
    if current.get("spec") == route()["spec"]:
        return False
    wanted = copy.deepcopy(current)
    wanted["spec"] = route()["spec"]
    store.update(ROUTES, NAMESPACE, ROUTE, wanted)
    return True


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


def _container(obj: dict[str, Any]) -> dict[str, Any]:
    return (((obj.get("spec") or {}).get("template") or {}).get("spec") or {}).get("containers", [{}])[0]


def _image(obj: dict[str, Any]) -> str:
    return _container(obj).get("image", "")


def _env_seeded(store: Store, deployment: str) -> bool:
    container = _container(_get(store, DEPLOYMENTS, deployment))
    return {key: container.get(key) for key in ("envFrom", "env")} == container_env()


def config_seeded(store: Store, secrets: Optional[Mapping[str, str]] = None) -> bool:
    """The ConfigMap, the Secret and both API Deployments' container env hold the seeded configuration."""
    secrets = secrets or PLACEHOLDER_SECRETS
    return (_get(store, CONFIGMAPS, CONFIGMAP).get("data") == CONFIG and _get(store, SECRETS, SECRET).get("data") == secret_data(secrets)
            and _env_seeded(store, STABLE) and _env_seeded(store, CANARY))


def _available(store: Store, name: str) -> bool:
    deployment = _get(store, DEPLOYMENTS, name)
    status = deployment.get("status") or {}
    return (bool(deployment) and status.get("observedGeneration") == deployment["metadata"].get("generation")
            and status.get("updatedReplicas") == status.get("availableReplicas") == status.get("replicas") == deployment["spec"]["replicas"])


def _api_at_bad_release(store: Store) -> bool:
    """The API Deployment runs its newest revision, the bad release, and is available (a rollback since renumbers it)."""
    api = _get(store, DEPLOYMENTS, STABLE)
    return (_image(api) == API_RELEASES[-1][0] and (api.get("metadata", {}).get("annotations") or {}).get(REVISION) == str(len(API_RELEASES))
            and _available(store, STABLE))


def _workloads_seeded(store: Store) -> bool:
    ingress = _get(store, INGRESSES, CANARY_INGRESS)
    canary = _get(store, DEPLOYMENTS, CANARY)
    return (_api_at_bad_release(store) and (canary.get("spec") or {}).get("replicas") == CANARY_REPLICAS
            and (ingress.get("metadata", {}).get("annotations") or {}).get(WEIGHT_ANNOTATION) == str(CANARY_WEIGHT)
            and _image(_get(store, ROLLOUTS, ROLLOUT)) == CANARY_IMAGE and _paused_at_canary_step(store))


def is_seeded(store: Store, secrets: Optional[Mapping[str, str]] = None) -> bool:
    """True when the OFM objects are in their after-``lab up`` state (``secrets``: the Secret's values, see ``seed``)."""
    return _workloads_seeded(store) and config_seeded(store, secrets) and _available(store, CANARY) and route_seeded(store)


def _wait(condition: Callable[[], bool], tick: Callable[[], None], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"seeding the lab's Kubernetes objects: {what} not reached within {timeout:.0f}s")
        tick()
        time.sleep(0.01)


def seed(store: Store, tick: Callable[[], None], secrets: Optional[Mapping[str, str]] = None, timeout: float = 20.0) -> bool:
    """Put the OFM objects in their after-``lab up`` state; False when they already were.

    ``secrets`` are the values of the Secret's keys (``SECRET_KEYS``; default ``PLACEHOLDER_SECRETS``). When only the
    configuration changed (ConfigMap, Secret, the canary Deployment's env), that is put back in place; otherwise the
    namespace is recreated. ``tick`` runs one controller pass: the API Deployment is created at 2.3.0, then rolled out to the
    bad release (its revision 2); the Rollout is created at the stable image, becomes Healthy, then gets the canary image and
    stops at its first pause (weight 10). The canary Ingress is created last, so the controller never writes another weight
    into it on the way.
    """
    secrets = secrets or PLACEHOLDER_SECRETS
    if is_seeded(store, secrets):
        return False
    if _workloads_seeded(store) and _env_seeded(store, STABLE):
        seed_config(store, tick, secrets, timeout)
        seed_route(store)
        _wait(lambda: _available(store, CANARY), tick, timeout, f"Deployment {CANARY} available")
        if is_seeded(store, secrets):
            return True
    if _namespace_exists(store):
        store.delete(NAMESPACES, "", NAMESPACE)
    store.create(NAMESPACES, "", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}})
    for resource, body in _config_objects(secrets):
        store.create(resource, NAMESPACE, body)
    for body in (_deployment(STABLE, "stable", API_RELEASES[0][0], 3, API_RELEASES[0][1]), _deployment(CANARY, "canary", CANARY_IMAGE, CANARY_REPLICAS)):
        store.create(DEPLOYMENTS, NAMESPACE, body)
    for number, (image, cause) in enumerate(API_RELEASES[1:], start=2):
        _wait(lambda number=number: _revision(store) == number - 1, tick, timeout, f"revision {number - 1} of Deployment {STABLE}")
        _wait(lambda image=image, cause=cause: _release(store, image, cause), tick, timeout, f"{image} in Deployment {STABLE}")
    _wait(lambda: _api_at_bad_release(store), tick, timeout, f"Deployment {STABLE} available at {API_RELEASES[-1][0]}")
    for name, version in ((STABLE, "stable"), (CANARY, "canary")):
        store.create(SERVICES, NAMESPACE, _service(name, version))
    store.create(INGRESSES, NAMESPACE, _ingress(MAIN_INGRESS, STABLE, {}))
    store.create(ROLLOUTS, NAMESPACE, rollout(STABLE_IMAGE))
    _wait(lambda: (_get(store, ROLLOUTS, ROLLOUT).get("status") or {}).get("phase") == "Healthy", tick, timeout, "the Rollout Healthy")
    _wait(lambda: _deploy_canary(store), tick, timeout, "the canary image in the Rollout")
    _wait(lambda: _paused_at_canary_step(store), tick, timeout, f"the Rollout paused at canary weight {CANARY_WEIGHT}")
    store.create(INGRESSES, NAMESPACE, canary_ingress())
    store.create(ROUTES, NAMESPACE, route())
    _wait(lambda: _available(store, CANARY), tick, timeout, f"Deployment {CANARY} available")
    return True


def seed_config(store: Store, tick: Callable[[], None], secrets: Optional[Mapping[str, str]] = None, timeout: float = 20.0) -> bool:
    """Put the ConfigMap, the Secret and both API Deployments' container env back as seeded, leaving every other object as
    it is; False when they already were. A Deployment whose env changes rolls out a new revision and is waited for."""
    secrets = secrets or PLACEHOLDER_SECRETS
    if config_seeded(store, secrets):
        return False
    if not (_get(store, DEPLOYMENTS, STABLE) and _get(store, DEPLOYMENTS, CANARY)):
        return seed(store, tick, secrets, timeout)
    for resource, body in _config_objects(secrets):
        current = _get(store, resource, body["metadata"]["name"])
        if not current:
            store.create(resource, NAMESPACE, body)
        elif current.get("data") != body["data"]:
            _wait(lambda resource=resource, body=body: _update(store, resource, body["metadata"]["name"],
                                                               lambda wanted, body=body: wanted.update(data=body["data"])),
                  tick, timeout, f"the seeded data in {resource.kind} {body['metadata']['name']}")

    def env(wanted: dict[str, Any]) -> None:
        container = wanted["spec"]["template"]["spec"]["containers"][0]
        for key, value in container_env().items():
            container[key] = value

    for name in (STABLE, CANARY):
        if not _env_seeded(store, name):
            _wait(lambda name=name: _update(store, DEPLOYMENTS, name, env), tick, timeout, f"the seeded env in Deployment {name}")
            _wait(lambda name=name: _available(store, name), tick, timeout, f"Deployment {name} available")
    return True


def _revision(store: Store) -> int:
    return int((_get(store, DEPLOYMENTS, STABLE).get("metadata", {}).get("annotations") or {}).get(REVISION) or 0)


def _release(store: Store, image: str, cause: str) -> bool:
    """Roll the API Deployment out to ``image`` with its change-cause."""
    def change(wanted: dict[str, Any]) -> None:
        wanted["metadata"].setdefault("annotations", {})[CHANGE_CAUSE] = cause
        wanted["spec"]["template"]["spec"]["containers"][0]["image"] = image
    return _update(store, DEPLOYMENTS, STABLE, change)


def _deploy_canary(store: Store) -> bool:
    """Put the canary image in the Rollout's template."""
    def change(wanted: dict[str, Any]) -> None:
        wanted["spec"]["template"] = rollout(CANARY_IMAGE)["spec"]["template"]
    return _update(store, ROLLOUTS, ROLLOUT, change)


def _update(store: Store, resource: Any, name: str, change: Callable[[dict[str, Any]], None]) -> bool:
    """Write ``change`` into the object; False when the controller wrote it in between (a conflict: try again)."""
    wanted = copy.deepcopy(_get(store, resource, name))
    change(wanted)
    try:
        store.update(resource, NAMESPACE, name, wanted)
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
