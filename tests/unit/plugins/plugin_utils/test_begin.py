# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The start of a rollback in one task (plugin_utils/begin.py): the order that keeps a second run harmless, the reads at once,
a journaled decision reused, a fresh one journaled, and which failure stops the rollback. The modules are stand-ins here,
except the run journal, which is the real module on a real file."""
from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Optional

import pytest

from ansible_collections.ofm.rollback.plugins.modules import run_journal
from ansible_collections.ofm.rollback.plugins.plugin_utils.begin import Begin, stopping_part
from ansible_collections.ofm.rollback.plugins.plugin_utils.in_process import run_in_process

PROCEED = {"proceed": True, "breach_detected": True, "verdict": "breach", "reasons": [], "msg": "roll back: error_rate breached",
           "phase": {"status": "ok", "finished": 1796466001.5}, "slos": {}, "breached": ["error_rate"]}
AUTHORIZED = {"authorized": True, "authority": "incident_admins list", "msg": "alice may roll back"}
REFUSED = {"failed": True, "msg": "Refused: bob is not an admin. Nothing was changed."}


class Modules:
    """Stand-ins of the four modules: the answers given, every call recorded in order (with its options)."""

    def __init__(self, tmp_path: Path, lease: Optional[dict] = None, gate: Optional[dict] = None, authorize: Optional[dict] = None):
        self.tmp_path = tmp_path
        self.answers = {"rollback_lease": lease or {"acquired": True, "changed": True, "msg": "took the lease"},
                        "rollback_gate": gate or dict(PROCEED), "rollback_authorize": authorize or dict(AUTHORIZED)}
        self.calls: list[tuple[str, dict]] = []
        self.lock = threading.Lock()
        self.lease_gate: Optional[threading.Barrier] = None

    def __call__(self, module: str, args: dict) -> dict:
        with self.lock:
            self.calls.append((module, dict(args)))
        if module == "run_journal":  # the real module, on a file under tmp_path
            return run_in_process(run_journal.main, args, False)
        if self.lease_gate is not None and module in ("rollback_lease", "rollback_gate", "rollback_authorize"):
            self.lease_gate.wait(timeout=10)  # returns only when the three run at the same time
        if module == "rollback_gate" and args.get("reuse"):
            return {"proceed": True, "reused_from": args["reuse"]["run_id"], "msg": "roll back: the decision of run r1, reused"}
        return dict(self.answers[module], invocation={"module_args": dict(args)})

    def names(self) -> list[str]:
        return [name for name, _args in self.calls]


def parts(tmp_path: Path, **overrides: Any) -> dict[str, Any]:
    journal = {"record_dir": str(tmp_path / "records"), "incident_id": "INC-42", "procedure": "emergency", "operator": "alice",
               "started": 1796466000.0}
    values = {"lease": {"name": "lease-1"}, "journal": journal, "gate": {"scope": "canary", "force": False},
              "authorize": {"operator": "alice", "admins": ["alice"]}}
    values.update(overrides)
    return values


def journal_steps(tmp_path: Path) -> dict[str, Any]:
    opened = run_in_process(run_journal.main, {**parts(tmp_path)["journal"], "state": "open"}, False)
    return opened["steps"]


@pytest.mark.parametrize("concurrent", [True, False])
def test_a_refused_lease_stops_before_the_journal_and_writes_nothing(tmp_path, concurrent):
    modules = Modules(tmp_path, lease={"failed": True, "msg": "held by run of INC-41 (bob) since 2026-12-05T10:00:00Z"})
    result = Begin(parts(tmp_path), modules, concurrent=concurrent, check_mode=False).run()
    assert result["failed"] is True and result["msg"] == "held by run of INC-41 (bob) since 2026-12-05T10:00:00Z"
    assert set(result) >= {"lease"} and not {"journal", "gate", "authorization"} & set(result)
    assert "run_journal" not in modules.names() and not (tmp_path / "records").exists()
    # In order, nothing but the lease ran; at once, the reads may have been made, and nothing else.
    assert modules.names() == ["rollback_lease"] if not concurrent else set(modules.names()) <= {"rollback_lease", "rollback_gate", "rollback_authorize"}


def test_the_gate_and_the_admin_probe_run_at_once_with_the_lease(tmp_path):
    modules = Modules(tmp_path)
    modules.lease_gate = threading.Barrier(3)  # broken (and the test failed) unless the three calls overlap
    result = Begin(parts(tmp_path), modules, concurrent=True, check_mode=False).run()
    assert not result.get("failed"), result
    assert not modules.lease_gate.broken
    assert result["gate"]["proceed"] is True and result["authorization"]["authority"] == "incident_admins list"
    # The journal was opened once the lease was held, and then the fresh decision was journaled in it.
    assert modules.names().index("run_journal") > modules.names().index("rollback_lease")
    assert result["gate"]["journaled"] is True
    steps = journal_steps(tmp_path)
    assert steps["gate"]["status"] == "done" and steps["gate"]["data"]["proceed"] is True


def test_in_order_the_gate_module_journals_its_own_decision(tmp_path):
    modules = Modules(tmp_path)
    result = Begin(parts(tmp_path), modules, concurrent=False, check_mode=False).run()
    assert modules.names() == ["rollback_lease", "run_journal", "rollback_gate", "rollback_authorize"]
    gate_args = modules.calls[2][1]
    assert gate_args["journal"] == {"record_dir": str(tmp_path / "records"), "incident_id": "INC-42", "procedure": "emergency",
                                    "run_id": result["journal"]["run_id"]}
    assert "reuse" not in gate_args


def test_a_decision_a_killed_run_journaled_is_reused_and_a_fresh_answer_dropped(tmp_path):
    first = Begin(parts(tmp_path), Modules(tmp_path), concurrent=True, check_mode=False).run()
    assert first["gate"]["journaled"] is True
    # The second run: the fresh gate would say "no rollback" (the SLOs recovered after the first run's rollback).
    modules = Modules(tmp_path, gate={"proceed": False, "reasons": ["No rollback: no SLO breaches."], "msg": "no rollback"})
    second = Begin(parts(tmp_path), modules, concurrent=True, check_mode=False).run()
    assert second["journal"]["resumed"] is True
    assert second["gate"]["proceed"] is True and second["gate"]["reused_from"] == first["journal"]["run_id"]
    reuse_calls = [args for name, args in modules.calls if name == "rollback_gate" and args.get("reuse")]
    assert len(reuse_calls) == 1 and reuse_calls[0]["reuse"]["data"]["proceed"] is True


def test_check_mode_journals_nothing(tmp_path):
    result = Begin(parts(tmp_path), Modules(tmp_path), concurrent=True, check_mode=True).run()
    assert result["gate"]["journaled"] is False and "gate" not in journal_steps(tmp_path)


def test_a_journal_that_cannot_be_opened_never_stops_the_rollback(tmp_path):
    (tmp_path / "records").write_text("a file where the directory should be")
    result = Begin(parts(tmp_path), Modules(tmp_path), concurrent=True, check_mode=False).run()
    assert not result.get("failed") and result["journal"]["failed"] is True
    assert result["gate"]["proceed"] is True and "journaled" not in result["gate"]


@pytest.mark.parametrize("gate, authorization, stops", [
    ({"failed": True, "msg": "Prometheus refused"}, AUTHORIZED, "gate"),
    (PROCEED, REFUSED, "authorize"),
    ({"proceed": False, "reasons": ["No rollback: no SLO breaches."]}, REFUSED, None),
    (PROCEED, AUTHORIZED, None),
])
def test_which_failure_stops_the_rollback(tmp_path, gate, authorization, stops):
    assert stopping_part({"gate": gate, "authorize": authorization}) == stops
    result = Begin(parts(tmp_path), Modules(tmp_path, gate=dict(gate), authorize=dict(authorization)), concurrent=True, check_mode=False).run()
    assert bool(result.get("failed")) is (stops is not None)
    if stops == "gate":
        assert result["msg"] == "Prometheus refused"
    elif stops == "authorize":
        assert result["msg"] == REFUSED["msg"]


def test_only_the_parts_given_run_and_without_a_journal_the_gate_options_are_passed_as_they_are(tmp_path):
    modules = Modules(tmp_path)
    journaled = {"status": "done", "run_id": "r1", "data": {"proceed": True}}
    result = Begin({"gate": {"scope": "canary", "reuse": journaled}}, modules, concurrent=True, check_mode=False).run()
    assert set(result) == {"changed", "gate", "invocation", "msg"}
    # The fresh read (started at once) is dropped: the gate's own reuse option decides.
    assert [args.get("reuse") for name, args in modules.calls if name == "rollback_gate"][-1] == journaled
    assert result["gate"]["reused_from"] == "r1"


def test_warnings_of_the_parts_are_the_tasks_named_by_part_and_the_invocations_are_kept(tmp_path):
    modules = Modules(tmp_path, lease={"acquired": False, "msg": "no lease", "warnings": ["Kubernetes cannot be reached: went on without a lease"]})
    result = Begin(parts(tmp_path), modules, concurrent=True, check_mode=False).run()
    assert result["warnings"] == ["lease: Kubernetes cannot be reached: went on without a lease"]
    assert "warnings" not in result["lease"]
    assert result["invocation"]["module_args"]["authorize"] == {"operator": "alice", "admins": ["alice"]}
    assert result["changed"] is result["journal"]["changed"] is True  # the journal run was written
