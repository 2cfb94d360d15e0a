# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""kube_access: the checks asked for, the emergency fallback's verbs, and the cluster's answers mapped."""
from __future__ import annotations

import json
from typing import Any

import pytest

from ansible_collections.ofm.rollback.plugins.module_utils import kube_access
from ansible_collections.ofm.rollback.plugins.module_utils.errors import InputError, OfmRollbackError
from lab.services.kube import rbac

PRESET = {"namespace": "ofm-production", "preset": "emergency_fallback", "rollout": "api-rollout", "canary_ingress": "api-canary",
          "canary_deployment": "api-canary"}


def test_the_preset_asks_for_exactly_what_the_fallback_does():
    described = [check.describe() for check in kube_access.checks_from_params(PRESET)]
    assert described == ["get argoproj.io/rollouts api-rollout in ofm-production",
                         "patch argoproj.io/rollouts/status api-rollout in ofm-production",
                         "list apps/replicasets in ofm-production",
                         "patch argoproj.io/rollouts api-rollout in ofm-production",
                         "get networking.k8s.io/ingresses api-canary in ofm-production",
                         "get apps/deployments api-canary in ofm-production",
                         "patch networking.k8s.io/ingresses api-canary in ofm-production",
                         "patch apps/deployments/scale api-canary in ofm-production"]


@pytest.mark.parametrize("params, option", [
    ({**PRESET, "rollout": None}, "rollout"),
    ({**PRESET, "preset": "everything"}, "preset"),
    ({"rollout": "api-rollout", "checks": [{"verb": "get", "resource": "pods"}]}, "rollout"),
    ({"namespace": "x"}, "checks"),
    ({"checks": [{"verb": "hack", "resource": "pods"}]}, "checks[0].verb"),
    ({"checks": [{"verb": "get", "resource": " "}]}, "checks[0].resource"),
])
def test_bad_input_names_the_option_before_anything_is_asked(params, option):
    with pytest.raises(InputError) as caught:
        kube_access.checks_from_params(params)
    assert caught.value.option == option


def test_each_answer_of_the_cluster_is_kept_with_its_check():
    """Against the lab's own RBAC evaluation: the SRE may run the fallback, the viewer only reads."""
    sre = rbac.User("kube-sre", [{"verbs": ["get", "list"], "apiGroups": ["*"], "resources": ["*"]},
                                 {"verbs": ["patch"], "apiGroups": ["argoproj.io"], "resources": ["rollouts", "rollouts/status"]},
                                 {"verbs": ["patch"], "apiGroups": ["networking.k8s.io"], "resources": ["ingresses"]},
                                 {"verbs": ["patch"], "apiGroups": ["apps"], "resources": ["deployments/scale"],
                                  "namespaces": ["ofm-production"]}])
    viewer = rbac.User("kube-viewer", [{"verbs": ["get", "list"], "apiGroups": ["*"], "resources": ["*"]}])
    checks = kube_access.checks_from_params(PRESET)
    sent: list[dict[str, Any]] = []

    def as_user(user):
        def create(body):
            sent.append(body)
            return rbac.review(user, body)
        return create

    assert all(answer.allowed for answer in kube_access.review(as_user(sre), checks, "test"))
    answers = kube_access.review(as_user(viewer), checks, "test")
    assert [answer.allowed for answer in answers] == [True, False, True, False, True, True, False, False]
    assert answers[1].denied and "no rule of kube-viewer allows patch rollouts/status" in answers[1].reason
    assert sent[1]["spec"]["resourceAttributes"] == {"verb": "patch", "group": "argoproj.io", "resource": "rollouts",
                                                     "namespace": "ofm-production", "subresource": "status", "name": "api-rollout"}
    other_namespace = kube_access.checks_from_params({**PRESET, "namespace": "staging"})
    assert not kube_access.review(as_user(sre), other_namespace, "test")[-1].allowed, "a rule limited to a namespace"


def test_an_unknown_verb_lists_the_accepted_ones():
    with pytest.raises(InputError) as caught:
        kube_access.checks_from_params({"checks": [{"verb": "get", "resource": "pods"}, {"verb": "escalate", "resource": "pods"}]})
    result = caught.value.to_result()
    assert result["error"]["option"] == "checks[1].verb"
    assert "patch" in str(result["error"]["accepted"]) and "deletecollection" in str(result["error"]["accepted"])


def test_a_check_without_namespace_takes_the_modules_and_the_core_group_is_sent_empty():
    checks = kube_access.checks_from_params({"namespace": "ofm", "checks": [{"verb": "get", "resource": "pods"},
                                                                            {"verb": "get", "resource": "pods", "namespace": "kube-system"}]})
    assert [check.namespace for check in checks] == ["ofm", "kube-system"]
    assert checks[0].attributes() == {"verb": "get", "group": "", "resource": "pods", "namespace": "ofm"}


def test_the_clients_model_objects_are_read_too():
    """The kubernetes client returns V1SelfSubjectAccessReview objects, not dicts."""
    client = pytest.importorskip("kubernetes.client")
    check = kube_access.Check("patch", "apps", "deployments", "ofm", "scale", "api")

    def create(body):
        spec = client.V1SelfSubjectAccessReviewSpec(resource_attributes=client.V1ResourceAttributes(**body["spec"]["resourceAttributes"]))
        return client.V1SelfSubjectAccessReview(spec=spec, status=client.V1SubjectAccessReviewStatus(
            allowed=False, denied=True, reason="RBAC: not allowed"))
    [answer] = kube_access.review(create, [check], "test")
    assert (answer.allowed, answer.denied, answer.reason) == (False, True, "RBAC: not allowed")
    assert answer.as_dict()["description"] == "patch apps/deployments/scale api in ofm"


def api_exception(status: int, message: str = "nope"):
    exceptions = pytest.importorskip("kubernetes.client.exceptions")
    exc = exceptions.ApiException(status=status, reason="x")
    exc.body = json.dumps({"kind": "Status", "message": message, "code": status})
    return exc


@pytest.mark.parametrize("status, error_type, attempts", [
    (401, "AuthenticationError", None), (403, "AuthorizationError", None), (503, "UnavailableError", 3), (None, "UnavailableError", 3)])
def test_a_failed_review_is_the_collections_error_transient_ones_after_retries(status, error_type, attempts):
    calls, sleeps = [], []

    def create(body):
        calls.append(body)
        if status is None:
            raise OSError("connection refused")
        raise api_exception(status, "selfsubjectaccessreviews.authorization.k8s.io is forbidden")
    with pytest.raises(OfmRollbackError) as caught:
        kube_access.review(create, kube_access.checks_from_params(PRESET), "https://k8s:6443", sleep=sleeps.append)
    error = caught.value
    assert type(error).__name__ == error_type
    assert error.operation == "SelfSubjectAccessReview" and error.target == "https://k8s:6443"
    assert len(calls) == (attempts or 1), "only transient failures are retried, and the first check's failure ends the review"
    assert getattr(error, "attempts", None) == attempts
    assert len(sleeps) == len(calls) - 1


def test_whoami_says_the_user_when_the_cluster_does_and_none_otherwise():
    client = pytest.importorskip("kubernetes.client")
    reviewed = client.V1SelfSubjectReview(status=client.V1SelfSubjectReviewStatus(user_info=client.V1UserInfo(username="kube-sre")))
    assert kube_access.whoami(lambda body: reviewed, "test") == "kube-sre"
    assert kube_access.whoami(lambda body: {"status": {"userInfo": {"username": "jane"}}}, "test") == "jane"
    assert kube_access.whoami(lambda body: {"status": {}}, "test") is None

    def older_cluster(body):
        raise api_exception(404, "the server could not find the requested resource")
    assert kube_access.whoami(older_cluster, "test") is None
