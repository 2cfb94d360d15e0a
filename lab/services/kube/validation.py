"""Defaults and validation the real API server applies to the served kinds (the subset clients notice)."""
from __future__ import annotations

import re
from typing import Any

from lab.services.kube.errors import invalid
from lab.services.kube.resources import ResourceType
from lab.services.kube.selectors import selector_from_label_selector

DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
SUBDOMAIN_HELP = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start "
                  "and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
                  "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")
WORKLOADS = ("Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "Rollout")
ROUTE_WEIGHT_DEFAULT = 100
ROUTE_WEIGHT_MAX = 256
ROUTE_ALTERNATE_BACKENDS_MAX = 3


def drop_nulls(value: Any) -> Any:
    """Nulls vanish as they do when the real server decodes into typed objects (``creationTimestamp: null``)."""
    if isinstance(value, dict):
        return {key: drop_nulls(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [drop_nulls(item) for item in value]
    return value


def _default_pod_spec(spec: dict[str, Any]) -> None:
    for key, value in (("restartPolicy", "Always"), ("terminationGracePeriodSeconds", 30), ("dnsPolicy", "ClusterFirst"),
                       ("securityContext", {}), ("schedulerName", "default-scheduler")):
        spec.setdefault(key, value)
    for container in (spec.get("containers") or []) + (spec.get("initContainers") or []):
        if not isinstance(container, dict):
            continue
        tag = str(container.get("image", "")).rsplit("/", 1)[-1].partition(":")[2]
        for key, value in (("resources", {}), ("terminationMessagePath", "/dev/termination-log"), ("terminationMessagePolicy", "File"),
                           ("imagePullPolicy", "Always" if tag in ("", "latest") else "IfNotPresent")):
            container.setdefault(key, value)
        for port in container.get("ports") or []:
            if isinstance(port, dict):
                port.setdefault("protocol", "TCP")


def apply_defaults(resource: ResourceType, obj: dict[str, Any]) -> None:
    """Fill the defaults clients read back (replicas, strategies, history limits, deadlines, pod template fields)."""
    spec = obj.get("spec")
    if resource.kind == "Pod" and isinstance(spec, dict):
        _default_pod_spec(spec)
    template = spec.get("template") if isinstance(spec, dict) else None
    if resource.kind in WORKLOADS and isinstance(template, dict) and isinstance(template.get("spec"), dict):
        _default_pod_spec(template["spec"])
    if resource.kind in WORKLOADS and isinstance(spec, dict):
        if resource.kind != "DaemonSet":
            spec.setdefault("replicas", 1)
        if resource.kind != "ReplicaSet":
            spec.setdefault("revisionHistoryLimit", 10)
        if resource.kind == "Deployment":
            spec.setdefault("progressDeadlineSeconds", 600)
            spec.setdefault("strategy", {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}})
        elif resource.kind == "StatefulSet":
            spec.setdefault("podManagementPolicy", "OrderedReady")
            spec.setdefault("updateStrategy", {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}})
        elif resource.kind == "DaemonSet":
            spec.setdefault("updateStrategy", {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1}})
    if resource.kind == "Service" and isinstance(spec, dict):
        spec.setdefault("type", "ClusterIP")
        spec.setdefault("sessionAffinity", "None")
    if resource.kind == "Secret":
        obj.setdefault("type", "Opaque")
    if resource.kind == "Route" and isinstance(spec, dict):
        _default_route_spec(spec)


def _default_route_spec(spec: dict[str, Any]) -> None:
    """OpenShift's defaults: every backend a Service of weight 100, no wildcard policy."""
    spec.setdefault("wildcardPolicy", "None")
    backends = [spec.get("to")] + list(spec.get("alternateBackends") or [])
    for backend in backends:
        if isinstance(backend, dict):
            backend.setdefault("kind", "Service")
            backend.setdefault("weight", ROUTE_WEIGHT_DEFAULT)


def validate(resource: ResourceType, obj: dict[str, Any]) -> None:
    """Raise 422 Invalid with the causes the real server names for the same mistakes."""
    metadata = obj.get("metadata") or {}
    name = metadata.get("name") or ""
    causes: list[tuple[str, str, str]] = []
    if not name:
        causes.append(("metadata.name", "Required value", "name or generateName is required"))
    elif not DNS1123_SUBDOMAIN.match(name) or len(name) > 253:
        causes.append(("metadata.name", f'Invalid value: "{name}"', SUBDOMAIN_HELP))
    if resource.kind in WORKLOADS:
        causes.extend(_workload_causes(obj.get("spec") or {}, resource.kind))
    if resource.kind == "Route":
        causes.extend(_route_causes(obj.get("spec") or {}))
    if causes:
        raise invalid(resource.kind, resource.group, name, causes)


def _workload_causes(spec: dict[str, Any], kind: str) -> list[tuple[str, str, str]]:
    causes: list[tuple[str, str, str]] = []
    template = spec.get("template") or {}
    labels = (template.get("metadata") or {}).get("labels") or {}
    selector = spec.get("selector")
    if kind != "Rollout" or selector is not None:
        if not selector:
            causes.append(("spec.selector", "Required value", ""))
        elif not selector_from_label_selector(selector)({"metadata": {"labels": labels}}):
            rendered = "map[string]string{" + ", ".join(f'"{k}":"{v}"' for k, v in sorted(labels.items())) + "}"
            causes.append(("spec.template.metadata.labels", f"Invalid value: {rendered}", "`selector` does not match template `labels`"))
    replicas = spec.get("replicas", 0)
    if not isinstance(replicas, int) or replicas < 0:
        causes.append(("spec.replicas", f"Invalid value: {replicas}", "must be greater than or equal to 0"))
    if kind == "Rollout" and "workloadRef" in spec:
        return causes
    containers = (template.get("spec") or {}).get("containers")
    if not containers:
        causes.append(("spec.template.spec.containers", "Required value", ""))
    for index, container in enumerate(containers or []):
        for key in ("name", "image"):
            if not (container or {}).get(key):
                causes.append((f"spec.template.spec.containers[{index}].{key}", "Required value", ""))
    return causes


def _route_causes(spec: dict[str, Any]) -> list[tuple[str, str, str]]:
    """What OpenShift's route validation says of the backends: a named Service each, weights 0..256, at most 3 alternates."""
    causes: list[tuple[str, str, str]] = []
    if not isinstance(spec.get("to"), dict):
        return [("spec.to", "Required value", "")]
    alternates = spec.get("alternateBackends") or []
    if not isinstance(alternates, list):
        return [("spec.alternateBackends", f"Invalid value: {alternates!r}", "must be a list")]
    if len(alternates) > ROUTE_ALTERNATE_BACKENDS_MAX:
        causes.append(("spec.alternateBackends", "Required value", f"cannot specify more than {ROUTE_ALTERNATE_BACKENDS_MAX} alternate backends"))
    for path, backend in [("spec.to", spec["to"])] + [(f"spec.alternateBackends[{i}]", item) for i, item in enumerate(alternates)]:
        if not isinstance(backend, dict):
            causes.append((path, f"Invalid value: {backend!r}", "must be an object"))
            continue
        if not backend.get("name"):
            causes.append((f"{path}.name", "Required value", ""))
        if backend.get("kind") != "Service":
            causes.append((f"{path}.kind", f'Unsupported value: "{backend.get("kind")}"', 'supported values: "Service"'))
        weight = backend.get("weight")
        if not isinstance(weight, int) or isinstance(weight, bool) or not 0 <= weight <= ROUTE_WEIGHT_MAX:
            causes.append((f"{path}.weight", f"Invalid value: {weight}", f"weight must be an integer between 0 and {ROUTE_WEIGHT_MAX}"))
    return causes
