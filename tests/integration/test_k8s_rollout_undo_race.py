"""k8s_rollout_undo when a deploy lands between its read of a Deployment and its patch (issue 13).

Only on the Kubernetes API test server: its ``/__lab/races`` hook lands a write right after the module's read is answered,
which a real cluster cannot be made to do on cue. The patch is conditional on the spec read (a JSON patch test of the
generation), so the server refuses it (422) and the module reads again and decides again instead of overwriting the new
deploy blindly.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml
from kubelab import KubeServer, kube_target
from labtest import lab_call
from test_k8s_rollout import deploy, image, undo

WEB = "/apis/apps/v1/namespaces/default/deployments/NAME"


@pytest.fixture(scope="module", name="server")
def fixture_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubeServer]:
    with kube_target("test-server", tmp_path_factory.mktemp("kube-race")) as target:
        yield target


def url(server: KubeServer) -> str:
    return yaml.safe_load(server.kubeconfig.read_text())["clusters"][0]["cluster"]["server"]


REPLICASETS = "/apis/apps/v1/namespaces/default/replicasets"


def race(server: KubeServer, name: str, *tags: str, after_history: bool = False) -> None:
    """Each GET of Deployment ``name`` (the module's reads) is followed by a deploy of the next of ``tags``; with
    ``after_history``, each list of the ReplicaSets (the history the module reads after the Deployment) instead, so that the
    deploy lands after both reads, whatever the stand-in's controller has done by then."""
    writes = [{"spec": {"template": {"spec": {"containers": [{"name": "api", "image": f"ofm/api:{tag}"}]}}}} for tag in tags]
    rule: dict[str, Any] = {"path": WEB.replace("NAME", name), "writes": writes}
    if after_history:
        rule.update(after=REPLICASETS, verbs=["list"])
    lab_call(f"{url(server)}/__lab/races", "PUT", rule)


def landed(server: KubeServer) -> list[dict[str, Any]]:
    return lab_call(f"{url(server)}/__lab/races")["landed"]


@pytest.fixture(autouse=True)
def no_races(server: KubeServer) -> Iterator[None]:
    lab_call(f"{url(server)}/__lab/races", "DELETE")
    yield
    lab_call(f"{url(server)}/__lab/races", "DELETE")


def test_a_deploy_landing_between_read_and_patch_is_seen_and_the_undo_decided_again(server: KubeServer, tmp_path: Path):
    deploy(server, "web", "2", "3")
    race(server, "web", "4")
    run = undo(server, tmp_path, name="web")
    assert not run.failed, run.output
    assert len(landed(server)) == 1 and "error" not in landed(server)[0]
    obj = run.result["objects"][0]
    # the first patch (made from the read of api:3) was refused; the undo was decided again from api:4, to the revision first chosen
    assert [conflict["images"] for conflict in obj["conflicts"]] == [["ofm/api:4"]]
    assert obj["images_before"] == ["ofm/api:4"] and obj["diff"]["before"]["spec"]["containers"][0]["image"] == "ofm/api:4"
    assert obj["target_revision"] == 2 and obj["images_after"] == ["ofm/api:2"] and obj["changed"] is True
    assert image(server, "web") == "ofm/api:2"


def test_a_deploy_of_the_target_landing_in_between_leaves_the_workload_alone(server: KubeServer, tmp_path: Path):
    deploy(server, "same", "2", "3")
    # someone else rolls back to revision 2 at the same time: after the module read the history, so the revision it chose
    # (2) exists when it decides and is renumbered (4) by the time its patch is refused. Landing it after the GET of the
    # Deployment instead races the stand-in's controller: the history may already lack revision 2, a plain bad input.
    race(server, "same", "2", after_history=True)

    run = undo(server, tmp_path, name="same", to_revision=2)
    assert not run.failed, run.output
    obj = run.result["objects"][0]
    assert run.result["changed"] is False and obj["changed"] is False
    assert obj["conflicts"][0]["at_target"] is True and obj["conflicts"][0]["refused"] == 422 and obj["images_after"] == ["ofm/api:2"]
    assert obj["diff"] == {} and image(server, "same") == "ofm/api:2"


@pytest.mark.reliability("fault", procedure="planned", case="Kubernetes API 409 conflicts (deploys landing on every read)",
                         expected="failed naming them, nothing overwritten")
def test_deploys_landing_on_every_read_fail_the_undo_naming_them_and_nothing_is_overwritten(server: KubeServer, tmp_path: Path):
    deploy(server, "busy", "2", "3")
    race(server, "busy", "4", "5", "6", "7")
    run = undo(server, tmp_path, name="busy")
    assert run.failed
    assert "Deployment default/busy changed while rolling back: 3 patches to revision 2 were refused (its spec was modified since read)" in run.result["msg"]
    assert "ofm/api:6" in run.result["msg"] and "Nothing was changed on this workload" in run.result["msg"]
    assert run.result["changed"] is False and run.result["patched"] == []
    assert len(landed(server)) == 4 and image(server, "busy") == "ofm/api:7"
