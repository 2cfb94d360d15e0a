"""k8s_access_info against a Kubernetes API test server of the test's own, with the lab's RBAC users in its --rbac-file.

The server answers SelfSubjectAccessReviews from the rules of the token's user (tests/unit covers the rule matching); this
checks the module end to end through Ansible: the client's requests, the mapping of allowed and denied answers, the user
the cluster names, the failures, and that the answers agree with what the server then refuses (--rbac-enforce).
"""
from __future__ import annotations

import json

import pytest

from kubelab import kube_apiserver, kubeconfig_with_token
from labtest import run_module

from lab.components.kube_apiserver import SRE_RULES, VIEWER_RULES

SRE, VIEWER, STRANGER = "sre-token-0123456789", "viewer-token-0123456789", "nobody-0123456789"
RULES = {SRE: {"user": "kube-sre", "rules": SRE_RULES}, VIEWER: {"user": "kube-viewer", "rules": VIEWER_RULES}}
NAMES = {"rollout": "ofm-social-os-api-rollout", "canary_ingress": "ofm-social-os-api-canary", "canary_deployment": "ofm-social-os-api-canary"}
PRESET = {"namespace": "ofm-production", "preset": "emergency_fallback", **NAMES}
WRITES = ["patch argoproj.io/rollouts/status ofm-social-os-api-rollout in ofm-production",
          "patch argoproj.io/rollouts ofm-social-os-api-rollout in ofm-production",
          "patch networking.k8s.io/ingresses ofm-social-os-api-canary in ofm-production",
          "patch apps/deployments/scale ofm-social-os-api-canary in ofm-production"]


def rbac_file(tmp_path):
    path = tmp_path / "rbac.json"
    path.write_text(json.dumps(RULES))
    return str(path)


def test_the_cluster_answers_for_each_user(tmp_path):
    with kube_apiserver(tmp_path, "--rbac-file", rbac_file(tmp_path)) as (_url, kubeconfig):
        as_sre = kubeconfig_with_token(kubeconfig, SRE, tmp_path / "sre")
        sre = run_module("k8s_access_info", {**PRESET, "kubeconfig": as_sre}, tmp_path)
        elsewhere = run_module("k8s_access_info", {**PRESET, "namespace": "staging", "kubeconfig": as_sre}, tmp_path)
        viewer = run_module("k8s_access_info", {**PRESET, "kubeconfig": kubeconfig_with_token(kubeconfig, VIEWER, tmp_path / "viewer")}, tmp_path)
        stranger = run_module("k8s_access_info", {**PRESET, "kubeconfig": kubeconfig_with_token(kubeconfig, STRANGER, tmp_path / "nobody")}, tmp_path)
        admin = run_module("k8s_access_info", {**PRESET, "kubeconfig": str(kubeconfig)}, tmp_path)

    assert not sre.failed and sre.result["allowed"] is True and sre.result["denied"] == [], sre.stdout
    assert sre.result["user"] == "kube-sre" and sre.result["changed"] is False
    assert len(sre.result["results"]) == 8 and all(item["reason"].startswith("RBAC: allowed by rule") for item in sre.result["results"])
    assert not elsewhere.failed and elsewhere.result["allowed"] is False and len(elsewhere.result["denied"]) == 8, "the SRE's rules hold in its namespace only"

    assert not viewer.failed and viewer.result["allowed"] is False and viewer.result["user"] == "kube-viewer"
    assert viewer.result["denied"] == WRITES
    denied = [item for item in viewer.result["results"] if not item["allowed"]]
    assert all(item["denied"] is True and item["reason"].startswith("RBAC: no rule of kube-viewer allows patch") for item in denied)
    assert "4 of 8 not allowed" in viewer.result["msg"]

    assert stranger.failed and stranger.result["error"]["type"] == "AuthenticationError", stranger.stdout
    assert "HTTP 401" in stranger.result["msg"] and "SelfSubjectAccessReview" in stranger.result["msg"]
    assert not admin.failed and admin.result["allowed"] is True and admin.result["user"] == "system:admin"
    assert SRE not in sre.stdout and VIEWER not in viewer.stdout and STRANGER not in stranger.stdout


def test_the_answers_agree_with_what_the_cluster_then_refuses(tmp_path):
    """With --rbac-enforce the server refuses what the reviews deny: the viewer's scale-down is a 403, the SRE's goes through."""
    fallback = {"namespace": "ofm-production", "name": NAMES["canary_ingress"], "weight": 0, "deployment": NAMES["canary_deployment"],
                "replicas": 0}
    with kube_apiserver(tmp_path, "--rbac-file", rbac_file(tmp_path), "--rbac-enforce", "--seed-ofm") as (_url, kubeconfig):
        viewer = run_module("canary_ingress", {**fallback, "kubeconfig": kubeconfig_with_token(kubeconfig, VIEWER, tmp_path / "viewer")}, tmp_path)
        sre = run_module("canary_ingress", {**fallback, "kubeconfig": kubeconfig_with_token(kubeconfig, SRE, tmp_path / "sre")}, tmp_path)
    assert viewer.failed and viewer.result["error"]["type"] == "AuthorizationError", viewer.stdout
    assert 'User "kube-viewer" cannot patch resource "ingresses"' in viewer.result["msg"] and viewer.result["changed"] is False
    assert not sre.failed and sre.result["changed"] is True and sre.result["current"] == {"weight": 0, "replicas": 0}, sre.stdout


@pytest.mark.reliability("fault", procedure="emergency", case="Kubernetes API stopped (admin check by RBAC)",
                         expected="retried, then unavailable clearly")
def test_a_server_that_is_down_is_unavailable_after_the_retries(tmp_path):
    with kube_apiserver(tmp_path, "--rbac-file", rbac_file(tmp_path)) as (_url, kubeconfig):
        pass  # stopped again: the kubeconfig now points at nothing
    run = run_module("k8s_access_info", {**PRESET, "kubeconfig": str(kubeconfig)}, tmp_path)
    assert run.failed and run.result["error"]["type"] == "UnavailableError", run.stdout
    assert run.result["error"]["attempts"] == 3 and run.result["error"]["sent"] is False
    assert "SelfSubjectAccessReview" in run.result["msg"] and run.result["changed"] is False
