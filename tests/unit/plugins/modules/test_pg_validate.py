# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""pg_validate's main(): bad input fails before any connection; failures come back with every check (lab runs: tests/integration)."""
from __future__ import annotations

import json

import pytest
from unithelpers import free_port, run_module

from ansible_collections.ofm.rollback.plugins.modules import pg_validate

pytestmark = pytest.mark.usefixtures("module_runner")

SECRET = "unit-Secr3t-pw"


def sandbox(port: int) -> dict:
    return {"host": "127.0.0.1", "port": port, "database": "ofm", "user": "ofm_admin", "password": SECRET, "connect_timeout": 2}


def test_bad_input_fails_naming_the_option_before_any_query():
    failed, result, _warnings = run_module(pg_validate, {"sandbox": sandbox(free_port()), "performance": {"queries": [
        {"name": "q", "query": "SELECT 1", "budget": "quick"}]}})
    assert failed
    assert result["error"]["option"] == "performance.queries[0].budget" and "quick" in result["msg"]
    assert "Accepted: a Prometheus duration" in result["msg"]
    assert "checks" not in result and "queries" not in result


def test_ansible_rejects_an_unknown_category_with_the_accepted_values():
    failed, result, _warnings = run_module(pg_validate, {"sandbox": sandbox(free_port()), "only": ["schema"]})
    assert failed and "only" in result["msg"] and "schema_version" in result["msg"]


def test_failed_checks_fail_the_task_with_every_check_unless_told_not_to():
    args = {"sandbox": sandbox(free_port()), "only": ["schema_version", "data_integrity"], "schema_version": {"expected": "1"},
            "data_integrity": {"tables": ["posts"]}}
    failed, result, _warnings = run_module(pg_validate, args)
    assert failed and result["passed"] is False and result["changed"] is False
    assert result["failed_checks"] == ["schema_version", "tables_present", "amcheck", "constraints_valid"]
    assert len(result["checks"]) == 9 and result["summary"]["backup_status"]["skipped"] == 3
    assert result["msg"].startswith("sandbox validation failed: schema_version, tables_present")
    assert SECRET not in json.dumps(result)
    failed, result, _warnings = run_module(pg_validate, {**args, "fail_on_failed": False})
    assert not failed and result["passed"] is False and len(result["checks"]) == 9
