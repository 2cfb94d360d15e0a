# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The judged checklist lines as files a CI job publishes: a JUnit XML report and a short Markdown summary.

JUnit (read by GitHub Actions test reporters, GitLab's ``artifacts:reports:junit``, Jenkins): one test suite per procedure,
one test case per checklist line (class name: the section and subsection; name: the title and the line id). A line that is

* ``ok`` passes (its evidence is the case's system-out);
* ``failed`` holds a ``<failure>`` with the evidence;
* ``unknown`` holds an ``<error>``: its source of truth did not answer, so nothing shows the line is fine;
* ``manual`` or ``pending`` is ``<skipped>`` with what a person does (or how far the watch is) as the message.

Written with junitparser (PyPI), on the controller.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any, Iterable, Mapping, Optional

try:
    from junitparser import Error, Failure, JUnitXml, Skipped, TestCase, TestSuite
    HAS_JUNITPARSER = True
except ImportError:  # pragma: no cover - reported by the action plugin when a JUnit file is asked for
    HAS_JUNITPARSER = False

MARKS = {"ok": "ok", "failed": "**FAILED**", "manual": "MANUAL", "unknown": "**UNKNOWN**", "pending": "PENDING"}


def case_message(line: Mapping[str, Any]) -> str:
    """What a person reads for the line: the evidence, or for a manual line the instruction and why."""
    if line["status"] == "manual":
        why = f" ({line['evidence']})" if line.get("evidence") else ""
        return f"{line.get('instruction') or ''}{why}".strip()
    return line.get("evidence") or ""


def junit_suite(lines: Iterable[Mapping[str, Any]], name: str, timestamp: Optional[str] = None) -> Any:
    """A junitparser ``TestSuite`` holding one case per line."""
    suite = TestSuite(name)
    if timestamp:
        suite.timestamp = timestamp
    for line in lines:
        case = TestCase(f"{line['title']} ({line['id']})", classname=_classname(line))
        message = case_message(line)
        status = line["status"]
        if status == "failed":
            case.result = [Failure(message or "failed")]
        elif status == "unknown":
            case.result = [Error(message or "could not be judged")]
        elif status in ("manual", "pending"):
            case.result = [Skipped(f"{status.upper()}: {message}" if message else status.upper())]
        else:
            case.system_out = message
        suite.add_testcase(case)
    suite.update_statistics()
    return suite


def _classname(line: Mapping[str, Any]) -> str:
    parts = [line["section"]] + ([line["subsection"]] if line.get("subsection") else [])
    return " / ".join(parts)


def write_junit(path: str, lines: Iterable[Mapping[str, Any]], name: str, timestamp: Optional[str] = None) -> str:
    """Write the JUnit file atomically (a reader never sees half of it); returns the path written."""
    xml = JUnitXml(name)
    xml.add_testsuite(junit_suite(lines, name, timestamp))
    xml.update_statistics()
    target = Path(path).expanduser()
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(prefix=f".{target.name}.", dir=str(target.parent))
    os.close(handle)
    try:
        xml.write(temp, pretty=True)
        os.chmod(temp, 0o644)
        os.replace(temp, target)
    finally:
        if os.path.exists(temp):
            os.unlink(temp)
    return str(target)


def markdown(lines: list[Mapping[str, Any]], title: str, counts: Mapping[str, int], outcome: Optional[Mapping[str, Any]] = None) -> str:
    """A short Markdown summary for a CI job page: the outcome, the counts, then one table row per line not ok."""
    shown = ", ".join(f"{number} {status}" for status, number in counts.items() if number)
    text = [f"### {title}", ""]
    if outcome:
        text += [f"**{str(outcome.get('state', '?')).upper()}**: {outcome.get('message', '')}", ""]
    text += [f"Checklist: {shown or 'no line judged'}.", ""]
    rows = [line for line in lines if line["status"] != "ok"]
    if rows:
        text += ["| Line | Status | Evidence or what to do |", "| --- | --- | --- |"]
        text += [f"| {_cell(line['title'])} | {MARKS[line['status']]} | {_cell(case_message(line))} |" for line in rows]
    passed = [line["title"] for line in lines if line["status"] == "ok"]
    if passed:
        text += ["", f"Passed: {', '.join(passed)}."]
    return "\n".join(text) + "\n"


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def write_text(path: str, text: str) -> str:
    target = Path(path).expanduser()
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    return str(target)
