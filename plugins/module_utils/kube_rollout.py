# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Rollout history of Deployments, StatefulSets and DaemonSets, and the undo plan ``kubectl rollout undo`` would carry out.

Deployments keep their history in owned ReplicaSets (annotation ``deployment.kubernetes.io/revision``), StatefulSets and
DaemonSets in owned ControllerRevisions (field ``revision``, the template in ``data.spec.template``).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Mapping, Optional

from ansible_collections.ofm.rollback.plugins.module_utils.errors import InputError, NotFoundError
from ansible_collections.ofm.rollback.plugins.module_utils.kube import SYSTEM, WORKLOAD_API_VERSION, Kube

KINDS = ("Deployment", "StatefulSet", "DaemonSet")
REVISION_ANNOTATIONS = {"Deployment": "deployment.kubernetes.io/revision", "Rollout": "rollout.argoproj.io/revision"}
CHANGE_CAUSE_ANNOTATION = "kubernetes.io/change-cause"
HASH_LABELS = ("pod-template-hash", "controller-revision-hash", "rollouts-pod-template-hash")
JSON_PATCH = "application/json-patch+json"


@dataclass(frozen=True)
class Revision:
    """One entry of a workload's rollout history."""

    number: int
    template: dict[str, Any]
    change_cause: Optional[str]
    created: Optional[str]
    source: str

    def as_dict(self) -> dict[str, Any]:
        return {"revision": self.number, "change_cause": self.change_cause, "images": images(self.template), "created": self.created,
                "source": self.source}


def images(template: Mapping[str, Any]) -> list[str]:
    """The images of a pod template's containers, in order."""
    return [container.get("image", "") for container in ((template.get("spec") or {}).get("containers") or [])]


def normalise(template: Mapping[str, Any]) -> dict[str, Any]:
    """The pod template without the labels and markers a controller adds, so templates compare as ``kubectl`` compares them."""
    clean = copy.deepcopy(dict(template))
    clean.pop("$patch", None)
    metadata = clean.setdefault("metadata", {})
    labels = {key: value for key, value in (metadata.get("labels") or {}).items() if key not in HASH_LABELS}
    if labels:
        metadata["labels"] = labels
    else:
        metadata.pop("labels", None)
    if metadata.get("creationTimestamp") is None:
        metadata.pop("creationTimestamp", None)
    return clean


def target_name(obj: Mapping[str, Any]) -> str:
    metadata = obj.get("metadata") or {}
    return f"{obj.get('kind', 'object')} {metadata.get('namespace')}/{metadata.get('name')}"


def workloads(kube: Kube, params: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The workloads named by ``name`` or ``label_selector``; ``NotFoundError`` when none matches."""
    kind, namespace = params["kind"], params["namespace"]
    if params["name"]:
        return [kube.get(WORKLOAD_API_VERSION, kind, namespace, params["name"])]
    found = kube.list(WORKLOAD_API_VERSION, kind, namespace, params["label_selector"])
    if not found:
        raise NotFoundError(f"no {kind} matches the label selector '{params['label_selector']}'", system=SYSTEM, operation="list",
                            target=f"{kind} in namespace {namespace}")
    return [{"kind": kind, **item} for item in found]


def _owned(items: list[dict[str, Any]], owner: Mapping[str, Any]) -> list[dict[str, Any]]:
    uid = owner["metadata"]["uid"]
    return [item for item in items if any(ref.get("uid") == uid for ref in (item.get("metadata") or {}).get("ownerReferences") or [])]


class Listings:
    """ReplicaSets and ControllerRevisions listed once per namespace, for every workload of one pass.

    Without it a pass over N workloads of a namespace lists that namespace's ReplicaSets N times (quadratic in N).
    Use a new ``Listings`` after changing workloads: their revision annotations change.
    """

    def __init__(self, kube: Kube) -> None:
        self._kube = kube
        self._items: dict[tuple[str, str], list[dict[str, Any]]] = {}

    def items(self, kind: str, namespace: str) -> list[dict[str, Any]]:
        if (kind, namespace) not in self._items:
            self._items[(kind, namespace)] = self._kube.list(WORKLOAD_API_VERSION, kind, namespace)
        return self._items[(kind, namespace)]


def history(kube: Kube, obj: Mapping[str, Any], listings: Optional[Listings] = None) -> list[Revision]:
    """The workload's revisions, oldest first: its ReplicaSets for a Deployment or an Argo Rollout, else its ControllerRevisions.

    Pass the pass's ``listings`` when reading the history of several workloads.
    """
    namespace = obj["metadata"]["namespace"]
    listings = listings or Listings(kube)
    if obj["kind"] in REVISION_ANNOTATIONS:
        key = REVISION_ANNOTATIONS[obj["kind"]]
        replicasets = _owned(listings.items("ReplicaSet", namespace), obj)
        revisions = [Revision(int((rs["metadata"].get("annotations") or {}).get(key, 0)), normalise(rs["spec"]["template"]),
                              (rs["metadata"].get("annotations") or {}).get(CHANGE_CAUSE_ANNOTATION), rs["metadata"].get("creationTimestamp"),
                              f"ReplicaSet {rs['metadata']['name']}") for rs in replicasets]
    else:
        owned = _owned(listings.items("ControllerRevision", namespace), obj)
        revisions = [Revision(int(item.get("revision", 0)), normalise(((item.get("data") or {}).get("spec") or {}).get("template") or {}),
                              (item["metadata"].get("annotations") or {}).get(CHANGE_CAUSE_ANNOTATION), item["metadata"].get("creationTimestamp"),
                              f"ControllerRevision {item['metadata']['name']}") for item in owned]
    return sorted(revisions, key=lambda revision: revision.number)


def current_revision(obj: Mapping[str, Any], revisions: list[Revision]) -> Optional[Revision]:
    """The revision whose template the workload runs now (the newest one when several match)."""
    template = normalise(obj["spec"]["template"])
    matching = [revision for revision in revisions if revision.template == template]
    return matching[-1] if matching else None


@dataclass(frozen=True)
class UndoPlan:
    """What undoing one workload does: its current and target revisions, and whether anything changes."""

    obj: dict[str, Any]
    before: Optional[Revision]
    target: Revision

    @property
    def changed(self) -> bool:
        return normalise(self.obj["spec"]["template"]) != self.target.template

    def patch(self) -> list[dict[str, Any]]:
        """The JSON patch that puts the target's pod template in place, as ``kubectl rollout undo`` does."""
        return [{"op": "replace", "path": "/spec/template", "value": self.target.template}]


def plan_undo(obj: dict[str, Any], revisions: list[Revision], to_revision: int) -> UndoPlan:
    """The undo of ``obj`` to ``to_revision`` (0: the revision before the current one); ``InputError`` listing the revisions when absent."""
    before = current_revision(obj, revisions)
    numbers = [revision.number for revision in revisions]
    if to_revision:
        target = next((revision for revision in revisions if revision.number == to_revision), None)
        wanted = f"revision {to_revision}"
    else:
        older = [revision for revision in revisions if before is None or revision.number < before.number]
        target = older[-1] if older else None
        wanted = "revision before the current one"
    if target is None:
        raise InputError(f"{target_name(obj)} has no {wanted}; its history holds revisions {numbers or 'none'}", system=SYSTEM,
                         operation="rollout undo", target=target_name(obj), option="to_revision",
                         accepted=numbers, details={"available_revisions": numbers},
                         hint=f"Nothing was changed. Pick one of the revisions {numbers} (see ofm.rollback.k8s_rollout_info).")
    return UndoPlan(obj, before, target)
