# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Argo Rollouts: which patches each action needs, what each wait_for waits on, and an action run end to end against a
fake Rollout whose controller moves the phase a few readings after a patch (no real sleeps: the clock is fake)."""
from __future__ import annotations

import copy
from typing import Any, Optional

import pytest
from unithelpers import FakeClock

from ansible_collections.ofm.rollback.plugins.module_utils import argo
from ansible_collections.ofm.rollback.plugins.module_utils.argo import ActionRequest, ArgoRollout, Patch
from ansible_collections.ofm.rollback.plugins.module_utils.errors import DeadlineExceeded, InputError, RolloutFailed
from ansible_collections.ofm.rollback.plugins.module_utils.kube_rollout import JSON_PATCH, REVISION_ANNOTATIONS

UID = "uid-ofm"


def rollout(paused: bool = False, **status: Any) -> dict[str, Any]:
    return {"metadata": {"generation": 2}, "spec": {"paused": paused, "template": {}},
            "status": {"observedGeneration": "2", "stableRS": "a", "currentPodHash": "b", "currentStepIndex": 1, **status}}


def test_abort_and_retry_are_idempotent():
    assert argo.abort(rollout()) == [Patch({"status": {"abort": True}}, subresource="status")]
    assert argo.abort(rollout(abort=True)) == []
    assert argo.retry(rollout(abort=True)) == [Patch({"status": {"abort": False}}, subresource="status")]
    assert argo.retry(rollout()) == []


def test_pause_and_resume_are_idempotent():
    assert argo.pause(rollout()) == [Patch({"spec": {"paused": True}})]
    assert argo.pause(rollout(paused=True)) == []
    assert argo.resume(rollout(paused=True)) == [Patch({"spec": {"paused": False}})]
    assert argo.resume(rollout()) == []


@pytest.mark.parametrize("obj, full, patches", [
    (rollout(pauseConditions=[{"reason": "CanaryPauseStep"}]), False, [Patch({"status": {"pauseConditions": None}}, subresource="status")]),
    (rollout(paused=True), False, [Patch({"spec": {"paused": False}})]),
    (rollout(), False, [Patch({"status": {"currentStepIndex": 2}}, subresource="status")]),
    (rollout(), True, [Patch({"status": {"promoteFull": True}}, subresource="status")]),
    (rollout(promoteFull=True), True, []),
    (rollout(currentPodHash="a"), False, []),
    (rollout(currentPodHash="a"), True, []),
])
def test_promote(obj, full, patches):
    assert argo.promote(obj, full) == patches


@pytest.mark.parametrize("wait_for, obj, ready", [
    ("healthy", rollout(phase="Healthy"), True),
    ("healthy", rollout(phase="Healthy", observedGeneration="1"), False),
    ("degraded", rollout(phase="Degraded"), True),
    ("degraded", rollout(phase="Paused"), False),
    ("fully_promoted", rollout(phase="Healthy"), False),
    ("fully_promoted", rollout(phase="Healthy", currentPodHash="a"), True),
])
def test_wait_predicates(wait_for, obj, ready):
    readiness = argo.wanted(wait_for)(obj)
    assert readiness.ready is ready and not readiness.failed


def test_waiting_for_healthy_fails_fast_on_the_progress_deadline():
    message = 'ProgressDeadlineExceeded: ReplicaSet "ofm-b" has timed out progressing.'
    readiness = argo.wanted("healthy")(rollout(phase="Degraded", message=message))
    assert readiness.failed and readiness.message == message
    assert not argo.wanted("degraded")(rollout(phase="Degraded", message=message)).failed


# --- an action run end to end ---------------------------------------------------------------------------------------

def template(image: str) -> dict[str, Any]:
    return {"metadata": {"labels": {"app": "ofm"}}, "spec": {"containers": [{"name": "api", "image": image}]}}


class FakeArgoKube:
    """One Rollout (``ofm`` in namespace ``ofm-production``) paused at its canary step, with the ReplicaSets of ``api:1``
    (stable, revision 1) and ``api:2`` (canary, revision 2). The controller lets ``settle`` readings pass unchanged, then
    sets ``phases_after`` (the phase, and the message) in order, one per reading, before it is answered."""

    def __init__(self, settle: int = 1) -> None:
        self.obj: dict[str, Any] = {
            "metadata": {"name": "ofm", "namespace": "ofm-production", "uid": UID, "generation": 2},
            "spec": {"paused": False, "template": template("api:2")},
            "status": {"phase": "Paused", "message": "CanaryPauseStep", "observedGeneration": "2", "stableRS": "h1",
                       "currentPodHash": "h2", "currentStepIndex": 1, "pauseConditions": [{"reason": "CanaryPauseStep"}]}}
        self.replicasets = [self.replicaset("h1", "api:1", 1), self.replicaset("h2", "api:2", 2)]
        self.settle = settle
        self.phases_after: list[tuple[str, str]] = []
        self.reads = 0
        self.patches: list[dict[str, Any]] = []

    @staticmethod
    def replicaset(pod_hash: str, image: str, revision: int) -> dict[str, Any]:
        labels = {"app": "ofm", "rollouts-pod-template-hash": pod_hash}
        return {"metadata": {"name": f"ofm-{pod_hash}", "ownerReferences": [{"uid": UID}],
                             "annotations": {REVISION_ANNOTATIONS["Rollout"]: str(revision)}},
                "spec": {"template": {**template(image), "metadata": {"labels": labels}}}}

    def get(self, api_version: str, kind: str, namespace: str, name: str) -> dict[str, Any]:
        assert (api_version, kind, namespace, name) == (argo.API_VERSION, argo.KIND, "ofm-production", "ofm")
        self.reads += 1
        if self.settle:
            self.settle -= 1
        elif self.phases_after:
            phase, message = self.phases_after.pop(0)
            self.obj["status"].update(phase=phase, message=message, observedGeneration=str(self.obj["metadata"]["generation"]))
        return copy.deepcopy(self.obj)

    def list(self, api_version: str, kind: str, namespace: str, label_selector: Optional[str] = None) -> list[dict[str, Any]]:
        return copy.deepcopy(self.replicasets) if kind == "ReplicaSet" else []

    # pylint: disable-next=too-many-arguments
    def patch(self, api_version: str, kind: str, namespace: str, name: str, body: Any, *, content_type: str,
              subresource: Optional[str] = None) -> dict[str, Any]:
        self.patches.append({"body": copy.deepcopy(body), "content_type": content_type, "subresource": subresource})
        if content_type == JSON_PATCH:
            self.obj["spec"]["template"] = next(op["value"] for op in body if op["op"] == "replace")
            self.obj["metadata"]["generation"] += 1
        else:
            for part in ("spec", "status"):
                self.obj[part].update(body.get(part) or {})
        return copy.deepcopy(self.obj)


def act(kube: FakeArgoKube, clock: FakeClock, check_mode: bool = False, **request: Any) -> argo.Outcome:
    options = {"wait_sleep": 2.0, "wait_timeout": 30.0, **request}
    return ArgoRollout(kube, "ofm-production", "ofm", clock=lambda: clock.now, sleep=clock.sleep).act(ActionRequest(**options), check_mode)


def test_abort_is_sent_then_waited_on_until_the_phase_is_degraded():
    kube, clock = FakeArgoKube(settle=2), FakeClock()
    kube.phases_after = [("Degraded", "RolloutAborted: Rollout aborted update to revision 2")]
    outcome = act(kube, clock, action="abort", wait_for="degraded")
    assert kube.patches == [{"body": {"status": {"abort": True}}, "content_type": argo.MERGE_PATCH, "subresource": "status"}]
    result = outcome.result()
    assert result["changed"] is True and result["patches"] == [Patch({"status": {"abort": True}}, subresource="status").as_dict()]
    assert result["before"]["phase"] == "Paused" and result["after"]["phase"] == "Degraded" and result["after"]["aborted"] is True
    assert result["wait"] == {"wait_for": "degraded", "ready": True, "message": "phase Degraded (RolloutAborted: Rollout aborted update to revision 2)",
                              "polls": 2, "waited_seconds": 2.0}
    assert clock.sleeps == [2.0] and kube.reads == 3
    assert result["msg"] == "abort of Rollout ofm-production/ofm: sent"


def test_check_mode_sends_nothing_and_judges_the_rollout_as_read_without_waiting():
    kube, clock = FakeArgoKube(), FakeClock()
    result = act(kube, clock, check_mode=True, action="abort", wait_for="degraded").result()
    assert kube.patches == [] and kube.reads == 1 and clock.sleeps == []
    assert result["changed"] is True and result["patches"] == [] and result["after"] == result["before"]
    assert result["wait"] == {"wait_for": "degraded", "ready": False, "message": "phase Paused (CanaryPauseStep)", "polls": 1,
                              "waited_seconds": 0.0}
    assert result["msg"] == "abort of Rollout ofm-production/ofm: would be sent"


def test_check_mode_reports_a_failed_rollout_instead_of_raising():
    kube, clock = FakeArgoKube(), FakeClock()
    kube.obj["status"].update(phase="Degraded", message="ProgressDeadlineExceeded: ReplicaSet ofm-h2 has timed out progressing.")
    result = act(kube, clock, check_mode=True, action="status", wait_for="healthy").result()
    assert result["changed"] is False
    assert result["wait"]["ready"] is False and result["wait"]["message"].startswith("ProgressDeadlineExceeded")


def test_no_wait_means_one_read_and_no_wait_result():
    kube, clock = FakeArgoKube(), FakeClock()
    result = act(kube, clock, action="pause").result()
    assert kube.reads == 1 and "wait" not in result and result["after"]["paused"] is True
    assert "target_revision" not in result


def test_the_wait_gives_up_at_the_deadline_and_the_patch_stays_recorded():
    kube, clock = FakeArgoKube(settle=100), FakeClock()
    rollout_api = ArgoRollout(kube, "ofm-production", "ofm", clock=lambda: clock.now, sleep=clock.sleep)
    with pytest.raises(DeadlineExceeded) as caught:
        rollout_api.act(ActionRequest("abort", wait_for="degraded", wait_timeout=5.0, wait_sleep=2.0), False)
    assert clock.sleeps == [2.0, 2.0, 1.0] and clock.now == 5.0
    assert caught.value.last_state["phase"] == "Paused" and "not ready after 5s: phase Paused" in caught.value.reason
    assert rollout_api.sent == [{"subresource": "status", "content_type": argo.MERGE_PATCH, "body": {"status": {"abort": True}}}]


def test_waiting_for_healthy_stops_at_once_on_the_progress_deadline():
    kube, clock = FakeArgoKube(settle=1), FakeClock()
    kube.phases_after = [("Degraded", "ProgressDeadlineExceeded: ReplicaSet ofm-h2 has timed out progressing.")]
    with pytest.raises(RolloutFailed) as caught:
        act(kube, clock, action="promote", wait_for="healthy", wait_timeout=300.0)
    assert clock.sleeps == [] and kube.reads == 2 and "has timed out progressing" in str(caught.value)


def test_undo_to_stable_puts_the_stable_template_back_once():
    kube, clock = FakeArgoKube(), FakeClock()
    result = act(kube, clock, action="undo", to_stable=True).result()
    sent = kube.patches[0]["body"]
    assert sent[0] == {"op": "test", "path": "/metadata/generation", "value": 2}
    assert sent[1]["value"]["spec"]["containers"][0]["image"] == "api:1"
    assert "rollouts-pod-template-hash" not in sent[1]["value"]["metadata"]["labels"]
    assert result["target_revision"] == 1 and result["diff"]["after"]["spec"]["containers"][0]["image"] == "api:1"
    again = act(kube, clock, action="undo", to_stable=True).result()
    assert again["changed"] is False and again["target_revision"] == 1 and len(kube.patches) == 1


def test_undo_to_stable_without_a_stable_replicaset_names_the_option():
    kube, clock = FakeArgoKube(), FakeClock()
    kube.obj["status"]["stableRS"] = "gone"
    with pytest.raises(InputError) as caught:
        act(kube, clock, action="undo", to_stable=True)
    assert caught.value.option == "to_stable" and kube.patches == []


@pytest.mark.parametrize("obj", [rollout(), rollout(paused=True, abort=True)])
def test_status_never_patches(obj):
    kube, clock = FakeArgoKube(), FakeClock()
    kube.obj = {**obj, "metadata": {**obj["metadata"], "name": "ofm", "namespace": "ofm-production"}}
    outcome = act(kube, clock, action="status")
    assert (outcome.patches, kube.patches, outcome.result()["changed"]) == ([], [], False)
