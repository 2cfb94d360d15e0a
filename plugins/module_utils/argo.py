# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Argo Rollouts through the Kubernetes API: what each action of the ``kubectl argo rollouts`` plugin patches on a
``Rollout`` (``argoproj.io/v1alpha1``), and the wait for the phase that follows.

Every action is planned from the rollout as read (no patch when it is already where the action leads), then sent, then
waited on with ``kube.wait_until`` (the collection's ``Poller``); in check mode nothing is sent and the wait is its
twin ``kube.read_readiness``: the rollout as read, judged once.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Optional

from ansible_collections.ofm.rollback.plugins.module_utils.errors import InputError
from ansible_collections.ofm.rollback.plugins.module_utils.kube import SYSTEM, Kube, Readiness, Waited, read_readiness, wait_until
from ansible_collections.ofm.rollback.plugins.module_utils.kube_rollout import JSON_PATCH, Revision, history, images, plan_undo, target_name

API_VERSION = "argoproj.io/v1alpha1"
KIND = "Rollout"
MERGE_PATCH = "application/merge-patch+json"
ACTIONS = ("abort", "undo", "retry", "promote", "pause", "resume", "status")
WAIT_FOR = ("healthy", "degraded", "fully_promoted", "none")


def state(rollout: Mapping[str, Any]) -> dict[str, Any]:
    """The fields of a Rollout that say where its canary stands."""
    spec, status = rollout.get("spec") or {}, rollout.get("status") or {}
    return {"phase": status.get("phase"), "message": status.get("message"), "aborted": bool(status.get("abort")),
            "paused": bool(spec.get("paused")) or bool(status.get("pauseConditions")),
            "weights": (status.get("canary") or {}).get("weights"), "stable_rs": status.get("stableRS"),
            "current_pod_hash": status.get("currentPodHash"), "step_index": status.get("currentStepIndex"),
            "images": images(spec.get("template") or {})}


def fully_promoted(rollout: Mapping[str, Any]) -> bool:
    status = rollout.get("status") or {}
    return bool(status.get("stableRS")) and status.get("stableRS") == status.get("currentPodHash")


@dataclass(frozen=True)
class Patch:
    """One write to the Rollout: a body, its patch type, and the subresource it goes to."""

    body: Any
    content_type: str = MERGE_PATCH
    subresource: Optional[str] = None

    def as_dict(self) -> dict[str, Any]:
        return {"subresource": self.subresource, "content_type": self.content_type, "body": self.body}


def abort(rollout: Mapping[str, Any]) -> list[Patch]:
    return [] if state(rollout)["aborted"] else [Patch({"status": {"abort": True}}, subresource="status")]


def retry(rollout: Mapping[str, Any]) -> list[Patch]:
    return [Patch({"status": {"abort": False}}, subresource="status")] if state(rollout)["aborted"] else []


def pause(rollout: Mapping[str, Any]) -> list[Patch]:
    return [] if (rollout.get("spec") or {}).get("paused") else [Patch({"spec": {"paused": True}})]


def resume(rollout: Mapping[str, Any]) -> list[Patch]:
    return [Patch({"spec": {"paused": False}})] if (rollout.get("spec") or {}).get("paused") else []


def promote(rollout: Mapping[str, Any], full: bool) -> list[Patch]:
    """Full: skip every remaining step. Otherwise clear the pauses that hold the rollout, or move past the current step."""
    status = rollout.get("status") or {}
    if fully_promoted(rollout) and not status.get("pauseConditions"):
        return []
    if full:
        return [] if status.get("promoteFull") else [Patch({"status": {"promoteFull": True}}, subresource="status")]
    patches = resume(rollout)
    if status.get("pauseConditions"):
        patches.append(Patch({"status": {"pauseConditions": None}}, subresource="status"))
    elif not patches:
        patches.append(Patch({"status": {"currentStepIndex": status.get("currentStepIndex", 0) + 1}}, subresource="status"))
    return patches


def wanted(wait_for: str) -> Callable[[Mapping[str, Any]], Readiness]:
    """The predicate a ``wait_for`` value waits on; ``healthy`` fails fast on ProgressDeadlineExceeded."""
    def predicate(rollout: Mapping[str, Any]) -> Readiness:
        status = rollout.get("status") or {}
        phase, message = status.get("phase"), status.get("message") or ""
        seen = f"phase {phase}" + (f" ({message})" if message else "")
        if str(status.get("observedGeneration")) != str((rollout.get("metadata") or {}).get("generation")):
            return Readiness(False, "waiting for the controller to observe the new generation")
        if wait_for in ("healthy", "fully_promoted") and phase == "Degraded" and message.startswith("ProgressDeadlineExceeded"):
            return Readiness(False, message, failed=True)
        if wait_for == "degraded":
            return Readiness(phase == "Degraded", seen)
        if wait_for == "fully_promoted":
            return Readiness(phase == "Healthy" and fully_promoted(rollout), seen + (", fully promoted" if fully_promoted(rollout) else ""))
        return Readiness(phase == "Healthy", seen)
    return predicate


def stable_revision(rollout: Mapping[str, Any], revisions: list[Revision]) -> int:
    """The revision number of the ReplicaSet ``status.stableRS`` names (``<rollout>-<hash>``); InputError when there is none."""
    stable = (rollout.get("status") or {}).get("stableRS")
    name = f"ReplicaSet {rollout['metadata']['name']}-{stable}"
    found = next((revision for revision in revisions if stable and revision.source == name), None)
    if found is None:
        raise InputError(f"{target_name(rollout)} has no stable ReplicaSet in its history (status.stableRS: {stable or 'unset'})",
                         option="to_stable", accepted="a rollout whose status names its stable ReplicaSet, or to_revision",
                         system=SYSTEM, operation="rollout undo", target=target_name(rollout))
    return found.number


@dataclass(frozen=True)
class ActionRequest:
    """What to do with the rollout (the module's options): the action, its parameters, and the wait that follows."""

    action: str
    to_revision: int = 0
    to_stable: bool = False
    full: bool = False
    wait_for: str = "none"
    wait_timeout: float = 300.0
    wait_sleep: float = 2.0

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> "ActionRequest":
        return cls(params["action"], params["to_revision"], params["to_stable"], params["full"], params["wait_for"],
                   params["wait_timeout"], params["wait_sleep"])


@dataclass
class Outcome:
    """An action's result: the rollout before and after (and after the wait), the patches needed and sent, the wait."""

    request: ActionRequest
    before: dict[str, Any]
    after: dict[str, Any]
    patches: list[Patch]
    sent: list[dict[str, Any]]
    waited: Optional[Waited] = None
    target_revision: Optional[int] = None
    template_diff: dict[str, Any] = field(default_factory=dict)

    def result(self) -> dict[str, Any]:
        """The module's result."""
        before, after = state(self.before), state(self.after)
        done = "sent" if self.sent else "would be sent" if self.patches else "nothing to do"
        result: dict[str, Any] = {"changed": bool(self.patches), "before": before, "after": after, "patches": self.sent,
                                  "diff": self.template_diff or {"before": before, "after": after},
                                  "msg": f"{self.request.action} of {target_name(self.before)}: {done}"}
        if self.request.action == "undo":
            result["target_revision"] = self.target_revision
        if self.waited is not None:
            result["wait"] = {"wait_for": self.request.wait_for, "ready": self.waited.ready, "message": self.waited.message,
                              "polls": self.waited.polls, "waited_seconds": round(self.waited.elapsed, 3)}
        return result


class ArgoRollout:
    """One Rollout: read it, write patches to it (``sent`` lists what was written), wait for a phase (on ``clock``, with ``sleep``)."""

    # pylint: disable-next=too-many-arguments
    def __init__(self, kube: Kube, namespace: str, name: str, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.kube = kube
        self.namespace = namespace
        self.name = name
        self.sent: list[dict[str, Any]] = []
        self._clock = clock
        self._sleep = sleep

    @property
    def target(self) -> str:
        return f"{KIND} {self.namespace}/{self.name}"

    def read(self) -> dict[str, Any]:
        return {"kind": KIND, **self.kube.get(API_VERSION, KIND, self.namespace, self.name)}

    def write(self, patch: Patch) -> dict[str, Any]:
        answer = self.kube.patch(API_VERSION, KIND, self.namespace, self.name, patch.body, content_type=patch.content_type,
                                 subresource=patch.subresource)
        self.sent.append(patch.as_dict())
        return {"kind": KIND, **answer}

    def wait(self, wait_for: str, timeout: float, sleep_seconds: float) -> Waited:
        """Read until the rollout reaches ``wait_for`` (``wanted``); ``DeadlineExceeded`` at ``timeout``, ``RolloutFailed`` at once on a
        progress deadline."""
        return wait_until(self.read, wanted(wait_for), target=self.target, timeout=timeout, sleep_seconds=sleep_seconds,
                          clock=self._clock, sleep=self._sleep)

    def plan(self, rollout: dict[str, Any], request: ActionRequest) -> Outcome:
        """The patches ``request`` needs (none when the rollout is already there), nothing sent yet."""
        outcome = Outcome(request, rollout, rollout, [], self.sent)
        if request.action == "undo":
            revisions = history(self.kube, rollout)
            undo = plan_undo(rollout, revisions, stable_revision(rollout, revisions) if request.to_stable else request.to_revision)
            outcome.target_revision = undo.target.number
            if undo.changed:
                outcome.patches = [Patch(undo.patch(), content_type=JSON_PATCH)]
                outcome.template_diff = {"before": rollout["spec"]["template"], "after": undo.target.template}
        elif request.action == "promote":
            outcome.patches = promote(rollout, request.full)
        else:
            outcome.patches = {"abort": abort, "retry": retry, "pause": pause, "resume": resume,
                               "status": lambda _rollout: []}[request.action](rollout)
        return outcome

    def act(self, request: ActionRequest, check_mode: bool) -> Outcome:
        """Read, plan, send the patches and wait for ``request.wait_for``; in check mode send nothing and judge the rollout as read."""
        outcome = self.plan(self.read(), request)
        if check_mode:
            if request.wait_for != "none":
                outcome.waited = read_readiness(lambda: outcome.before, wanted(request.wait_for))
            return outcome
        for patch in outcome.patches:
            outcome.after = self.write(patch)
        if request.wait_for != "none":
            outcome.waited = self.wait(request.wait_for, request.wait_timeout, request.wait_sleep)
            outcome.after = outcome.waited.obj
        return outcome
