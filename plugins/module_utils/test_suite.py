# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""An end-to-end suite run as a command, judged from its exit code and the JUnit XML file it writes (library ``junitparser``).

The command runs once (an argument list, never a shell) in a process group of its own, killed when ``timeout`` passes. The
check ``suite`` is ``ok`` only when the command exited 0 AND its JUnit file, written by this run, holds no failed or errored
case; a missing, stale (not rewritten by this run) or unreadable JUnit file, a non-zero exit or a timeout make it ``failed``.
"""

from __future__ import annotations

import os
import time
import traceback
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Mapping, Optional

from ansible_collections.ofm.rollback.plugins.module_utils import checks
from ansible_collections.ofm.rollback.plugins.module_utils.command import CommandRunner, Program, Runner, run_process_group
from ansible_collections.ofm.rollback.plugins.module_utils.durations import format_duration, parse_duration
from ansible_collections.ofm.rollback.plugins.module_utils.errors import CommandFailed, DeadlineExceeded, InputError

try:
    from junitparser import JUnitXml, JUnitXmlError, TestCase, TestSuite
except ImportError:
    HAS_JUNITPARSER = False
    JUNITPARSER_IMPORT_TRACEBACK: Optional[str] = traceback.format_exc()
else:
    HAS_JUNITPARSER = True
    JUNITPARSER_IMPORT_TRACEBACK = None

SUBJECT = "the end-to-end suite"
MAX_FAILED_CASES = 20
MESSAGE_CHARACTERS = 300
OUTPUT_LINES = 20
COMMAND = Program("command", "an argument list whose first item is a program that exists (a path, or a name on PATH)")


@dataclass(frozen=True)
class SuiteSettings:
    """The validated options."""

    command: list[str]
    chdir: Optional[str]
    environment: dict[str, str]
    junit_file: str
    timeout: float


@dataclass(frozen=True)
class Totals:
    """What the JUnit file says: the counts and the first failed or errored cases."""

    tests: int
    failures: int
    errors: int
    skipped: int
    failed_cases: list[dict[str, Any]]

    def as_dict(self) -> dict[str, int]:
        return {"tests": self.tests, "failures": self.failures, "errors": self.errors, "skipped": self.skipped}


class JunitUnreadable(Exception):
    """The JUnit file is missing, stale, not XML or not JUnit; the message says which."""


def settings_from_params(params: Mapping[str, Any]) -> SuiteSettings:
    command = params["command"]
    if not command or not all(isinstance(item, str) for item in command) or not command[0]:
        raise InputError("command must be a non-empty list of arguments", option="command", accepted="an argument list such as [pytest, tests/e2e]")
    chdir = params.get("chdir")
    if chdir and not os.path.isdir(chdir):
        raise InputError(f"the directory {chdir} does not exist", option="chdir", accepted="an existing directory")
    environment = params.get("environment") or {}
    if any(not isinstance(key, str) or not key or "=" in key or isinstance(value, (dict, list)) for key, value in environment.items()):
        raise InputError("environment must map variable names to text values", option="environment", accepted="a dict such as {OFM_E2E_BASE_URL: https://...}")
    junit_file = params["junit_file"]
    if not os.path.isabs(junit_file) and chdir:
        junit_file = os.path.join(chdir, junit_file)
    return SuiteSettings(command=list(command), chdir=chdir, environment={key: "" if value is None else str(value) for key, value in environment.items()},
                         junit_file=os.path.abspath(junit_file), timeout=parse_duration(params["timeout"], "timeout"))


def read_junit(path: str) -> Totals:
    """The totals and first failed cases of the JUnit XML file ``path`` (``<testsuites>`` or one ``<testsuite>``)."""
    try:
        document = JUnitXml.fromfile(path)
    except FileNotFoundError as exc:
        raise JunitUnreadable(f"the JUnit file {path} was not written") from exc
    except (JUnitXmlError, SyntaxError, OSError, ValueError) as exc:
        raise JunitUnreadable(f"the JUnit file {path} is not JUnit XML ({exc})") from exc
    tests = failures = errors = skipped = 0
    failed_cases: list[dict[str, Any]] = []
    for case in _cases(document):
        tests += 1
        kinds = {type(result).__name__.lower(): result for result in case.result}
        if "skipped" in kinds:
            skipped += 1
        for kind in ("failure", "error"):
            if kind in kinds:
                failures, errors = failures + (kind == "failure"), errors + (kind == "error")
                if len(failed_cases) < MAX_FAILED_CASES:
                    failed_cases.append({"name": _case_name(case), "kind": kind, "message": _message(kinds[kind])})
                break
    return Totals(tests, failures, errors, skipped, failed_cases)


def _cases(node: Any) -> Iterator[Any]:
    for child in node:
        if isinstance(child, TestCase):
            yield child
        elif isinstance(child, TestSuite):
            yield from _cases(child)


def _case_name(case: Any) -> str:
    return f"{case.classname}.{case.name}" if case.classname else str(case.name)


def _message(result: Any) -> str:
    text = (result.message or result.text or "").strip().splitlines()
    first = text[0] if text else "(no message)"
    return first if len(first) <= MESSAGE_CHARACTERS else first[:MESSAGE_CHARACTERS] + "..."


def _stamp(path: str) -> Optional[tuple[int, int, int]]:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_ino, info.st_mtime_ns, info.st_size


class EndToEndSuite:
    """Runs the suite's command once and judges it."""

    def __init__(self, settings: SuiteSettings, runner: Runner = run_process_group, clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        secrets = [value for value in settings.environment.values() if len(value) >= 4]
        self.commands = CommandRunner("end-to-end suite", program=COMMAND, cwd=settings.chdir, secrets=secrets, runner=runner, clock=clock)
        self.clock = clock

    def run(self) -> dict[str, Any]:
        """``checks.result`` with the check ``suite`` plus ``totals``, ``failed_cases``, ``rc``, ``duration``, ``junit_file``, ``command``."""
        before = _stamp(self.settings.junit_file)
        rc, output, problem = self._execute()
        totals: Optional[Totals] = None
        if problem is None or rc is not None:
            try:
                if before is not None and _stamp(self.settings.junit_file) == before:
                    raise JunitUnreadable(f"the JUnit file {self.settings.junit_file} was not rewritten by this run (it is older)")
                totals = read_junit(self.settings.junit_file)
            except JunitUnreadable as exc:
                problem = f"{problem}; {exc}" if problem else str(exc)
        record = self.commands.records[-1]
        extra = {"totals": totals.as_dict() if totals else None, "failed_cases": totals.failed_cases if totals else [], "exit_code": rc,
                 "duration": record.duration, "junit_file": self.settings.junit_file, "command": record.argv,
                 "output_tail": output}
        return checks.result([self._judge(rc, totals, problem)], SUBJECT, extra)

    def _execute(self) -> tuple[Optional[int], list[str], Optional[str]]:
        env = {**os.environ, **self.settings.environment}
        try:
            stdout = self.commands.run(self.settings.command, "end-to-end suite", os.path.basename(self.settings.command[0]),
                                       timeout=self.settings.timeout, env=env)
        except DeadlineExceeded:
            return None, [], f"the suite did not finish within {format_duration(self.settings.timeout)} and was killed"
        except CommandFailed as exc:
            return exc.rc, _tail(exc.details.get("stderr", "")), f"the command exited {exc.rc}"
        return 0, _tail(self.commands.redactor.text(stdout)), None

    @staticmethod
    def _judge(rc: Optional[int], totals: Optional[Totals], problem: Optional[str]) -> checks.Check:
        data: dict[str, Any] = {"exit_code": rc, **(totals.as_dict() if totals else {})}
        counts = (f"{totals.tests} test(s), {totals.failures} failure(s), {totals.errors} error(s), {totals.skipped} skipped"
                  if totals else "no JUnit results")
        if totals and totals.failed_cases:
            shown = "; ".join(f"{case['name']}: {case['message']}" for case in totals.failed_cases[:3])
            more = len(totals.failed_cases) - 3
            return checks.Check("suite", checks.FAILED, f"{counts}; {shown}" + (f" (and {more} more)" if more > 0 else ""), data)
        if problem:
            return checks.Check("suite", checks.FAILED, f"{problem} ({counts})", data)
        if totals is not None and totals.tests == 0:
            return checks.Check("suite", checks.FAILED, "the JUnit file holds no test case", data)
        return checks.Check("suite", checks.OK, counts, data)


def _tail(text: str) -> list[str]:
    """The last lines of the output (``CommandFailed`` keeps only the end of stderr, joined by `` / ``)."""
    lines = [line for part in text.split(" / ") for line in part.splitlines() if line.strip()]
    return lines[-OUTPUT_LINES:]


def not_run(reason: str) -> dict[str, Any]:
    return checks.result([checks.unavailable("suite", reason)], SUBJECT,
                         {"totals": None, "failed_cases": [], "exit_code": None, "duration": None, "junit_file": None, "command": None,
                          "output_tail": []})


def run_from_params(params: Mapping[str, Any], check_mode: bool, runner: Runner = run_process_group) -> dict[str, Any]:
    """The module's work: options checked first; in check mode nothing runs."""
    settings = settings_from_params(params)
    if check_mode:
        return {**not_run("check mode: the suite was not run"), "junit_file": settings.junit_file}
    return EndToEndSuite(settings, runner).run()
