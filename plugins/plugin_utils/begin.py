# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The start of a rollback in one task (ofm.rollback.rollback_begin): the lease, the run journal, the SLO gate and the
operator's authority, with the reads at once.

Four modules, each run with its own options, argument spec, check mode and ``no_log`` rules:
M(ofm.rollback.rollback_lease), M(ofm.rollback.run_journal) (C(state=open)), M(ofm.rollback.rollback_gate) and
M(ofm.rollback.rollback_authorize). Their order is what keeps a second run harmless:

1. the lease first: a run that does not get it stops there, having written nothing (no journal run, no gate step);
2. then the journal, opened by the lease holder only: a re-run of the incident finds what a killed run did;
3. the gate: a decision to roll back that a killed run journaled is reused without a question; otherwise the fresh
   decision is written to the journal opened in 2;
4. the authorization.

The task fails when the rollback must not go on: another run holds the lease (nothing else is written), the gate failed, or
the operator is refused while the gate says roll back.

The gate's Prometheus and router reads and the ops API's admin probe change nothing, so when the modules run in the
worker (``concurrent``) they start at once with the lease, in threads; each answer waits until the steps before it are
done, and is thrown away when the journal holds a decision to reuse or the lease was refused. Run as processes (a remote
host, ``ofm_in_process: false``) the four run one after the other, in the same order.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Callable, Mapping, Optional

from ansible_collections.ofm.rollback.plugins.module_utils.rollback_gate import journal_decision, reused_decision, to_journal

# The task's options and the module each one runs.
PARTS = {"lease": "rollback_lease", "journal": "run_journal", "gate": "rollback_gate", "authorize": "rollback_authorize"}
# Where each part's result is in this task's result.
RESULT_KEYS = {"lease": "lease", "journal": "journal", "gate": "gate", "authorize": "authorization"}

# Runs one module (its short name) with its options and returns its result, as a module returns it.
Runner = Callable[[str, dict], dict]


def _gate_alone(gate_args: Mapping[str, Any]) -> dict[str, Any]:
    """The gate's options for a fresh decision: no reuse, and no journal (written here once the journal is open)."""
    return {key: value for key, value in gate_args.items() if key not in ("reuse", "journal")}


def _journal_target(journal_args: Optional[Mapping[str, Any]], journal: Optional[Mapping[str, Any]]) -> Optional[dict[str, Any]]:
    """The journal the gate's decision goes to: the one this run opened, when it gave a run id."""
    if not journal_args or not journal or journal.get("failed") or not journal.get("run_id"):
        return None
    return {"record_dir": journal_args.get("record_dir"), "incident_id": journal_args.get("incident_id"),
            "procedure": journal_args.get("procedure"), "run_id": journal["run_id"]}


def stopping_part(results: Mapping[str, Mapping[str, Any]]) -> Optional[str]:
    """The part whose failure stops the rollback, or None: a gate that failed; a refused operator, when the gate says roll back
    (or there is no gate). A journal that cannot be written never stops a rollback; an operator refused when there is
    nothing to roll back changes nothing."""
    gate = results.get("gate")
    if gate is not None and gate.get("failed"):
        return "gate"
    authorization = results.get("authorize")
    if authorization is not None and authorization.get("failed") and (gate is None or gate.get("proceed")):
        return "authorize"
    return None


class Begin:
    """One start of a rollback: ``run()`` returns the task's result."""

    def __init__(self, args: Mapping[str, Optional[dict]], run: Runner, *, concurrent: bool, check_mode: bool):
        self.args = {part: args.get(part) for part in PARTS}
        self.run_module = run
        self.concurrent = concurrent
        self.check_mode = check_mode
        self.warnings: list[str] = []

    def run(self) -> dict[str, Any]:
        """The four parts in order (see the module docstring); the reads started at once when ``concurrent``."""
        if not self.concurrent:
            return self._in_order({})
        with ThreadPoolExecutor(max_workers=2, thread_name_prefix="ofm-begin") as pool:
            early: dict[str, Future] = {}
            if self.args["gate"] is not None:
                early["gate"] = pool.submit(self.run_module, PARTS["gate"], _gate_alone(self.args["gate"]))
            if self.args["authorize"] is not None:
                early["authorize"] = pool.submit(self.run_module, PARTS["authorize"], dict(self.args["authorize"]))
            return self._in_order(early)

    def _in_order(self, early: Mapping[str, Future]) -> dict[str, Any]:
        results: dict[str, dict[str, Any]] = {}
        lease_args = self.args["lease"]
        if lease_args is not None:
            results["lease"] = self.run_module(PARTS["lease"], dict(lease_args))
            if results["lease"].get("failed"):
                # Nothing else is written: the journal and the gate's step belong to the run that holds the lease.
                return self._result(results, failed_part="lease")
        journal_args = self.args["journal"]
        if journal_args is not None:
            results["journal"] = self.run_module(PARTS["journal"], {**journal_args, "state": "open"})
        if self.args["gate"] is not None:
            results["gate"] = self._gate(results.get("journal"), early.get("gate"))
        if self.args["authorize"] is not None:
            future = early.get("authorize")
            results["authorize"] = future.result() if future is not None else self.run_module(PARTS["authorize"], dict(self.args["authorize"]))
        return self._result(results, failed_part=stopping_part(results))

    def _gate(self, journal: Optional[Mapping[str, Any]], fresh: Optional[Future]) -> dict[str, Any]:
        gate_args = dict(self.args["gate"] or {})
        if self.args["journal"] is None:
            # No journal of its own: the gate's options say what to reuse and where to journal (the module does both).
            return fresh.result() if fresh is not None and not (gate_args.get("reuse") or gate_args.get("journal")) \
                else self.run_module(PARTS["gate"], gate_args)
        journaled = ((journal or {}).get("steps") or {}).get("gate")
        if reused_decision(journaled) is not None:
            # A killed run of this incident decided to roll back: reused, without a request (a fresh answer is dropped).
            return self.run_module(PARTS["gate"], {**_gate_alone(gate_args), "reuse": journaled})
        target = _journal_target(self.args["journal"], journal)
        if fresh is None:
            # One after the other: the module journals its own decision.
            return self.run_module(PARTS["gate"], {**_gate_alone(gate_args), **({"journal": target} if target else {})})
        gate = fresh.result()
        if gate.get("failed") or target is None:
            return gate
        problem = journal_decision(target, gate, bool(gate_args.get("force")), self.check_mode)
        if problem:
            gate["warnings"] = [*gate.get("warnings", []), problem]
        gate["journaled"] = to_journal(target, gate, self.check_mode) and not problem
        return gate

    def _result(self, results: dict[str, dict[str, Any]], failed_part: Optional[str] = None) -> dict[str, Any]:
        result: dict[str, Any] = {"changed": any(bool(part.get("changed")) for part in results.values())}
        warnings: list[str] = []
        for part, part_result in results.items():
            warnings.extend(f"{part}: {warning}" for warning in part_result.pop("warnings", []) or [])
            result[RESULT_KEYS[part]] = part_result
        result["invocation"] = {"module_args": {part: (part_result.get("invocation") or {}).get("module_args")
                                                for part, part_result in results.items()}}
        if warnings:
            result["warnings"] = warnings
        if failed_part is not None:
            result.update(failed=True, msg=str(results[failed_part].get("msg") or f"the {failed_part} failed"))
        else:
            result["msg"] = "; ".join(f"{part}: {part_result.get('msg')}" for part, part_result in results.items() if part_result.get("msg"))
        return result
