"""Helpers shared by the workload controllers: hashes, owner references, revisions, conditions."""
from __future__ import annotations

import copy
import hashlib
import json
import math
from datetime import datetime, timezone
from typing import Any, Optional

from lab.services.kube import resources

DEPLOYMENTS = resources.find("apps", "v1", "deployments")
REPLICASETS = resources.find("apps", "v1", "replicasets")
STATEFULSETS = resources.find("apps", "v1", "statefulsets")
DAEMONSETS = resources.find("apps", "v1", "daemonsets")
REVISIONS = resources.find("apps", "v1", "controllerrevisions")
ROLLOUTS = resources.find("argoproj.io", "v1alpha1", "rollouts")
ANALYSISRUNS = resources.find("argoproj.io", "v1alpha1", "analysisruns")
POD_TEMPLATE_HASH = "pod-template-hash"
ROLLOUT_HASH = "rollouts-pod-template-hash"
CONTROLLER_HASH = "controller.kubernetes.io/hash"
REVISION = "deployment.kubernetes.io/revision"
REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
ROLLOUT_REVISION = "rollout.argoproj.io/revision"
SKIPPED_ANNOTATIONS = ("kubectl.kubernetes.io/last-applied-configuration", REVISION, REVISION_HISTORY,
                       "deployment.kubernetes.io/desired-replicas", "deployment.kubernetes.io/max-replicas")
HASH_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
DAEMONSET_NODES = 2
DEFAULT_PROGRESS_DEADLINE = 600


def rfc3339(moment: float) -> str:
    return datetime.fromtimestamp(moment, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: Optional[str]) -> float:
    try:
        return datetime.strptime(text or "", "%Y-%m-%dT%H:%M:%S%z").timestamp()
    except ValueError:
        return 0.0


def without_hash(template: dict[str, Any]) -> dict[str, Any]:
    """The pod template without the hash labels the controllers add."""
    clean = copy.deepcopy(template or {})
    labels = (clean.get("metadata") or {}).get("labels")
    if labels is not None:
        for key in (POD_TEMPLATE_HASH, ROLLOUT_HASH):
            labels.pop(key, None)
    return clean


def template_hash(template: dict[str, Any]) -> str:
    """A stable hash of a pod template, spelled like Kubernetes' ``SafeEncodeString`` output."""
    digest = hashlib.sha256(json.dumps(without_hash(template), sort_keys=True).encode()).digest()
    return "".join(HASH_ALPHABET[byte % len(HASH_ALPHABET)] for byte in digest[:10])


def owner_reference(owner: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": owner["apiVersion"], "kind": owner["kind"], "name": owner["metadata"]["name"],
            "uid": owner["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}


def annotation_revision(obj: dict[str, Any], key: str = REVISION) -> int:
    try:
        return int((obj["metadata"].get("annotations") or {}).get(key, "0"))
    except ValueError:
        return 0


def set_condition(conditions: list[dict[str, Any]], kind: str, status: str, reason: str, message: str,  # pylint: disable=too-many-arguments
                  now: float, progressed: bool = False) -> None:
    """Upsert a condition; transition time moves when the status changes, update time when anything does."""
    stamp = rfc3339(now)
    for condition in conditions:
        if condition["type"] != kind:
            continue
        if condition["status"] != status:
            condition["lastTransitionTime"] = stamp
        if (condition["status"], condition["reason"], condition["message"]) != (status, reason, message) or progressed:
            condition["lastUpdateTime"] = stamp
        condition.update(status=status, reason=reason, message=message)
        return
    conditions.append({"type": kind, "status": status, "lastUpdateTime": stamp, "lastTransitionTime": stamp,
                       "reason": reason, "message": message})


def condition_of(status: dict[str, Any], kind: str) -> dict[str, Any]:
    return next((c for c in status.get("conditions") or [] if c["type"] == kind), {})


def percent(value: Any, total: int, round_up: bool) -> int:
    if isinstance(value, str) and value.endswith("%"):
        share = total * int(value[:-1]) / 100
        return math.ceil(share) if round_up else math.floor(share)
    return int(value or 0)
