# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""audit_verify's main() on real audit logs written by append_records."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from unithelpers import RUNNER, patch_module_args

from ansible_collections.ofm.rollback.plugins.module_utils.audit import append_records, canonical_json
from ansible_collections.ofm.rollback.plugins.modules import audit_verify
from ansible_collections.ofm.rollback.plugins.plugin_utils.in_process import run_in_process

# Every test runs main() as a module process would, and in process as the action plugin does.
pytestmark = pytest.mark.usefixtures("module_runner")


def run_module(capsys: pytest.CaptureFixture[str], **args: Any) -> dict[str, Any]:
    """The module's whole result, as the module process prints it or as the action plugin returns it."""
    if RUNNER["mode"] == "in_process":
        check_mode = bool(args.pop("_ansible_check_mode", False))
        return run_in_process(audit_verify.main, args, check_mode)
    with patch_module_args(args), pytest.raises(SystemExit):
        audit_verify.main()
    return json.loads(capsys.readouterr().out)


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
    log.write_text(log.read_text() + '{"seq": 4, "cut')
    result = run_module(capsys, path=str(log))
    assert result["failed"] is True and result["first_broken"]["line"] == 4 and result["first_broken"]["seq"] is None
    assert "line 4 (seq unknown): truncated last line" in result["msg"]


def test_missing_log_fails_naming_the_path(capsys, tmp_path: Path):
    result = run_module(capsys, path=str(tmp_path / "absent.jsonl"))
    assert result["failed"] is True
    assert "absent.jsonl" in result["msg"] and "does not exist" in result["msg"]
    assert result["error"]["type"] == "NotFoundError"
