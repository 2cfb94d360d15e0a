# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The emergency rollback's gate, judged in Python, in one task.

The SLOs are evaluated over the sustain window (``slo.SloChecker``). When one breaches, or none can be judged, the router
is asked whether the canary still carries traffic (``traffic.TrafficReader``): the SLO windows still hold a canary's bad
minutes after it was rolled back, so only a canary that carries traffic now is rolled back. Then ``decide``:

- a breach on a canary that carries traffic (or whose traffic is unknown): proceed;
- ``force`` (with a reason, required unless the breach is confirmed): proceed, and say that the rollback was forced;
- anything else: do not proceed, and say why (no breach, nothing left to roll back, or the breach cannot be confirmed,
  with Prometheus's own error), with the command that forces it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional

from ansible_collections.ofm.rollback.plugins.module_utils.errors import InputError

FORCE_HINT = "Nothing was changed. To roll back anyway: -e rollback_force=true -e rollback_force_reason='<why>'."


@dataclass(frozen=True)
class Decision:
    """Whether the rollback runs, the verdict of the SLOs (breach, unknown, ok), and what to tell the operator."""

    proceed: bool
    verdict: str
    already_stable: bool
    forced: bool
    reasons: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"proceed": self.proceed, "verdict": self.verdict, "already_stable": self.already_stable, "forced": self.forced,
                "reasons": list(self.reasons)}


def needs_traffic(evaluation: Mapping[str, Any]) -> bool:
    """Whether the router must be asked: a breach, or SLOs without data (a confirmed OK needs no router)."""
    return bool(evaluation["breach_detected"] or evaluation["unknown"])


def check_force(force: bool, force_reason: str, evaluation: Mapping[str, Any]) -> None:
    """A rollback forced without a confirmed breach needs a reason (it is announced and audited)."""
    if force and not evaluation["breach_detected"] and not (force_reason or "").strip():
        raise InputError("slo_gate_force (rollback_force) is true but no reason was given", option="force_reason",
                         accepted="a reason: set rollback_force_reason to say why the rollback must run without a confirmed SLO breach")


def _value(reading: Optional[Mapping[str, Any]], part: str, key: str) -> Any:
    section = (reading or {}).get(part) or {}
    value = section.get(key)
    return "unknown" if value is None else value


def decide(evaluation: Mapping[str, Any], traffic: Optional[Mapping[str, Any]], *, force: bool, force_reason: str, sustain: str) -> Decision:
    """The gate's decision from the SLO evaluation (``SloEvaluation.summary()``) and the router's reading (or None)."""
    breach = bool(evaluation["breach_detected"])
    verdict = "breach" if breach else ("unknown" if evaluation["unknown"] else "ok")
    already_stable = bool(traffic and traffic.get("all_on_stable") is True)
    proceed = (breach and not already_stable) or force
    monitoring_error = evaluation.get("monitoring_error")
    if proceed:
        reasons = []
        if force and not breach:
            note = (f". {monitoring_error}: traffic is judged from the router's weights and the rollback will not be verified."
                    if monitoring_error else "")
            reasons = [f"Rollback FORCED without a confirmed SLO breach ({verdict}). Reason: {force_reason}{note}"]
        return Decision(True, verdict, already_stable, force, reasons)
    if already_stable:
        why = (f"the canary carries no traffic now (canary weight {_value(traffic, 'configured', 'canary_weight')}, measured share "
               f"{_value(traffic, 'measured', 'canary_share')}): it has already been rolled back")
    elif verdict == "ok":
        why = f"no SLO of the canary breaches for the last {sustain}"
    elif monitoring_error:
        why = f"the breach cannot be confirmed: {monitoring_error}"
    else:
        why = f"the breach cannot be confirmed, these SLOs have no usable data: {', '.join(evaluation['unknown'])}"
    summary = evaluation.get("summary") or []
    return Decision(False, verdict, already_stable, False, [f"No rollback: {why}.", *summary, FORCE_HINT])


def reused_decision(journaled: Optional[Mapping[str, Any]]) -> Optional[dict[str, Any]]:
    """The decision to proceed that a killed run of this incident journaled (its ``gate`` step), as this module returns one;
    None when there is none (the journal holds a decision to proceed only)."""
    data = (journaled or {}).get("data") or {}
    if (journaled or {}).get("status") != "done" or not data.get("proceed"):
        return None
    run_id = (journaled or {}).get("run_id")
    return {**(data.get("result") or {}), "traffic": data.get("traffic") or None, "proceed": True, "verdict": data.get("verdict", "breach"),
            "already_stable": False, "forced": bool(data.get("forced")), "reasons": [], "finished": float(data.get("finished") or 0.0),
            "reused_from": run_id, "msg": f"roll back: the decision of run {run_id}, reused"}


def journal_data(result: Mapping[str, Any], force: bool) -> dict[str, Any]:
    """What the run journal's ``gate`` step keeps of a decision to proceed: all that ``reused_decision`` gives a re-run back."""
    traffic = result.get("traffic")
    kept = ("breach_detected", "breached", "unknown", "slos", "monitoring_available")
    return {"proceed": True, "verdict": result["verdict"], "forced": force, "finished": float(result["phase"]["finished"]),
            "result": {**{key: result.get(key) for key in kept}, "summary": result.get("summary") or "",
                       "monitoring_error": result.get("monitoring_error")},
            "traffic": {} if not traffic else {part: traffic.get(part) for part in ("all_on_stable", "configured", "measured")}}


def to_journal(journal: Optional[Mapping[str, Any]], result: Mapping[str, Any], check_mode: bool) -> bool:
    """Whether ``result`` is written to ``journal``: a fresh decision to proceed, of a run the journal opened, outside check mode."""
    return bool(journal and journal.get("run_id") and result.get("proceed") and not result.get("reused_from") and not check_mode)


def journal_decision(journal: Optional[Mapping[str, Any]], result: Mapping[str, Any], force: bool, check_mode: bool) -> Optional[str]:
    """Journal a fresh decision to proceed as the ``gate`` step of ``journal`` (its record_dir, incident_id, procedure and
    run_id), so that a re-run of the incident reuses it. Returns None, or why it could not be written: the journal is the
    run's bookkeeping and never stops a rollback (the summary says that a re-run would decide again)."""
    # pylint: disable=import-outside-toplevel
    from ansible_collections.ofm.rollback.plugins.module_utils.errors import OfmRollbackError
    from ansible_collections.ofm.rollback.plugins.module_utils.run_journal import RunJournal, journal_path

    if not to_journal(journal, result, check_mode=False):
        return None
    try:
        path = journal_path(journal["record_dir"], journal["incident_id"], journal["procedure"])
        RunJournal(path, journal["incident_id"], journal["procedure"]).step(
            run_id=journal["run_id"], name="gate", status="done", data=journal_data(result, force), check_mode=check_mode)
    except (OfmRollbackError, OSError, ValueError) as exc:
        return f"the decision could not be journaled ({exc}): a re-run of this incident decides again"
    return None


def phase(result: Mapping[str, Any], force: bool, force_reason: str, finished: float, reused_from: Optional[str]) -> dict[str, Any]:
    """The procedure's record of the gate step (``slo_gate_phase``): what was decided and on what evidence."""
    return {"status": "ok", "started": None, "finished": finished, "changes": [],
            "evidence": {"proceed": bool(result["proceed"]), "forced": force, "force_reason": force_reason, "verdict": result["verdict"],
                         "already_stable": bool(result["already_stable"]), "breached": result.get("breached") or [],
                         "unknown": result.get("unknown") or [], "slos": result.get("slos") or {},
                         "monitoring_available": result.get("monitoring_available", True),
                         "monitoring_error": result.get("monitoring_error"), "traffic": result.get("traffic"), "reused_from": reused_from}}


class GateRun:
    """One run of the gate from the ``rollback_gate`` module's parameters: every option checked when it is made (before
    any request), then ``run()`` evaluates, reads the router when needed, and decides."""

    def __init__(self, params: Mapping[str, Any]) -> None:
        # pylint: disable=import-outside-toplevel
        from ansible_collections.ofm.rollback.plugins.module_utils.prometheus import PrometheusClient
        from ansible_collections.ofm.rollback.plugins.module_utils.slo import check_options
        from ansible_collections.ofm.rollback.plugins.module_utils.traffic import haproxy_router, traffic_meter

        self.params = params
        self.options = check_options(params)
        self.warnings = list(self.options.warnings)
        self.prometheus = PrometheusClient.from_params(params)
        self.router = haproxy_router(params)
        self.meter = traffic_meter(params, self.prometheus)

    def run(self, now: Optional[float] = None, check_mode: bool = False) -> dict[str, Any]:
        """The gate's result: the SLOs' evaluation fields, ``traffic``, the decision, ``msg`` and ``phase`` (the procedure's
        record of this step), a decision to proceed journaled when O(journal) names the run (not in check mode); the
        decision a killed run of the incident journaled when O(reuse) holds one, without a request."""
        # pylint: disable=import-outside-toplevel
        from ansible_collections.ofm.rollback.plugins.module_utils.slo import SloChecker
        from ansible_collections.ofm.rollback.plugins.module_utils.traffic import TrafficReader, read_split

        force, force_reason = bool(self.params.get("force")), str(self.params.get("force_reason") or "")
        reused = reused_decision(self.params.get("reuse"))
        if reused is not None:
            return {**reused, "phase": phase(reused, force, force_reason, reused["finished"], reused["reused_from"]), "journaled": False}
        evaluation = SloChecker(self.prometheus, self.options.slos, self.options.settings).evaluate()
        summary = evaluation.summary()
        check_force(force, force_reason, summary)
        traffic = None
        if needs_traffic(summary):
            # Without monitoring the router's configured weights alone say whether the canary carries traffic.
            reader = TrafficReader(self.router, self.meter if summary["monitoring_available"] else None)
            traffic = read_split(reader).as_dict() if reader.has_source else None
        decision = decide(summary, traffic, force=force, force_reason=force_reason, sustain=self.params["sustain"])
        message = evaluation.message(self.options.settings.scope)
        verb = "roll back" if decision.proceed else "no rollback"
        result = {**summary, "traffic": traffic, **decision.as_dict(), "msg": f"{verb}: {message}"}
        result["phase"] = phase(result, force, force_reason, time.time() if now is None else now, None)
        problem = journal_decision(self.params.get("journal"), result, force, check_mode)
        if problem:
            self.warnings.append(problem)
        return {**result, "journaled": to_journal(self.params.get("journal"), result, check_mode) and not problem}

    def requests(self) -> list[dict[str, Any]]:
        """Every HTTP request made to Prometheus (the SLOs and the measured share share one client)."""
        return self.prometheus.http.requests
