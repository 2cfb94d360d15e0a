# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A restore's progress in the procedure's run journal (``run_journal.py``), kind by kind, so that a run killed between two
systems is finished by the next one without restoring a kind twice and without losing the rollouts the first one owed.

Per kind ``restore:<kind>``: ``started`` with the targets it is about to write, ``done`` with those it wrote; then
``restore:rollouts`` once the Deployments were restarted or waited for. Every entry names the source (the snapshot id), so
the progress of another snapshot's restore is not taken for this one's.

A re-run plans from the values as they are (what a killed run restored plans as unchanged, so it is not written again), and
owes the rollouts of everything the runs before it wrote: a ConfigMap restored by a killed run still needs its Deployments
restarted. Writing the journal never stops a restore: a failure is a warning.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence

from ansible_collections.ofm.rollback.plugins.module_utils.config.appliers import CACHE_TARGET
from ansible_collections.ofm.rollback.plugins.module_utils.config.snapshot import KINDS
from ansible_collections.ofm.rollback.plugins.module_utils.errors import OfmRollbackError
from ansible_collections.ofm.rollback.plugins.module_utils.run_journal import RunJournal

PREFIX = "restore:"
ROLLOUTS = PREFIX + "rollouts"


class RestoreProgress:
    """The journal of one restore of ``source_id``; ``earlier`` holds what runs before this one restored of the same source."""

    def __init__(self, journal: RunJournal, run_id: str, source_id: str, check_mode: bool) -> None:
        self.journal = journal
        self.run_id = run_id
        self.source_id = source_id
        self.check_mode = check_mode
        self.warnings: list[str] = []
        document = journal.load() or {}
        self.earlier = {name[len(PREFIX):]: step for name, step in (document.get("steps") or {}).items()
                        if name.startswith(PREFIX) and step.get("run_id") != run_id and (step.get("data") or {}).get("source") == source_id}

    @classmethod
    def of(cls, option: Optional[Mapping[str, Any]], source_id: str, check_mode: bool) -> Optional["RestoreProgress"]:
        """The progress the ``journal`` option points at (the result of ``run_journal`` state=open), or None without one."""
        if not option or not option.get("run_id"):
            return None
        return cls(RunJournal(option["path"], option["incident_id"], option["procedure"]), option["run_id"], source_id, check_mode)

    def kind(self, kind: str, status: str, targets: Sequence[str]) -> None:
        """``restore()``'s hook: a kind ``started`` (the targets it will write) or ``done`` (those it wrote)."""
        key = "planned" if status == "started" else "targets"
        self._write({PREFIX + kind: {"status": status, "data": {"source": self.source_id, key: list(targets)}}})

    def rollouts_done(self, rollouts: Sequence[Mapping[str, Any]]) -> None:
        self._write({ROLLOUTS: {"status": "done", "data": {"source": self.source_id,
                                                           "deployments": [entry.get("deployment") for entry in rollouts]}}})

    def restored_before(self) -> dict[str, dict[str, Any]]:
        """The kinds runs before this one restored (``done``) or were restoring when they stopped (``started``), in restore order."""
        kinds = sorted((kind for kind in self.earlier if kind != "rollouts"), key=lambda kind: (KINDS.index(kind) if kind in KINDS else len(KINDS), kind))
        return {kind: self.earlier[kind] for kind in kinds}

    def owed_targets(self, written: Mapping[str, Sequence[str]]) -> dict[str, list[str]]:
        """``written`` (this run's targets per kind, as ``kube_targets`` gives them) plus what earlier runs wrote or may have
        written, unless an earlier run already rolled the Deployments after them."""
        merged = {kind: list(targets) for kind, targets in written.items()}
        if (self.earlier.get("rollouts") or {}).get("status") == "done":
            return merged
        for kind, step in self.restored_before().items():
            data = step.get("data") or {}
            targets = data.get("targets") if step.get("status") == "done" else data.get("planned")
            if kind in merged:
                merged[kind] = list(dict.fromkeys([*merged[kind], *[name for name in targets or () if name != CACHE_TARGET]]))
        return merged

    def annotate(self, report: dict[str, Any]) -> dict[str, Any]:
        """The report's kinds that an earlier run restored say so (this run found them unchanged)."""
        earlier = self.restored_before()
        for entry in report.get("kinds") or ():
            step = earlier.get(entry.get("kind"))
            if step and entry.get("status") == "unchanged":
                how = "restored" if step.get("status") == "done" else "being restored when it stopped"
                entry["reason"] = f"{how} by run {step.get('run_id')}"
        by_run: dict[str, list[str]] = {}
        for kind, step in earlier.items():
            if step.get("status") == "done":
                by_run.setdefault(str(step.get("run_id")), []).append(kind)
        if by_run:
            before = [f"restored before by run {run}: {', '.join(kinds)}" for run, kinds in by_run.items()]
            report["message"] = "; ".join([report.get("message") or "", *before])
        return report

    def summary(self) -> dict[str, Any]:
        """What this run resumed: the earlier runs and the kinds they restored."""
        earlier = self.restored_before()
        return {"runs": sorted({step.get("run_id") for step in earlier.values()}),
                "kinds": [kind for kind, step in earlier.items() if step.get("status") == "done"],
                "interrupted": [kind for kind, step in earlier.items() if step.get("status") == "started"],
                "rollouts_owed": (self.earlier.get("rollouts") or {}).get("status") != "done" and bool(earlier)}

    def _write(self, steps: Mapping[str, Any]) -> None:
        if self.check_mode:
            return
        try:
            self.journal.steps(run_id=self.run_id, steps=steps)
        except OfmRollbackError as exc:
            self.warnings.append(f"the run journal was not written ({exc}): a re-run after a crash may restart Deployments again")
