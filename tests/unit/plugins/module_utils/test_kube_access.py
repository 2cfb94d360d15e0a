# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""kube_access: the checks asked for, the emergency fallback's verbs, and the cluster's answers mapped."""
from __future__ import annotations

from typing import Any

import pytest

from ansible_collections.ofm.rollback.plugins.module_utils import kube_access
from ansible_collections.ofm.rollback.plugins.module_utils.errors import InputError
from lab.services.kube import rbac

PRESET = {"namespace": "ofm-production", "preset": "emergency_fallback", "rollout": "api-rollout", "canary_ingress": "api-canary",
          "canary_deployment": "api-canary"}


def test_the_preset_asks_for_exactly_what_the_fallback_does():
    described = [check.describe() for check in kube_access.checks_from_params(PRESET)]
    assert described == ["get argoproj.io/rollouts api-rollout in ofm-production",
                         "patch argoproj.io/rollouts/status api-rollout in ofm-production",
                         "patch argoproj.io/rollouts api-rollout in ofm-production",
                         "list apps/replicasets in ofm-production",
                         "patch networking.k8s.io/ingresses api-canary in ofm-production",
                         "patch apps/deployments/scale api-canary in ofm-production"]


@pytest.mark.parametrize("params, option", [
    ({**PRESET, "rollout": None}, "rollout"),
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
    assert [answer.allowed for answer in answers] == [True, False, False, True, False, False]
    assert answers[1].denied and "no rule of kube-viewer allows patch rollouts/status" in answers[1].reason
    assert sent[1]["spec"]["resourceAttributes"] == {"verb": "patch", "group": "argoproj.io", "resource": "rollouts",
                                                     "namespace": "ofm-production", "subresource": "status", "name": "api-rollout"}
    other_namespace = kube_access.checks_from_params({**PRESET, "namespace": "staging"})
    assert not kube_access.review(as_user(sre), other_namespace, "test")[-1].allowed, "a rule limited to a namespace"
