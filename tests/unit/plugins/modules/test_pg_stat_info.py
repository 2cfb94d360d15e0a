# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""pg_stat_info's main() without a database: unreachable, bad input, docs. The lab's PostgreSQL: tests/integration."""
from __future__ import annotations

import json

import pytest
from unithelpers import doc_options, documented_options, free_port, mismatches, run_module

from ansible_collections.ofm.rollback.plugins.doc_fragments import pg_connection as pg_connection_fragment
from ansible_collections.ofm.rollback.plugins.modules import pg_stat_info

pytestmark = pytest.mark.usefixtures("module_runner")

PASSWORD = "db-SECRET-9e1f"


def database(**fields):
    return {"host": "127.0.0.1", "port": free_port(), "database": "ofm", "user": "ofm_monitor", "password": PASSWORD,
            "connect_timeout": 2, **fields}


def test_unreachable_database_is_unknown_with_unavailable_is_unknown():
    failed, result, _warnings = run_module(pg_stat_info, {"database": database(), "unavailable_is": "unknown", "sample": "1s"})
    assert not failed
    assert (result["status"], result["unknown_checks"], result["available"]) == ("unknown", ["queries", "connection_pool"], False)
    assert "PostgreSQL could not be asked" in result["checks"][0]["detail"]
    assert PASSWORD not in json.dumps(result)


def test_unreachable_database_fails_by_default_without_the_password():
    failed, result, _warnings = run_module(pg_stat_info, {"database": database()})
    assert failed and result["msg"].startswith("PostgreSQL: connect on ofm_monitor@127.0.0.1:")
    assert PASSWORD not in json.dumps(result)


@pytest.mark.parametrize("args, option", [
    ({"sample": "0s"}, "sample"),
    ({"max_ratio": 0.5}, "max_ratio"),
    ({"top": 101}, "top"),
])
def test_bad_input_names_the_option(args, option):
    failed, result, _warnings = run_module(pg_stat_info, {"database": database(), **args})
    assert failed and result["error"]["option"] == option


def test_docs_match_argument_spec():
    docs = {**doc_options(pg_connection_fragment.ModuleDocFragment.DATABASE), **documented_options(pg_stat_info)}
    assert mismatches(pg_stat_info.ARGUMENT_SPEC, docs) == []
