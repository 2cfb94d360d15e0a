# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""incident_record_info over record files written here: complete, a section missing, the placeholder still there, empty,
no record for the incident id, the newest record of an incident, and bad input naming the option."""
from __future__ import annotations

import json
import re

import pytest
from unithelpers import REPO_ROOT, run_module

from ansible_collections.ofm.rollback.plugins.module_utils.incident_record import DEFAULT_PLACEHOLDER, DEFAULT_SECTIONS
from ansible_collections.ofm.rollback.plugins.modules import incident_record_info

pytestmark = pytest.mark.usefixtures("module_runner")
TEMPLATE = REPO_ROOT / "roles" / "incident" / "templates" / "incident.md.j2"
PLACEHOLDER_LINE = "_To be written at the post-incident review._"

SECTIONS = {
    "Rollback trigger": "- error_rate: BREACH, now 0.2143 (> 0.01 breaches), 21/21 samples violate",
    "Timeline": "| phase | start (UTC epoch) | duration |\n|---|---|---|\n| Assess impact | 1796396335.35 | 0.5 s |",
    "Impact assessment": "- Breached: error_rate: BREACH, now 0.2143\n- Time on the canary: at least 5m",
    "Recovery time": "- Incident start: 2026-12-04 14:58:55 UTC (+00:00)\n- Recovery time: 25.6 s (0.4 min)",
    "Checklist": "### Emergency Rollback (SLO Violation)\n- [ok] **Assess Impact**: sustained breach",
    "Lessons learned": "- Canary analysis must include the publish error ratio.\n- Page on the 5m burn rate.",
}


def record(sections=None, **changes) -> str:
    """An emergency incident record as the role writes it, with ``changes`` (title: body, None: leave the section out)."""
    parts = ["# INC-7001: emergency canary rollback (lab)", "", "- Outcome: **rolled back**", ""]
    for title, body in {**(sections or SECTIONS), **changes}.items():
        if body is not None:
            parts += [f"## {title}", body, ""]
    return "\n".join(parts)


def statuses(result) -> dict[str, str]:
    return {check["name"]: check["status"] for check in result["checks"]}


def test_a_complete_record_passes_every_section(tmp_path):
    path = tmp_path / "INC-7001-2026-12-04T145855Z.md"
    path.write_text(record())
    failed, result, _warnings = run_module(incident_record_info, {"path": str(path)}, check_mode=True)
    assert not failed and result["changed"] is False
    assert result["status"] == "ok" and statuses(result) == {name: "ok" for name in DEFAULT_SECTIONS}
    assert result["record"] == str(path)
    titles = list(SECTIONS)
    assert [section["title"] for section in result["sections"]] == titles[:5] + ["Emergency Rollback (SLO Violation)"] + titles[5:]
    assert result["checks"][-1]["detail"] == "section 'Lessons learned' written (2 line(s))"


def test_the_placeholder_still_there_fails_that_section_only(tmp_path):
    path = tmp_path / "INC-7001-2026-12-04T145855Z.md"
    path.write_text(record(**{"Lessons learned": PLACEHOLDER_LINE}))
    _failed, result, _warnings = run_module(incident_record_info, {"path": str(path)})
    assert result["status"] == "failed" and result["failed_checks"] == ["Lessons learned"]
    assert "still holds the placeholder '_To be written': not written yet" in result["msg"]
    assert [section["placeholder"] for section in result["sections"] if section["title"] == "Lessons learned"] == [True]


def test_a_missing_or_empty_section_fails_naming_it(tmp_path):
    path = tmp_path / "INC-7001-2026-12-04T145855Z.md"
    path.write_text(record(**{"Impact assessment": None, "Recovery time": "<!-- fill in -->\n"}))
    _failed, result, _warnings = run_module(incident_record_info, {"path": str(path)})
    assert result["failed_checks"] == ["Impact assessment", "Recovery time"]
    checks = {check["name"]: check["detail"] for check in result["checks"]}
    assert checks["Impact assessment"].startswith("no section 'Impact assessment' in INC-7001-2026-12-04T145855Z.md: add a heading")
    assert checks["Recovery time"].endswith("is empty")


def test_headings_match_ignoring_case_and_spaces_but_not_inside_code(tmp_path):
    path = tmp_path / "r.md"
    text = record(**{"Lessons learned": None, "Recovery time": None})
    text += "\n## lessons   LEARNED ##\nWrite smaller releases.\n\n```markdown\n## Recovery time\nexample only\n```\n"
    path.write_text(text)
    _failed, result, _warnings = run_module(incident_record_info, {"path": str(path)})
    assert statuses(result)["Lessons learned"] == "ok" and result["failed_checks"] == ["Recovery time"]


def test_no_record_for_the_incident_fails_every_section(tmp_path):
    (tmp_path / "INC-70011-2026-12-04T145855Z.md").write_text(record())
    (tmp_path / "INC-7001-5-2026-12-04T145855Z.md").write_text(record())
    failed, result, _warnings = run_module(incident_record_info, {"incident_id": "INC-7001", "record_dir": str(tmp_path)})
    assert not failed and result["status"] == "failed" and result["record"] is None and result["sections"] == []
    assert result["failed_checks"] == list(DEFAULT_SECTIONS)
    assert f"no incident record {tmp_path}/INC-7001-*.md for INC-7001" in result["checks"][0]["detail"]
    _failed, missing_dir, _warnings = run_module(incident_record_info, {"incident_id": "INC-7001", "record_dir": str(tmp_path / "none")})
    assert missing_dir["status"] == "failed" and missing_dir["record"] is None


def test_the_newest_record_of_the_incident_is_read(tmp_path):
    older = tmp_path / "INC-7001-2026-12-04T145855Z.md"
    newer = tmp_path / "INC-7001-2026-12-04T151210Z.md"
    older.write_text(record(**{"Lessons learned": PLACEHOLDER_LINE}))
    newer.write_text(record())
    (tmp_path / "INC-7001-2026-12-04T151210Z.json").write_text("{}")
    _failed, result, _warnings = run_module(incident_record_info, {"incident_id": "INC-7001", "record_dir": str(tmp_path)})
    assert result["record"] == str(newer) and result["status"] == "ok"
    args = {"incident_id": "INC-7001", "record_dir": str(tmp_path), "required_sections": ["Lessons learned", "Action items"], "placeholder": "TODO"}
    _failed, own, _warnings = run_module(incident_record_info, args)
    assert statuses(own) == {"Lessons learned": "ok", "Action items": "failed"}


@pytest.mark.parametrize("args, option", [
    ({}, "path"),
    ({"path": "/tmp/x.md", "incident_id": "INC-1"}, "mutually exclusive"),
    pytest.param({"incident_id": "../../etc/passwd"}, "incident_id", marks=pytest.mark.reliability(
        "bad-input", procedure="incident_record_info", case="incident_id='../../etc/passwd'", expected="refused before any change")),
    pytest.param({"incident_id": "INC-1*"}, "incident_id", marks=pytest.mark.reliability(
        "bad-input", procedure="incident_record_info", case="incident_id='INC-1*'", expected="refused before any change")),
    ({"path": "/tmp/x.md", "required_sections": []}, "required_sections"),
    ({"path": "/tmp/x.md", "required_sections": ["Timeline", " "]}, "required_sections"),
    ({"path": "/tmp/x.md", "placeholder": "  "}, "placeholder"),
])
def test_bad_input_names_the_option(reliability, args, option):
    failed, result, _warnings = run_module(incident_record_info, args)
    assert failed and option in result["msg"], result["msg"]
    reliability.observed(f"failed, nothing read: names {option}")


def test_an_unreadable_record_fails_the_task(tmp_path):
    directory = tmp_path / "a-directory.md"
    directory.mkdir()
    failed, result, _warnings = run_module(incident_record_info, {"path": str(directory)})
    assert failed and "cannot read" in result["msg"] and str(directory) in result["msg"]


def test_the_emergency_record_template_has_every_default_section_and_the_placeholder():
    template = TEMPLATE.read_text()
    headings = re.findall(r"^## (.+)$", template, re.MULTILINE)
    assert set(DEFAULT_SECTIONS) <= set(headings), headings
    lessons = template.split("## Lessons learned\n", 1)[1]
    assert lessons.strip() == PLACEHOLDER_LINE and DEFAULT_PLACEHOLDER in PLACEHOLDER_LINE


def test_the_json_record_beside_it_gives_the_incident_times(tmp_path):
    path = tmp_path / "INC-7001-2026-12-04T145855Z.md"
    path.write_text(record())
    failed, result, _warnings = run_module(incident_record_info, {"incident_id": "INC-7001", "record_dir": str(tmp_path)})
    assert not failed and result["incident"] == {}, "no JSON record: no times"
    (tmp_path / "INC-7001-2026-12-04T145855Z.json").write_text(
        json.dumps({"started_at": "2026-12-04T14:58:55+00:00", "duration_seconds": 72.4, "outcome": "rolled_back"}))
    _failed, result, _warnings = run_module(incident_record_info, {"incident_id": "INC-7001", "record_dir": str(tmp_path)})
    assert result["incident"]["started_at"] == "2026-12-04T14:58:55+00:00"
    assert result["incident"]["finished_at"] == "2026-12-04T15:00:07+00:00" and result["incident"]["outcome"] == "rolled_back"
    (tmp_path / "INC-7001-2026-12-04T145855Z.json").write_text("{not json")
    _failed, result, _warnings = run_module(incident_record_info, {"incident_id": "INC-7001", "record_dir": str(tmp_path)})
    assert result["incident"] == {} and result["status"] == "ok"
