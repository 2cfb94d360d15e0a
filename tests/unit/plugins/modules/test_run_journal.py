# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""run_journal: a first run, a run killed after a step and the run that resumes it, steps left started, check mode, a run
taken over, atomic writes (a kill during a write leaves the old journal), secrets masked, and bad input naming the option."""
from __future__ import annotations

import json
import os
import stat
from datetime import datetime, timedelta, timezone
from unittest import mock

import pytest
from unithelpers import run_module

from ansible_collections.ofm.rollback.plugins.module_utils import run_journal as journal_utils
from ansible_collections.ofm.rollback.plugins.module_utils.errors import ConflictError, DataError, InputError
from ansible_collections.ofm.rollback.plugins.module_utils.run_journal import RunJournal, journal_path, resume_line
from ansible_collections.ofm.rollback.plugins.modules import run_journal

pytestmark = pytest.mark.usefixtures("module_runner")
INCIDENT = "INC-4242"


def args(tmp_path, **more):
    return {"incident_id": INCIDENT, "procedure": "emergency", "record_dir": str(tmp_path), **more}


def journal_file(tmp_path, procedure="emergency"):
    return tmp_path / INCIDENT / f"journal-{procedure}.json"


def ok(module_args, check_mode=False):
    failed, result, _warnings = run_module(run_journal, module_args, check_mode=check_mode)
    assert not failed, result.get("msg")
    return result


def test_a_first_run_opens_a_journal_that_says_nothing_to_resume(tmp_path):
    result = ok(args(tmp_path, state="open", operator="alice", started="2026-12-04T14:05:00+00:00"))
    assert result["changed"] is True and result["resumed"] is False
    assert result["previous_runs"] == [] and result["steps"] == {} and result["resume_line"] == ""
    assert result["path"] == str(journal_file(tmp_path))
    assert result["run_id"].startswith("20261204T140500Z-")
    assert result["first_started"] == "2026-12-04T14:05:00+00:00"
    document = json.loads(journal_file(tmp_path).read_text())
    assert document["incident_id"] == INCIDENT and document["procedure"] == "emergency"
    assert [run["operator"] for run in document["runs"]] == ["alice"]
    assert stat.S_IMODE(os.stat(journal_file(tmp_path)).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(journal_file(tmp_path).parent).st_mode) == 0o700


def test_a_run_killed_after_a_step_is_resumed_by_the_next_with_its_decisions(tmp_path):
    first = ok(args(tmp_path, state="open", operator="alice", started="2026-12-04T14:05:00+00:00"))
    ok(args(tmp_path, state="step", run_id=first["run_id"], step="gate", status="done", data={"proceed": True, "breached": ["error_rate"]}))
    ok(args(tmp_path, state="step", run_id=first["run_id"], step="rollback", status="started", data={"path": "ops_api"}))
    # ... the first run is killed here: it never closes.
    second = ok(args(tmp_path, state="open", operator="bob", started="2026-12-04T14:07:30+00:00", timezone="Europe/Berlin"))

    assert second["resumed"] is True and second["run_id"] != first["run_id"]
    assert second["previous_runs"] == [{"run_id": first["run_id"], "started": "2026-12-04T14:05:00+00:00", "operator": "alice",
                                        "last_step": "gate", "in_step": "rollback", "outcome": "killed", "finished": None}]
    assert second["steps"]["gate"]["status"] == "done" and second["steps"]["gate"]["data"] == {"proceed": True, "breached": ["error_rate"]}
    assert second["steps"]["gate"]["run_id"] == first["run_id"]
    assert second["left_started"] == ["rollback"] and second["done"] == ["gate"]
    assert second["resume_line"] == (f"Resumed run {first['run_id']} (the run of 2026-12-04 15:05:00 Europe/Berlin (+01:00) stopped after "
                                     "'gate', during 'rollback')")
    assert second["first_started"] == "2026-12-04T14:05:00+00:00" and second["first_started_epoch"] == 1796393100.0

    done = ok(args(tmp_path, state="step", run_id=second["run_id"], step="rollback", status="done", data={"weight": 0}))
    assert done["steps"]["rollback"]["data"] == {"weight": 0}, "a done keeps only its own run's started data"
    closed = ok(args(tmp_path, state="closed", run_id=second["run_id"], outcome="rolled back, validated"))
    assert [(run["run_id"], run["outcome"], run["last_step"]) for run in closed["runs"]] == [
        (first["run_id"], "killed", "gate"), (second["run_id"], "rolled back, validated", "rollback")]


def test_done_adds_to_the_same_runs_started_data_and_clears_the_step_in_progress(tmp_path):
    run = ok(args(tmp_path, state="open"))
    ok(args(tmp_path, state="step", run_id=run["run_id"], step="verify", status="started", data={"target": 5}))
    ok(args(tmp_path, state="step", run_id=run["run_id"], step="verify", status="done", data={"images": ["api:1"]}))
    document = json.loads(journal_file(tmp_path).read_text())
    assert document["steps"]["verify"]["data"] == {"target": 5, "images": ["api:1"]}
    assert document["runs"][0]["last_step"] == "verify" and document["runs"][0]["in_step"] is None


def test_several_steps_in_one_write_in_their_order(tmp_path):
    run = ok(args(tmp_path, state="open"))
    result = ok(args(tmp_path, state="step", run_id=run["run_id"],
                     steps={"gate": {"status": "done", "data": {"proceed": True}}, "declare": {"status": "started"}}))
    assert {name: step["status"] for name, step in result["steps"].items()} == {"gate": "done", "declare": "started"}
    again = ok(args(tmp_path, state="open"))
    assert again["previous_runs"][0]["last_step"] == "gate" and again["previous_runs"][0]["in_step"] == "declare"


def test_a_closed_run_is_resumed_with_its_outcome_in_the_line(tmp_path):
    run = ok(args(tmp_path, state="open", started=1796393100))
    ok(args(tmp_path, state="step", run_id=run["run_id"], step="restore", status="done"))
    ok(args(tmp_path, state="closed", run_id=run["run_id"], outcome="FAILED: the rollout timed out"))
    again = ok(args(tmp_path, state="open"))
    assert again["resume_line"] == (f"Resumed run {run['run_id']} (the run of 2026-12-04 14:05:00 UTC (+00:00) ended after 'restore': "
                                    "FAILED: the rollout timed out)")


def test_check_mode_reads_and_writes_nothing(tmp_path):
    real = ok(args(tmp_path, state="open"))
    ok(args(tmp_path, state="step", run_id=real["run_id"], step="gate", status="done"))
    before = journal_file(tmp_path).read_text()
    opened = ok(args(tmp_path, state="open"), check_mode=True)
    assert opened["changed"] is False and opened["resumed"] is True and opened["done"] == ["gate"]
    stepped = ok(args(tmp_path, state="step", run_id=opened["run_id"], step="rollback", status="done"), check_mode=True)
    closed = ok(args(tmp_path, state="closed", run_id=opened["run_id"], outcome="check mode"), check_mode=True)
    assert stepped["changed"] is False and closed["changed"] is False
    assert [run["outcome"] for run in closed["runs"]] == ["killed", "check mode"]
    assert journal_file(tmp_path).read_text() == before
    nothing = ok(args(tmp_path / "none", state="open"), check_mode=True)
    assert nothing["resumed"] is False and not (tmp_path / "none").exists()


def test_a_run_taken_over_by_a_newer_one_writes_nothing_more(tmp_path):
    old = ok(args(tmp_path, state="open"))
    new = ok(args(tmp_path, state="open"))
    failed, result, _warnings = run_module(run_journal, args(tmp_path, state="step", run_id=old["run_id"], step="rollback", status="started"))
    assert failed and result["error"]["type"] == "ConflictError"
    assert f"run {old['run_id']} is no longer the journal's current run: run {new['run_id']}" in result["msg"]
    failed, result, _warnings = run_module(run_journal, args(tmp_path, state="closed", run_id="20260101T000000Z-abcdef", outcome="x"))
    assert failed and "is not in the journal" in result["msg"]
    ok(args(tmp_path, state="closed", run_id=new["run_id"], outcome="done"))
    failed, result, _warnings = run_module(run_journal, args(tmp_path, state="step", run_id=new["run_id"], step="late", status="done"))
    assert failed and "already closed (done)" in result["msg"]


def test_a_step_without_a_journal_says_to_open_it(tmp_path):
    failed, result, _warnings = run_module(run_journal, args(tmp_path, state="step", run_id="r1", step="gate", status="done"))
    assert failed and result["error"]["type"] == "NotFoundError" and "Open it first (state=open)" in result["msg"]


def test_secret_looking_values_are_masked_and_big_data_refused(tmp_path):
    run = ok(args(tmp_path, state="open"))
    ok(args(tmp_path, state="step", run_id=run["run_id"], step="declare", status="done",
            data={"ts": "1733.42", "api_token": "tok-91f2c8e7d6", "url": "https://bot:pw-77a1@hooks.example/x"}))
    text = journal_file(tmp_path).read_text()
    assert "tok-91f2c8e7d6" not in text and "pw-77a1" not in text and "1733.42" in text
    big = args(tmp_path, state="step", run_id=run["run_id"], step="gate", status="done", data={"blob": "x" * 20000})
    failed, result, _warnings = run_module(run_journal, big)
    assert failed and result["error"]["option"] == "data" and "more than 16384" in result["msg"]


@pytest.mark.parametrize("bad, option, accepted", [
    ({"incident_id": "INC-1/../x"}, "incident_id", "INC- followed by digits"),
    ({"state": "step", "run_id": "r1", "step": "Gate!", "status": "done"}, "step", "lower-case letters"),
    ({"state": "step", "run_id": "r1"}, "step", "lower-case letters"),
    ({"state": "closed"}, "run_id", "run_id that state=open returned"),
    ({"state": "open", "run_id": "a b"}, "run_id", "letters, digits"),
    ({"state": "open", "timezone": "Mars/Olympus"}, "timezone", "IANA time zone"),
    ({"state": "open", "started": "yesterday-ish"}, "started", "a time such as"),
    ({"state": "closed", "run_id": "r1", "outcome": " "}, "outcome", "a line"),
])
def test_bad_input_names_the_option_and_writes_nothing(tmp_path, bad, option, accepted):
    failed, result, _warnings = run_module(run_journal, {**args(tmp_path, state="open"), **bad})
    assert failed and result["error"]["option"] == option and accepted in result["msg"], result["msg"]
    assert not journal_file(tmp_path).exists()


def test_unknown_procedure_and_status_are_refused_by_the_argument_spec(tmp_path):
    failed, result, _warnings = run_module(run_journal, args(tmp_path, state="open", procedure="rollback"))
    assert failed and "procedure" in result["msg"] and "emergency, planned, database, config, external" in result["msg"]


def test_a_foreign_or_broken_file_is_left_as_it_is(tmp_path):
    path = journal_file(tmp_path)
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"format": journal_utils.FORMAT, "incident_id": "INC-1", "procedure": "emergency", "runs": [], "steps": {}}))
    failed, result, _warnings = run_module(run_journal, args(tmp_path, state="open"))
    assert failed and "is the emergency journal of INC-1, not the emergency journal of INC-4242" in result["msg"]
    path.write_text('{"format": "ofm.rollback/run-journal v1", "runs": [')
    failed, result, _warnings = run_module(run_journal, args(tmp_path, state="open"))
    assert failed and result["error"]["type"] == "DataError" and "Move it aside" in result["msg"]
    assert path.read_text() == '{"format": "ofm.rollback/run-journal v1", "runs": ['


def test_each_procedure_has_its_own_journal(tmp_path):
    ok(args(tmp_path, state="open"))
    planned = ok({**args(tmp_path, state="open"), "procedure": "planned"})
    assert planned["resumed"] is False and journal_file(tmp_path, "planned").exists()


# --- the journal itself (module_utils) ------------------------------------------------------------------------------------

def clock(start=datetime(2026, 12, 4, 14, 5, tzinfo=timezone.utc)):
    moments = iter(start + timedelta(seconds=second) for second in range(1000))
    return lambda: next(moments)


def test_a_kill_during_a_write_leaves_the_journal_as_before(tmp_path):
    journal = RunJournal(journal_path(str(tmp_path), INCIDENT, "config"), INCIDENT, "config", now=clock())
    run = journal.open_run(run_id=None, operator="alice", started=None)
    journal.step(run_id=run["run_id"], name="restore:flags", status="done", data={"targets": ["ofm-social-os-api"]})
    before = open(journal.path, encoding="utf-8").read()

    def killed(*_args, **_kwargs):
        raise KeyboardInterrupt("killed while writing")

    with mock.patch.object(journal_utils.json, "dump", side_effect=killed), pytest.raises(KeyboardInterrupt):
        journal.step(run_id=run["run_id"], name="restore:env", status="done", data={})
    assert open(journal.path, encoding="utf-8").read() == before
    assert [name for name in os.listdir(os.path.dirname(journal.path)) if name.startswith(".tmp-journal-")] == []


def test_the_last_step_of_a_new_run_is_the_progress_it_starts_from(tmp_path):
    journal = RunJournal(journal_path(str(tmp_path), INCIDENT, "planned"), INCIDENT, "planned", now=clock())
    first = journal.open_run(run_id="run-1", operator="", started=None)
    journal.step(run_id=first["run_id"], name="verify", status="done", data={"target_revision": 5})
    journal.open_run(run_id="run-2", operator="", started=None)  # killed before any step of its own
    third = journal.open_run(run_id="run-3", operator="", started=None)
    assert [run["last_step"] for run in third["previous_runs"]] == ["verify", "verify"]
    assert third["resume_line"].startswith("Resumed run run-2 (the run of 2026-12-04 14:05:0")
    assert third["resume_line"].endswith("stopped after 'verify')")
    with pytest.raises(ConflictError):
        journal.open_run(run_id="run-3", operator="", started=None)


def test_resume_line_of_a_run_killed_before_its_first_step():
    line = resume_line({"run_id": "r1", "started": "2026-12-04T14:05:00+00:00", "last_step": None, "outcome": None})
    assert line == "Resumed run r1 (the run of 2026-12-04 14:05:00 UTC (+00:00) stopped before its first step)"


def test_errors_are_the_collections():
    with pytest.raises(InputError):
        journal_path("/tmp", "INC-1", "nope")
    assert issubclass(DataError, Exception)
