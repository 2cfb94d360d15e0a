# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""argo_rollout: which patches each action needs, and what each wait_for waits on."""
from __future__ import annotations

from typing import Any

import pytest
from unithelpers import documented_options, mismatches

from ansible_collections.ofm.rollback.plugins.doc_fragments import kube
from ansible_collections.ofm.rollback.plugins.modules import argo_rollout
from ansible_collections.ofm.rollback.plugins.modules.argo_rollout import Patch


def rollout(paused: bool = False, **status: Any) -> dict[str, Any]:
    return {"metadata": {"generation": 2}, "spec": {"paused": paused, "template": {}},
            "status": {"observedGeneration": "2", "stableRS": "a", "currentPodHash": "b", "currentStepIndex": 1, **status}}


def test_docs_match_the_argument_spec():
    assert mismatches(argo_rollout.ARGUMENT_SPEC, documented_options(argo_rollout, kube)) == []


def test_abort_and_retry_are_idempotent():
    assert argo_rollout.abort(rollout()) == [Patch({"status": {"abort": True}}, subresource="status")]
    assert argo_rollout.abort(rollout(abort=True)) == []
    assert argo_rollout.retry(rollout(abort=True)) == [Patch({"status": {"abort": False}}, subresource="status")]
    assert argo_rollout.retry(rollout()) == []


def test_pause_and_resume_are_idempotent():
    assert argo_rollout.pause(rollout()) == [Patch({"spec": {"paused": True}})]
    assert argo_rollout.pause(rollout(paused=True)) == []
    assert argo_rollout.resume(rollout(paused=True)) == [Patch({"spec": {"paused": False}})]
    assert argo_rollout.resume(rollout()) == []


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
    assert argo_rollout.promote(obj, full) == patches


@pytest.mark.parametrize("wait_for, obj, ready", [
    ("healthy", rollout(phase="Healthy"), True),
    ("healthy", rollout(phase="Healthy", observedGeneration="1"), False),
    ("degraded", rollout(phase="Degraded"), True),
    ("degraded", rollout(phase="Paused"), False),
    ("fully_promoted", rollout(phase="Healthy"), False),
    ("fully_promoted", rollout(phase="Healthy", currentPodHash="a"), True),
])
def test_wait_predicates(wait_for, obj, ready):
    readiness = argo_rollout.wanted(wait_for)(obj)
    assert readiness.ready is ready and not readiness.failed


def test_waiting_for_healthy_fails_fast_on_the_progress_deadline():
    message = 'ProgressDeadlineExceeded: ReplicaSet "ofm-b" has timed out progressing.'
    readiness = argo_rollout.wanted("healthy")(rollout(phase="Degraded", message=message))
    assert readiness.failed and readiness.message == message
    assert not argo_rollout.wanted("degraded")(rollout(phase="Degraded", message=message)).failed


@pytest.mark.parametrize("obj", [rollout(), rollout(paused=True, abort=True)])
def test_status_never_patches(obj):
    patches, extra = argo_rollout.plan(None, obj, {"action": "status"})
    assert (patches, extra) == ([], {})
