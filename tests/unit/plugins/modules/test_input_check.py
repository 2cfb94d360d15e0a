# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""input_check's main(): each rule accepts what it documents and refuses the rest, naming the variable and what it accepts."""
from __future__ import annotations

import datetime

import pytest
from unithelpers import documented_options, mismatches, run_module

from ansible_collections.ofm.rollback.plugins.module_utils.input_check import incident_line, open_incident
from ansible_collections.ofm.rollback.plugins.modules import input_check

pytestmark = pytest.mark.usefixtures("module_runner")


def check(*inputs: dict) -> tuple[bool, dict]:
    failed, result, _warnings = run_module(input_check, {"procedure": "test procedure", "inputs": list(inputs)})
    return failed, result


GOOD = [
    {"name": "id", "value": "INC-1234", "rule": "incident_id"},
    {"name": "window", "value": "1m30s", "rule": "duration"},
    {"name": "window_seconds", "value": 90, "rule": "duration"},
    {"name": "wait", "value": "0s", "rule": "duration_or_zero"},
    {"name": "port", "value": "5432", "rule": "integer", "minimum": 1, "maximum": 65535},
    {"name": "percent", "value": 99.5, "rule": "number", "minimum": 0, "maximum": 100},
    {"name": "since", "value": "2026-12-04T14:05:00+01:00", "rule": "time"},
    {"name": "local", "value": "2026-11-28 03:00:00", "rule": "time", "timezone": "Europe/Berlin"},
    {"name": "zone", "value": "America/New_York", "rule": "timezone"},
    {"name": "sandbox", "value": "rollback-20261204", "rule": "name"},
    {"name": "namespace", "value": "ofm-production", "rule": "k8s_name"},
    {"name": "operator", "value": "Alice O'Neil (on call)", "rule": "line"},
    {"name": "state", "value": "monitoring", "rule": "choice", "choices": ["identified", "monitoring"]},
    {"name": "optional_id", "value": "", "rule": "incident_id", "optional": True},
]


def test_good_inputs_pass_and_nothing_is_changed():
    failed, result = check(*GOOD)
    assert not failed and result["changed"] is False and result["checked"] == len(GOOD) and result["errors"] == []


@pytest.mark.parametrize("item, reason, accepted", [
    ({"rule": "incident_id", "value": "INC-1; rm -rf /"}, "'INC-1; rm -rf /' is not an incident id", "INC-<digits>"),
    ({"rule": "incident_id", "value": "INC-1\r\nINC-2"}, "'INC-1\\r\\nINC-2' is not an incident id", "INC-<digits>"),
    ({"rule": "incident_id", "value": "../../etc/passwd"}, "is a path, not an incident id", "INC-<digits>"),
    ({"rule": "incident_id", "value": ""}, "'' is not an incident id", "INC-<digits>"),
    ({"rule": "duration", "value": "-5m"}, "'-5m' is not a duration", "longer than zero"),
    ({"rule": "duration", "value": "0s"}, "'0s' is not longer than zero", "Prometheus duration"),
    ({"rule": "duration_or_zero", "value": "-1"}, "'-1' is not longer than zero", "0 for none"),
    ({"rule": "integer", "value": "12.5", "minimum": 1}, "'12.5' is not an integer", "an integer of 1 or more"),
    ({"rule": "integer", "value": 70000, "minimum": 1, "maximum": 65535}, "70000 is out of range", "an integer from 1 to 65535"),
    ({"rule": "integer", "value": True}, "True is not an integer", "an integer"),
    ({"rule": "number", "value": "nan", "maximum": 100}, "'nan' is not a number", "a number of 100 or less"),
    ({"rule": "time", "value": "yesterday"}, "'yesterday' is not a time", "2026-12-03T12:28:39-05:00"),
    ({"rule": "time", "value": "2026-03-29 02:30:00", "timezone": "Europe/Berlin"}, "does not exist in Europe/Berlin", "with its offset"),
    ({"rule": "timezone", "value": "/etc/passwd"}, "is a path, not a time zone name", "IANA time zone"),
    ({"rule": "name", "value": "../../etc"}, "'../../etc' is a path, not a name", "letters, digits"),
    ({"rule": "name", "value": "rollback 1"}, "'rollback 1' is not a name", "letters, digits"),
    ({"rule": "k8s_name", "value": "ofm-production/../kube-system"}, "is a path, not a Kubernetes name", "lowercase letters"),
    ({"rule": "line", "value": "alice\nbob"}, "'alice\\nbob' is not one line of text", "without control characters"),
    ({"rule": "line", "value": "x" * 201}, "is not one line of text", "at most 200 characters"),
    ({"rule": "choice", "value": "fixed", "choices": ["identified", "monitoring"]}, "'fixed' is not one of", "identified, monitoring"),
])
def test_each_rule_refuses_naming_the_variable_the_reason_and_what_it_accepts(item, reason, accepted):
    failed, result = check({"name": "some_variable", **item})
    assert failed and result["checked"] == 1
    assert result["msg"].startswith("Refused, nothing was changed: 1 input of the test procedure is not accepted. some_variable: ")
    assert reason in result["msg"] and accepted in result["msg"], result["msg"]
    assert "\n" not in result["msg"] and "\r" not in result["msg"], "a value cannot forge a line of the output"
    assert [error["name"] for error in result["errors"]] == ["some_variable"]


def test_every_bad_input_is_reported_at_once_and_a_zone_bad_for_a_time_once():
    failed, result = check({"name": "a", "value": "5", "rule": "integer", "maximum": 3},
                           {"name": "zone", "value": "Mars/Olympus", "rule": "timezone"},
                           {"name": "at", "value": "2026-11-28 03:00:00", "rule": "time", "timezone": "Mars/Olympus", "timezone_name": "zone"},
                           {"name": "b", "value": "INC-7", "rule": "incident_id"})
    assert failed and result["msg"].startswith("Refused, nothing was changed: 2 inputs of the test procedure are not accepted.")
    assert [error["name"] for error in result["errors"]] == ["a", "zone"]


def test_an_unknown_rule_is_refused_by_the_argument_spec():
    failed, result = check({"name": "x", "value": 1, "rule": "anything"})
    assert failed and "rule" in result["msg"] and "incident_id" in result["msg"]


def test_documentation_matches_the_argument_spec():
    assert mismatches(input_check.ARGUMENT_SPEC, documented_options(input_check)) == []


def test_the_incident_is_opened_with_the_check_a_missing_id_generated_from_the_utc_time():
    moment = datetime.datetime(2026, 12, 5, 10, 15, 0, tzinfo=datetime.timezone.utc)
    generated = open_incident({"id": "", "operator": "  alice "}, now=moment)
    assert generated == {"id": "INC-20261205101500", "id_generated": True, "operator": "alice", "launched_by": "",
                         "started_at": moment.timestamp(), "started_iso": "2026-12-05T10:15:00Z"}
    assert incident_line(generated) == "No rollback_incident_id given: this rollback is incident INC-20261205101500."
    given = open_incident({"id": " INC-1234 ", "operator": ""}, now=moment)
    assert given["id"] == "INC-1234" and given["id_generated"] is False and incident_line(given) == "Incident INC-1234."
    failed, result, _warnings = run_module(input_check, {"procedure": "test procedure", "incident": {"id": "INC-77", "operator": "bob"},
                                                         "inputs": [{"name": "rollback_incident_id", "value": "INC-77", "rule": "incident_id"}]})
    assert not failed and result["incident"]["id"] == "INC-77" and result["incident"]["operator"] == "bob"
    # A refused input opens nothing.
    failed, result, _warnings = run_module(input_check, {"procedure": "test procedure", "incident": {"id": "INC-x"},
                                                         "inputs": [{"name": "rollback_incident_id", "value": "INC-x", "rule": "incident_id"}]})
    assert failed and "incident" not in result and "rollback_incident_id" in result["msg"]


def test_stray_words_are_refused_first_naming_them_and_the_quoting():
    failed, result, _warnings = run_module(input_check, {"procedure": "test procedure", "stray_words": "doubles the DB load",
                                                         "inputs": [{"name": "x", "value": "not-a-duration", "rule": "duration"}]})
    assert failed and result["checked"] == 0
    assert "stray words 'doubles the DB load'" in result["msg"] and "-e \"<variable>='<its first word> doubles the DB load'\"" in result["msg"]


def test_in_an_awx_job_the_operator_is_the_jobs_user_alone():
    """Extra vars (a schedule's, an API launch's) cannot name an operator for an AWX job; a job without a user has none."""
    by_alice = open_incident({"operator": "lab-admin", "awx_job_id": "4711", "awx_user_name": " alice ", "awx_launch_type": "manual"})
    assert by_alice["operator"] == "alice" and by_alice["launched_by"] == "AWX job 4711 (manual)"
    scheduled = open_incident({"operator": "lab-admin", "awx_job_id": "4712", "awx_user_name": "", "awx_launch_type": "scheduled"})
    assert scheduled["operator"] == "" and scheduled["launched_by"] == "AWX job 4712 (scheduled)"
    outside = open_incident({"operator": "lab-admin", "awx_job_id": "", "awx_user_name": "mallory"})
    assert outside["operator"] == "lab-admin" and outside["launched_by"] == ""
