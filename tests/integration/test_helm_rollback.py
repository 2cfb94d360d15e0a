"""helm_rollback and helm_history_info run by ansible with the real helm v3 and v4 against each Kubernetes target (kubelab.TARGETS).

Skipped, with the reason printed, when a helm binary is missing (scripts/install-helm.sh installs both).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml
from helmtest import BROKEN_IMAGE, HELM_MAJORS, Helm, helm_binary, kube_server, rendered, set_release_status
from kubelab import TARGETS
from labtest import AnsibleRun, lab_call, run_module


@pytest.fixture(params=[(major, target) for target in TARGETS for major in HELM_MAJORS], ids="-".join)
def helm(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Helm]:
    major, target = request.param
    binary = helm_binary(major)
    with kube_server(tmp_path, target) as kube:
        yield Helm(binary, kube, tmp_path / "helm-home")


def module(name: str, helm: Helm, check: bool = False, **options: Any) -> AnsibleRun:
    args = {"binary_path": str(helm.binary), **helm.kube.connection, "release": "web", **options}
    return run_module(name, args, helm.home.parent, check=check, env={"HELM_CACHE_HOME": str(helm.home / "cache"),
                                                                      "HELM_CONFIG_HOME": str(helm.home / "config"),
                                                                      "HELM_DATA_HOME": str(helm.home / "data")})


def deployed_message(helm: Helm) -> str:
    return rendered(helm, "web")[0]


def test_rollback_to_previous(helm: Helm) -> None:
    helm.install("web")
    helm.upgrade("web", "message=two")

    run = module("helm_rollback", helm, target="previous", timeout=30)

    assert not run.failed, run.output
    assert run.result["changed"] is True
    assert run.result["target_revision"]["revision"] == 1
    assert [entry["status"] for entry in run.result["history_after"]] == ["superseded", "superseded", "deployed"]
    assert helm.history("web")[-1]["description"] == "Rollback to 1"
    assert deployed_message(helm) == "hello"


def test_rollback_to_a_revision_then_no_change(helm: Helm) -> None:
    helm.install("web")
    helm.upgrade("web", "message=two")
    helm.upgrade("web", "message=three")

    first = module("helm_rollback", helm, target="2", timeout=30)
    second = module("helm_rollback", helm, target="2", timeout=30)

    assert not first.failed, first.output
    assert (first.result["changed"], second.result["changed"]) == (True, False)
    assert deployed_message(helm) == "two"
    assert [entry["revision"] for entry in helm.history("web")] == [1, 2, 3, 4]
    assert second.result["history_before"] == second.result["history_after"]


def test_last_deployed_after_a_failed_upgrade_check_mode_first(helm: Helm) -> None:
    helm.install("web")
    helm.upgrade("web", f"image={BROKEN_IMAGE}", timeout="3s", check=False)
    assert helm.statuses("web") == [(1, "deployed"), (2, "failed")]

    preview = module("helm_rollback", helm, check=True, timeout=30)

    assert preview.result["changed"] is True
    assert "would be rolled back to revision 1 (ofm-mini-0.1.0, app version 1.0.0)" in preview.result["msg"]
    assert preview.result["command"][1:4] == ["rollback", "web", "1"]
    assert helm.statuses("web") == [(1, "deployed"), (2, "failed")]

    run = module("helm_rollback", helm, target="last_deployed", timeout=30)

    assert not run.failed, run.output
    assert helm.statuses("web") == [(1, "superseded"), (2, "failed"), (3, "deployed")]
    info = module("helm_history_info", helm)
    assert (info.result["current"]["revision"], info.result["last_deployed"]["revision"], info.result["pending"]) == (3, 3, None)


def test_pending_upgrade_is_reported_then_recovered(helm: Helm) -> None:
    helm.install("web")
    helm.upgrade("web", "message=two")
    set_release_status(helm, "web", 1, "deployed")
    set_release_status(helm, "web", 2, "pending-upgrade")
    assert "another operation" in helm.upgrade("web", "message=three", check=False).stderr

    refused = module("helm_rollback", helm, timeout=30)

    assert refused.failed
    assert refused.result["error"]["type"] == "ConflictError"
    assert "revision 2 is pending-upgrade" in refused.result["msg"]
    assert "recover_pending: true to roll back to revision 1" in refused.result["msg"]
    assert helm.statuses("web") == [(1, "deployed"), (2, "pending-upgrade")]

    recovered = module("helm_rollback", helm, recover_pending=True, timeout=30)

    assert not recovered.failed, recovered.output
    assert recovered.result["pending_revision"]["status"] == "pending-upgrade"
    assert helm.statuses("web")[-1] == (3, "deployed")
    assert helm.upgrade("web", "message=three").returncode == 0
    assert deployed_message(helm) == "three"


@pytest.mark.reliability("fault", procedure="planned (helm_rollback)", case="helm failing: the Kubernetes API refuses helm's write of the new release (503)",
                         expected="failed clearly with helm's error, the release unchanged; the re-run rolls back once")
def test_helm_failing_on_the_api_fails_clearly_and_the_re_run_rolls_back_once(helm: Helm, reliability) -> None:
    if helm.kube.real:
        pytest.skip("the fault is armed through the test server's /__lab/faults route")
    helm.install("web")
    helm.upgrade("web", "message=two")
    server = yaml.safe_load(Path(helm.kube.kubeconfig).read_text())["clusters"][0]["cluster"]["server"]
    # helm keeps each release revision in a Secret: it cannot record the rollback's revision, so it stops before applying it.
    lab_call(f"{server}/__lab/faults", "PUT", {"status": 503, "verbs": ["create"], "paths": ["/api/v1/namespaces/"]})
    try:
        failed = module("helm_rollback", helm, target="previous", timeout=30)
    finally:
        lab_call(f"{server}/__lab/faults", "DELETE")

    assert failed.failed and failed.result["changed"] is False, failed.output
    assert "helm" in failed.result["msg"] and ("503" in failed.result["msg"] or "unavailable" in failed.result["msg"].lower()), failed.result["msg"]
    assert helm.statuses("web") == [(1, "superseded"), (2, "deployed")] and deployed_message(helm) == "two"

    again = module("helm_rollback", helm, target="previous", timeout=30)
    assert not again.failed, again.output
    assert helm.statuses("web") == [(1, "superseded"), (2, "superseded"), (3, "deployed")]
    assert [entry["description"] for entry in helm.history("web")].count("Rollback to 1") == 1 and deployed_message(helm) == "hello"
    reliability.observed("failed naming helm's error (the API's 503 on the release Secret), nothing changed; "
                         "the re-run rolled back once (helm history: one 'Rollback to 1')")
