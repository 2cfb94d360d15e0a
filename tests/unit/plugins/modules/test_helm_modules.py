# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""helm_rollback's and helm_history_info's main() with a fake helm binary that keeps its history in a JSON file."""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from unithelpers import documented_options, mismatches, run_module

from ansible_collections.ofm.rollback.plugins.doc_fragments import helm as helm_fragment
from ansible_collections.ofm.rollback.plugins.modules import helm_history_info, helm_rollback

# Every test runs main() as a module process would, and in process as the action plugin does.
pytestmark = pytest.mark.usefixtures("module_runner")

FAKE_HELM = '''
import json, sys
from pathlib import Path

state_file = Path(__file__).with_name("state.json")
state = json.loads(state_file.read_text())
state["calls"].append(sys.argv[1:])
command = sys.argv[1]
if command in state["fail"]:
    if command == "rollback" and state.get("record_failure"):
        # as helm when applying the rolled-back resources fails: the deployed revision superseded, the rollback's failed
        target = int(sys.argv[3])
        for entry in state["history"]:
            if entry["status"] == "deployed":
                entry["status"] = "superseded"
        chart = next(entry for entry in state["history"] if entry["revision"] == target)
        state["history"].append({**chart, "revision": len(state["history"]) + 1, "status": "failed",
                                 "description": f'Rollback "{sys.argv[2]}" failed: ' + state["fail"][command].replace("Error: ", "")})
    stderr = state["fail"][command]
    state["fail"].update(state.pop("then_fail", {}))  # e.g. the API server gone: helm history fails from now on
    state_file.write_text(json.dumps(state))
    sys.stderr.write(stderr)
    sys.exit(1)
if command == "get":
    # helm get manifest <release> --revision N: the manifest helm holds for the revision (a rollback copies its target's)
    revision = int(sys.argv[sys.argv.index("--revision") + 1])
    print("kind: ConfigMap # " + next(entry for entry in state["history"] if entry["revision"] == revision)["chart"])
elif command == "rollback":
    target = int(sys.argv[3])
    for entry in state["history"]:
        if entry["status"] == "deployed":
            entry["status"] = "superseded"
    chart = next(entry for entry in state["history"] if entry["revision"] == target)
    state["history"].append({**chart, "revision": len(state["history"]) + 1, "status": "deployed", "description": f"Rollback to {target}"})
else:
    print(json.dumps(state["history"]))
state_file.write_text(json.dumps(state))
'''


class FakeHelm:
    def __init__(self, directory: Path, *statuses: str) -> None:
        self.binary = directory / "helm"
        self.binary.write_text(f"#!{sys.executable}\n{FAKE_HELM}")
        self.binary.chmod(0o755)
        self.state_file = directory / "state.json"
        self.save({"calls": [], "fail": {}, "history": [
            {"revision": number, "status": status, "chart": f"ofm-social-os-1.{number}.0", "app_version": f"1.{number}.0",
             "description": "Install complete" if number == 1 else "Upgrade complete", "updated": "2025-01-01T03:00:00Z"}
            for number, status in enumerate(statuses, start=1)]})

    def save(self, state: dict[str, Any]) -> None:
        self.state_file.write_text(json.dumps(state))

    @property
    def state(self) -> dict[str, Any]:
        return json.loads(self.state_file.read_text())

    def fail(self, command: str, stderr: str, record_failure: bool = False) -> None:
        self.save({**self.state, "fail": {command: stderr} if stderr else {}, "record_failure": record_failure})

    def args(self, **options: Any) -> dict[str, Any]:
        return {"binary_path": str(self.binary), "namespace": "ofm-production", "release": "ofm-social-os", **options}


@pytest.fixture(autouse=True)
def no_caller_kubeconfig(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KUBECONFIG", raising=False)


def test_kubeconfig_comes_from_the_environment_when_not_set(tmp_path, monkeypatch):
    fake = FakeHelm(tmp_path, "deployed")
    monkeypatch.setenv("KUBECONFIG", "/etc/ofm/kubeconfig")
    failed, result, _warnings = run_module(helm_history_info, fake.args())
    assert not failed
    assert fake.state["calls"][0][-2:] == ["--kubeconfig", "/etc/ofm/kubeconfig"]
    assert result["command"][-2:] == ["--kubeconfig", "/etc/ofm/kubeconfig"]


@pytest.mark.parametrize("module", [helm_rollback, helm_history_info])
def test_docs_match_the_argument_spec(module):
    assert mismatches(module.ARGUMENT_SPEC, documented_options(module, helm_fragment)) == []


def test_rolls_back_to_last_deployed_after_a_failed_upgrade(tmp_path):
    fake = FakeHelm(tmp_path, "deployed", "failed")
    failed, result, _warnings = run_module(helm_rollback, fake.args(timeout=60))
    assert not failed, result
    assert result["changed"] is True
    assert result["target_revision"]["revision"] == 1
    assert [entry["status"] for entry in result["history_after"]] == ["superseded", "failed", "deployed"]
    assert result["diff"] == {"before": {"revision": 2, "chart": "ofm-social-os-1.2.0", "app_version": "1.2.0", "status": "failed"},
                              "after": {"revision": 3, "chart": "ofm-social-os-1.1.0", "app_version": "1.1.0", "status": "deployed"}}
    assert fake.state["calls"][1] == ["rollback", "ofm-social-os", "1", "--wait", "--timeout", "60s", "--namespace", "ofm-production"]


def test_second_run_changes_nothing(tmp_path):
    fake = FakeHelm(tmp_path, "deployed", "failed")
    run_module(helm_rollback, fake.args(target="1"))
    failed, result, _warnings = run_module(helm_rollback, fake.args(target="1"))
    assert not failed
    assert result["changed"] is False
    assert "already runs revision 1" in result["msg"]
    assert [call[0] for call in fake.state["calls"]] == ["history", "rollback", "history", "history"]


def test_check_mode_runs_only_history_and_names_target_and_command(tmp_path):
    fake = FakeHelm(tmp_path, "superseded", "deployed")
    failed, result, _warnings = run_module(helm_rollback, fake.args(target="previous", wait=False), check_mode=True)
    assert not failed
    assert result["changed"] is True
    assert result["msg"] == "release ofm-social-os would be rolled back to revision 1 (ofm-social-os-1.1.0, app version 1.1.0)"
    assert result["command"] == [str(fake.binary), "rollback", "ofm-social-os", "1", "--timeout", "300s", "--namespace", "ofm-production"]
    assert [call[0] for call in fake.state["calls"]] == ["history"]


def test_pending_release_is_reported_then_recovered(tmp_path):
    fake = FakeHelm(tmp_path, "deployed", "pending-upgrade")
    failed, result, _warnings = run_module(helm_rollback, fake.args())
    assert failed
    assert result["changed"] is False
    assert result["error"]["type"] == "ConflictError"
    assert "revision 2 is pending-upgrade" in result["msg"]
    assert result["pending_revision"]["revision"] == 2

    failed, result, _warnings = run_module(helm_rollback, fake.args(recover_pending=True))
    assert not failed
    assert result["changed"] is True
    assert "recovering from pending-upgrade revision 2" in result["msg"]
    assert result["history_after"][-1]["description"] == "Rollback to 1"


def test_helm_failure_carries_stderr_and_reports_the_attempt(tmp_path):
    fake = FakeHelm(tmp_path, "deployed", "failed")
    fake.fail("rollback", "Error: resource Deployment/ofm-production/api not ready. status: InProgress")
    failed, result, _warnings = run_module(helm_rollback, fake.args())
    assert failed
    # The history read again after the failure: this fake recorded no revision, so nothing changed.
    assert result["changed"] is False and [entry["revision"] for entry in result["history_after"]] == [1, 2]
    assert result["error"]["type"] == "DeadlineExceeded"
    assert result["error"]["details"]["stderr"] == "Error: resource Deployment/ofm-production/api not ready. status: InProgress"
    assert [command[1] for command in result["commands"]] == ["history", "rollback", "history"]
    assert result["release_state"] == "revision 2 is failed: Upgrade complete"
    assert result["error"]["hint"].endswith("Once the cause is fixed, run again with target: 1: it rolls back once more to revision 1.")


def test_a_failed_rollback_reports_the_state_helm_left_and_a_rerun_with_last_deployed_finishes_it_once(tmp_path):
    fake = FakeHelm(tmp_path, "superseded", "deployed")
    forbidden = ('Error: cannot patch "api" with kind Deployment: deployments.apps "api" is forbidden: User "ci" cannot patch '
                 'resource "deployments" in API group "apps" in the namespace "ofm-production"')
    fake.fail("rollback", forbidden, record_failure=True)

    failed, result, _warnings = run_module(helm_rollback, fake.args(target="1"))

    assert failed and result["changed"] is True
    assert result["error"]["type"] == "AuthorizationError"
    assert 'is forbidden: User "ci" cannot patch resource "deployments"' in result["msg"]
    assert [(entry["revision"], entry["status"]) for entry in result["history_after"]] == [(1, "superseded"), (2, "superseded"), (3, "failed")]
    assert result["release_state"].startswith('revision 3 is failed: Rollback "ofm-social-os" failed: cannot patch "api"')

    fake.fail("rollback", "")
    failed, result, _warnings = run_module(helm_rollback, fake.args())

    assert not failed, result
    assert result["target_revision"]["revision"] == 1
    assert "rolled back to revision 1" in result["msg"]
    assert [(entry["revision"], entry["status"], entry["description"]) for entry in result["history_after"][2:]] == [
        (3, "failed", 'Rollback "ofm-social-os" failed: ' + forbidden.replace("Error: ", "")), (4, "deployed", "Rollback to 1")]

    failed, again, _warnings = run_module(helm_rollback, fake.args())

    assert not failed and again["changed"] is False and len(again["history_after"]) == 4


def test_when_helm_history_fails_too_the_release_state_says_why(tmp_path):
    fake = FakeHelm(tmp_path, "superseded", "deployed")
    fake.fail("rollback", 'Error: Kubernetes cluster unreachable: Get "https://10.0.0.1/version": dial tcp: connection refused')
    state = fake.state
    state["then_fail"] = {"history": "Error: Kubernetes cluster unreachable: connection refused"}
    fake.save(state)

    failed, result, _warnings = run_module(helm_rollback, fake.args(target="1"))

    assert failed and result["error"]["type"] == "UnavailableError"
    assert result["history_after"] is None
    assert result["release_state"] == "unknown: helm history failed too: Error: Kubernetes cluster unreachable: connection refused"
    assert "with recover_pending: true if helm history then shows it pending" in result["error"]["hint"]


def test_unknown_release_fails_with_helms_message(tmp_path):
    fake = FakeHelm(tmp_path, "deployed")
    fake.fail("history", "Error: release: not found")
    failed, result, _warnings = run_module(helm_history_info, fake.args())
    assert failed
    assert result["error"]["type"] == "NotFoundError"
    assert "release: not found" in result["msg"]


def test_history_info_names_current_last_deployed_and_pending(tmp_path):
    fake = FakeHelm(tmp_path, "superseded", "deployed", "pending-upgrade")
    failed, result, _warnings = run_module(helm_history_info, fake.args())
    assert not failed
    assert result["changed"] is False
    assert [entry["revision"] for entry in result["history"]] == [1, 2, 3]
    assert (result["current"]["revision"], result["last_deployed"]["revision"], result["pending"]["revision"]) == (3, 2, 3)


def test_history_info_names_the_revision_a_failed_rollback_went_to_as_last_deployed(tmp_path):
    fake = FakeHelm(tmp_path, "superseded", "deployed")
    fake.fail("rollback", "Error: context deadline exceeded", record_failure=True)
    run_module(helm_rollback, fake.args(target="1"))

    failed, result, _warnings = run_module(helm_history_info, fake.args())

    assert not failed, result
    assert (result["current"]["status"], result["last_deployed"]["revision"]) == ("failed", 1)
    assert result["command"][:3] == [str(fake.binary), "history", "ofm-social-os"]
