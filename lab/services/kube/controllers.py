"""The controllers the collection relies on, played by one background thread.

- ReplicaSets: pods "start" over a few ticks (readyReplicas grows), except for broken images.
- Deployments: one ReplicaSet per distinct pod template (``<name>-<pod-template-hash>``), revision
  annotations as the real controller keeps them (a template that matches an older ReplicaSet moves that
  one to the next revision), old ReplicaSets scaled down, status and the Available/Progressing
  conditions, ``progressDeadlineSeconds``.
- StatefulSets and DaemonSets: ControllerRevisions with revision numbers, status revisions.
- Argo Rollouts (canary steps): step index, pauses, weights, abort, promote, undo, phase and conditions.
No pods are created: workload status is what clients read.
"""
from __future__ import annotations

import copy
import math
import sys
import threading
import time
from typing import Any, Callable, Optional

from lab.services.kube.errors import ApiError
from lab.services.kube.rollouts import reconcile_rollout
from lab.services.kube.store import Store, Write
from lab.services.kube.workloads import (DAEMONSET_NODES, DAEMONSETS, DEFAULT_PROGRESS_DEADLINE, DEPLOYMENTS, POD_TEMPLATE_HASH, REPLICASETS,
                                         REVISION, REVISION_HISTORY, REVISIONS, ROLLOUTS, SKIPPED_ANNOTATIONS, STATEFULSETS, CONTROLLER_HASH,
                                         annotation_revision, condition_of, owner_reference, parse_time, percent, set_condition, template_hash,
                                         without_hash)


class Controllers:
    """Reconciles every workload once per ``tick()``."""

    def __init__(self, store: Store, broken_images: Optional[set[str]] = None, clock: Callable[[], float] = time.time):
        self.store = store
        self.broken_images = set(broken_images or ())
        self.clock = clock
        self._daemonset_revisions: dict[str, dict[str, str]] = {}
        # Held for a whole pass, so that a lab reset (which recreates objects) never interleaves with one.
        self.lock = threading.RLock()

    def run(self, interval: float, stopping: threading.Event) -> None:
        while not stopping.wait(interval):
            self.tick()

    def tick(self) -> None:
        with self.lock:
            self._tick()

    def _tick(self) -> None:
        passes: list[tuple[Any, Callable[[dict[str, Any]], None]]] = [
            (DEPLOYMENTS, self._deployment), (ROLLOUTS, self._rollout), (REPLICASETS, self._replicaset),
            (STATEFULSETS, self._statefulset), (DAEMONSETS, self._daemonset), (DEPLOYMENTS, self._deployment_status),
        ]
        for resource, reconcile in passes:
            items, _revision = self.store.list(resource, None)
            for item in items:
                try:
                    reconcile(item)
                except ApiError as exc:
                    if exc.code not in (404, 409):
                        sys.stderr.write(f"controller {reconcile.__name__} {item['metadata']['name']}: {exc.message}\n")

    # helpers

    def is_broken(self, template: dict[str, Any]) -> bool:
        spec = (template or {}).get("spec") or {}
        for container in (spec.get("containers") or []) + (spec.get("initContainers") or []):
            image = container.get("image") or ""
            tag = image.rsplit("/", 1)[-1].partition(":")[2]
            if image in self.broken_images or "broken" in tag:
                return True
        return False

    def save(self, resource: Any, before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
        """Write spec/metadata changes, then status changes, each only when something changed."""
        namespace, name = before["metadata"].get("namespace", ""), before["metadata"]["name"]
        current = before
        if {k: v for k, v in after.items() if k != "status"} != {k: v for k, v in before.items() if k != "status"}:
            current = self.store.update(resource, namespace, name, after)
        if after.get("status") != current.get("status"):
            wanted = copy.deepcopy(current)
            wanted["status"] = after.get("status")
            current = self.store.update(resource, namespace, name, wanted, Write(subresource="status"))
        return current

    def owned_replicasets(self, owner: dict[str, Any]) -> list[dict[str, Any]]:
        return [rs for rs in self.store.owned_by(owner, REPLICASETS)
                if any(ref.get("controller") for ref in rs["metadata"].get("ownerReferences") or [])]

    def ensure_replicaset(self, owner: dict[str, Any], owned: list[dict[str, Any]], hash_label: str, revision_key: str) -> dict[str, Any]:
        """The ReplicaSet for the owner's template, created or moved to the next revision when needed."""
        template = without_hash(owner["spec"]["template"])
        newest = max((annotation_revision(rs, revision_key) for rs in owned), default=0)
        match = next((rs for rs in owned if without_hash(rs["spec"]["template"]) == template), None)
        annotations = {k: v for k, v in (owner["metadata"].get("annotations") or {}).items() if k not in SKIPPED_ANNOTATIONS}
        if match is None:
            digest = template_hash(template)
            labels = {**((template.get("metadata") or {}).get("labels") or {}), hash_label: digest}
            rs_template = copy.deepcopy(template)
            rs_template.setdefault("metadata", {})["labels"] = labels
            selector = copy.deepcopy(owner["spec"].get("selector") or {"matchLabels": {}})
            selector.setdefault("matchLabels", {})[hash_label] = digest
            annotations[revision_key] = str(newest + 1)
            body = {"apiVersion": "apps/v1", "kind": "ReplicaSet",
                    "metadata": {"name": f"{owner['metadata']['name']}-{digest}", "namespace": owner["metadata"]["namespace"],
                                 "labels": labels, "annotations": annotations, "ownerReferences": [owner_reference(owner)]},
                    "spec": {"replicas": 0, "selector": selector, "template": rs_template}}
            return self.store.create(REPLICASETS, owner["metadata"]["namespace"], body)
        if annotation_revision(match, revision_key) < newest:
            wanted = copy.deepcopy(match)
            old = annotation_revision(match, revision_key)
            merged = {**(wanted["metadata"].get("annotations") or {}), **annotations, revision_key: str(newest + 1)}
            if revision_key == REVISION:
                history = [item for item in merged.get(REVISION_HISTORY, "").split(",") if item]
                merged[REVISION_HISTORY] = ",".join(history + [str(old)])
            wanted["metadata"]["annotations"] = merged
            return self.store.update(REPLICASETS, match["metadata"]["namespace"], match["metadata"]["name"], wanted)
        return match

    def scale(self, rs: dict[str, Any], replicas: int) -> None:
        if rs["spec"].get("replicas") != replicas:
            wanted = copy.deepcopy(rs)
            wanted["spec"]["replicas"] = replicas
            self.store.update(REPLICASETS, rs["metadata"]["namespace"], rs["metadata"]["name"], wanted)

    def prune(self, resource: Any, old: list[dict[str, Any]], limit: int, order: Callable[[dict[str, Any]], int]) -> None:
        for item in sorted(old, key=order)[:max(len(old) - limit, 0)]:
            self.store.delete(resource, item["metadata"]["namespace"], item["metadata"]["name"])

    # replica sets

    def _replicaset(self, rs: dict[str, Any]) -> None:
        desired = rs["spec"].get("replicas", 0)
        status = copy.deepcopy(rs.get("status") or {})
        ready = 0 if self.is_broken(rs["spec"]["template"]) else min(desired, status.get("readyReplicas", 0) + max(1, math.ceil(desired / 2)))
        status.update(replicas=desired, fullyLabeledReplicas=desired, readyReplicas=ready, availableReplicas=ready,
                      observedGeneration=rs["metadata"].get("generation", 1))
        for key in ("readyReplicas", "availableReplicas", "fullyLabeledReplicas"):
            if not status[key]:
                del status[key]
        self.save(REPLICASETS, rs, {**rs, "status": status})

    # deployments

    def _deployment(self, deploy: dict[str, Any]) -> None:
        if deploy["spec"].get("paused"):
            return
        owned = self.owned_replicasets(deploy)
        new = self.ensure_replicaset(deploy, owned, POD_TEMPLATE_HASH, REVISION)
        desired = deploy["spec"].get("replicas", 1)
        old = [rs for rs in self.owned_replicasets(deploy) if rs["metadata"]["uid"] != new["metadata"]["uid"]]
        self.scale(new, desired)
        available = (new.get("status") or {}).get("availableReplicas", 0)
        for rs in old:
            self.scale(rs, max(0, min(rs["spec"].get("replicas", 0), desired - available)))
        idle = [rs for rs in old if rs["spec"].get("replicas") == 0 and not (rs.get("status") or {}).get("replicas")]
        self.prune(REPLICASETS, idle, deploy["spec"].get("revisionHistoryLimit", 10), annotation_revision)
        revision = new["metadata"]["annotations"][REVISION]
        if (deploy["metadata"].get("annotations") or {}).get(REVISION) != revision:
            wanted = copy.deepcopy(deploy)
            wanted["metadata"].setdefault("annotations", {})[REVISION] = revision
            self.store.update(DEPLOYMENTS, deploy["metadata"]["namespace"], deploy["metadata"]["name"], wanted)

    def _deployment_status(self, deploy: dict[str, Any]) -> None:
        owned = self.owned_replicasets(deploy)
        template = without_hash(deploy["spec"]["template"])
        new = next((rs for rs in owned if without_hash(rs["spec"]["template"]) == template), None)
        desired = deploy["spec"].get("replicas", 1)
        before = deploy.get("status") or {}
        totals = {key: sum((rs.get("status") or {}).get(key, 0) for rs in owned) for key in ("replicas", "readyReplicas", "availableReplicas")}
        updated = ((new or {}).get("status") or {}).get("replicas", 0)
        status = {"observedGeneration": deploy["metadata"].get("generation", 1), "replicas": totals["replicas"], "updatedReplicas": updated,
                  "readyReplicas": totals["readyReplicas"], "availableReplicas": totals["availableReplicas"],
                  "unavailableReplicas": max(0, desired - totals["availableReplicas"]),
                  "conditions": copy.deepcopy(before.get("conditions") or [])}
        now = self.clock()
        max_unavailable = percent(((deploy["spec"].get("strategy") or {}).get("rollingUpdate") or {}).get("maxUnavailable", "25%"), desired, False)
        if totals["availableReplicas"] >= desired - max_unavailable:
            set_condition(status["conditions"], "Available", "True", "MinimumReplicasAvailable", "Deployment has minimum availability.", now)
        else:
            set_condition(status["conditions"], "Available", "False", "MinimumReplicasUnavailable", "Deployment does not have minimum availability.", now)
        self._progressing(deploy, new, status, before, now)
        status["conditions"].sort(key=lambda c: 0 if c["type"] == "Available" else 1)
        for key in ("replicas", "updatedReplicas", "readyReplicas", "availableReplicas", "unavailableReplicas"):
            if not status[key]:
                del status[key]
        self.save(DEPLOYMENTS, deploy, {**deploy, "status": status})

    def _progressing(self, deploy: dict[str, Any], new: Optional[dict[str, Any]], status: dict[str, Any],  # pylint: disable=too-many-arguments
                     before: dict[str, Any], now: float) -> None:
        conditions = status["conditions"]
        if deploy["spec"].get("paused"):
            set_condition(conditions, "Progressing", "Unknown", "DeploymentPaused", "Deployment is paused", now)
            return
        if new is None:
            return
        name = new["metadata"]["name"]
        desired = deploy["spec"].get("replicas", 1)
        current = condition_of(before, "Progressing")
        complete = status["updatedReplicas"] == desired and status["replicas"] == desired and status["availableReplicas"] >= desired
        progressed = (status["updatedReplicas"] > before.get("updatedReplicas", 0) or status["readyReplicas"] > before.get("readyReplicas", 0)
                      or status["availableReplicas"] > before.get("availableReplicas", 0)
                      or status["replicas"] - status["updatedReplicas"] < before.get("replicas", 0) - before.get("updatedReplicas", 0))
        deadline = deploy["spec"].get("progressDeadlineSeconds", DEFAULT_PROGRESS_DEADLINE)
        if complete:
            set_condition(conditions, "Progressing", "True", "NewReplicaSetAvailable", f'ReplicaSet "{name}" has successfully progressed.', now)
        elif f'"{name}"' not in current.get("message", ""):
            set_condition(conditions, "Progressing", "True", "NewReplicaSetCreated", f'Created new replica set "{name}"', now)
        elif progressed:
            set_condition(conditions, "Progressing", "True", "ReplicaSetUpdated", f'ReplicaSet "{name}" is progressing.', now, progressed=True)
        elif current.get("status") == "True" and now - parse_time(current.get("lastUpdateTime")) > deadline:
            set_condition(conditions, "Progressing", "False", "ProgressDeadlineExceeded", f'ReplicaSet "{name}" has timed out progressing.', now)

    # statefulsets and daemonsets

    def _ensure_revision(self, owner: dict[str, Any]) -> dict[str, Any]:
        """The ControllerRevision holding the owner's template (created, or moved to the next revision number)."""
        template = owner["spec"]["template"]
        data = {"spec": {"template": {**copy.deepcopy(template), "$patch": "replace"}}}
        owned = self.store.owned_by(owner, REVISIONS)
        newest = max((item.get("revision", 0) for item in owned), default=0)
        match = next((item for item in owned if item.get("data") == data), None)
        if match is None:
            digest = template_hash(template)
            body = {"apiVersion": "apps/v1", "kind": "ControllerRevision",
                    "metadata": {"name": f"{owner['metadata']['name']}-{digest}", "namespace": owner["metadata"]["namespace"],
                                 "labels": {**((template.get("metadata") or {}).get("labels") or {}), CONTROLLER_HASH: digest},
                                 "ownerReferences": [owner_reference(owner)]},
                    "data": data, "revision": newest + 1}
            return self.store.create(REVISIONS, owner["metadata"]["namespace"], body)
        if match.get("revision", 0) < newest:
            return self.store.update(REVISIONS, match["metadata"]["namespace"], match["metadata"]["name"], {**match, "revision": newest + 1})
        return match

    def _rolled(self, owner: dict[str, Any], desired: int, updated_key: str) -> tuple[dict[str, Any], str, int, bool]:
        """Status with revisions moved one tick on; returns (status, update revision, updated count, broken)."""
        revision = self._ensure_revision(owner)["metadata"]["name"]
        status = copy.deepcopy(owner.get("status") or {})
        if status.get("updateRevision") != revision:
            status["updateRevision"] = revision
            status[updated_key] = 0
        status.setdefault("currentRevision", revision)
        broken = self.is_broken(owner["spec"]["template"])
        updated = status.get(updated_key, 0) if broken else min(desired, status.get(updated_key, 0) + max(1, math.ceil(desired / 2)))
        if updated == desired and not broken:
            status["currentRevision"] = revision
        status["observedGeneration"] = owner["metadata"].get("generation", 1)
        old = [item for item in self.store.owned_by(owner, REVISIONS) if item["metadata"]["name"] not in (revision, status["currentRevision"])]
        self.prune(REVISIONS, old, owner["spec"].get("revisionHistoryLimit", 10), lambda item: item.get("revision", 0))
        return status, revision, updated, broken

    def _statefulset(self, sts: dict[str, Any]) -> None:
        desired = sts["spec"].get("replicas", 1)
        status, revision, updated, broken = self._rolled(sts, desired, "updatedReplicas")
        ready = desired - (1 if broken and desired and status["currentRevision"] != revision else 0)
        status.update(replicas=desired, updatedReplicas=updated, readyReplicas=ready, availableReplicas=ready,
                      currentReplicas=desired if status["currentRevision"] == revision else desired - updated, collisionCount=0)
        self.save(STATEFULSETS, sts, {**sts, "status": status})

    def _daemonset(self, ds: dict[str, Any]) -> None:
        """DaemonSet status has no revision fields (unlike StatefulSet's), so the controller remembers them itself."""
        uid = ds["metadata"]["uid"]
        view = {**ds, "status": {**(ds.get("status") or {}), **self._daemonset_revisions.get(uid, {})}}
        status, revision, updated, broken = self._rolled(view, DAEMONSET_NODES, "updatedNumberScheduled")
        self._daemonset_revisions[uid] = {key: status.pop(key) for key in ("currentRevision", "updateRevision")}
        ready = DAEMONSET_NODES - (1 if broken and self._daemonset_revisions[uid]["currentRevision"] != revision else 0)
        status.update(desiredNumberScheduled=DAEMONSET_NODES, currentNumberScheduled=DAEMONSET_NODES, numberMisscheduled=0,
                      numberReady=ready, updatedNumberScheduled=updated, numberAvailable=ready)
        if ready < DAEMONSET_NODES:
            status["numberUnavailable"] = DAEMONSET_NODES - ready
        else:
            status.pop("numberUnavailable", None)
        self.save(DAEMONSETS, ds, {**ds, "status": status})

    # argo rollouts

    def _rollout(self, rollout: dict[str, Any]) -> None:
        reconcile_rollout(self, rollout)
