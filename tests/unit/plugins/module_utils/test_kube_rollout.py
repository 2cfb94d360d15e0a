# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Rollout history comparison and the undo plan: which revision is current, which is the target, and what changes."""
from __future__ import annotations

from typing import Any

import pytest

from ansible_collections.ofm.rollback.plugins.module_utils.errors import InputError
from ansible_collections.ofm.rollback.plugins.module_utils.kube_rollout import Revision, current_revision, normalise, plan_undo


def template(image: str, **labels: str) -> dict[str, Any]:
    return {"metadata": {"labels": {"app": "web", **labels}}, "spec": {"containers": [{"name": "web", "image": image}]}}


def revision(number: int, image: str) -> Revision:
    return Revision(number, normalise(template(image, **{"pod-template-hash": f"h{number}"})), None, None, f"ReplicaSet web-h{number}")


def deployment(image: str) -> dict[str, Any]:
    return {"kind": "Deployment", "metadata": {"name": "web", "namespace": "ofm", "resourceVersion": "7"}, "spec": {"template": template(image)}}


HISTORY = [revision(1, "api:1"), revision(2, "api:2"), revision(3, "api:3")]


def test_normalise_drops_the_controller_hash_labels_and_patch_markers():
    assert normalise({**template("api:1", **{"controller-revision-hash": "x"}), "$patch": "replace"}) == template("api:1")
    assert normalise({"metadata": {"labels": {"pod-template-hash": "x"}, "creationTimestamp": None}, "spec": {}}) == {"metadata": {}, "spec": {}}


def test_the_current_revision_is_the_one_with_the_same_template():
    current = current_revision(deployment("api:2"), HISTORY)
    assert current is not None and current.number == 2
    assert current_revision(deployment("api:9"), HISTORY) is None


@pytest.mark.parametrize("image, to_revision, target", [("api:3", 0, 2), ("api:2", 0, 1), ("api:3", 1, 1), ("api:9", 0, 3)])
def test_the_target_revision(image, to_revision, target):
    assert plan_undo(deployment(image), HISTORY, to_revision).target.number == target


def test_a_plan_to_the_current_template_changes_nothing():
    plan = plan_undo(deployment("api:3"), HISTORY, 3)
    assert not plan.changed
    assert plan_undo(deployment("api:3"), HISTORY, 2).patch() == [{"op": "test", "path": "/metadata/resourceVersion", "value": "7"},
                                                                  {"op": "replace", "path": "/spec/template", "value": template("api:2")}]


def test_a_missing_revision_lists_the_available_ones():
    with pytest.raises(InputError) as caught:
        plan_undo(deployment("api:3"), HISTORY, 7)
    assert caught.value.option == "to_revision"
    assert caught.value.details == {"available_revisions": [1, 2, 3]}
    assert "Deployment ofm/web has no revision 7; its history holds revisions [1, 2, 3]" in str(caught.value)


def test_no_previous_revision_on_a_first_rollout():
    with pytest.raises(InputError, match="has no revision before the current one"):
        plan_undo(deployment("api:1"), HISTORY[:1], 0)


def test_an_undo_of_a_deployment_puts_the_revisions_change_cause_back_as_kubectl_does():
    cause = "kubernetes.io/change-cause"
    history = [Revision(1, normalise(template("api:1")), "deploy 2.3.0", None, "ReplicaSet web-h1", {cause: "deploy 2.3.0", "team": "sre"}),
               Revision(2, normalise(template("api:2")), "deploy 2.4.0", None, "ReplicaSet web-h2", {cause: "deploy 2.4.0"})]
    current = deployment("api:2")
    current["metadata"]["annotations"] = {cause: "deploy 2.4.0", "deployment.kubernetes.io/revision": "2", "note": "dropped like kubectl"}
    operations = plan_undo(current, history, 0).patch()
    assert operations[-1] == {"op": "replace", "path": "/metadata/annotations",
                              "value": {"deployment.kubernetes.io/revision": "2", cause: "deploy 2.3.0", "team": "sre"}}
    # A StatefulSet's undo (ControllerRevisions) leaves its annotations alone, as kubectl does.
    statefulset = {**deployment("api:2"), "kind": "StatefulSet"}
    assert [op["path"] for op in plan_undo(statefulset, history, 0).patch()] == ["/metadata/resourceVersion", "/spec/template"]
