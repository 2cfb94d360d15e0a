# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""rollback_authorize's main() against the fake ops API of test_ops_api_info (the production auth answers)."""
from __future__ import annotations

import json
import socket
from typing import Any

import pytest
from unithelpers import ADMIN_SESSION, VIEWER_TOKEN, free_port, run_module

from ansible_collections.ofm.rollback.plugins.modules import rollback_authorize

pytestmark = pytest.mark.usefixtures("module_runner")


def run(args: dict[str, Any]) -> tuple[bool, dict[str, Any]]:
    failed, result, _warnings = run_module(rollback_authorize, args)
    return failed, result


def test_an_admin_session_is_authorized_by_one_probe_and_no_health_call(ops):
    failed, result = run({"ops_api_url": ops.url, "ops_api_session_cookie": ADMIN_SESSION, "operator": "bob"})
    assert not failed, result
    assert result["authorized"] is True and result["authority"] == "ops API (admin role)" and result["changed"] is False
    assert ops.seen == [("GET", "/internal/ops/logs?lines=1")]
    assert ADMIN_SESSION not in json.dumps(result)


def test_a_listed_admin_asks_nothing(ops):
    failed, result = run({"ops_api_url": ops.url, "ops_api_token": VIEWER_TOKEN, "operator": "alice", "admins": ["alice"]})
    assert not failed and result["authority"] == "incident_admins list" and ops.seen == [] and result["requests"] == []


def test_a_viewer_is_refused_naming_its_roles_and_the_secret_stays_out(ops):
    failed, result = run({"ops_api_url": ops.url, "ops_api_token": VIEWER_TOKEN, "operator": "vic"})
    assert failed
    assert result["msg"] == ("Refused: vic is not in incident_admins and the ops API reports the roles viewer; the admin role is required. "
                             "Nothing was changed.")
    assert VIEWER_TOKEN not in json.dumps(result)


def test_a_refused_connection_needs_the_clusters_rbac_or_refuses_without_it():
    port = free_port()
    with socket.socket() as closed:  # nothing listens on the port
        closed.bind(("127.0.0.1", port))
    args = {"ops_api_url": f"http://127.0.0.1:{port}", "ops_api_token": "carol-token-SECRET-31", "operator": "carol", "timeout": 2, "retries": 1}
    failed, result = run(args)
    assert not failed and result["needs_rbac"] is True and result["authorized"] is None and result["ops_api_down"] is True
    failed, result = run({**args, "rbac_fallback": False})
    assert failed and "could not be asked either (RBAC authority disabled)" in result["msg"]


@pytest.mark.parametrize("args, option", [({"operator": "bob", "timeout": "soon"}, "timeout"),
                                          ({"operator": "bob", "admins": "alice"}, None),
                                          ({"operator": "bob", "ops_api_url": "ftp://ops"}, "ops_api_url")])
def test_bad_options_are_refused_before_any_request(ops, args, option):
    failed, result = run({"ops_api_url": ops.url, "ops_api_token": VIEWER_TOKEN, **args})
    if option is None:  # a comma-separated string is a valid list to Ansible: alice is listed, bob still is not
        assert failed and "Refused: bob" in result["msg"]
        return
    assert failed and option in result["msg"] and ops.seen == []
