# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The rate-limit table's pure parts: the exact diff, the name checks and the mapping of connection errors."""
from __future__ import annotations

import pytest

from ansible_collections.ofm.rollback.plugins.module_utils.errors import AuthenticationError, DataError, InputError, UnavailableError
from ansible_collections.ofm.rollback.plugins.module_utils.postgres.connection import Connection
from ansible_collections.ofm.rollback.plugins.module_utils.postgres.rate_limits import RateLimitTable, connection_error, diff_rows

ROW = {"per_minute": 30, "per_hour": 600, "per_day": 6000, "burst": 5}
CONNECTION = Connection(name="database", host="db", port=5432, database="ofm", user="ofm_config", password="pw-123456")


def test_the_diff_adds_changes_and_removes_exactly():
    wanted = {"tiktok": ROW, "x": {**ROW, "burst": 9}}
    current = {"tiktok": {**ROW, "per_minute": 1}, "reddit": ROW}
    assert diff_rows(wanted, current) == {"added": ["x"], "changed": ["tiktok"], "removed": ["reddit"]}
    assert diff_rows(wanted, wanted) == {"added": [], "changed": [], "removed": []}


def test_a_row_with_other_columns_is_refused_before_anything_is_written():
    with pytest.raises(DataError, match="columns changed since the snapshot|columns"):
        diff_rows({"tiktok": {"per_minute": 1}}, {"tiktok": ROW})


@pytest.mark.parametrize("table", ["platform_rate_limits", "ops.platform_rate_limits"])
def test_plain_and_schema_qualified_table_names_are_accepted(table):
    assert RateLimitTable(CONNECTION, table=table).table == table


@pytest.mark.parametrize("table", ["x; DROP TABLE creators", "a.b.c", "", "1table"])
def test_anything_but_a_plain_name_is_refused_naming_the_option(table):
    with pytest.raises(InputError) as refused:
        RateLimitTable(CONNECTION, table=table)
    assert refused.value.option == "rate_limits_table"


def test_a_refused_login_names_the_options_and_hides_the_password():
    error = connection_error(Exception('connection failed: FATAL:  password authentication failed for user "ofm_config"'), CONNECTION, "read")
    assert isinstance(error, AuthenticationError)
    assert "database.password" in str(error) and "pw-123456" not in str(error)
    unreachable = connection_error(Exception("connection refused\nIs the server running?"), CONNECTION, "read")
    assert isinstance(unreachable, UnavailableError) and unreachable.sent is False and "connection refused" in str(unreachable)
