# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""k8s_access_info: its docs, bad input refused before any request, and the answers of a fake API server mapped.

Every test runs main() as a module process would, and in process as the action plugin does (fixture module_runner).
"""
from __future__ import annotations

import json
import subprocess
import sys

import pytest
from unithelpers import REPO_ROOT, FakeService, Received, Reply, documented_options, mismatches, run_module

from ansible_collections.ofm.rollback.plugins.doc_fragments import kube
from ansible_collections.ofm.rollback.plugins.modules import k8s_access_info
from lab.services.kube import rbac

pytestmark = pytest.mark.usefixtures("module_runner")

SSAR = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"
SSR = "/apis/authentication.k8s.io/v1/selfsubjectreviews"
PRESET = {"namespace": "ofm-production", "preset": "emergency_fallback", "rollout": "api-rollout", "canary_ingress": "api-canary",
          "canary_deployment": "api-canary"}
VIEWER = rbac.User("kube-viewer", [{"verbs": ["get", "list", "watch"], "apiGroups": ["*"], "resources": ["*"]}])


class FakeKube(FakeService):
    """Answers SelfSubjectAccessReviews with the lab's RBAC evaluation for ``user``, and SelfSubjectReviews when ``whoami``."""

    def __init__(self, user: rbac.User = VIEWER, whoami: bool = True) -> None:
        self.user = user
        self.whoami = whoami
        super().__init__()

    def answer(self, request: Received) -> Reply:
        if request.method == "POST" and request.path_only == SSAR:
            return Reply(201, rbac.review(self.user, request.body))
        if request.method == "POST" and request.path_only == SSR and self.whoami:
            return Reply(201, rbac.who(self.user))
        return Reply(404, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": "not found", "code": 404})


def bearer(request: Received) -> str:
    return next((value for name, value in request.headers.items() if name.lower() == "authorization"), "")


@pytest.fixture(name="fake_kube")
def fixture_fake_kube():
    server = FakeKube()
    yield server
    server.close()


def test_docs_match_the_argument_spec():
    assert mismatches(k8s_access_info.ARGUMENT_SPEC, documented_options(k8s_access_info, kube)) == []


@pytest.mark.parametrize("args, option", [
    ({"preset": "emergency_fallback", "rollout": "r", "canary_ingress": "i"}, "canary_deployment"),
    ({"checks": [{"verb": "get", "resource": ""}]}, "checks[0].resource"),
    ({"canary_ingress": "i", "checks": [{"verb": "get", "resource": "pods"}]}, "canary_ingress"),
    ({}, "checks"),
])
def test_bad_input_fails_before_any_request(args, option, fake_kube):
    failed, result, _warnings = run_module(k8s_access_info, {"host": fake_kube.url, **args})
    assert failed and result["error"]["option"] == option and result["changed"] is False
    assert result["error"]["type"] == "InputError" and result["error"]["accepted"]
    assert fake_kube.received == []


def test_an_unknown_verb_is_refused_by_the_argument_spec(fake_kube):
    failed, result, _warnings = run_module(k8s_access_info, {"host": fake_kube.url, "checks": [{"verb": "escalate", "resource": "pods"}]})
    assert failed and "escalate" in result["msg"] and "deletecollection" in result["msg"]
    assert fake_kube.received == []


def test_a_viewer_is_denied_the_fallbacks_writes_one_review_each(fake_kube):
    failed, result, _warnings = run_module(k8s_access_info, {"host": fake_kube.url, "api_key": "viewer-token", **PRESET}, check_mode=True)
    assert not failed and result["changed"] is False and result["allowed"] is False
    assert result["user"] == "kube-viewer"
    assert result["denied"] == ["patch argoproj.io/rollouts/status api-rollout in ofm-production",
                                "patch argoproj.io/rollouts api-rollout in ofm-production",
                                "patch networking.k8s.io/ingresses api-canary in ofm-production",
                                "patch apps/deployments/scale api-canary in ofm-production"]
    scale = result["results"][-1]
    assert scale == {"verb": "patch", "group": "apps", "resource": "deployments", "subresource": "scale", "name": "api-canary",
                     "namespace": "ofm-production", "description": "patch apps/deployments/scale api-canary in ofm-production",
                     "allowed": False, "denied": True, "reason": "RBAC: no rule of kube-viewer allows patch deployments/scale in ofm-production"}
    reviews = [request for request in fake_kube.received if request.path_only == SSAR]
    assert len(reviews) == 8 and all(bearer(request) == "Bearer viewer-token" for request in reviews)
    assert reviews[1].body["spec"]["resourceAttributes"]["subresource"] == "status"
    assert "4 of 8 not allowed" in result["msg"]


def test_all_allowed_and_no_user_from_a_cluster_without_selfsubjectreviews():
    server = FakeKube(rbac.User("sre", [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}]), whoami=False)
    try:
        failed, result, _warnings = run_module(k8s_access_info, {"host": server.url, **PRESET})
    finally:
        server.close()
    assert not failed and result["allowed"] is True and result["denied"] == [] and "user" not in result
    assert result["msg"] == "all 8 allowed"


@pytest.mark.parametrize("status, error_type", [(401, "AuthenticationError"), (403, "AuthorizationError")])
def test_a_refused_review_fails_with_the_collections_error(status, error_type, fake_kube):
    fake_kube.script(Reply(status, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": "refused here", "code": status}))
    failed, result, _warnings = run_module(k8s_access_info, {"host": fake_kube.url, **PRESET})
    assert failed and result["error"]["type"] == error_type and result["changed"] is False
    assert "refused here" in result["msg"] and len(fake_kube.received) == 1


def test_a_failing_api_server_is_unavailable_after_the_retries(fake_kube):
    busy = Reply(503, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": "etcd is down", "code": 503})
    fake_kube.script(busy, busy, busy)
    failed, result, _warnings = run_module(k8s_access_info, {"host": fake_kube.url, **PRESET})
    assert failed and result["error"]["type"] == "UnavailableError" and result["error"]["attempts"] == 3
    assert len(fake_kube.received) == 3


def test_as_a_module_process(fake_kube, tmp_path):
    """The module file run as Ansible runs it on a target: a Python process reading its arguments from a file."""
    args = tmp_path / "args.json"
    args.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": {"host": fake_kube.url, "api_key": "viewer-token", **PRESET}}))
    module = REPO_ROOT / "plugins" / "modules" / "k8s_access_info.py"
    done = subprocess.run([sys.executable, str(module), str(args)], capture_output=True, text=True, timeout=60, check=False,
                          env={"PYTHONPATH": str(REPO_ROOT / ".collections"), "PATH": "/usr/bin:/bin"})
    result = json.loads(done.stdout)
    assert done.returncode == 0 and result["allowed"] is False and len(result["results"]) == 8, done.stderr
    assert "viewer-token" not in done.stdout
