# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The RTO/RPO report: times, the met/missed boundaries, rendering, and files written once with their modes."""
from __future__ import annotations

import json
import stat
from typing import Any

import pytest

from ansible_collections.ofm.rollback.plugins.module_utils.postgres import report as pr
from ansible_collections.ofm.rollback.plugins.module_utils.errors import InputError

VALIDATION = {
    "passed": False, "failed_checks": ["row_count:posts"], "started_at": "2026-11-28T03:20:00Z", "finished_at": "2026-11-28T03:25:00Z",
    "summary": {"schema_version": {"status": "ok", "ok": 1, "failed": 0, "skipped": 0}},
    "checks": [{"category": "data_integrity", "name": "row_count:posts", "status": "failed", "detail": "posts: 3 | 4 rows", "duration": 0.01}],
    "changed": False, "invocation": {"module_args": {"sandbox": {"password": "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"}}},
}


def params(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {"rto_target": "30m", "rpo_target": "15m", "restore_started_at": "2026-11-28T03:00:00Z",
                              "validated_at": "2026-11-28T03:30:00Z", "target_time": "2026-11-28T02:45:00Z",
                              "reached_time": "2026-11-28T02:30:00Z", "restore": {}, "validation": {}, "context": {}}
    values.update(overrides)
    return values


def report(**overrides: Any) -> dict[str, Any]:
    return pr.build_report(pr.check_inputs(params(**overrides)))


@pytest.mark.parametrize("value, expected, naive", [
    ("2026-11-28 03:00:00", "2026-11-28T03:00:00Z", True),
    ("2026-11-28T03:00:00Z", "2026-11-28T03:00:00Z", False),
    ("2026-11-28 04:00:00+01:00", "2026-11-28T03:00:00Z", False),
    ("2026-11-28 03:00:00.250+00", "2026-11-28T03:00:00.250000Z", False),
])
def test_times_are_utc_and_a_time_without_offset_is_taken_as_utc(value, expected, naive):
    moment, was_naive = pr.parse_time(value, "target_time")
    assert (pr.iso(moment), was_naive) == (expected, naive)


@pytest.mark.parametrize("validated_at, met", [("2026-11-28T03:30:00Z", True), ("2026-11-28T03:30:00.001Z", False)])
def test_rto_met_up_to_and_including_the_target(validated_at, met):
    built = report(validated_at=validated_at)
    assert built["rto"]["met"] is met
    assert built["missed_targets"] == ([] if met else ["rto"])
    assert built["rto"]["achieved_seconds"] == (1800.0 if met else 1800.001)


@pytest.mark.parametrize("reached_time, met, achieved", [
    ("2026-11-28T02:30:00Z", True, 900.0),
    ("2026-11-28T02:29:59Z", False, 901.0),
    ("2026-11-28T02:45:00Z", True, 0.0),
    ("2026-11-28T02:50:00Z", True, 0.0),
])
def test_rpo_is_target_minus_reached_met_up_to_and_including_the_target(reached_time, met, achieved):
    built = report(reached_time=reached_time)
    assert (built["rpo"]["met"], built["rpo"]["achieved_seconds"]) == (met, achieved)
    assert built["rpo"]["reached_after_target"] is (reached_time == "2026-11-28T02:50:00Z")
    assert ("rpo" in built["missed_targets"]) is not met


def test_both_missed_and_the_summary_says_which():
    built = report(rto_target="10m", rpo_target="1m", validation=VALIDATION, validated_at=None)
    assert built["missed_targets"] == ["rto", "rpo"] and built["targets_met"] is False
    assert built["rto"]["achieved"] == "25m" and built["rto"]["validated_at"] == "2026-11-28T03:25:00Z"
    assert built["summary"] == "RTO 25m MISSED, over 10m; RPO 15m MISSED, over 1m; validation FAILED"
    assert built["validation_passed"] is False and "invocation" not in json.dumps(built)


@pytest.mark.parametrize("overrides, option", [
    ({"target_time": "yesterday"}, "target_time"),
    ({"reached_time": ""}, "reached_time"),
    ({"validated_at": None}, "validated_at"),
    ({"validated_at": "2026-11-28T02:59:59Z"}, "validated_at"),
    ({"rto_target": "half an hour"}, "rto_target"),
    ({"rpo_target": "0"}, "rpo_target"),
])
def test_bad_inputs_name_the_option(overrides, option):
    with pytest.raises(InputError) as caught:
        report(**overrides)
    assert caught.value.option == option


def test_secrets_and_ansible_keys_leave_the_restore_out():
    built = report(restore={"changed": True, "sandbox": {"host": "127.0.0.1", "port": 55432, "password": "hunter2"},
                            "timings": {"restore": 12.5, "replay": 3.0}}, context={"incident_id": "INC-42", "api_token": "tok"})
    assert "hunter2" not in json.dumps(built) and "tok\"" not in json.dumps(built)
    assert built["restore"]["timings"] == {"restore": 12.5, "replay": 3.0} and "changed" not in built["restore"]
    markdown = pr.render_markdown(built)
    assert "- incident_id: INC-42" in markdown and "  - replay: 3.0" in markdown and "hunter2" not in markdown


def test_markdown_shows_targets_checks_and_definitions():
    built = report(rto_target="20m", validation=VALIDATION, target_time="2026-11-28 02:45:00")
    markdown = pr.render_markdown(built)
    assert "**Missed: RTO**" in markdown
    assert "| RTO | 20m | 30m | **no** | restore start 2026-11-28T03:00:00Z | sandbox validated 2026-11-28T03:30:00Z |" in markdown
    assert "| RPO | 15m | 15m | yes | last transaction reached 2026-11-28T02:30:00Z | PITR target 2026-11-28T02:45:00Z |" in markdown
    assert "| data_integrity | row_count:posts | failed | posts: 3 \\| 4 rows | 0.01 |" in markdown
    assert "## Validation: failed" in markdown and "Times given without an offset, taken as UTC: target_time." in markdown
    assert pr.RPO_DEFINITION in markdown and pr.RTO_DEFINITION in markdown


def test_an_idle_tail_is_said_beside_the_rpo_of_the_real_last_commit():
    tail = {"summary": "target lies in an idle tail: last commit 2026-11-28 02:30:00 UTC; archive covers to 2026-11-28 02:50:00 UTC; "
                       "restored state = target state", "proof": {"proven": True, "reason": "the source has committed nothing since"}}
    built = report(restore={"reached": {"last_commit_time": "2026-11-28T02:30:00Z", "idle_tail": tail}})
    markdown = pr.render_markdown(built)
    assert built["rpo"]["reached_time"] == "2026-11-28T02:30:00Z" and built["rpo"]["achieved_seconds"] == 900
    assert f"Idle tail: {tail['summary']} (proof: the source has committed nothing since)" in markdown
    assert "Idle tail" not in pr.render_markdown(report())


def test_same_inputs_same_bytes():
    first, second = report(validation=VALIDATION), report(validation=VALIDATION)
    assert pr.render_json(first) == pr.render_json(second) and pr.render_markdown(first) == pr.render_markdown(second)
    assert json.loads(pr.render_json(first))["rpo"]["achieved"] == "15m"


def test_files_are_written_once_with_private_modes(tmp_path):
    results = tmp_path / "results" / "inc-1"
    contents = {"r.json": "{}\n", "r.md": "# r\n"}
    states = pr.plan_files(str(results), contents)
    assert all(state.changed and state.before is None for state in states)
    assert pr.write_files(str(results), states) is True
    assert stat.S_IMODE(results.stat().st_mode) == 0o700
    assert {path.name: (path.read_text(), stat.S_IMODE(path.stat().st_mode)) for path in results.iterdir()} == \
        {"r.json": ("{}\n", 0o600), "r.md": ("# r\n", 0o600)}
    again = pr.plan_files(str(results), contents)
    assert not any(state.changed for state in again) and pr.write_files(str(results), again) is False
    (results / "r.md").chmod(0o644)
    loosened = pr.plan_files(str(results), contents)
    assert [state.changed for state in loosened] == [False, True]
    pr.write_files(str(results), loosened)
    assert stat.S_IMODE((results / "r.md").stat().st_mode) == 0o600
    changed = pr.plan_files(str(results), {"r.json": "{\"a\": 1}\n", "r.md": "# r\n"})
    assert changed[0].before == "{}\n" and changed[0].changed and not changed[1].changed
