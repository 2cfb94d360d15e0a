# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""k8s_access_info: its docs, and bad input refused before any request (the review itself: integration test)."""
from __future__ import annotations

import pytest
from unithelpers import documented_options, mismatches, run_module

from ansible_collections.ofm.rollback.plugins.doc_fragments import kube
from ansible_collections.ofm.rollback.plugins.modules import k8s_access_info

pytestmark = pytest.mark.usefixtures("module_runner")


def test_docs_match_the_argument_spec():
    assert mismatches(k8s_access_info.ARGUMENT_SPEC, documented_options(k8s_access_info, kube)) == []


@pytest.mark.parametrize("args, option", [
    ({"preset": "emergency_fallback", "rollout": "r", "canary_ingress": "i"}, "canary_deployment"),
    ({"checks": [{"verb": "get", "resource": ""}]}, "checks[0].resource"),
    ({}, "checks"),
])
def test_bad_input_fails_before_any_request(args, option):
    failed, result, _warnings = run_module(k8s_access_info, {"host": "http://127.0.0.1:1", **args})
    assert failed and result["error"]["option"] == option and result["changed"] is False
