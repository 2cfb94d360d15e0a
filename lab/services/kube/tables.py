"""``meta.k8s.io/v1`` Table answers, the server-side printing ``kubectl get`` asks for."""
from __future__ import annotations

import time
from datetime import datetime
from typing import Any, Callable

Column = tuple[str, str, Callable[[dict[str, Any]], Any]]


def human_age(timestamp: str, now: float) -> str:
    """Age the way the API server prints it: 42s, 5m10s, 3h, 2d."""
    try:
        seconds = int(now - datetime.strptime(timestamp, "%Y-%m-%dT%H:%M:%S%z").timestamp())
    except (TypeError, ValueError):
        return "<unknown>"
    seconds = max(seconds, 0)
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 600:
        return f"{seconds // 60}m{seconds % 60}s" if seconds % 60 else f"{seconds // 60}m"
    if seconds < 3 * 3600:
        return f"{seconds // 60}m"
    if seconds < 48 * 3600:
        return f"{seconds // 3600}h"
    return f"{seconds // 86400}d"


def _status(obj: dict[str, Any], key: str) -> int:
    return (obj.get("status") or {}).get(key) or 0


def _replicas(obj: dict[str, Any]) -> int:
    return (obj.get("spec") or {}).get("replicas") or 0


def _controller(obj: dict[str, Any]) -> str:
    """``statefulset.apps/web`` for the controlling owner, as kubectl prints it."""
    for ref in obj["metadata"].get("ownerReferences") or []:
        if ref.get("controller"):
            group = ref.get("apiVersion", "").rpartition("/")[0]
            return f"{ref.get('kind', '').lower()}{'.' + group if group else ''}/{ref.get('name', '')}"
    return "<none>"


COLUMNS: dict[str, list[Column]] = {
    "Deployment": [("Ready", "string", lambda o: f"{_status(o, 'readyReplicas')}/{_replicas(o)}"),
                   ("Up-to-date", "integer", lambda o: _status(o, "updatedReplicas")),
                   ("Available", "integer", lambda o: _status(o, "availableReplicas"))],
    "ReplicaSet": [("Desired", "integer", _replicas), ("Current", "integer", lambda o: _status(o, "replicas")),
                   ("Ready", "integer", lambda o: _status(o, "readyReplicas"))],
    "StatefulSet": [("Ready", "string", lambda o: f"{_status(o, 'readyReplicas')}/{_replicas(o)}")],
    "DaemonSet": [("Desired", "integer", lambda o: _status(o, "desiredNumberScheduled")),
                  ("Current", "integer", lambda o: _status(o, "currentNumberScheduled")),
                  ("Ready", "integer", lambda o: _status(o, "numberReady")),
                  ("Up-to-date", "integer", lambda o: _status(o, "updatedNumberScheduled")),
                  ("Available", "integer", lambda o: _status(o, "numberAvailable"))],
    "ControllerRevision": [("Controller", "string", _controller), ("Revision", "integer", lambda o: o.get("revision", 0))],
    "Rollout": [("Desired", "integer", _replicas), ("Current", "integer", lambda o: _status(o, "replicas")),
                ("Up-to-date", "integer", lambda o: _status(o, "updatedReplicas")),
                ("Available", "integer", lambda o: _status(o, "availableReplicas"))],
    "ConfigMap": [("Data", "integer", lambda o: len(o.get("data") or {}) + len(o.get("binaryData") or {}))],
    "Secret": [("Type", "string", lambda o: o.get("type", "Opaque")), ("Data", "integer", lambda o: len(o.get("data") or {}))],
    "Namespace": [("Status", "string", lambda o: (o.get("status") or {}).get("phase", "Active"))],
    "Service": [("Type", "string", lambda o: (o.get("spec") or {}).get("type", "ClusterIP")),
                ("Cluster-IP", "string", lambda o: (o.get("spec") or {}).get("clusterIP", "<none>"))],
}


def table(kind: str, items: list[dict[str, Any]], resource_version: str) -> dict[str, Any]:
    """A Table of ``items`` with Name, the kind's columns and Age; rows carry the objects' metadata."""
    columns = COLUMNS.get(kind, [])
    now = time.time()
    definitions = [{"name": "Name", "type": "string", "format": "name", "description": "Name of the object", "priority": 0}]
    definitions += [{"name": name, "type": kind_of, "format": "", "description": name, "priority": 0} for name, kind_of, _cell in columns]
    definitions.append({"name": "Age", "type": "string", "format": "", "description": "Time since creation", "priority": 0})
    rows = [{"cells": [item["metadata"]["name"], *[cell(item) for _name, _kind, cell in columns],
                       human_age(item["metadata"].get("creationTimestamp", ""), now)],
             "object": {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": item["metadata"]}}
            for item in items]
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": {"resourceVersion": resource_version},
            "columnDefinitions": definitions, "rows": rows}
