# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Helm history parsing, the choice of a rollback target, pending releases, and helm's failures as exceptions."""
from __future__ import annotations

import json
import subprocess
from typing import Sequence

import pytest

from ansible_collections.ofm.rollback.plugins.module_utils import helm
from ansible_collections.ofm.rollback.plugins.module_utils.errors import (
    AuthorizationError,
    ConflictError,
    DataError,
    DeadlineExceeded,
    InputError,
    NotFoundError,
    UnavailableError,
)


def history(*statuses: str, descriptions: Sequence[str] = ()) -> list[helm.Revision]:
    described = list(descriptions) + [""] * (len(statuses) - len(descriptions))
    return [helm.Revision(number, status, f"ofm-social-os-1.{number}.0", f"1.{number}.0", described[number - 1], "2025-01-01T03:00:00Z")
            for number, status in enumerate(statuses, start=1)]


def test_parse_history_sorts_and_keeps_helm_fields():
    stdout = json.dumps([
        {"revision": 2, "updated": "u2", "status": "deployed", "chart": "c-2", "app_version": "2", "description": "Upgrade complete"},
        {"revision": 1, "updated": "u1", "status": "superseded", "chart": "c-1", "app_version": "1", "description": "Install complete"},
    ])
    parsed = helm.parse_history(stdout)
    assert [revision.revision for revision in parsed] == [1, 2]
    assert parsed[1].as_dict() == {"revision": 2, "status": "deployed", "chart": "c-2", "app_version": "2",
                                   "description": "Upgrade complete", "updated": "u2"}


@pytest.mark.parametrize("stdout", ["not json", '{"revision": 1}', '[{"status": "deployed"}]'])
def test_parse_history_rejects_what_is_not_a_history(stdout):
    with pytest.raises(DataError):
        helm.parse_history(stdout)


@pytest.mark.parametrize("statuses, target, expected", [
    (("superseded", "superseded", "deployed"), "previous", 2),
    (("deployed", "failed"), "previous", 1),
    (("superseded", "deployed", "failed"), "last_deployed", 2),
    (("deployed", "failed", "failed"), "last_deployed", 1),
    (("deployed", "pending-upgrade"), "last_deployed", 1),
    (("superseded", "failed"), "last_deployed", 1),
    (("superseded", "superseded", "deployed"), "1", 1),
])
def test_select_target(statuses, target, expected):
    assert helm.select_target(history(*statuses), target, "ofm-social-os").revision == expected


def test_select_target_names_the_missing_revision_and_those_that_exist():
    with pytest.raises(NotFoundError) as caught:
        helm.select_target(history("superseded", "deployed"), "7", "ofm-social-os")
    assert "revision 7 is not in the history (revisions: 1, 2)" in str(caught.value)


@pytest.mark.parametrize("target", ["0", "-1", "latest", "2.0", ""])
def test_select_target_rejects_unknown_targets(target):
    with pytest.raises(InputError) as caught:
        helm.select_target(history("deployed"), target, "ofm-social-os")
    assert caught.value.option == "target"


def test_no_previous_revision_for_a_single_revision():
    with pytest.raises(NotFoundError, match="only revision 1 exists"):
        helm.select_target(history("deployed"), "previous", "ofm-social-os")


def test_no_last_deployed_when_nothing_was_ever_deployed():
    with pytest.raises(NotFoundError, match="1=failed, 2=pending-install"):
        helm.select_target(history("failed", "pending-install"), "last_deployed", "ofm-social-os")


def test_empty_history_is_not_found():
    with pytest.raises(NotFoundError, match="no history"):
        helm.select_target([], "last_deployed", "ofm-social-os")


@pytest.mark.parametrize("statuses, descriptions, target, needed", [
    (("superseded", "deployed"), (), "2", False),
    (("superseded", "deployed"), (), "1", True),
    (("superseded", "superseded", "deployed"), ("", "", "Rollback to 1"), "1", False),
    (("superseded", "superseded", "deployed"), ("", "", "Rollback to 1"), "2", True),
    (("deployed", "failed"), (), "1", True),
    (("superseded", "deployed"), (), "last_deployed", False),
])
def test_rollback_is_needed_unless_the_newest_deployed_revision_is_or_restored_the_target(statuses, descriptions, target, needed):
    plan = helm.plan_rollback(history(*statuses, descriptions=descriptions), target, "ofm-social-os", recover_pending=False)
    assert plan.needed is needed


@pytest.mark.parametrize("status", helm.PENDING_STATUSES)
def test_pending_release_is_refused_with_the_target_named(status):
    with pytest.raises(ConflictError) as caught:
        helm.plan_rollback(history("deployed", status), "last_deployed", "ofm-social-os", recover_pending=False)
    assert f"revision 2 is {status}" in str(caught.value)
    assert "recover_pending: true to roll back to revision 1 (ofm-social-os-1.1.0, app version 1.1.0)" in str(caught.value)
    assert caught.value.details["pending_revision"]["revision"] == 2


def test_pending_release_is_recovered_when_asked():
    plan = helm.plan_rollback(history("deployed", "pending-upgrade"), "last_deployed", "ofm-social-os", recover_pending=True)
    assert (plan.target.revision, plan.pending.revision, plan.needed) == (1, 2, True)


def test_the_pending_revision_is_no_target():
    with pytest.raises(InputError, match="target revision 2 is the pending one"):
        helm.plan_rollback(history("deployed", "pending-upgrade"), "2", "ofm-social-os", recover_pending=True)


def test_a_pending_revision_further_back_does_not_block():
    plan = helm.plan_rollback(history("superseded", "pending-upgrade", "deployed"), "1", "ofm-social-os", recover_pending=False)
    assert (plan.target.revision, plan.pending, plan.needed) == (1, None, True)


FAILED_APPLY = 'Rollback "ofm-social-os" failed: cannot patch "api" with kind Deployment: forbidden'
FAILED_WAIT = 'Release "ofm-social-os" failed: context deadline exceeded'


def manifests(*charts_by_revision: str):
    """``manifest(revision)`` of a history whose revision N holds the manifest of chart ``charts_by_revision[N-1]``, and the calls."""
    calls: list[int] = []

    def manifest(revision: int) -> str:
        calls.append(revision)
        return f"kind: ConfigMap # {charts_by_revision[revision - 1]}"
    return manifest, calls


@pytest.mark.parametrize("statuses, description", [
    (("superseded", "superseded", "failed"), FAILED_APPLY),   # applying failed: helm superseded the deployed revision
    (("superseded", "deployed", "failed"), FAILED_WAIT),      # --wait failed: the revision rolled back from stays deployed
])
def test_last_deployed_after_a_failed_rollback_is_the_revision_it_went_to(statuses, description):
    releases = history(*statuses, descriptions=("Install complete", "Upgrade complete", description))
    manifest, calls = manifests("a", "b", "a")

    assert helm.failed_rollback(releases) == releases[2]
    assert helm.select_target(releases, "last_deployed", "ofm-social-os", manifest).revision == 1
    assert calls == [3, 2, 1]
    assert helm.select_target(releases, "last_deployed", "ofm-social-os").revision == 2  # without manifests: statuses alone
    plan = helm.plan_rollback(releases, "last_deployed", "ofm-social-os", recover_pending=False, manifest=manifest)
    assert (plan.target.revision, plan.needed) == (1, True)


def test_after_a_failed_upgrade_or_when_no_manifest_matches_last_deployed_is_unchanged():
    upgrade = history("superseded", "deployed", "failed", descriptions=("", "", 'Upgrade "ofm-social-os" failed: timed out'))
    manifest, calls = manifests("a", "b", "a")
    assert helm.failed_rollback(upgrade) is None
    assert helm.select_target(upgrade, "last_deployed", "ofm-social-os", manifest).revision == 2 and calls == []

    rollback = history("superseded", "deployed", "failed", descriptions=("", "", FAILED_WAIT))
    manifest, calls = manifests("a", "b", "c")
    assert helm.select_target(rollback, "last_deployed", "ofm-social-os", manifest).revision == 2


def test_the_failed_rollback_is_only_the_newest_revision():
    releases = history("superseded", "failed", "deployed", descriptions=("", FAILED_WAIT, "Upgrade complete"))
    manifest, calls = manifests("a", "a", "b")
    assert helm.failed_rollback(releases) is None
    assert helm.select_target(releases, "last_deployed", "ofm-social-os", manifest).revision == 3 and calls == []


class FakeRunner:
    def __init__(self, returncode: int = 0, stdout: str = "[]", stderr: str = "", raises: Exception | None = None) -> None:
        self.result = subprocess.CompletedProcess([], returncode, stdout, stderr)
        self.raises = raises
        self.calls: list[list[str]] = []

    def __call__(self, argv: Sequence[str], timeout: float, **_options: object) -> subprocess.CompletedProcess:
        self.calls.append(list(argv))
        if self.raises:
            raise self.raises
        return self.result


def test_client_builds_connection_flags_and_records_commands():
    runner = FakeRunner(stdout=json.dumps([{"revision": 1, "status": "deployed"}]))
    client = helm.HelmClient("/opt/helm", "ofm-production", "/etc/kubeconfig", "prod", runner=runner)
    assert client.history("ofm-social-os")[0].status == "deployed"
    assert runner.calls == [["/opt/helm", "history", "ofm-social-os", "--output", "json", "--namespace", "ofm-production",
                             "--kubeconfig", "/etc/kubeconfig", "--kube-context", "prod"]]
    assert client.rollback_argv("ofm-social-os", 3, wait=False, timeout=90.0)[1:6] == ["rollback", "ofm-social-os", "3", "--timeout", "90s"]
    assert client.commands == runner.calls


@pytest.mark.parametrize("stderr, error", [
    ("Error: release: not found", NotFoundError),
    ("Error: another operation (install/upgrade/rollback) is in progress", ConflictError),
    ("Error: context deadline exceeded", DeadlineExceeded),
    ("Error: resource Deployment/default/web not ready. status: InProgress", DeadlineExceeded),
    ('Error: Kubernetes cluster unreachable: Get "https://10.0.0.1/version": dial tcp: connection refused', UnavailableError),
    ('Error: cannot patch "web-api" with kind Deployment: deployments.apps "web-api" is forbidden: User "ci" cannot patch', AuthorizationError),
    ("Error: resource Deployment/default/web-api not ready. status: Unknown, message: \ncontext deadline exceeded", DeadlineExceeded),
    ('Error: cannot patch "web-api" with kind Deployment: Patch "https://10.0.0.1/apis/apps/v1/namespaces/d/deployments/web-api": EOF',
     UnavailableError),
    ("Error: write tcp 10.0.0.2:50000->10.0.0.1:443: write: connection reset by peer", UnavailableError),
])
def test_helm_failures_map_to_errors_carrying_stderr(stderr, error):
    client = helm.HelmClient("helm", "ofm-production", runner=FakeRunner(returncode=1, stderr=stderr))
    with pytest.raises(error) as caught:
        client.rollback("ofm-social-os", 1, wait=True, timeout=10)
    assert caught.value.details["stderr"] == stderr
    assert "release ofm-social-os in namespace ofm-production" in str(caught.value)


def test_a_wait_that_never_read_a_status_is_told_apart_from_resources_not_ready():
    unknown = helm.helm_error("Error: resource ConfigMap/default/web-config not ready. status: Unknown, message: \ncontext deadline exceeded",
                              "rollback", "release web")
    in_progress = helm.helm_error("Error: resource Deployment/default/web-api not ready. status: InProgress", "rollback", "release web")
    assert "could not read the resources' status" in unknown.hint
    assert "did not become ready in time" in in_progress.hint


def test_missing_binary_names_the_option():
    client = helm.HelmClient("/no/helm", "ns", runner=FakeRunner(raises=FileNotFoundError(2, "No such file or directory", "/no/helm")))
    with pytest.raises(InputError) as caught:
        client.history("r")
    assert caught.value.option == "binary_path"
    assert "'/no/helm' was not found (option binary_path)" in str(caught.value)
    assert "a path to helm v3 or v4" in str(caught.value)


def test_the_recorded_command_hides_a_token_and_a_timeout_is_a_deadline():
    client = helm.HelmClient("helm", "ns", runner=FakeRunner(raises=subprocess.TimeoutExpired(["helm"], 60)))
    with pytest.raises(DeadlineExceeded) as caught:
        client.runner.run(["helm", "history", "r", "--kube-token", "s3cr3t"], "history", "r", timeout=60)
    assert caught.value.timeout == 60 and "did not finish within 1m" in str(caught.value)
    assert client.commands == [["helm", "history", "r", "--kube-token", "********"]]


def test_from_params_passes_the_connection_options_to_every_command():
    runner = FakeRunner(stdout="[]")
    params = {"binary_path": "/opt/helm", "namespace": "ofm-staging", "kubeconfig": "/etc/kubeconfig", "context": None}
    helm.HelmClient.from_params(params, runner=runner).history("ofm-social-os")
    assert runner.calls == [["/opt/helm", "history", "ofm-social-os", "--output", "json", "--namespace", "ofm-staging",
                             "--kubeconfig", "/etc/kubeconfig"]]


def test_from_params_and_the_manifest_of_a_revision():
    runner = FakeRunner(stdout="---\nkind: ConfigMap\n")
    client = helm.HelmClient.from_params({"helm_binary_path": "/opt/helm", "namespace": "ofm-production", "kubeconfig": None, "context": None},
                                         binary_option="helm_binary_path", runner=runner)
    assert client.manifest("ofm-social-os", 4) == "---\nkind: ConfigMap\n"
    assert runner.calls == [["/opt/helm", "get", "manifest", "ofm-social-os", "--revision", "4", "--namespace", "ofm-production"]]
    missing = helm.HelmClient.from_params({"namespace": "ns"}, binary_option="helm_binary_path",
                                          runner=FakeRunner(raises=FileNotFoundError(2, "No such file or directory", "helm")))
    with pytest.raises(InputError) as caught:
        missing.manifest("r", 1)
    assert caught.value.option == "helm_binary_path"
