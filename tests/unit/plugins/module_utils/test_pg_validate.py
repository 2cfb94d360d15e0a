# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""pg_validate's option checks, verdicts and the validator's behaviour when nothing can be reached (the rest runs against the lab)."""
from __future__ import annotations

import subprocess
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

import pytest
from unithelpers import free_port

from ansible_collections.ofm.rollback.plugins.module_utils.postgres.validate import backup_status as bs
from ansible_collections.ofm.rollback.plugins.module_utils.postgres.validate import data_integrity as di
from ansible_collections.ofm.rollback.plugins.module_utils.postgres.validate import options as vo
from ansible_collections.ofm.rollback.plugins.module_utils.postgres.validate import performance as perf
from ansible_collections.ofm.rollback.plugins.module_utils.postgres.validate import results as vr
from ansible_collections.ofm.rollback.plugins.module_utils.postgres.validate import schema_version as sv
from ansible_collections.ofm.rollback.plugins.module_utils.postgres.validate import validator as vv
from ansible_collections.ofm.rollback.plugins.module_utils.errors import InputError
from ansible_collections.ofm.rollback.plugins.module_utils.postgres.connection import connection_from_params

SECRET = "s3cret-Pw!unit"


def params(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {"sandbox": {"host": "127.0.0.1", "port": 5432, "database": "ofm", "user": "admin", "password": SECRET},
                              "source": None, "app": None, "only": [], "schema_version": {}, "data_integrity": {},
                              "application_compatibility": {}, "performance": {}, "backup_status": {}, "query_timeout": "5m"}
    values.update(overrides)
    return values


# --- connections -----------------------------------------------------------------------------------------------------

def test_connection_defaults_and_app_inheritance():
    sandbox = connection_from_params({"port": 6543, "database": "ofm", "password": "pw", "sslmode": "require"}, "sandbox")
    assert (sandbox.host, sandbox.port, sandbox.database, sandbox.user, sandbox.sslmode, sandbox.connect_timeout) == \
        ("localhost", 6543, "ofm", "postgres", "require", 10)
    app = connection_from_params({"user": "ofm_app", "password": "apppw"}, "app", inherit=sandbox)
    assert (app.host, app.port, app.database, app.user, app.password, app.sslmode) == ("localhost", 6543, "ofm", "ofm_app", "apppw", "require")
    assert connection_from_params(None, "source") is None
    pitr = connection_from_params({"port": 55432}, "sandbox", defaults={"host": "127.0.0.1"})
    assert (pitr.host, pitr.port) == ("127.0.0.1", 55432)
    assert connection_from_params({"host": "db", "port": 55432}, "sandbox", defaults={"host": "127.0.0.1"}).host == "db"


def test_without_a_sandbox_there_is_nothing_to_validate():
    with pytest.raises(InputError) as caught:
        vo.check_options(params(sandbox=None))
    assert caught.value.option == "sandbox" and "nothing to validate" in caught.value.reason


@pytest.mark.parametrize("option, suboptions, inherit, named", [
    ("sandbox", {"port": 0}, False, "sandbox.port"),
    ("source", {"port": 70000}, False, "source.port"),
    ("sandbox", {"connect_timeout": 0}, False, "sandbox.connect_timeout"),
    ("sandbox", {"sslmode": "always"}, False, "sandbox.sslmode"),
    ("app", {"password": "x"}, True, "app.user"),
    ("sandbox", {"host": ""}, False, "sandbox.host"),
])
def test_bad_connection_options_name_the_suboption(option, suboptions, inherit, named):
    base = connection_from_params({}, "sandbox") if inherit else None
    with pytest.raises(InputError) as caught:
        connection_from_params(suboptions, option, inherit=base)
    assert caught.value.option == named


def test_conninfo_quotes_and_leaves_out_the_password():
    conn = connection_from_params({"host": "/run/my sockets", "user": "o'brien", "password": SECRET}, "sandbox")
    assert conn.conninfo() == ("host='/run/my sockets' port=5432 dbname=postgres user='o\\'brien' sslmode=prefer connect_timeout=10")
    assert SECRET not in conn.conninfo()


def test_libpq_env_passes_the_password_and_drops_the_callers_pg_settings(monkeypatch):
    monkeypatch.setenv("PGHOST", "elsewhere")
    monkeypatch.setenv("PGPASSWORD", "not-this-one")
    env = connection_from_params({"password": SECRET}, "source").libpq_env()
    assert env["PGPASSWORD"] == SECRET and "PGHOST" not in env and "PATH" in env
    assert "PGPASSWORD" not in connection_from_params({}, "source").libpq_env()


# --- options -----------------------------------------------------------------------------------------------------------

def test_options_parse():
    options = vo.check_options(params(
        source={"host": "src", "password": "srcpw"}, app={"user": "ofm_app", "password": "apppw"},
        schema_version={"table": "public.schema_migrations", "column": "version", "expected": 20261101},
        data_integrity={"tables": ["posts", "public.creators"], "row_counts": [{"table": "posts", "compare_to_source": True,
                                                                               "source_tolerance": 0.1}],
                        "assertions": [{"name": "limits", "query": " SELECT 4 ", "expected": 4}]},
        application_compatibility={"smoke_queries": [{"query": "SELECT 1"}, {"name": "posts", "query": "SELECT * FROM posts"}]},
        performance={"queries": [{"name": "q", "query": "SELECT 1", "budget": "250ms", "runs": 3, "statistic": "max"}]},
        only=["schema_version", "performance"]))
    assert options.schema_table == ("public", "schema_migrations") and options.expected_version == "20261101"
    assert options.tables == ("posts", "public.creators")
    assert options.row_counts[0] == vo.RowCountRule(("posts",), None, None, True, 0.1)
    assert options.assertions[0] == vo.Assertion("limits", "SELECT 4", 4, True, None)
    assert [query.name for query in options.smoke_queries] == ["smoke_query_1", "posts"]
    assert options.performance[0] == vo.NamedQuery("q", "SELECT 1", 0.25, 3, "max")
    assert options.only == ("schema_version", "performance")
    assert options.query_timeout == 300.0 and options.backup.timeout == 3600.0
    assert set(options.secrets) == {SECRET, "srcpw", "apppw"}


@pytest.mark.parametrize("overrides, option", [
    ({"only": ["schema", "performance"]}, "only"),
    ({"schema_version": {"table": "drop table x;"}}, "schema_version.table"),
    ({"schema_version": {"column": "a b"}}, "schema_version.column"),
    ({"data_integrity": {"tables": ["a.b.c"]}}, "data_integrity.tables"),
    ({"data_integrity": {"row_counts": [{"table": "posts"}]}}, "data_integrity.row_counts[0]"),
    ({"data_integrity": {"row_counts": [{"table": "posts", "min": -1}]}}, "data_integrity.row_counts[0].min"),
    ({"data_integrity": {"row_counts": [{"table": "posts", "min": 5, "max": 4}]}}, "data_integrity.row_counts[0].max"),
    ({"data_integrity": {"row_counts": [{"table": "posts", "compare_to_source": True, "source_tolerance": 1.5}]}},
     "data_integrity.row_counts[0].source_tolerance"),
    ({"data_integrity": {"row_counts": [{"table": "posts", "compare_to_source": True}]}}, "source"),
    ({"data_integrity": {"row_counts": [{"table": "posts", "min": 1}, {"table": "posts", "max": 9}]}}, "data_integrity.row_counts[1].table"),
    ({"data_integrity": {"assertions": [{"name": "a", "query": "SELECT 1"}]}}, "data_integrity.assertions[0]"),
    ({"data_integrity": {"assertions": [{"name": "a", "query": "  ", "expected": 1}]}}, "data_integrity.assertions[0].query"),
    ({"data_integrity": {"assertions": [{"name": "a", "query": "SELECT 1", "expected": 1},
                                        {"name": "a", "query": "SELECT 2", "expected": 2}]}}, "data_integrity.assertions[1].name"),
    ({"application_compatibility": {"smoke_queries": [{"query": "SELECT 1"}]}}, "app"),
    ({"performance": {"queries": [{"name": "q", "query": "SELECT 1", "budget": "fast"}]}}, "performance.queries[0].budget"),
    ({"performance": {"queries": [{"name": "q", "query": "SELECT 1", "budget": "0s"}]}}, "performance.queries[0].budget"),
    ({"performance": {"queries": [{"name": "q", "query": "SELECT 1", "budget": "1s", "runs": 1001}]}}, "performance.queries[0].runs"),
    ({"performance": {"queries": [{"name": "q", "query": "SELECT 1", "budget": "1s", "statistic": "p99"}]}},
     "performance.queries[0].statistic"),
    ({"backup_status": {"pgbackrest_config": "/etc/pgbackrest.conf"}}, "backup_status.pgbackrest_stanza"),
    ({"backup_status": {"timeout": "forever"}}, "backup_status.timeout"),
    ({"query_timeout": "-5s"}, "query_timeout"),
])
def test_bad_options_name_the_option_and_what_is_accepted(overrides, option):
    with pytest.raises(InputError) as caught:
        vo.check_options(params(**overrides))
    assert caught.value.option == option
    assert caught.value.hint.startswith("Accepted")
    assert option.split("[")[0].split(".")[0] in str(caught.value)


# --- verdicts ----------------------------------------------------------------------------------------------------------

def test_schema_version_verdicts():
    assert sv.judge_schema_version("20261101_003", "20261101_003", "t.v").status == "ok"
    wrong = sv.judge_schema_version("20261015_002", "20261101_003", "t.v")
    assert (wrong.status, wrong.detail) == ("failed", "schema version is 20261015_002, expected 20261101_003")
    assert sv.judge_schema_version(None, "1", "schema_migrations.version").detail == "schema_migrations.version holds no version"


@pytest.mark.parametrize("rule, count, source, status", [
    (vo.RowCountRule(("posts",), minimum=10), 10, None, "ok"),
    (vo.RowCountRule(("posts",), minimum=10), 9, None, "failed"),
    (vo.RowCountRule(("posts",), maximum=10), 10, None, "ok"),
    (vo.RowCountRule(("posts",), maximum=10), 11, None, "failed"),
    (vo.RowCountRule(("posts",), compare_to_source=True), 100, 100, "ok"),
    (vo.RowCountRule(("posts",), compare_to_source=True), 99, 100, "failed"),
    (vo.RowCountRule(("posts",), compare_to_source=True, source_tolerance=0.1), 90, 100, "ok"),
    (vo.RowCountRule(("posts",), compare_to_source=True, source_tolerance=0.1), 89, 100, "failed"),
    (vo.RowCountRule(("posts",), compare_to_source=True, source_tolerance=0.1), 110, 100, "ok"),
    (vo.RowCountRule(("posts",), compare_to_source=True, source_tolerance=0.1), 111, 100, "failed"),
])
def test_row_count_thresholds_are_inclusive(rule, count, source, status):
    assert di.judge_row_count(rule, count, source).status == status


def test_row_count_reports_every_problem_and_the_measures():
    outcome = di.judge_row_count(vo.RowCountRule(("public", "posts"), minimum=500, compare_to_source=True, source_tolerance=0.05), 400, 1000)
    assert outcome.status == "failed"
    assert outcome.detail == ("public.posts: 400 rows, fewer than the minimum 500; 400 rows against 1000 in the source, "
                              "a difference of -600 beyond the 50 allowed")
    assert outcome.measured == {"rows": 400, "min": 500, "max": None, "source_rows": 1000, "difference": -600, "allowed_difference": 50}


@pytest.mark.parametrize("found, expected, equal", [
    (4, 4, True), (4, "4", True), ("4", 4, True), (Decimal("1.50"), 1.5, True), (True, "true", True), (False, True, False),
    (None, "None", False), (5, 4, False), ("abc", "abc", True),
])
def test_assertion_values_compare_as_values_or_text(found, expected, equal):
    assert di.values_equal(found, expected) is equal


def test_assertion_verdicts():
    count_four = vo.Assertion("limits", "q", expected=4, has_expected=True)
    assert di.judge_assertion(count_four, [(4,)]).status == "ok"
    failed = di.judge_assertion(count_four, [(3,)])
    assert (failed.status, failed.detail) == ("failed", "value 3, expected 4")
    assert di.judge_assertion(count_four, []).detail == "no row, expected the value 4"
    rows = vo.Assertion("orphans", "q", expected_rows=0)
    assert di.judge_assertion(rows, []).status == "ok"
    assert di.judge_assertion(rows, [(1,), (2,)]).detail == "2 rows, expected 0"
    both = vo.Assertion("b", "q", expected="x", has_expected=True, expected_rows=1)
    assert di.judge_assertion(both, [("y",), ("x",)]).detail == "2 rows, expected 1; value 'y', expected 'x'"


def test_latency_judges_the_chosen_statistic_at_the_budget_boundary():
    timings = [0.010, 0.020, 0.100]
    p50 = perf.judge_latency(vo.NamedQuery("q", "SELECT 1", budget=0.020, runs=3, statistic="p50"), timings)
    assert p50.status == "ok" and p50.measured["p50"] == 0.02 and p50.measured["max"] == 0.1
    assert p50.detail == "p50 20.0 ms over 3 runs (p50 20.0 ms, max 100.0 ms), budget 20.0 ms"
    assert perf.judge_latency(vo.NamedQuery("q", "SELECT 1", budget=0.0199, runs=3), timings).status == "failed"
    assert perf.judge_latency(vo.NamedQuery("q", "SELECT 1", budget=0.05, runs=3, statistic="max"), timings).status == "failed"
    assert perf.judge_latency(vo.NamedQuery("q", "SELECT 1", budget=0.1, runs=3, statistic="max"), timings).status == "ok"


def _at(minute: int) -> datetime:
    return datetime(2026, 11, 28, 3, minute, tzinfo=timezone.utc)


@pytest.mark.parametrize("mode, stats, status, words", [
    ("on", {"failed_count": 0, "last_archived_time": _at(5), "last_archived_wal": "0001", "last_failed_time": None}, "ok", "last WAL archived: 0001"),
    ("on", {"failed_count": 3, "last_archived_time": _at(1), "last_failed_time": _at(2), "last_failed_wal": "0002"}, "failed",
     "the last archive attempt failed: WAL 0002"),
    ("on", {"failed_count": 3, "last_archived_time": _at(3), "last_failed_time": _at(2), "last_archived_wal": "0003"}, "ok",
     "3 earlier failures, archiving has succeeded since"),
    ("on", {"failed_count": 1, "last_archived_time": None, "last_failed_time": _at(2), "last_failed_wal": "0001"}, "failed", "last success: never"),
    ("always", {"failed_count": 0, "last_archived_time": None, "last_failed_time": None}, "ok", "nothing has failed"),
    ("off", {"failed_count": 0, "last_archived_time": None, "last_failed_time": None}, "failed", "archive_mode is off"),
])
def test_archiver_verdicts(mode, stats, status, words):
    outcome = bs.judge_archiver(mode, stats)
    assert outcome.status == status and words in outcome.detail
    assert outcome.measured["archive_mode"] == mode
    assert all(not isinstance(value, datetime) for value in outcome.measured.values())


def test_plain_makes_values_json_safe():
    assert vr.plain(datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)) == "2026-01-02T03:04:05+00:00"
    assert vr.plain(Decimal("3")) == 3 and vr.plain(Decimal("2.5")) == 2.5
    assert vr.plain([Decimal("1"), {"a": b"x"}]) == [1, {"a": "b'x'"}]


def _check(category: str, status: str) -> vr.CheckResult:
    return vr.CheckResult(category, f"{category}-{status}", status, "", {}, 0.0)


def test_summary_passed_and_message():
    checks = [_check("schema_version", "ok"), _check("data_integrity", "ok"), _check("data_integrity", "failed"),
              _check("performance", "skipped")]
    summary = vr.summarize(checks)
    assert summary["data_integrity"] == {"status": "failed", "ok": 1, "failed": 1, "skipped": 0}
    assert summary["performance"]["status"] == "skipped" and summary["backup_status"] == {"status": "skipped", "ok": 0, "failed": 0, "skipped": 0}
    assert summary["schema_version"]["status"] == "ok"
    assert not vr.passed(checks)
    assert vr.message(checks) == "sandbox validation failed: data_integrity-failed (4 checks: 2 ok, 1 failed, 1 skipped)"
    assert vr.passed([_check("schema_version", "ok"), _check("performance", "skipped")])
    assert not vr.passed([_check("performance", "skipped")])
    assert vr.message([_check("performance", "skipped")]).startswith("sandbox validation no check ran")


# --- the validator without a reachable database ------------------------------------------------------------------------

def test_an_unreachable_sandbox_fails_every_check_that_needs_it_and_runs_them_all(tmp_path):
    port = free_port()
    options = vo.check_options(params(
        sandbox={"host": "127.0.0.1", "port": port, "database": "ofm", "user": "admin", "password": SECRET, "connect_timeout": 2},
        schema_version={"expected": "1"}, data_integrity={"tables": ["posts"], "row_counts": [{"table": "posts", "min": 1}],
                                                          "assertions": [{"name": "a", "query": "SELECT 1", "expected": 1}]},
        performance={"queries": [{"name": "q", "query": "SELECT 1", "budget": "1s", "runs": 2}]},
        backup_status={"work_dir": str(tmp_path), "pg_bin_dir": str(tmp_path / "no-bin")}))
    validator = vv.Validator(options)
    checks = {check.name: check for check in validator.run()}
    assert list(checks) == ["schema_version", "tables_present", "row_count:posts", "amcheck", "constraints_valid", "assertion:a",
                            "app_connect", "latency:q", "new_backup", "source_archiver", "pgbackrest_check"]
    for name in ("schema_version", "tables_present", "row_count:posts", "amcheck", "constraints_valid", "assertion:a", "latency:q"):
        assert checks[name].status == "failed" and "OperationalError" in checks[name].detail and str(port) in checks[name].detail
    assert checks["new_backup"].status == "failed" and "pg_basebackup' was not found (option backup_status.pg_bin_dir)" in checks["new_backup"].detail
    assert not list(tmp_path.iterdir()), "the temporary backup directory is removed"
    assert (checks["app_connect"].status, checks["app_connect"].detail) == ("skipped", "no application role given (app)")
    assert checks["source_archiver"].detail == "no source connection given (source)"
    assert checks["pgbackrest_check"].detail == "no pgBackRest stanza given (backup_status.pgbackrest_stanza)"
    result = validator.result()
    assert result["passed"] is False and result["summary"]["application_compatibility"]["status"] == "skipped"
    assert SECRET not in repr(result)
    assert result["started_at"] <= result["finished_at"]


def test_check_mode_skips_what_writes_and_unselected_categories_are_skipped():
    options = vo.check_options(params(only=["backup_status"], schema_version={"expected": "1"},
                                      backup_status={"pgbackrest_stanza": "ofm", "pgbackrest_bin": "/nonexistent/pgbackrest"}))
    checks = {check.name: check for check in vv.Validator(options, check_mode=True).run()}
    assert checks["schema_version"].status == "skipped"
    assert checks["schema_version"].detail == "category schema_version not selected (only: backup_status)"
    assert checks["new_backup"].status == "skipped" and checks["new_backup"].detail.startswith("check mode: would write a base backup")
    assert checks["pgbackrest_check"].status == "failed"
    assert "'/nonexistent/pgbackrest' was not found (option backup_status.pgbackrest_bin)" in checks["pgbackrest_check"].detail


def test_a_work_dir_that_does_not_exist_fails_the_new_backup_check_only(tmp_path):
    options = vo.check_options(params(only=["backup_status"], backup_status={"work_dir": str(tmp_path / "missing")}))
    checks = {check.name: check for check in vv.Validator(options).run()}
    assert checks["new_backup"].status == "failed" and checks["new_backup"].detail.startswith("FileNotFoundError:")
    assert [checks[name].status for name in ("source_archiver", "pgbackrest_check")] == ["skipped", "skipped"]


def test_backup_commands_go_through_the_injected_runner_with_the_password_in_the_environment_only():
    calls = []

    def fake(argv, timeout, env=None, cwd=None):
        calls.append((argv, timeout, env))
        return subprocess.CompletedProcess(argv, 37, "", f"P00  ERROR: [037]: stanza 'ofm' does not exist (connected with {SECRET})\n")

    options = vo.check_options(params(only=["backup_status"], source={"host": "db", "user": "reader", "password": SECRET},
                                      backup_status={"pgbackrest_stanza": "ofm", "new_backup": False, "archiver": False, "timeout": "90s"}))
    validator = vv.Validator(options, runner=fake)
    checks = {check.name: check for check in validator.run()}
    assert checks["pgbackrest_check"].status == "failed"
    assert checks["pgbackrest_check"].detail == "pgbackrest exited 37: P00  ERROR: [037]: stanza 'ofm' does not exist (connected with ********)"
    argv, timeout, env = calls[0]
    assert argv == ["pgbackrest", "--stanza=ofm", "--log-level-file=off", "--pg1-user=reader", "check"] and timeout == 90
    assert env["PGPASSWORD"] == SECRET and SECRET not in argv
    commands = validator.result()["commands"]
    assert [(command["argv"], command["rc"]) for command in commands] == [(argv, 37)] and commands[0]["duration"] >= 0


def test_each_category_is_one_module_and_they_run_in_the_documented_order():
    assert tuple(module.CATEGORY for module in vv.CATEGORY_MODULES) == vo.CATEGORIES
