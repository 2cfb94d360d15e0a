# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The incident report and what it is made of: the error budget formula per SLO kind, the recovery times from the series, the
report's sections (never empty, times with their zone), the charts (a PNG also without data), idempotence by content hash;
the audit history; the reproducible evidence archive; the audit table's verification against the file."""
from __future__ import annotations

import hashlib
import io
import json
import tarfile
from datetime import datetime, timezone

import pytest

from ansible_collections.ofm.rollback.plugins.module_utils import audit_history, incident_report
from ansible_collections.ofm.rollback.plugins.module_utils.audit import record_hash
from ansible_collections.ofm.rollback.plugins.module_utils.audit_table import ranges, row, verify_rows
from ansible_collections.ofm.rollback.plugins.module_utils.incident_impact import budget_burned, compliant_since, record_times, window
from ansible_collections.ofm.rollback.plugins.module_utils.rca_bundle import Bundle, build_archive, in_window
from ansible_collections.ofm.rollback.plugins.module_utils.redact import Redactor
from ansible_collections.ofm.rollback.plugins.module_utils.slo import BUILTIN_SLOS

SLO = {slo.name: slo for slo in BUILTIN_SLOS}
START = datetime(2026, 12, 4, 13, 25, tzinfo=timezone.utc).timestamp()
RECORD = {"incident_id": "INC-7", "started_at": "2026-12-04T13:25:00+00:00", "duration_seconds": 60, "operator": {"name": "alice"},
          "environment": "lab", "outcome": "rolled back", "traffic": {"all_on_stable": True},
          "trigger": {"breached": ["error_rate"], "slos": {"error_rate": {"current": 0.3, "threshold": 0.01, "comparison": ">", "line": "BREACH"}}},
          "phases": [{"phase": "Execute rollback", "start": START + 10, "end": START + 11, "took": "1.0 s"},
                     {"phase": "Monitor traffic shift", "start": START + 11, "end": START + 20, "took": "9.0 s"}]}


def series(values, start=START - 60, step=10):
    return [[start + index * step, value] for index, value in enumerate(values)]


def test_the_error_budget_burned_follows_each_slo_kind():
    # error rate: 2 % mean bad share over one hour of a 30-day budget of 1 % -> 2 * 1 / 720 * 100 %
    assert budget_burned(SLO["error_rate"], [(0, 0.02), (1, 0.02)], 3600, 30 * 86400) == pytest.approx(100 * 0.02 * 3600 / (0.01 * 30 * 86400), abs=1e-4)
    # success rate below 95 %: the bad share is 1 - value, the budget 5 %
    assert budget_burned(SLO["success_rate"], [(0, 0.90)], 3600, 30 * 86400) == pytest.approx(100 * 0.10 * 3600 / (0.05 * 30 * 86400), abs=1e-4)
    # p95 latency above 10 s: the share of samples above, against 5 % of the time
    assert budget_burned(SLO["p95_latency"], [(0, 12.0), (1, 1.0)], 3600, 30 * 86400) == pytest.approx(100 * 0.5 * 3600 / (0.05 * 30 * 86400), abs=1e-4)
    assert budget_burned(SLO["error_rate"], [], 3600, 86400) is None


def test_slos_are_compliant_from_the_first_sample_after_the_last_violation():
    data = {"error_rate": series([0.3, 0.3, 0.3, 0.2, 0.0, 0.0, 0.0, 0.0]), "p95_latency": series([1.0] * 8)}
    assert compliant_since([SLO["error_rate"], SLO["p95_latency"]], data, START - 60) == START - 20
    still = {"error_rate": series([0.3] * 8)}
    assert compliant_since([SLO["error_rate"]], still, START) is None


def test_the_window_reaches_around_the_record_and_never_past_now():
    times = record_times(RECORD)
    assert times["rollback"] == START + 11 and times["on_stable"] == START + 20 and times["finished"] == START + 60
    assert window(RECORD, None, None, 60, 60, now=START + 3600) == (START - 60, START + 120)
    assert window(RECORD, None, None, 60, 60, now=START + 90) == (START - 60, START + 90)


def impact(with_data=True):
    return {"window": {"since": "2026-12-04T13:24:00+00:00", "until": "2026-12-04T13:27:00+00:00"},
            "requests_total": 5000 if with_data else None, "requests_failed": 250 if with_data else None,
            "error_budget_burned": {"error_rate": 2.5 if with_data else None}, "slo_period": "30d",
            "recovery": {"detected_at": "2026-12-04T13:25:00+00:00", "rollback_at": "2026-12-04T13:25:11+00:00",
                         "traffic_on_stable_at": "2026-12-04T13:25:20+00:00", "slos_compliant_at": "2026-12-04T13:25:40+00:00",
                         "time_to_recover": "40s", "time_to_stable": "20s"},
            "series": {"error_rate": series([0.3, 0.3, 0.0, 0.0]) if with_data else []}, "canary_series": {},
            "thresholds": {"error_rate": {"threshold": 0.01, "comparison": ">", "description": "5xx share"}},
            "gaps": [] if with_data else ["no data for error_rate between ..."]}


AUDIT = [
    {"type": "run_start", "run_id": "r1", "seq": 1, "time": "2026-12-04T13:25:00.100Z", "actor": {"name": "alice"}, "incident_id": "INC-7",
     "playbook": "/x/playbooks/emergency_rollback.yml", "command": ["ansible-playbook", "emergency-rollback.yml"], "hash": "h1"},
    {"type": "task", "run_id": "r1", "seq": 2, "time": "2026-12-04T13:25:11.000Z", "actor": {"name": "alice"}, "incident_id": "INC-7",
     "task": "Execute rollback | POST", "module": "ofm.rollback.canary_rollback", "status": "changed", "changed": True,
     "args": {"reason": "EMERGENCY_SLO_VIOLATION", "ops_api_token": "********"}, "diff_summary": [{"object": "canary", "added": 1, "removed": 1}]},
    {"type": "task", "run_id": "r1", "seq": 3, "time": "2026-12-04T13:25:12.000Z", "actor": {"name": "alice"}, "incident_id": "INC-7",
     "task": "print", "module": "ansible.builtin.debug", "status": "ok", "changed": False},
    {"type": "run_end", "run_id": "r1", "seq": 4, "time": "2026-12-04T13:26:00.000Z", "actor": {"name": "alice"}, "status": "ok", "hash": "h4"},
]


def test_the_audit_history_lists_commands_team_actions_and_config_changes():
    commands = audit_history.command_history(AUDIT)
    assert [item["module"] for item in commands] == ["ansible-playbook", "ofm.rollback.canary_rollback"], "debug tasks are no commands"
    assert "ops_api_token=********" in commands[1]["args"]
    actions = audit_history.team_actions(AUDIT)
    assert [item["action"] for item in actions] == ["started emergency_rollback.yml (shell)", "Execute rollback | POST (canary_rollback)", "run ended ok"]
    changes = audit_history.config_changes(AUDIT)
    assert len(changes) == 1 and changes[0]["diff"] == [{"object": "canary", "added": 1, "removed": 1}]


def test_the_report_has_every_section_with_zoned_times_and_is_written_once(tmp_path):
    content = incident_report.build(RECORD, impact(), AUDIT, {"timezone": "Europe/Paris", "customers_affected": 3}, None)
    markdown = incident_report.render_markdown(content)
    for title in incident_report.SECTIONS:
        assert f"## {title}\n" in markdown
    assert "2026-12-04 14:25:00 CET (UTC+01:00)" in markdown, "times people read carry their zone"
    assert "| Customers affected | 3 |" in markdown and "| Requests failed (5xx) | 250 |" in markdown
    assert "_To be written at the post-incident review._" in markdown and "Circuit Breakers" in markdown
    first = incident_report.write(str(tmp_path), content, False, False)
    assert first["changed"] and (tmp_path / "charts" / "error_rate.png").read_bytes().startswith(b"\x89PNG")
    html = (tmp_path / "report.html").read_text()
    assert "data:image/png;base64," in html and "http://" not in html.split("<body>")[1].split("Generated")[0]
    again = incident_report.write(str(tmp_path), incident_report.build(RECORD, impact(), AUDIT, {"timezone": "Europe/Paris", "customers_affected": 3}, None),
                                  False, False)
    assert not again["changed"], "the same content writes nothing"
    check = incident_report.write(str(tmp_path / "other"), content, False, True)
    assert check["changed"] and not (tmp_path / "other").exists(), "check mode writes nothing"


def test_without_data_the_sections_say_so_and_the_chart_is_still_a_picture():
    content = incident_report.build(RECORD, impact(with_data=False), [], {"timezone": "UTC"}, None)
    markdown = incident_report.render_markdown(content)
    assert "| Requests failed (5xx) | not measured |" in markdown and "No data for error_rate between" in markdown
    assert "No audit records for this incident" in markdown
    assert content["charts"]["error_rate"].startswith(b"\x89PNG") and len(content["charts"]["error_rate"]) > 2000


def test_a_bad_timezone_is_refused_naming_the_option():
    with pytest.raises(Exception, match="timezone"):
        incident_report.build(RECORD, impact(), [], {"timezone": "Mars/Olympus"}, None)


def test_the_evidence_archive_is_reproducible_redacted_and_keeps_only_the_window():
    lines = ["2026-12-04T13:24:59.000+00:00 INFO before", "2026-12-04T13:25:30.000+00:00 ERROR inside", "  traceback line",
             "2026-12-04T13:40:00.000+00:00 INFO after"]
    assert in_window(lines, START, START + 60) == ["2026-12-04T13:25:30.000+00:00 ERROR inside", "  traceback line"]

    def make():
        bundle = Bundle(Redactor(["s3cr3t-token-value"]))
        bundle.text("ops-api.log", "Authorization: Bearer s3cr3t-token-value\nGET /x\n")
        bundle.json("kubernetes/events.json", [{"b": 2, "a": 1}])
        bundle.gaps.append({"artefact": "pod_logs", "reason": "503"})
        return build_archive(bundle, RECORD, START, START + 60)
    first, listing = make()
    second, _listing = make()
    assert first == second, "the same evidence gives the same bytes"
    assert listing["gaps"] == [{"artefact": "pod_logs", "reason": "503"}]
    with tarfile.open(fileobj=io.BytesIO(first)) as archive:
        names = archive.getnames()
        log = archive.extractfile("ops-api.log").read().decode()
        manifest = json.loads(archive.extractfile("manifest.json").read())
        assert all(member.mtime == int(START) and member.uid == 0 for member in archive.getmembers())
    assert names == sorted(names) and "s3cr3t-token-value" not in log
    assert manifest["files"][1]["sha256"] == hashlib.sha256(log.encode()).hexdigest()


def chained(count):
    records, previous = [], "0" * 64
    for seq in range(1, count + 1):
        record = {"seq": seq, "prev_hash": previous, "type": "task", "module": "ofm.rollback.notify", "actor": {"name": "alice"}}
        record["hash"] = previous = record_hash(record)
        records.append(record)
    return records


def test_the_table_verifies_its_own_chain_and_against_the_file():
    records = chained(6)
    rows = [{"id": index, "meta": json.loads(row(record, "c1", "ua")[4])} for index, record in enumerate(records[:5])]
    found = verify_rows(rows, records)
    assert not found["ok"] and found["missing_seqs"] == ["6"] and found["first_broken"] is None
    assert verify_rows(rows, records, in_flight_since="")["ok"] is False
    records[5]["time"] = "2026-12-04T13:25:00.000Z"
    assert verify_rows(rows, records, in_flight_since="2026-12-04T13:24:50.000Z")["in_flight_seqs"] == ["6"]
    rows[2]["meta"]["record"]["status"] = "edited"
    edited = verify_rows(rows, records[:5])
    assert edited["first_broken"]["seq"] == 3 and "edited" in edited["first_broken"]["problem"]
    assert ranges([1, 2, 3, 7, 9, 10]) == ["1-3", "7", "9-10"]


def test_a_row_maps_the_record_to_ofms_columns():
    actor_sub, actor_email, action, resource, meta, ip, ua = row({**AUDIT[1], "hash": "x", "prev_hash": "y"}, "c1", "ofm.rollback/0.1.0")
    assert (actor_sub, action, resource, ip, ua) == ("alice", "rollback.task.canary_rollback", "INC-7", None, "ofm.rollback/0.1.0")
    assert json.loads(meta)["chain"] == "c1" and json.loads(meta)["record"]["task"] == "Execute rollback | POST" and actor_email is None
