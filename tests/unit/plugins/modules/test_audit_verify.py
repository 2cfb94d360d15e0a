# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""audit_verify's main() on real audit logs written by append_records."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from ansible.module_utils import basic
from unithelpers import RUNNER, patch_module_args

from ansible_collections.ofm.rollback.plugins.module_utils.audit import GENESIS_HASH, append_records, canonical_json, read_records, record_hash
from ansible_collections.ofm.rollback.plugins.module_utils.audit_anchor import append_anchor_file, make_anchor
from ansible_collections.ofm.rollback.plugins.module_utils.audit_table import log_chain
from ansible_collections.ofm.rollback.plugins.modules import audit_verify
from ansible_collections.ofm.rollback.plugins.plugin_utils.in_process import run_in_process

# Every test runs main() as a module process would, and in process as the action plugin does.
pytestmark = pytest.mark.usefixtures("module_runner")


def run_module(capsys: pytest.CaptureFixture[str], **args: Any) -> dict[str, Any]:
    """The module's whole result, as the module process prints it or as the action plugin returns it."""
    if RUNNER["mode"] == "in_process":
        check_mode = bool(args.pop("_ansible_check_mode", False))
        return run_in_process(audit_verify.main, args, check_mode)
    warnings: list[str] = []
    with patch_module_args(args), mock.patch.object(basic.AnsibleModule, "warn", lambda _module, warning: warnings.append(warning)), \
            pytest.raises(SystemExit):
        audit_verify.main()
    result = json.loads(capsys.readouterr().out)
    if warnings:
        result["warnings"] = warnings
    return result


@pytest.fixture()
def log(tmp_path: Path) -> Path:
    path = tmp_path / "audit.jsonl"
    append_records(str(path), [{"type": "run_start", "run_id": "r1", "incident_id": "INC-7"},
                               {"type": "task", "run_id": "r1", "incident_id": "INC-7", "status": "changed"},
                               {"type": "run_start", "run_id": "r2", "incident_id": None}])
    return path


def tamper_second_record(path: Path) -> None:
    rows = path.read_text().splitlines()
    record = json.loads(rows[1])
    record["status"] = "ok"
    rows[1] = canonical_json(record)
    path.write_text("\n".join(rows) + "\n")


@pytest.mark.parametrize("check_mode", [False, True])
def test_intact_log_reports_records_runs_incidents_and_last_hash(capsys, log: Path, check_mode: bool):
    result = run_module(capsys, path=str(log), _ansible_check_mode=check_mode)
    last_hash = json.loads(log.read_text().splitlines()[-1])["hash"]
    assert not result.get("failed") and result["changed"] is False
    assert (result["ok"], result["records"], result["runs"], result["incidents"]) == (True, 3, 2, ["INC-7"])
    assert result["first_broken"] is None and result["last_hash"] == last_hash


def test_broken_chain_fails_naming_line_seq_and_reason(capsys, log: Path):
    tamper_second_record(log)
    result = run_module(capsys, path=str(log))
    assert result["failed"] is True and result["ok"] is False
    assert result["first_broken"] == {"line": 2, "seq": 2, "reason": "hash mismatch: the record was changed after it was written"}
    assert "line 2 (seq 2)" in result["msg"] and "hash mismatch" in result["msg"] and str(log) in result["msg"]


def test_broken_chain_without_fail_on_broken_reports_it(capsys, log: Path):
    tamper_second_record(log)
    result = run_module(capsys, path=str(log), fail_on_broken=False)
    assert not result.get("failed") and result["ok"] is False and result["first_broken"]["line"] == 2
    assert "line 2 (seq 2)" in result["msg"]


def test_unreadable_line_is_named_with_an_unknown_seq(capsys, log: Path):
    rows = log.read_text().splitlines(keepends=True)
    log.write_text("".join(rows[:2]) + '{"seq": 3, "cut\n' + rows[2])
    result = run_module(capsys, path=str(log))
    assert result["failed"] is True and result["first_broken"]["line"] == 3 and result["first_broken"]["seq"] is None
    assert "line 3 (seq unknown): invalid JSON" in result["msg"] and result["torn_lines"] == []


def test_a_torn_last_line_is_a_warning_with_its_position_not_a_break(capsys, log: Path):
    size = log.stat().st_size
    log.write_text(log.read_text() + '{"seq": 4, "cut')
    result = run_module(capsys, path=str(log))
    assert not result.get("failed") and result["ok"] is True and result["first_broken"] is None and result["records"] == 3
    [torn] = result["torn_lines"]
    assert (torn["line"], torn["offset"], torn["length"], torn["repaired_by_seq"]) == (4, size, 15, None)
    assert result["warnings"] == [f"audit log {log}: {torn['reason']}"] and f"byte {size}" in torn["reason"]
    assert "1 torn lines (warnings)" in result["msg"]


def test_the_chain_verifies_after_a_repaired_torn_line(capsys, log: Path):
    log.write_text(log.read_text() + '{"seq": 4, "cut')
    written = append_records(str(log), [{"type": "run_start", "run_id": "r3"}])
    result = run_module(capsys, path=str(log))
    assert not result.get("failed") and result["ok"] is True and result["records"] == 5
    assert [torn["repaired_by_seq"] for torn in result["torn_lines"]] == [written[0]["seq"]] == [4]
    assert result["last_hash"] == written[-1]["hash"]


KEY = "audit-verify-unit-KEY-7f3e"


def anchored(log: Path, tmp_path: Path, key: Any = KEY) -> Path:
    """The anchor file of the log's three records (one anchor per record, as three runs would write)."""
    path = tmp_path / "anchors.jsonl"
    for record in read_records(str(log)):
        append_anchor_file(str(path), make_anchor(record, log_chain(str(log)), 1, key))
    return path


@pytest.mark.parametrize("check_mode", [False, True])
def test_anchors_that_match_the_log(capsys, log: Path, tmp_path: Path, check_mode: bool):
    path = anchored(log, tmp_path)
    result = run_module(capsys, path=str(log), anchors="file", anchor_path=str(path), hmac_key=KEY, _ansible_check_mode=check_mode)
    assert not result.get("failed") and result["changed"] is False and result["ok"] is True
    assert (result["anchors"]["verified"], result["anchors"]["last_anchored_seq"], result["anchors"]["source"]) == (3, 3, "file")
    assert f"3 anchors (the anchor file {path}) match the log, the last at seq 3" in result["msg"]
    assert KEY not in json.dumps(result)


def test_a_truncated_tail_fails_naming_the_seq_and_the_run(capsys, log: Path, tmp_path: Path):
    path = anchored(log, tmp_path)
    log.write_text("".join(log.read_text().splitlines(keepends=True)[:1]))
    result = run_module(capsys, path=str(log), anchors="file", anchor_path=str(path), hmac_key=KEY)
    assert result["failed"] is True and result["ok"] is False and result["first_broken"] is None
    assert [(item["seq"], item["run_id"]) for item in result["anchors"]["truncated"]] == [(2, "r1"), (3, "r2")]
    assert "the log ends at seq 1, but run r2 anchored seq 3" in result["msg"] and "records 2-3 were deleted from its tail" in result["msg"]
    assert KEY not in json.dumps(result)


def test_a_rewritten_and_rehashed_log_is_reported_without_failing_when_asked(capsys, log: Path, tmp_path: Path):
    path = anchored(log, tmp_path)
    records = read_records(str(log))
    records[1]["status"] = "ok"
    prev, rows = GENESIS_HASH, []
    for record in records:
        record["prev_hash"] = prev
        record["hash"] = prev = record_hash(record)
        rows.append(canonical_json(record) + "\n")
    log.write_text("".join(rows))
    result = run_module(capsys, path=str(log), anchors="file", anchor_path=str(path), fail_on_broken=False)
    assert not result.get("failed") and result["ok"] is False and result["first_broken"] is None
    assert [item["seq"] for item in result["anchors"]["rewritten"]] == [2, 3]
    assert "rewritten: seq 2 anchored by run r1" in result["msg"]


def test_unsigned_anchors_are_not_trusted_with_a_key_from_the_environment(capsys, log: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    path = anchored(log, tmp_path, key=None)
    monkeypatch.setenv("OFM_AUDIT_HMAC_KEY", KEY)
    result = run_module(capsys, path=str(log), anchors="file", anchor_path=str(path))
    assert not result.get("failed") and result["ok"] is True and result["anchors"]["verified"] == 0
    assert len(result["anchors"]["unsigned"]) == 3
    assert any("carry no HMAC and were not trusted" in warning for warning in result["warnings"])
    assert any("truncation and rewriting cannot be checked" in warning for warning in result["warnings"])
    assert KEY not in json.dumps(result)


def test_anchors_file_without_its_path_is_refused_naming_the_option(capsys, log: Path):
    result = run_module(capsys, path=str(log), anchors="file")
    assert result["failed"] is True and "anchor_path" in result["msg"] and "anchors is file" in result["msg"]


def test_an_unknown_anchors_source_names_the_accepted_values(capsys, log: Path):
    result = run_module(capsys, path=str(log), anchors="s3")
    assert result["failed"] is True and "anchors" in result["msg"] and "none, table, ops_api, file" in result["msg"]


def test_anchors_in_the_table_need_the_database_option(capsys, log: Path):
    result = run_module(capsys, path=str(log), anchors="table")
    assert result["failed"] is True and "anchors=table needs the database option" in result["msg"]


def test_missing_log_fails_naming_the_path(capsys, tmp_path: Path):
    result = run_module(capsys, path=str(tmp_path / "absent.jsonl"))
    assert result["failed"] is True
    assert "absent.jsonl" in result["msg"] and "does not exist" in result["msg"]
    assert result["error"]["type"] == "NotFoundError"
