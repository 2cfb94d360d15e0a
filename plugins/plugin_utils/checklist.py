# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The checklist as data, and the one judge of its lines.

``meta/checklist.yml`` lists every line of the rollback checklist: its stable id, section and title, and what automates
it or what a person does. A procedure's phase roles hand back their results (see :data:`RESULT_SHAPE`); the procedure's
rules (``checklist_rules_<procedure>.py``, one function per line id) turn those results into a :class:`Verdict` per
line. :func:`judge` applies them to every line the procedure prints: a line without a rule, or whose rule finds that its
step did not run, ends ``MANUAL`` with the map's instruction and the reason, never a silent ``skipped``.

This runs on the controller only (the ``ofm.rollback.checklist_report`` action and ``scripts/checklist.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Optional

import yaml

MAP_PATH = Path(__file__).resolve().parents[2] / "meta" / "checklist.yml"
# ok / failed / manual for every procedure; the post-rollback validation adds unknown (its source of truth could not answer:
# never ok, an error in JUnit) and pending (the 2-hour watch is still running: run it again).
STATUSES = ("ok", "failed", "manual", "unknown", "pending")
LABELS = {"ok": "ok    ", "failed": "FAILED", "manual": "MANUAL", "unknown": "UNKNOWN", "pending": "PENDING"}
KINDS = ("automated", "configured", "manual")
# What every phase role hands back as <role>_phase: the judge reads only these keys.
RESULT_SHAPE = {
    "status": "ok when the phase finished, failed when it stopped on an error, skipped when it did not run",
    "started": "UTC epoch seconds when the phase started",
    "finished": "UTC epoch seconds when it ended (also after a failure)",
    "changes": "list of one-line descriptions of what the phase changed (empty in check mode or when nothing changed)",
    "evidence": "dict of what the phase saw: module results and decisions, read by the procedure's rules",
}


class NotReached(Exception):
    """A rule's step did not run (the run stopped earlier, or the step was not configured): the line becomes MANUAL."""


@dataclass(frozen=True)
class Line:
    id: str
    section: str
    title: str
    kind: str
    subsection: Optional[str] = None
    text: str = ""
    command: str = ""
    procedure: Optional[str] = None
    automation: str = ""
    manual: str = ""
    automate_with: Optional[str] = None

    @property
    def heading(self) -> str:
        return f"{self.section} · {self.subsection}" if self.subsection else self.section


@dataclass(frozen=True)
class Verdict:
    """A line's status with its evidence; ``manual`` replaces the map's instruction when the line is MANUAL, ``automate`` (how a
    run would automate it) is added to the instruction."""
    status: str
    evidence: str = ""
    manual: str = ""
    automate: str = ""

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {', '.join(STATUSES)}, not {self.status!r}")


def ok(evidence: str) -> Verdict:
    return Verdict("ok", evidence)


def failed(evidence: str) -> Verdict:
    return Verdict("failed", evidence)


def unknown(evidence: str) -> Verdict:
    """The line could not be judged: its source of truth did not answer (``evidence`` says which and why)."""
    return Verdict("unknown", evidence)


def pending(evidence: str) -> Verdict:
    """The line's check is under way and not over yet (``evidence`` says how far it is and when to look again)."""
    return Verdict("pending", evidence)


def manual(instruction: str, evidence: str = "", automate: str = "") -> Verdict:
    """MANUAL with ``instruction`` (empty: the map's own for the line), ``evidence`` (why) and ``automate`` (how to automate it)."""
    return Verdict("manual", evidence, instruction, automate)


Rule = Callable[[Mapping[str, Any]], Verdict]


def phase_result(results: Mapping[str, Any], phase: str, not_run: str) -> Mapping[str, Any]:
    """The procedure's phase result ``results[phase]``; NotReached(``not_run``) when it is missing or skipped."""
    found = results.get(phase) or {}
    if not found or found.get("status") == "skipped":
        raise NotReached(not_run)
    return found


@dataclass
class ChecklistMap:
    lines: list[Line]
    procedures: dict[str, dict[str, Any]] = field(default_factory=dict)

    def line(self, line_id: str) -> Line:
        for line in self.lines:
            if line.id == line_id:
                return line
        raise KeyError(f"no checklist line {line_id!r}")

    def printed_by(self, procedure: str) -> list[Line]:
        """The lines a procedure's summary prints: its sections, the sections it borders and the lines it judges elsewhere."""
        if procedure not in self.procedures:
            raise ValueError(f"procedure must be one of {', '.join(self.procedures)}, not {procedure!r}")
        spec = self.procedures[procedure]
        sections = set(spec.get("owns", [])) | set(spec.get("borders", []))
        return [line for line in self.lines if line.section in sections or line.subsection in sections or line.procedure == procedure]


def load(path: Path = MAP_PATH) -> ChecklistMap:
    """Read and check the map: unique ids, known kinds and procedures, an instruction on every line."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    procedures = data.get("procedures") or {}
    lines = [Line(**entry) for entry in data["lines"]]
    seen: set[str] = set()
    for line in lines:
        problems = []
        if line.id in seen:
            problems.append("duplicate id")
        if line.kind not in KINDS:
            problems.append(f"kind must be one of {', '.join(KINDS)}")
        if line.procedure is not None and line.procedure not in procedures:
            problems.append(f"unknown procedure {line.procedure!r}")
        if line.kind != "manual" and not (line.procedure and line.automation):
            problems.append("an automated line needs its procedure and automation")
        if not line.manual:
            problems.append("no manual instruction")
        if problems:
            raise ValueError(f"{path}: line {line.id}: {'; '.join(problems)}")
        seen.add(line.id)
    return ChecklistMap(lines, procedures)


def judge(checklist: ChecklistMap, procedure: str, rules: Mapping[str, Rule], results: Mapping[str, Any],
          only: Optional[Iterable[str]] = None) -> list[dict[str, Any]]:
    """Every line the procedure prints (or the ``only`` ids), each with its status (see STATUSES), evidence and instruction."""
    wanted = set(only) if only is not None else None
    unknown = (wanted or set()) - {line.id for line in checklist.lines}
    if unknown:
        raise ValueError(f"only: unknown checklist line(s) {', '.join(sorted(unknown))}")
    judged = []
    # A line of a section the procedure owns that its rules judge is printed in full, though another procedure automates it
    # (the status page line: the emergency run opens the incident, the communications procedure carries it on).
    owns = set(checklist.procedures[procedure].get("owns", []))
    for line in checklist.printed_by(procedure):
        if wanted is not None and line.id not in wanted:
            continue
        found = _judge_line(line, procedure, rules.get(line.id), results)
        found["owned"] = found["owned"] or (line.id in rules and (line.section in owns or line.subsection in owns))
        judged.append(found)
    return judged


def _judge_line(line: Line, procedure: str, rule: Optional[Rule], results: Mapping[str, Any]) -> dict[str, Any]:
    if rule is None:
        verdict = manual(line.manual, _not_automated_here(line, procedure))
    else:
        try:
            verdict = rule(results)
        except NotReached as reason:
            verdict = manual(line.manual, f"not done: {reason}")
    instruction = (verdict.manual or line.manual) if verdict.status == "manual" else ""
    if instruction and verdict.automate:
        instruction = f"{instruction.rstrip()} To automate: {verdict.automate.rstrip('.')}."
    return {"id": line.id, "section": line.section, "subsection": line.subsection, "title": line.title,
            "status": verdict.status, "evidence": verdict.evidence, "instruction": instruction,
            "owned": line.procedure == procedure}


def _not_automated_here(line: Line, procedure: str) -> str:
    if line.kind == "manual":
        return f"not automated yet ({line.automate_with})" if line.automate_with else "a person's judgement"
    if line.procedure != procedure:
        return f"automated by the {line.procedure} procedure"
    return "no rule judges this line yet"


def counts(judged: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    tally = {status: 0 for status in STATUSES}
    for line in judged:
        tally[line["status"]] += 1
    return tally


def render(judged: list[Mapping[str, Any]], width: int = 150) -> list[str]:
    """The summary's checklist block: a heading per subsection, then one line per line the procedure judges, ending in its
    status and evidence (or instruction); the MANUAL lines of sections it only borders are listed together, their
    instructions are in the incident record (and in ``lines``)."""
    out: list[str] = []
    heading = None
    bordering: list[str] = []

    def flush() -> None:
        if bordering:
            out.extend(_wrap("  [MANUAL] ", bordering, width))
            bordering.clear()

    for line in judged:
        current = f"{line['section']} · {line['subsection']}" if line["subsection"] else line["section"]
        if current != heading:
            flush()
            heading = current
            out.append(current)
        if line["status"] == "manual" and not line["owned"]:
            bordering.append(line["title"])
            continue
        flush()
        label = LABELS[line["status"]]
        detail = line["instruction"] if line["status"] == "manual" else line["evidence"]
        if line["status"] == "manual" and line["evidence"]:
            detail = f"{detail} ({line['evidence']})"
        text = f"  [{label}] {line['title']}: {detail}"
        # What a person must do, or why a line failed, is never cut; the evidence of an ok line may be (the record has it all).
        out.append(text if len(text) <= width or line["status"] != "ok" else text[: width - 3] + "...")
    flush()
    return out


def _wrap(prefix: str, titles: list[str], width: int) -> list[str]:
    """``prefix`` and the titles joined by ' · ', continued on lines indented like the first title."""
    lines, current = [], prefix + titles[0]
    for title in titles[1:]:
        if len(current) + 3 + len(title) > width:
            lines.append(current + " ·")
            current = " " * len(prefix) + title
        else:
            current = f"{current} · {title}"
    return lines + [current]


def coverage(checklist: ChecklistMap) -> list[dict[str, str]]:
    """One row per line: the line, its kind and the procedure that automates it (or what would)."""
    rows = []
    for line in checklist.lines:
        owner = line.procedure or ""
        if line.kind == "manual":
            owner = f"manual; {line.automate_with}" if line.automate_with else "manual"
        elif line.kind == "configured":
            owner = f"{line.procedure} (with {line.automate_with})"
        rows.append({"id": line.id, "section": line.heading, "title": line.title, "kind": line.kind, "owner": owner})
    return rows
