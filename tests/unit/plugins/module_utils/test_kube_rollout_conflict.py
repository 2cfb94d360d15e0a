# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The undo patch is conditional on the spec read (a JSON patch test of the generation); when a deploy landed in between
``apply_undo`` re-reads, decides again, and gives up after a bounded number of refused patches, naming what the object became."""
from __future__ import annotations

import copy
from typing import Any

import pytest

from ansible_collections.ofm.rollback.plugins.module_utils.errors import ConflictError, InputError
from ansible_collections.ofm.rollback.plugins.module_utils.kube_rollout import (
    REVISION_ANNOTATIONS, apply_undo, history, images, plan_undo)

UID = "uid-web"


def template(image: str) -> dict[str, Any]:
    return {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "web", "image": image}]}}


class FakeKube:
    """One Deployment and its ReplicaSets, refusing a JSON patch whose ``test`` op fails with 422, as the API server does.

    ``deploys`` land one by one right after each GET of the Deployment is answered, as a deploy landing between a read and
    a patch; ``deploy`` lands one at once. A deploy of a template that has a ReplicaSet renumbers it, as the controller does.
    """

    def __init__(self, *tags: str) -> None:
        self.version = 10
        self.obj: dict[str, Any] = {"kind": "Deployment", "metadata": {"name": "web", "namespace": "ofm", "uid": UID, "generation": 0,
                                                                       "resourceVersion": "10"}, "spec": {"template": template(f"api:{tags[0]}")}}
        self.replicasets: list[dict[str, Any]] = []
        self.deploys: list[str] = []
        self.patches: list[dict[str, Any]] = []
        self.writes: list[str] = []
        for tag in tags:
            self.deploy(f"api:{tag}")
        self.writes.clear()

    def status_write(self) -> None:
        """The controller writing the status: a new resourceVersion, the same generation."""
        self.version += 1
        self.obj["metadata"]["resourceVersion"] = str(self.version)

    def deploy(self, image: str, by: str = "deployer") -> None:
        self.version += 1
        self.obj["metadata"]["generation"] += 1
        self.obj["spec"]["template"] = template(image)
        self.obj["metadata"].update(resourceVersion=str(self.version), managedFields=[{"manager": by, "time": f"2025-01-01T00:00:{self.version}Z"}])
        newest = max([int(rs["metadata"]["annotations"][REVISION_ANNOTATIONS["Deployment"]]) for rs in self.replicasets] or [0]) + 1
        existing = next((rs for rs in self.replicasets if rs["spec"]["template"]["spec"]["containers"][0]["image"] == image), None)
        if existing is None:
            existing = {"metadata": {"name": f"web-{image.replace(':', '-')}", "ownerReferences": [{"uid": UID}], "annotations": {}},
                        "spec": {"template": {**template(image), "metadata": {"labels": {"app": "web", "pod-template-hash": image}}}}}
            self.replicasets.append(existing)
        existing["metadata"]["annotations"][REVISION_ANNOTATIONS["Deployment"]] = str(newest)
        self.writes.append(f"{by}: {image}")

    def get(self, api_version: str, kind: str, namespace: str, name: str) -> dict[str, Any]:
        assert (api_version, kind, namespace, name) == ("apps/v1", "Deployment", "ofm", "web")
        answer = {key: value for key, value in copy.deepcopy(self.obj).items() if key != "kind"}
        if self.deploys:
            self.deploy(self.deploys.pop(0))
        return answer

    def list(self, api_version: str, kind: str, namespace: str, label_selector: Any = None) -> list[dict[str, Any]]:
        return copy.deepcopy(self.replicasets) if kind == "ReplicaSet" else []

    def patch(self, api_version: str, kind: str, namespace: str, name: str, body: Any, *, content_type: str, dry_run: bool = False) -> dict[str, Any]:
        self.patches.append({"body": copy.deepcopy(body), "dry_run": dry_run, "content_type": content_type})
        for op in body:
            if op["op"] == "test" and op["value"] != self.obj["metadata"][op["path"].rsplit("/", 1)[1]]:
                raise InputError(f"HTTP 422: the server rejected our request due to an error in our request: testing value {op['path']} failed",
                                 status=422)
        result = copy.deepcopy(self.obj)
        result["spec"]["template"] = next(op["value"] for op in body if op["path"] == "/spec/template")
        if not dry_run:
            self.deploy(images(result["spec"]["template"])[0], by="undo")
            result = copy.deepcopy(self.obj)
        return result


def planned(kube: FakeKube, to_revision: int = 0):
    obj = {"kind": "Deployment", **kube.get("apps/v1", "Deployment", "ofm", "web")}
    return plan_undo(obj, history(kube, obj), to_revision)  # type: ignore[arg-type]


def test_the_patch_is_conditional_on_the_resource_version_read():
    kube = FakeKube("1", "2", "3")
    plan = planned(kube)
    assert plan.patch() == [{"op": "test", "path": "/metadata/generation", "value": 3},
                            {"op": "replace", "path": "/spec/template", "value": template("api:2")}]
    done = apply_undo(kube, plan, check_mode=False)  # type: ignore[arg-type]
    assert done.conflicts == [] and len(kube.patches) == 1 and kube.writes == ["undo: api:2"]


def test_status_writes_between_read_and_patch_do_not_refuse_it():
    kube = FakeKube("1", "2", "3")
    plan = planned(kube)
    kube.status_write()
    kube.status_write()
    done = apply_undo(kube, plan, check_mode=False)  # type: ignore[arg-type]
    assert done.conflicts == [] and len(kube.patches) == 1 and kube.writes == ["undo: api:2"]


def test_a_conflict_then_success_patches_again_on_the_new_read_to_the_target_first_decided():
    kube = FakeKube("1", "2", "3")
    plan = planned(kube)
    kube.deploy("api:4")  # lands between the read and the patch
    done = apply_undo(kube, plan, check_mode=False)  # type: ignore[arg-type]
    assert [patch["body"][0]["value"] for patch in kube.patches] == [3, 4]
    assert kube.writes == ["deployer: api:4", "undo: api:2"]
    # decided again from the new read: it ran revision 4 (api:4); the target stays revision 2, not "the one before 4" (api:3)
    assert done.plan.before is not None and done.plan.before.number == 4 and images(done.plan.obj["spec"]["template"]) == ["api:4"]
    assert done.plan.target.number == 2 and images(done.answer["spec"]["template"]) == ["api:2"]
    assert done.conflicts == [{"refused": 422, "generation": 4, "resource_version": "14", "revision": 4, "images": ["api:4"],
                               "change_cause": None, "manager": "deployer", "at_target": False}]


def test_a_conflict_where_the_new_read_already_runs_the_target_changes_nothing():
    kube = FakeKube("1", "2", "3")
    plan = planned(kube)
    kube.deploy("api:2", by="kubectl-rollout")  # someone else rolled back to the same revision; it is renumbered 4
    done = apply_undo(kube, plan, check_mode=False)  # type: ignore[arg-type]
    assert len(kube.patches) == 1 and kube.writes == ["kubectl-rollout: api:2"]
    assert not done.plan.changed and done.answer["metadata"]["resourceVersion"] == "14"
    assert done.plan.target.number == 4 and done.conflicts[0]["at_target"] is True and done.conflicts[0]["manager"] == "kubectl-rollout"


def test_conflicts_until_the_tries_run_out_fail_naming_the_change_and_change_nothing():
    kube = FakeKube("1", "2", "3")
    plan = planned(kube)
    kube.deploy("api:4")
    kube.deploys = ["api:5", "api:6", "api:7", "api:8"]  # every re-read is followed by another deploy
    with pytest.raises(ConflictError) as caught:
        apply_undo(kube, plan, check_mode=False, tries=3)  # type: ignore[arg-type]
    assert len(kube.patches) == 3 and not any(write.startswith("undo") for write in kube.writes)
    assert images(kube.obj["spec"]["template"]) == ["api:7"] and kube.deploys == ["api:8"]
    error = caught.value
    assert isinstance(error, ConflictError) and error.status == 422 and error.operation == "rollout undo" and error.target == "Deployment ofm/web"
    assert ("Deployment ofm/web changed while rolling back: 3 patches to revision 2 were refused (its spec was modified since read); "
            "it now runs revision 6 with images ['api:6'], last written by 'deployer' (generation 6, resourceVersion 16)") in str(error)
    assert "Nothing was changed on this workload" in error.hint
    assert [conflict["images"] for conflict in error.details["conflicts"]] == [["api:4"], ["api:5"], ["api:6"]]
    assert error.details["target_images"] == ["api:2"]


def test_check_mode_decides_again_with_dry_runs_only():
    kube = FakeKube("1", "2", "3")
    plan = planned(kube)
    kube.deploy("api:4")
    done = apply_undo(kube, plan, check_mode=True)  # type: ignore[arg-type]
    assert [patch["dry_run"] for patch in kube.patches] == [True, True]
    assert kube.writes == ["deployer: api:4"] and images(kube.obj["spec"]["template"]) == ["api:4"]
    assert done.plan.changed and images(done.answer["spec"]["template"]) == ["api:2"] and len(done.conflicts) == 1


def refusing(kube: FakeKube, error: Exception) -> None:
    def refuse(*_args: Any, **_kwargs: Any) -> dict[str, Any]:
        kube.patches.append({})
        raise error

    kube.patch = refuse  # type: ignore[method-assign]


def test_a_422_with_the_generation_unchanged_is_an_invalid_patch_raised_as_it_is():
    kube = FakeKube("1", "2", "3")
    plan = planned(kube)
    kube.status_write()
    refusing(kube, InputError('HTTP 422: Deployment.apps "web" is invalid: spec.template.spec.containers[0].image: Required value', status=422))
    with pytest.raises(InputError, match="Required value"):
        apply_undo(kube, plan, check_mode=False)  # type: ignore[arg-type]
    assert len(kube.patches) == 1


def test_a_409_conflict_is_decided_again_too():
    kube = FakeKube("1", "2", "3")
    plan = planned(kube)
    refusing(kube, ConflictError("HTTP 409: the object has been modified", status=409))
    with pytest.raises(ConflictError, match="changed while rolling back: 2 patches") as caught:
        apply_undo(kube, plan, check_mode=False, tries=2)  # type: ignore[arg-type]
    assert len(kube.patches) == 2 and caught.value.details["conflicts"][0]["refused"] == 409


def test_a_plan_at_the_target_sends_no_patch():
    kube = FakeKube("1", "2", "3")
    done = apply_undo(kube, planned(kube, to_revision=3), check_mode=False)  # type: ignore[arg-type]
    assert kube.patches == [] and not done.plan.changed and done.conflicts == []
