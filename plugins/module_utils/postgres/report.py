# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The RTO/RPO report of a database rollback (point-in-time recovery into a sandbox), as JSON and Markdown.

Definitions (the same words are in the module's documentation and in every report):

- RTO achieved: from the start of the restore to the end of the sandbox's validation (``validated_at``).
- RPO achieved: ``target_time - reached_time``, where ``target_time`` is the point in time the recovery was asked to reach
  and ``reached_time`` the commit time of the last transaction the sandbox actually holds; 0 when the sandbox reached the
  target or beyond. It bounds the committed data that the sandbox lacks relative to the target: transactions committed
  in that span are lost (when nothing was committed in it, nothing was lost, so it is an upper bound).
- A target is met when the achieved value is at most the target (equal counts as met).

The report holds no wall-clock time of its own making, so the same inputs give the same bytes.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Mapping, Optional

from ansible_collections.ofm.rollback.plugins.module_utils.errors import InputError
from ansible_collections.ofm.rollback.plugins.module_utils.redact import redact
from ansible_collections.ofm.rollback.plugins.module_utils.durations import format_duration, parse_duration

REPORT_VERSION = 1
DIR_MODE = 0o700
FILE_MODE = 0o600
TIME_HELP = "an ISO 8601 time such as 2026-11-28 03:00:00, 2026-11-28T03:00:00Z or 2026-11-28 03:00:00+01:00 (no offset: UTC)"
RTO_DEFINITION = "RTO achieved: time from the start of the restore to the end of the sandbox's validation (validated_at)."
RPO_DEFINITION = ("RPO achieved: the PITR target time minus the commit time of the last transaction the sandbox actually holds, "
                  "0 when the sandbox reached the target; transactions committed in that span before the target are missing "
                  "from the sandbox (an upper bound on the data lost relative to the target).")
MET_DEFINITION = "A target is met when the achieved value is at most the target."
_RESULT_NOISE = ("invocation", "changed", "failed", "msg", "diff", "_ansible_no_log", "warnings", "deprecations")


@dataclass(frozen=True)
class ReportInputs:
    rto_target: float
    rpo_target: float
    rto_target_text: str
    rpo_target_text: str
    restore_started_at: datetime
    validated_at: datetime
    target_time: datetime
    reached_time: datetime
    restore: Mapping[str, Any]
    validation: Mapping[str, Any]
    context: Mapping[str, Any]
    assumed_utc: tuple[str, ...] = ()


def parse_time(value: Any, option: str) -> tuple[datetime, bool]:
    """``value`` as an aware UTC datetime, and whether it had no offset (and was taken as UTC)."""
    if isinstance(value, datetime):
        parsed = value
    else:
        text = str(value or "").strip()
        try:
            parsed = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)
        except ValueError:
            raise InputError(f"{value!r} is not a time", option=option, accepted=TIME_HELP) from None
    naive = parsed.tzinfo is None
    if naive:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc), naive


def iso(moment: datetime) -> str:
    text = moment.astimezone(timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")
    return text.replace(".000000Z", "Z")


def check_inputs(params: Mapping[str, Any]) -> ReportInputs:
    """The report's inputs from the module's parameters, validated (an ``InputError`` names the option)."""
    validation = _result(params.get("validation"))
    validated_value = params.get("validated_at") or validation.get("finished_at")
    if not validated_value:
        raise InputError("validated_at is not set and the validation result holds no finished_at", option="validated_at",
                         accepted=f"{TIME_HELP}, or a pg_validate result in validation")
    times, assumed = {}, []
    for option, value in (("restore_started_at", params.get("restore_started_at")), ("validated_at", validated_value),
                          ("target_time", params.get("target_time")), ("reached_time", params.get("reached_time"))):
        times[option], naive = parse_time(value, option)
        if naive:
            assumed.append(option)
    if times["validated_at"] < times["restore_started_at"]:
        raise InputError(f"validated_at ({iso(times['validated_at'])}) is before restore_started_at ({iso(times['restore_started_at'])})",
                         option="validated_at", accepted="a time after restore_started_at")
    rto_text, rpo_text = str(params.get("rto_target") or "30m"), str(params.get("rpo_target") or "15m")
    return ReportInputs(
        rto_target=parse_duration(rto_text, "rto_target"), rpo_target=parse_duration(rpo_text, "rpo_target"),
        rto_target_text=rto_text, rpo_target_text=rpo_text, validation=validation, restore=_result(params.get("restore")),
        context=redact(dict(params.get("context") or {})), assumed_utc=tuple(assumed), **times)


def _result(value: Optional[Mapping[str, Any]]) -> dict[str, Any]:
    """A registered module result without Ansible's bookkeeping keys, secrets redacted."""
    return redact({key: item for key, item in (value or {}).items() if key not in _RESULT_NOISE})


def build_report(inputs: ReportInputs) -> dict[str, Any]:
    """The report as a dict: RTO and RPO achieved against their targets, what was missed, and the validation."""
    rto = (inputs.validated_at - inputs.restore_started_at).total_seconds()
    behind = (inputs.target_time - inputs.reached_time).total_seconds()
    rpo = max(0.0, behind)
    rto_met, rpo_met = rto <= inputs.rto_target, rpo <= inputs.rpo_target
    missed = [name for name, met in (("rto", rto_met), ("rpo", rpo_met)) if not met]
    validation_passed = inputs.validation.get("passed") if inputs.validation else None
    report = {
        "report": "database rollback (point-in-time recovery) RTO/RPO report",
        "version": REPORT_VERSION,
        "context": dict(inputs.context),
        "rto": {"target": inputs.rto_target_text, "target_seconds": inputs.rto_target, "achieved": format_duration(rto),
                "achieved_seconds": round(rto, 3), "met": rto_met, "restore_started_at": iso(inputs.restore_started_at),
                "validated_at": iso(inputs.validated_at)},
        "rpo": {"target": inputs.rpo_target_text, "target_seconds": inputs.rpo_target, "achieved": format_duration(rpo),
                "achieved_seconds": round(rpo, 3), "met": rpo_met, "target_time": iso(inputs.target_time),
                "reached_time": iso(inputs.reached_time), "reached_after_target": behind < 0},
        "targets_met": not missed,
        "missed_targets": missed,
        "validation_passed": validation_passed,
        "validation": {key: inputs.validation[key] for key in ("passed", "summary", "failed_checks", "checks", "started_at", "finished_at")
                       if key in inputs.validation},
        "restore": dict(inputs.restore),
        "times_taken_as_utc": list(inputs.assumed_utc),
        "definitions": {"rto": RTO_DEFINITION, "rpo": RPO_DEFINITION, "met": MET_DEFINITION},
    }
    report["summary"] = summary_line(report)
    return report


def summary_line(report: Mapping[str, Any]) -> str:
    rto, rpo = report["rto"], report["rpo"]
    parts = [f"RTO {rto['achieved']} {'within' if rto['met'] else 'MISSED, over'} {rto['target']}",
             f"RPO {rpo['achieved']} {'within' if rpo['met'] else 'MISSED, over'} {rpo['target']}"]
    if report["validation_passed"] is not None:
        parts.append(f"validation {'passed' if report['validation_passed'] else 'FAILED'}")
    return "; ".join(parts)


def render_json(report: Mapping[str, Any]) -> str:
    return json.dumps(report, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return " ".join(text.split()).replace("|", "\\|")


def _yes(value: Any) -> str:
    return {True: "yes", False: "**no**", None: "n/a"}.get(value, str(value))


def render_markdown(report: Mapping[str, Any]) -> str:
    rto, rpo = report["rto"], report["rpo"]
    missed = report["missed_targets"]
    lines = ["# Database rollback report", ""]
    if report["context"]:
        lines += [f"- {_cell(key)}: {_cell(value)}" for key, value in sorted(report["context"].items())] + [""]
    lines += [f"**{'All targets met' if not missed else 'Missed: ' + ', '.join(name.upper() for name in missed)}** ({_cell(report['summary'])})",
              "",
              "| objective | target | achieved | met | from | to |",
              "|---|---|---|---|---|---|",
              f"| RTO | {rto['target']} | {rto['achieved']} | {_yes(rto['met'])} | restore start {rto['restore_started_at']} "
              f"| sandbox validated {rto['validated_at']} |",
              f"| RPO | {rpo['target']} | {rpo['achieved']} | {_yes(rpo['met'])} | last transaction reached {rpo['reached_time']} "
              f"| PITR target {rpo['target_time']} |",
              ""]
    idle_tail = (report["restore"].get("reached") or {}).get("idle_tail")
    if idle_tail:
        lines += [f"Idle tail: {_cell(idle_tail.get('summary'))} (proof: {_cell((idle_tail.get('proof') or {}).get('reason'))}); the RPO above "
                  "is the target minus that last commit.", ""]
    if report["times_taken_as_utc"]:
        lines += [f"Times given without an offset, taken as UTC: {', '.join(report['times_taken_as_utc'])}.", ""]
    lines += _validation_markdown(report["validation"], report["validation_passed"])
    lines += _restore_markdown(report["restore"])
    lines += ["## Definitions", "", f"- {RTO_DEFINITION}", f"- {RPO_DEFINITION}", f"- {MET_DEFINITION}", ""]
    return "\n".join(lines)


def _validation_markdown(validation: Mapping[str, Any], validation_passed: Optional[bool]) -> list[str]:
    if not validation:
        return ["## Validation", "", "No validation result was given.", ""]
    lines = [f"## Validation: {'passed' if validation_passed else 'failed'}", ""]
    if validation.get("summary"):
        lines += ["| category | status | ok | failed | skipped |", "|---|---|---|---|---|"]
        lines += [f"| {_cell(name)} | {_cell(row.get('status'))} | {row.get('ok', 0)} | {row.get('failed', 0)} | {row.get('skipped', 0)} |"
                  for name, row in validation["summary"].items()]
        lines.append("")
    if validation.get("checks"):
        lines += ["| category | check | status | detail | seconds |", "|---|---|---|---|---|"]
        lines += [f"| {_cell(check.get('category'))} | {_cell(check.get('name'))} | {_cell(check.get('status'))} | {_cell(check.get('detail'))} "
                  f"| {_cell(check.get('duration'))} |" for check in validation["checks"]]
        lines.append("")
    return lines


def _restore_markdown(restore: Mapping[str, Any]) -> list[str]:
    if not restore:
        return []
    lines = ["## Restore", ""]
    for key, value in sorted(restore.items()):
        if isinstance(value, Mapping):
            scalars = [(sub, item) for sub, item in sorted(value.items()) if not isinstance(item, (Mapping, list))]
            lines += [f"- {_cell(key)}:"] + [f"  - {_cell(sub)}: {_cell(item)}" for sub, item in scalars]
        elif not isinstance(value, list):
            lines.append(f"- {_cell(key)}: {_cell(value)}")
    return lines + [""]


# --- files ---------------------------------------------------------------------------------------------------------------

@dataclass
class FileState:
    path: str
    before: Optional[str]
    after: str
    mode: Optional[int]

    @property
    def changed(self) -> bool:
        return self.before != self.after or self.mode != FILE_MODE


def plan_files(results_dir: str, contents: Mapping[str, str]) -> list[FileState]:
    """What each report file holds now (None when absent or unreadable as text) and will hold."""
    states = []
    for name, text in contents.items():
        path = os.path.join(results_dir, name)
        before, mode = None, None
        if os.path.isfile(path):
            mode = os.stat(path).st_mode & 0o777
            try:
                with open(path, encoding="utf-8") as handle:
                    before = handle.read()
            except (OSError, UnicodeDecodeError):
                before = None
        states.append(FileState(path, before, text, mode))
    return states


def write_files(results_dir: str, states: list[FileState]) -> bool:
    """Create ``results_dir`` (mode 0700) if missing and write the files that differ (mode 0600, atomically); whether anything changed."""
    changed = False
    if not os.path.isdir(results_dir):
        os.makedirs(results_dir, mode=DIR_MODE)
        os.chmod(results_dir, DIR_MODE)
        changed = True
    for state in states:
        if not state.changed:
            continue
        descriptor, temporary = tempfile.mkstemp(prefix=".report-", dir=results_dir)
        try:
            os.fchmod(descriptor, FILE_MODE)
            with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
                handle.write(state.after)
            os.replace(temporary, state.path)
        except BaseException:
            if os.path.exists(temporary):
                os.unlink(temporary)
            raise
        changed = True
    return changed
