# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""pg_rollback_report's main(): files written once, check mode writes nothing, a missed target fails only when asked."""
from __future__ import annotations

import json
import stat

import pytest
from unithelpers import run_module

from ansible_collections.ofm.rollback.plugins.modules import pg_rollback_report

pytestmark = pytest.mark.usefixtures("module_runner")

ARGS = {"restore_started_at": "2026-11-28 03:00:00", "target_time": "2026-11-28T02:45:00Z", "reached_time": "2026-11-28T02:44:58Z",
        "validation": {"passed": True, "finished_at": "2026-11-28T03:04:10Z", "checks": [], "summary": {}}, "report_name": "dr-INC-7",
        "context": {"incident_id": "INC-7"}}


def test_writes_both_reports_then_changes_nothing(tmp_path):
    results = tmp_path / "results"
    failed, result, _warnings = run_module(pg_rollback_report, {**ARGS, "results_dir": str(results)})
    assert not failed and result["changed"] is True
    assert (result["rto_met"], result["rpo_met"], result["targets_met"], result["missed_targets"]) == (True, True, True, [])
    assert (result["rto_seconds"], result["rpo_seconds"]) == (250.0, 2.0)
    assert result["msg"] == "RTO 4m10s within 30m; RPO 2s within 15m; validation passed"
    written = json.loads((results / "dr-INC-7.json").read_text())
    assert written == result["report"] and written["times_taken_as_utc"] == ["restore_started_at"]
    assert (results / "dr-INC-7.md").read_text() == result["markdown"]
    assert stat.S_IMODE(results.stat().st_mode) == 0o700
    assert {stat.S_IMODE(path.stat().st_mode) for path in results.iterdir()} == {0o600}
    failed, again, _warnings = run_module(pg_rollback_report, {**ARGS, "results_dir": str(results)})
    assert not failed and again["changed"] is False and again["diff"] == []


def test_check_mode_returns_the_report_and_writes_nothing(tmp_path):
    results = tmp_path / "results"
    failed, result, _warnings = run_module(pg_rollback_report, {**ARGS, "results_dir": str(results)}, check_mode=True)
    assert not failed and result["changed"] is True and result["report"]["rto"]["achieved"] == "4m10s"
    assert not results.exists()
    assert [entry["before"] for entry in result["diff"]] == ["", ""]


def test_a_missed_target_fails_only_when_asked_and_the_reports_are_still_written(tmp_path):
    args = {**ARGS, "results_dir": str(tmp_path), "rto_target": "4m"}
    failed, result, _warnings = run_module(pg_rollback_report, args)
    assert not failed and result["missed_targets"] == ["rto"]
    (tmp_path / "dr-INC-7.json").unlink()
    failed, result, _warnings = run_module(pg_rollback_report, {**args, "fail_on_missed": True})
    assert failed and result["msg"].startswith("missed: rto (RTO 4m10s MISSED, over 4m")
    assert (tmp_path / "dr-INC-7.json").exists()


def test_bad_input_names_the_option(tmp_path):
    failed, result, _warnings = run_module(pg_rollback_report, {**ARGS, "results_dir": str(tmp_path / "r"), "report_name": "../x"})
    assert failed and result["error"]["option"] == "report_name"
    failed, result, _warnings = run_module(pg_rollback_report, {**ARGS, "results_dir": str(tmp_path / "r"), "reached_time": "noon"})
    assert failed and result["error"]["option"] == "reached_time" and not (tmp_path / "r").exists()
