# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""k8s_rollout_undo: its documentation matches its argument spec, and option errors come before any connection."""
from __future__ import annotations
import pytest

from unithelpers import documented_options, mismatches, run_module

from ansible_collections.ofm.rollback.plugins.doc_fragments import kube
from ansible_collections.ofm.rollback.plugins.modules import k8s_rollout_info, k8s_rollout_undo

# Every test runs main() as a module process would, and in process as the action plugin does.
pytestmark = pytest.mark.usefixtures("module_runner")


def test_docs_match_the_argument_spec():
    assert mismatches(k8s_rollout_undo.ARGUMENT_SPEC, documented_options(k8s_rollout_undo, kube)) == []


def test_name_and_label_selector_are_exclusive():
    failed, result, _warnings = run_module(k8s_rollout_undo, {"name": "web", "label_selector": "app=web", "host": "http://127.0.0.1:1"})
    assert failed and "mutually exclusive: name|label_selector" in result["msg"]


def test_an_unreachable_api_server_is_reported_without_the_token():
    failed, result, _warnings = run_module(k8s_rollout_undo, {"name": "web", "host": "http://127.0.0.1:1", "api_key": "s3cret-token"})
    assert failed and result["error"]["type"] == "UnavailableError"
    assert result["msg"].startswith("Kubernetes API: API discovery on http://127.0.0.1:1 failed")
    assert "s3cret-token" not in str(result) and result["changed"] is False


def test_info_docs_match_the_argument_spec():
    assert mismatches(k8s_rollout_info.ARGUMENT_SPEC, documented_options(k8s_rollout_info, kube)) == []
