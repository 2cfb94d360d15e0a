#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: argo_rollout
short_description: Abort, undo, retry, promote, pause or resume an Argo Rollouts canary
version_added: 0.1.0
description:
  - Acts on an Argo Rollouts C(Rollout) (C(argoproj.io/v1alpha1)) as the C(kubectl argo rollouts) plugin does, through the
    Kubernetes API, and optionally waits for the rollout's phase.
  - V(abort) sets C(status.abort) through the status subresource, so all traffic goes back to the stable ReplicaSet and the
    phase becomes C(Degraded).
  - V(undo) puts the pod template of an earlier revision (its ReplicaSet, without the C(rollouts-pod-template-hash) label)
    back in C(spec.template) with a JSON patch.
  - V(retry) clears C(status.abort) so that the aborted update starts again.
  - V(promote) clears the current pause (C(status.pauseConditions), C(spec.paused)) or, with O(full), skips every remaining
    step (C(status.promoteFull)).
  - V(pause) and V(resume) set and clear C(spec.paused).
  - V(status) changes nothing, it reads the rollout and waits for O(wait_for), to watch a rollout that another tool acts on.
  - Each action is idempotent; it reports no change when the rollout is already in the state it leads to.
author:
  - OFM Social OS SRE team (@ofm-social)
extends_documentation_fragment:
  - ofm.rollback.attributes.action_group_k8s
  - ofm.rollback.kube
options:
  name:
    description: The Rollout's name.
    type: str
    required: true
  namespace:
    description: The Rollout's namespace.
    type: str
    default: default
  action:
    description: What to do; see the description.
    type: str
    required: true
    choices: [abort, undo, retry, promote, pause, resume, status]
  to_revision:
    description:
      - With O(action=undo), the revision (annotation C(rollout.argoproj.io/revision) of its ReplicaSet) to go back to.
      - V(0) means the revision before the current one.
    type: int
    default: 0
  to_stable:
    description:
      - With O(action=undo), go back to the stable revision, the one of the ReplicaSet named by C(status.stableRS), instead of
        O(to_revision).
      - Safe to repeat. When the rollout already runs its stable template (because this module, or another tool such as the ops API,
        undid it already) nothing changes, whereas undoing to the previous revision a second time would deploy the one before it,
        which after an undo is the bad revision again.
    type: bool
    default: false
  full:
    description: With O(action=promote), skip all remaining steps, analyses and pauses instead of only the current pause.
    type: bool
    default: false
  wait_for:
    description:
      - The state to wait for after the action.
      - V(healthy) - phase C(Healthy); fails at once when the rollout reports C(ProgressDeadlineExceeded).
      - V(degraded) - phase C(Degraded), as after an abort.
      - V(fully_promoted) - phase C(Healthy) with the desired pods as the stable ReplicaSet.
      - V(none) - do not wait.
    type: str
    choices: [healthy, degraded, fully_promoted, none]
    default: none
  wait_timeout:
    description: Seconds to wait, counted on a monotonic clock.
    type: float
    default: 300
  wait_sleep:
    description: Seconds between two readings of the rollout while waiting.
    type: float
    default: 2
attributes:
  check_mode:
    support: full
    description: Reads the rollout and reports whether the action would change it; sends nothing.
  diff_mode:
    support: full
    description: Returns the rollout's state before and after; with O(action=undo), its pod template before and after.
seealso:
  - module: ofm.rollback.k8s_rollout_undo
  - name: Argo Rollouts kubectl plugin
    description: The commands this module reproduces.
    link: https://argo-rollouts.readthedocs.io/en/stable/generated/kubectl-argo-rollouts/kubectl-argo-rollouts/
requirements:
  - kubernetes (the official Python client)
"""

EXAMPLES = r"""
- name: Abort the canary and wait until all traffic is on stable
  ofm.rollback.argo_rollout:
    name: ofm-social-os
    namespace: ofm-production
    action: abort
    wait_for: degraded
    wait_timeout: 120

- name: Go back to the previous template and wait until it is healthy
  ofm.rollback.argo_rollout:
    name: ofm-social-os
    namespace: ofm-production
    action: undo
    wait_for: healthy

- name: Promote past every remaining step
  ofm.rollback.argo_rollout:
    name: ofm-social-os
    namespace: ofm-production
    action: promote
    full: true
    wait_for: fully_promoted
"""

RETURN = r"""
before:
  description: The rollout's state read before the action.
  returned: always
  type: dict
  contains:
    phase: {description: "C(status.phase), such as V(Healthy), V(Paused), V(Degraded).", type: str, returned: always}
    message: {description: C(status.message)., type: str, returned: always}
    aborted: {description: Whether C(status.abort) is set., type: bool, returned: always}
    paused: {description: Whether C(spec.paused) is set or a pause condition holds., type: bool, returned: always}
    weights: {description: "C(status.canary.weights), the canary and stable weights with their pod template hashes.", type: dict, returned: always}
    stable_rs: {description: C(status.stableRS)., type: str, returned: always}
    current_pod_hash: {description: C(status.currentPodHash)., type: str, returned: always}
    step_index: {description: C(status.currentStepIndex)., type: int, returned: always}
    images: {description: The images of C(spec.template)., type: list, elements: str, returned: always}
  sample: {phase: Paused, message: CanaryPauseStep, aborted: false, paused: true, stable_rs: 6d4cf56db6, current_pod_hash: 7f8b9c5d4,
           step_index: 1, images: ["ofm/api:2.4.0"],
           weights: {canary: {podTemplateHash: 7f8b9c5d4, weight: 20}, stable: {podTemplateHash: 6d4cf56db6, weight: 80}}}
after:
  description: The same fields read after the action (and after the wait); equal to RV(before) in check mode.
  returned: always
  type: dict
target_revision:
  description: With O(action=undo), the revision rolled back to.
  returned: when O(action=undo)
  type: int
patches:
  description: The patches sent, in order, each with its C(subresource), C(content_type) and C(body); empty in check mode.
  returned: always
  type: list
  elements: dict
"""

from dataclasses import dataclass
from typing import Any, Callable, Mapping, Optional

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ofm.rollback.plugins.module_utils.errors import InputError, OfmRollbackError
from ansible_collections.ofm.rollback.plugins.module_utils.kube import KUBE_SPEC, SYSTEM, Kube, Readiness, wait_until
from ansible_collections.ofm.rollback.plugins.module_utils.kube_rollout import JSON_PATCH, Revision, history, images, plan_undo, target_name

API_VERSION = "argoproj.io/v1alpha1"
KIND = "Rollout"
MERGE_PATCH = "application/merge-patch+json"

ARGUMENT_SPEC: dict[str, dict[str, Any]] = {
    **KUBE_SPEC,
    "name": {"type": "str", "required": True},
    "namespace": {"type": "str", "default": "default"},
    "action": {"type": "str", "required": True, "choices": ["abort", "undo", "retry", "promote", "pause", "resume", "status"]},
    "to_revision": {"type": "int", "default": 0},
    "to_stable": {"type": "bool", "default": False},
    "full": {"type": "bool", "default": False},
    "wait_for": {"type": "str", "choices": ["healthy", "degraded", "fully_promoted", "none"], "default": "none"},
    "wait_timeout": {"type": "float", "default": 300},
    "wait_sleep": {"type": "float", "default": 2},
}


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


class ArgoRollout:
    """One Rollout and the action to take on it."""

    def __init__(self, kube: Kube, namespace: str, name: str) -> None:
        self.kube = kube
        self.namespace = namespace
        self.name = name

    def read(self) -> dict[str, Any]:
        return {"kind": KIND, **self.kube.get(API_VERSION, KIND, self.namespace, self.name)}

    def write(self, patch: Patch) -> dict[str, Any]:
        return self.kube.patch(API_VERSION, KIND, self.namespace, self.name, patch.body, content_type=patch.content_type,
                               subresource=patch.subresource)

    def wait(self, wait_for: str, timeout: float, sleep_seconds: float) -> dict[str, Any]:
        last: dict[str, Any] = {}

        def read() -> dict[str, Any]:
            last.update(self.read())
            return last
        wait_until(read, wanted(wait_for), target=f"{KIND} {self.namespace}/{self.name}", timeout=timeout, sleep_seconds=sleep_seconds)
        return last


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


def plan(rollout_api: ArgoRollout, rollout: dict[str, Any], params: Mapping[str, Any]) -> tuple[list[Patch], dict[str, Any]]:
    """The patches the action needs (none when the rollout is already there) and extra result fields."""
    action = params["action"]
    if action == "undo":
        revisions = history(rollout_api.kube, rollout)
        to_revision = stable_revision(rollout, revisions) if params["to_stable"] else params["to_revision"]
        undo = plan_undo(rollout, revisions, to_revision)
        extra = {"target_revision": undo.target.number,
                 "diff": {"before": rollout["spec"]["template"], "after": undo.target.template} if undo.changed else {}}
        return ([Patch(undo.patch(), content_type=JSON_PATCH)] if undo.changed else []), extra
    if action == "promote":
        return promote(rollout, params["full"]), {}
    return {"abort": abort, "retry": retry, "pause": pause, "resume": resume, "status": lambda _rollout: []}[action](rollout), {}


def main(module_class=AnsibleModule) -> None:
    """Run the module; the action plugin passes an in-process stand-in for AnsibleModule when the task runs on the controller."""
    module = module_class(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    params = module.params
    sent: list[dict[str, Any]] = []
    try:
        rollout_api = ArgoRollout(Kube.from_params(params), params["namespace"], params["name"])
        rollout = rollout_api.read()
        patches, extra = plan(rollout_api, rollout, params)
        after = rollout
        if not module.check_mode:
            for patch in patches:
                after = {"kind": KIND, **rollout_api.write(patch)}
                sent.append({"subresource": patch.subresource, "content_type": patch.content_type, "body": patch.body})
            if params["wait_for"] != "none":
                after = rollout_api.wait(params["wait_for"], params["wait_timeout"], params["wait_sleep"])
    except OfmRollbackError as exc:
        module.fail_json(**exc.to_result(), changed=bool(sent), patches=sent)
    before_state, after_state = state(rollout), state(after)
    module.exit_json(changed=bool(patches), before=before_state, after=after_state, patches=sent,
                     diff=extra.pop("diff", None) or {"before": before_state, "after": after_state}, **extra,
                     msg=f"{params['action']} of {target_name(rollout)}: " + ("sent" if sent else "would be sent" if patches else "nothing to do"))


if __name__ == "__main__":
    main()
