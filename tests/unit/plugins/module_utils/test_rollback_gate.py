"""The emergency gate's decision, judged in Python: breach, already rolled back, no data, Prometheus down, forced."""
from __future__ import annotations

import pytest

from ansible_collections.ofm.rollback.plugins.module_utils.errors import InputError
from ansible_collections.ofm.rollback.plugins.module_utils.rollback_gate import (
    check_force,
    decide,
    journal_decision,
    needs_traffic,
    phase,
    reused_decision,
)


def evaluation(breached=(), unknown=(), error=None):
    return {"breach_detected": bool(breached), "breached": list(breached), "unknown": list(unknown), "monitoring_error": error,
            "monitoring_available": error is None, "summary": [f"{name}: BREACH" for name in breached] + [f"{name}: UNKNOWN" for name in unknown]}


CARRIES = {"all_on_stable": False, "configured": {"canary_weight": 10}, "measured": {"canary_share": 0.1}}
STABLE = {"all_on_stable": True, "configured": {"canary_weight": 0}, "measured": {"canary_share": 0.0}}
UNKNOWN_TRAFFIC = {"all_on_stable": None, "configured": None, "measured": None}


def test_a_breach_of_a_canary_that_carries_traffic_or_whose_traffic_is_unknown_proceeds():
    for traffic in (CARRIES, UNKNOWN_TRAFFIC, None):
        decision = decide(evaluation(["error_rate"]), traffic, force=False, force_reason="", sustain="5m")
        assert (decision.proceed, decision.verdict, decision.already_stable, decision.reasons) == (True, "breach", False, [])


def test_a_breach_of_a_canary_already_on_stable_does_not_proceed_and_says_so():
    decision = decide(evaluation(["error_rate"]), STABLE, force=False, force_reason="", sustain="5m")
    assert not decision.proceed and decision.already_stable
    assert decision.reasons[0] == ("No rollback: the canary carries no traffic now (canary weight 0, measured share 0.0): "
                                   "it has already been rolled back.")
    assert decision.reasons[1] == "error_rate: BREACH" and "rollback_force=true" in decision.reasons[-1]


@pytest.mark.parametrize("result, why", [
    (evaluation(), "No rollback: no SLO of the canary breaches for the last 5m."),
    (evaluation(unknown=["p95_latency", "error_rate"]),
     "No rollback: the breach cannot be confirmed, these SLOs have no usable data: p95_latency, error_rate."),
    (evaluation(unknown=["error_rate"], error="Prometheus could not be asked (connection refused)"),
     "No rollback: the breach cannot be confirmed: Prometheus could not be asked (connection refused)."),
])
def test_without_a_confirmed_breach_nothing_is_rolled_back_and_the_reason_is_given(result, why):
    decision = decide(result, CARRIES if result["unknown"] else None, force=False, force_reason="", sustain="5m")
    assert not decision.proceed and decision.reasons[0] == why and decision.reasons[-1].startswith("Nothing was changed.")


def test_a_forced_rollback_proceeds_even_on_stable_and_says_it_was_forced_with_monitoring_down():
    decision = decide(evaluation(unknown=["error_rate"], error="Prometheus could not be asked"), None, force=True,
                      force_reason="customers report errors", sustain="5m")
    assert decision.proceed and decision.forced and decision.verdict == "unknown"
    assert decision.reasons == ["Rollback FORCED without a confirmed SLO breach (unknown). Reason: customers report errors. Prometheus "
                                "could not be asked: traffic is judged from the router's weights and the rollback will not be verified."]
    confirmed = decide(evaluation(["error_rate"]), CARRIES, force=True, force_reason="", sustain="5m")
    assert confirmed.proceed and confirmed.reasons == []


def test_forcing_without_a_confirmed_breach_needs_a_reason_naming_the_option():
    with pytest.raises(InputError) as refused:
        check_force(True, "  ", evaluation())
    assert refused.value.option == "force_reason" and "rollback_force_reason" in str(refused.value)
    check_force(True, "", evaluation(["error_rate"]))  # a confirmed breach needs no reason
    check_force(False, "", evaluation())


def test_the_router_is_asked_only_on_a_breach_or_missing_data():
    assert needs_traffic(evaluation(["error_rate"])) and needs_traffic(evaluation(unknown=["error_rate"]))
    assert not needs_traffic(evaluation())


def test_a_journaled_decision_to_proceed_is_reused_with_its_evidence_and_anything_else_is_ignored():
    journaled = {"status": "done", "run_id": "run-1", "data": {"proceed": True, "verdict": "breach", "forced": False, "finished": 1796434300.5,
                                                               "result": {"breached": ["error_rate"], "unknown": [], "slos": {},
                                                                          "monitoring_available": True}, "traffic": {}}}
    reused = reused_decision(journaled)
    assert reused["proceed"] and reused["reused_from"] == "run-1" and reused["traffic"] is None and reused["breached"] == ["error_rate"]
    record = phase(reused, False, "", reused["finished"], "run-1")
    assert record["finished"] == 1796434300.5 and record["evidence"]["reused_from"] == "run-1" and record["evidence"]["verdict"] == "breach"
    for other in (None, {}, {**journaled, "status": "started"}, {**journaled, "data": {**journaled["data"], "proceed": False}}):
        assert reused_decision(other) is None


def fresh_decision(proceed=True, traffic=None):
    traffic = CARRIES if traffic is None else traffic
    result = {**evaluation(breached=["error_rate"]), "slos": {"error_rate": {"verdict": "breach"}}, "traffic": traffic,
              **decide(evaluation(breached=["error_rate"]), traffic, force=False, force_reason="", sustain="5m").as_dict()}
    result["proceed"] = proceed
    result["phase"] = phase(result, False, "", 1796434300.5, None)
    return result


def opened_journal(tmp_path):
    from ansible_collections.ofm.rollback.plugins.module_utils.run_journal import RunJournal, journal_path
    journal = RunJournal(journal_path(str(tmp_path), "INC-42", "emergency"), "INC-42", "emergency")
    run_id = journal.open_run(run_id=None, operator="alice", started=None)["run_id"]
    return journal, {"record_dir": str(tmp_path), "incident_id": "INC-42", "procedure": "emergency", "run_id": run_id}


def test_a_fresh_decision_to_proceed_is_journaled_and_a_re_run_gets_it_back_whole(tmp_path):
    journal, target = opened_journal(tmp_path)
    result = fresh_decision()
    assert journal_decision(target, result, False, check_mode=False) is None
    step = journal.load()["steps"]["gate"]
    assert step["status"] == "done" and step["run_id"] == target["run_id"]
    reused = reused_decision(step)
    assert reused["proceed"] and reused["breached"] == ["error_rate"] and reused["finished"] == 1796434300.5
    assert reused["traffic"] == {"all_on_stable": False, "configured": {"canary_weight": 10}, "measured": {"canary_share": 0.1}}


@pytest.mark.parametrize("case", ["check mode", "no rollback", "reused", "no run id"])
def test_nothing_is_journaled_in_check_mode_without_a_decision_to_proceed_or_without_a_run(tmp_path, case):
    journal, target = opened_journal(tmp_path)
    result = fresh_decision(proceed=case != "no rollback")
    if case == "reused":
        result["reused_from"] = "run-0"
    if case == "no run id":
        target = {**target, "run_id": ""}
    assert journal_decision(target, result, False, check_mode=case == "check mode") is None
    assert "gate" not in journal.load()["steps"]


def test_a_journal_that_cannot_be_written_is_reported_and_never_raised(tmp_path):
    journal, target = opened_journal(tmp_path)
    taken_over = {**target, "run_id": "20261205T000000Z-0001"}  # not the newest run of the journal: refused with a conflict
    problem = journal_decision(taken_over, fresh_decision(), False, check_mode=False)
    assert problem and problem.startswith("the decision could not be journaled") and "decides again" in problem
    assert "gate" not in journal.load()["steps"]
