# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Rollout history of Deployments, StatefulSets and DaemonSets, and the undo plan ``kubectl rollout undo`` would carry out.

Deployments keep their history in owned ReplicaSets (annotation ``deployment.kubernetes.io/revision``), StatefulSets and
DaemonSets in owned ControllerRevisions (field ``revision``, the template in ``data.spec.template``).

The undo patch is conditional on the object as it was read (``UndoPlan.patch``); ``apply_undo`` re-reads and decides again
when the object changed in between (a deploy landing between the read and the patch), a bounded number of times.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional

from ansible_collections.ofm.rollback.plugins.module_utils.errors import ConflictError, InputError, NotFoundError, OfmRollbackError
from ansible_collections.ofm.rollback.plugins.module_utils.kube import SYSTEM, WORKLOAD_API_VERSION, Kube

KINDS = ("Deployment", "StatefulSet", "DaemonSet")
REVISION_ANNOTATIONS = {"Deployment": "deployment.kubernetes.io/revision", "Rollout": "rollout.argoproj.io/revision"}
CHANGE_CAUSE_ANNOTATION = "kubernetes.io/change-cause"
HASH_LABELS = ("pod-template-hash", "controller-revision-hash", "rollouts-pod-template-hash")
JSON_PATCH = "application/json-patch+json"
UNDO_TRIES = 3
# What ``kubectl rollout undo`` never copies from a ReplicaSet onto its Deployment (k8s.io/kubectl rollback.go).
ANNOTATIONS_TO_SKIP = frozenset({"kubectl.kubernetes.io/last-applied-configuration", "deployment.kubernetes.io/revision",
                                 "deployment.kubernetes.io/revision-history", "deployment.kubernetes.io/desired-replicas",
                                 "deployment.kubernetes.io/max-replicas", "deprecated.deployment.rollback.to"})


@dataclass(frozen=True)
class Revision:
    """One entry of a workload's rollout history."""

    number: int
    template: dict[str, Any]
    change_cause: Optional[str]
    created: Optional[str]
    source: str
    # A ReplicaSet's own annotations (the change cause among them), which an undo of a Deployment copies back onto it.
    annotations: dict[str, str] = field(default_factory=dict)

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
                              f"ReplicaSet {rs['metadata']['name']}", _copied_annotations(rs)) for rs in replicasets]
    else:
        owned = _owned(listings.items("ControllerRevision", namespace), obj)
        revisions = [Revision(int(item.get("revision", 0)), normalise(((item.get("data") or {}).get("spec") or {}).get("template") or {}),
                              (item["metadata"].get("annotations") or {}).get(CHANGE_CAUSE_ANNOTATION), item["metadata"].get("creationTimestamp"),
                              f"ControllerRevision {item['metadata']['name']}") for item in owned]
    return sorted(revisions, key=lambda revision: revision.number)


def _copied_annotations(replicaset: Mapping[str, Any]) -> dict[str, str]:
    return {key: value for key, value in ((replicaset.get("metadata") or {}).get("annotations") or {}).items() if key not in ANNOTATIONS_TO_SKIP}


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

    def precondition(self) -> list[dict[str, Any]]:
        """The JSON patch ``test`` that the workload's spec is still the one read: its ``metadata.generation`` (else, when the
        server sets none, its ``resourceVersion``).

        Why ``generation`` and not ``resourceVersion``: the resourceVersion changes with every write, and during a rollout
        the controller writes the status each time a replica moves, so a resourceVersion precondition is refused over and over
        for changes that do not touch the template (on the lab server mid-rollout: 3 refusals out of 3). The generation
        changes only when the spec changes, that is exactly when a deploy (or another rollback) lands.
        Why a ``test`` op: it is what a real API server enforces on any field in an ``application/json-patch+json`` patch;
        it refuses a failed test with 422 Invalid (a resourceVersion the patch sets would give 409 Conflict, but generation is
        not a precondition field). 422 is also the status of an invalid template, so ``apply_undo`` tells them apart by reading
        the workload again (did its generation move?), not by parsing the message.
        """
        metadata = self.obj.get("metadata") or {}
        if metadata.get("generation") is not None:
            return [{"op": "test", "path": "/metadata/generation", "value": metadata["generation"]}]
        if metadata.get("resourceVersion"):
            return [{"op": "test", "path": "/metadata/resourceVersion", "value": metadata["resourceVersion"]}]
        return []

    def patch(self) -> list[dict[str, Any]]:
        """The JSON patch that puts the target's pod template in place, as ``kubectl rollout undo`` does, on condition
        (``precondition``) that no deploy landed since the workload was read."""
        operations = self.precondition() + [{"op": "replace", "path": "/spec/template", "value": self.target.template}]
        if self.obj.get("kind") == "Deployment":
            # kubectl also puts the revision's annotations (its change cause) back on the Deployment, keeping its own
            # controller-managed ones, so that the history shows why the running template was deployed.
            own = (self.obj.get("metadata") or {}).get("annotations") or {}
            annotations = {**{key: value for key, value in own.items() if key in ANNOTATIONS_TO_SKIP}, **self.target.annotations}
            if annotations != own:
                operations.append({"op": "replace" if "annotations" in (self.obj.get("metadata") or {}) else "add",
                                   "path": "/metadata/annotations", "value": annotations})
        return operations


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


def replan(obj: dict[str, Any], revisions: list[Revision], target: Revision) -> UndoPlan:
    """The undo of the re-read ``obj`` to the template decided at first: ``to_revision: 0`` is not resolved again, or a deploy
    that landed would make the revision being undone the "previous" one. The target's number is looked up again by its
    template (a rollback to it by someone else renumbers it as the newest revision)."""
    same = [revision for revision in revisions if revision.template == target.template]
    return UndoPlan(obj, current_revision(obj, revisions), same[-1] if same else target)


def last_manager(obj: Mapping[str, Any]) -> Optional[str]:
    """The field manager that wrote the object last (its newest ``managedFields`` entry), when the server keeps them."""
    entries = [entry for entry in (obj.get("metadata") or {}).get("managedFields") or [] if isinstance(entry, dict)]
    return max(entries, key=lambda entry: entry.get("time") or "").get("manager") if entries else None


def describe_change(plan: UndoPlan, refused: Optional[int]) -> dict[str, Any]:
    """What the re-read object is now, after a patch refused with HTTP status ``refused``: who or what changed it."""
    metadata = plan.obj.get("metadata") or {}
    return {"refused": refused, "generation": metadata.get("generation"), "resource_version": metadata.get("resourceVersion"),
            "revision": plan.before.number if plan.before else None,
            "images": images(plan.obj["spec"]["template"]), "change_cause": plan.before.change_cause if plan.before else None,
            "manager": last_manager(plan.obj), "at_target": not plan.changed}


@dataclass(frozen=True)
class Applied:
    """The outcome of ``apply_undo``: the last plan (made from the last read), the object the server answered (the plan's
    object when nothing was patched), and what the object had become at each conflict."""

    plan: UndoPlan
    answer: dict[str, Any]
    conflicts: list[dict[str, Any]]


def reread(kube: Kube, obj: Mapping[str, Any]) -> tuple[dict[str, Any], list[Revision]]:
    """The workload and its history read again (a new listing: the revisions change with the object)."""
    metadata = obj["metadata"]
    fresh = {"kind": obj["kind"], **kube.get(WORKLOAD_API_VERSION, obj["kind"], metadata["namespace"], metadata["name"])}
    return fresh, history(kube, fresh)


def apply_undo(kube: Kube, plan: UndoPlan, check_mode: bool, tries: int = UNDO_TRIES) -> Applied:
    """Patch the workload to the plan's target on condition that its spec is unchanged since read (a server dry run in check mode).

    When the precondition fails (422 with the workload's generation moved since read, or a 409 Conflict), a deploy landed in
    between: the object and its history are read again and the undo decided again: no patch when it now runs the target's
    template, else a patch conditional on the new read. A 422 with the generation unchanged is an invalid patch and raised as
    it is. After ``tries`` refused patches a ``ConflictError`` names what the object became; the module changed nothing of it.
    """
    conflicts: list[dict[str, Any]] = []
    while plan.changed:
        if len(conflicts) == tries:
            raise _changed_while_rolling_back(plan, conflicts)
        metadata = plan.obj["metadata"]
        try:
            answer = kube.patch(WORKLOAD_API_VERSION, plan.obj["kind"], metadata["namespace"], metadata["name"], plan.patch(),
                                content_type=JSON_PATCH, dry_run=check_mode)
        except (ConflictError, InputError) as exc:
            fresh = replan(*reread(kube, plan.obj), plan.target)
            if not _spec_moved(exc, plan, fresh):
                raise
            plan = fresh
            conflicts.append(describe_change(plan, exc.status))
            continue
        return Applied(plan, answer, conflicts)
    return Applied(plan, plan.obj, conflicts)


def _spec_moved(exc: OfmRollbackError, read: UndoPlan, fresh: UndoPlan) -> bool:
    """Whether a refused patch was refused because a write landed since ``read``: always for a 409 Conflict; for a 422 when
    the precondition the patch tested (generation, else resourceVersion) is no longer what the server holds."""
    if isinstance(exc, ConflictError):
        return True
    return exc.status == 422 and bool(read.precondition()) and read.precondition() != fresh.precondition()


def _changed_while_rolling_back(plan: UndoPlan, conflicts: list[dict[str, Any]]) -> ConflictError:
    now = conflicts[-1]
    revision = f"revision {now['revision']}" if now["revision"] is not None else "a template that matches no revision"
    cause = f", change-cause '{now['change_cause']}'" if now["change_cause"] else ""
    manager = f", last written by '{now['manager']}'" if now["manager"] else ""
    return ConflictError(
        f"{target_name(plan.obj)} changed while rolling back: {len(conflicts)} patches to revision {plan.target.number} were refused "
        f"(its spec was modified since read); it now runs {revision} with images {now['images']}{cause}{manager} "
        f"(generation {now['generation']}, resourceVersion {now['resource_version']})", system=SYSTEM, operation="rollout undo",
        target=target_name(plan.obj), status=now["refused"],
        details={"conflicts": conflicts, "target_revision": plan.target.number, "target_images": images(plan.target.template)},
        hint="Nothing was changed on this workload. Something keeps deploying it: stop that writer (pause the pipeline or "
             "the controller), check the history with ofm.rollback.k8s_rollout_info, then run the undo again.")
