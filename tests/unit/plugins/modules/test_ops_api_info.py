# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""ops_api_info's main() against a fake ops API with the production auth answers."""
from __future__ import annotations

import json
from typing import Any

import pytest
from unithelpers import ADMIN_SESSION, VIEWER_TOKEN, documented_options, free_port, mismatches, run_module

from ansible_collections.ofm.rollback.plugins.doc_fragments import http_client as http_client_fragment
from ansible_collections.ofm.rollback.plugins.doc_fragments import ops_api as ops_api_fragment
from ansible_collections.ofm.rollback.plugins.modules import ops_api_info

# Every test runs main() as a module process would, and in process as the action plugin does.
pytestmark = pytest.mark.usefixtures("module_runner")


def run(args: dict[str, Any]) -> tuple[bool, dict[str, Any]]:
    failed, result, _warnings = run_module(ops_api_info, args)
    return failed, result


def test_admin_session_is_admin(ops):
    failed, result = run({"ops_api_url": ops.url, "ops_api_session_cookie": ADMIN_SESSION})
    assert not failed
    assert result["changed"] is False
    assert (result["authenticated"], result["is_admin"], result["roles"]) == (True, True, ["admin"])
    assert result["health"]["service"] == "ofm-internal-ops"
    assert ops.seen == [("GET", "/health"), ("GET", "/internal/ops/logs?lines=1")]
    assert [entry["status"] for entry in result["requests"]] == [200, 200]
    assert ADMIN_SESSION not in json.dumps(result)


def test_viewer_token_lists_its_roles(ops):
    failed, result = run({"ops_api_url": ops.url, "ops_api_token": VIEWER_TOKEN})
    assert not failed
    assert (result["authenticated"], result["is_admin"], result["roles"]) == (True, False, ["viewer"])
    assert "does not hold the admin role" in result["msg"]
    assert VIEWER_TOKEN not in json.dumps(result)


def test_no_credentials_are_not_authenticated(ops):
    failed, result = run({"ops_api_url": ops.url})
    assert not failed
    assert (result["authenticated"], result["is_admin"], result["roles"]) == (False, False, [])


def test_credentials_come_from_the_environment(ops, monkeypatch):
    monkeypatch.setenv("OFM_OPS_API_SESSION", ADMIN_SESSION)
    failed, result = run({"ops_api_url": ops.url})
    assert not failed and result["is_admin"] is True


def test_ip_allow_list_leaves_identity_unknown(ops):
    ops.blocked = True
    failed, result = run({"ops_api_url": ops.url, "ops_api_session_cookie": ADMIN_SESSION})
    assert not failed
    assert (result["authenticated"], result["is_admin"], result["roles"]) == (None, False, None)
    assert "IP not allowed" in result["identity_detail"]


def test_unreachable_ops_api_fails_naming_it():
    url = f"http://127.0.0.1:{free_port()}"
    failed, result = run({"ops_api_url": url, "retries": 0})
    assert failed
    assert result["msg"].startswith(f"ops API: GET /health on {url}/health failed: could not connect")
    assert len(result["requests"]) == 1


def test_cookie_and_token_are_mutually_exclusive(ops):
    failed, result = run({"ops_api_url": ops.url, "ops_api_session_cookie": ADMIN_SESSION, "ops_api_token": VIEWER_TOKEN})
    assert failed
    assert "mutually exclusive: ops_api_session_cookie|ops_api_token" in result["msg"]
    assert ops.seen == []


def test_docs_match_argument_spec():
    assert mismatches(ops_api_info.ARGUMENT_SPEC, documented_options(ops_api_info, ops_api_fragment, http_client_fragment)) == []
