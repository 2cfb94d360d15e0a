"""k8s_access_info against a Kubernetes API test server of the test's own, with RBAC users in its --rbac-file.

The server answers SelfSubjectAccessReviews from the rules of the token's user (tests/unit covers the rule matching); this
checks the module end to end: the client's request, the mapping of allowed and denied answers, and the failures.
"""
from __future__ import annotations

import json

from kubelab import kube_apiserver, kubeconfig_with_token
from labtest import run_module

SRE, VIEWER, STRANGER = "sre-token-0123456789", "viewer-token-0123456789", "nobody-0123456789"
READ = {"verbs": ["get", "list", "watch"], "apiGroups": ["*"], "resources": ["*"]}
FALLBACK = [{"verbs": ["patch"], "apiGroups": ["argoproj.io"], "resources": ["rollouts", "rollouts/status"]},
            {"verbs": ["patch"], "apiGroups": ["networking.k8s.io"], "resources": ["ingresses"]},
            {"verbs": ["patch"], "apiGroups": ["apps"], "resources": ["deployments/scale"]}]
RULES = {SRE: {"user": "kube-sre", "rules": [READ, *FALLBACK]}, VIEWER: {"user": "kube-viewer", "rules": [READ]}}
PRESET = {"namespace": "ofm-production", "preset": "emergency_fallback", "rollout": "ofm-social-os-api-rollout",
          "canary_ingress": "ofm-social-os-api-canary", "canary_deployment": "ofm-social-os-api-canary"}


def test_the_cluster_answers_for_each_user(tmp_path):
    rbac_file = tmp_path / "rbac.json"
    rbac_file.write_text(json.dumps(RULES))
    with kube_apiserver(tmp_path, "--rbac-file", str(rbac_file)) as (_url, kubeconfig):
        sre = run_module("k8s_access_info", {**PRESET, "kubeconfig": kubeconfig_with_token(kubeconfig, SRE, tmp_path / "sre")}, tmp_path)
        viewer = run_module("k8s_access_info", {**PRESET, "kubeconfig": kubeconfig_with_token(kubeconfig, VIEWER, tmp_path / "viewer")}, tmp_path)
        stranger = run_module("k8s_access_info", {**PRESET, "kubeconfig": kubeconfig_with_token(kubeconfig, STRANGER, tmp_path / "nobody")}, tmp_path)
        admin = run_module("k8s_access_info", {**PRESET, "kubeconfig": str(kubeconfig)}, tmp_path)

    assert not sre.failed and sre.result["allowed"] is True and sre.result["denied"] == [], sre.stdout
    assert len(sre.result["results"]) == 6 and all(item["reason"].startswith("RBAC: allowed") for item in sre.result["results"])
    assert not viewer.failed and viewer.result["allowed"] is False
    assert viewer.result["denied"] == ["patch argoproj.io/rollouts/status ofm-social-os-api-rollout in ofm-production",
                                       "patch argoproj.io/rollouts ofm-social-os-api-rollout in ofm-production",
                                       "patch networking.k8s.io/ingresses ofm-social-os-api-canary in ofm-production",
                                       "patch apps/deployments/scale ofm-social-os-api-canary in ofm-production"]
    assert stranger.failed and stranger.result["error"]["type"] == "AuthenticationError"
    assert not admin.failed and admin.result["allowed"] is True
    assert SRE not in sre.stdout and VIEWER not in viewer.stdout


def test_a_server_that_is_down_is_unavailable(tmp_path):
    with kube_apiserver(tmp_path) as (_url, kubeconfig):
        pass  # stopped again: the kubeconfig now points at nothing
    run = run_module("k8s_access_info", {**PRESET, "kubeconfig": str(kubeconfig)}, tmp_path)
    assert run.failed and run.result["error"]["type"] == "UnavailableError", run.stdout
    assert "SelfSubjectAccessReview" in run.result["msg"]
