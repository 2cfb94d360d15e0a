# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""test_suite's main(): real commands (a Python one-liner) that write JUnit files, fail, hang, or write nothing."""
from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import pytest
from unithelpers import documented_options, exits_within, mismatches, run_module

from ansible_collections.ofm.rollback.plugins.modules import test_suite

SECRET = "e2e-SECRET-token-44d1"
PASSING = """<?xml version="1.0"?><testsuites><testsuite name="e2e" tests="2">
<testcase classname="e2e.paths" name="test_health"/><testcase classname="e2e.paths" name="test_posts"><skipped message="later"/></testcase>
</testsuite></testsuites>"""
FAILING = """<testsuite name="e2e" tests="3"><testcase classname="e2e.paths" name="test_health"/>
<testcase classname="e2e.paths" name="test_posts"><failure message="AssertionError: post 101 has no status">trace</failure></testcase>
<testcase name="test_publish"><error message="ConnectionRefusedError: [Errno 111]"/></testcase></testsuite>"""


def writer(junit: Path, content: str, rc: int = 0) -> list[str]:
    """A command that writes ``content`` to ``junit``, prints the variable E2E_TOKEN and exits ``rc``."""
    code = f"import os, sys; open({str(junit)!r}, 'w').write({content!r}); print('token is', os.environ.get('E2E_TOKEN')); sys.exit({rc})"
    return [sys.executable, "-c", code]


def by_check(result: dict) -> dict:
    return result["checks"][0]


@pytest.mark.usefixtures("module_runner")
class TestModule:
    """main() as a module process runs it and in process as the action plugin does (fixture module_runner)."""

    def test_a_passing_suite_is_ok_and_environment_values_are_hidden(self, tmp_path):
        junit = tmp_path / "e2e.xml"
        failed, result, _warnings = run_module(test_suite, {"command": writer(junit, PASSING), "junit_file": str(junit),
                                               "environment": {"E2E_TOKEN": SECRET}})
        assert not failed and result["changed"] is False and result["status"] == "ok", result["msg"]
        assert result["totals"] == {"tests": 2, "failures": 0, "errors": 0, "skipped": 1} and result["exit_code"] == 0
        assert any("token is" in line for line in result["output_tail"]) and SECRET not in json.dumps(result)

    def test_failed_and_errored_cases_fail_the_check_with_their_messages(self, tmp_path):
        junit = tmp_path / "e2e.xml"
        failed, result, _warnings = run_module(test_suite, {"command": writer(junit, FAILING, rc=1), "junit_file": str(junit)})
        assert not failed and result["status"] == "failed" and result["failed_checks"] == ["suite"]
        assert result["failed_cases"] == [
            {"name": "e2e.paths.test_posts", "kind": "failure", "message": "AssertionError: post 101 has no status"},
            {"name": "test_publish", "kind": "error", "message": "ConnectionRefusedError: [Errno 111]"}]
        assert result["totals"] == {"tests": 3, "failures": 1, "errors": 1, "skipped": 0} and result["exit_code"] == 1
        assert "e2e.paths.test_posts: AssertionError: post 101 has no status" in by_check(result)["detail"]

    def test_a_non_zero_exit_fails_even_when_every_case_passed(self, tmp_path):
        junit = tmp_path / "e2e.xml"
        failed, result, _warnings = run_module(test_suite, {"command": writer(junit, PASSING, rc=3), "junit_file": "e2e.xml", "chdir": str(tmp_path)})
        assert not failed and result["status"] == "failed" and by_check(result)["detail"].startswith("the command exited 3")
        assert result["junit_file"] == str(junit)

    def test_a_missing_stale_or_foreign_junit_file_fails(self, tmp_path):
        junit = tmp_path / "e2e.xml"
        silent = [sys.executable, "-c", "print('no report')"]
        failed, result, _warnings = run_module(test_suite, {"command": silent, "junit_file": str(junit)})
        assert not failed and result["status"] == "failed" and "was not written" in by_check(result)["detail"]
        junit.write_text(PASSING)
        os.utime(junit, (time.time() - 60, time.time() - 60))
        failed, result, _warnings = run_module(test_suite, {"command": silent, "junit_file": str(junit)})
        assert not failed and result["status"] == "failed" and "not rewritten by this run" in by_check(result)["detail"]
        failed, result, _warnings = run_module(test_suite, {"command": writer(junit, "<html><body/></html>"), "junit_file": str(junit)})
        assert not failed and result["status"] == "failed" and "is not JUnit XML" in by_check(result)["detail"]
        failed, result, _warnings = run_module(test_suite, {"command": writer(junit, "<testsuites/>"), "junit_file": str(junit)})
        assert not failed and result["status"] == "failed" and by_check(result)["detail"] == "the JUnit file holds no test case"

    def test_check_mode_does_not_run(self, tmp_path):
        marker = tmp_path / "ran"
        failed, result, _warnings = run_module(test_suite, {"command": [sys.executable, "-c", f"open({str(marker)!r}, 'w')"],
                                               "junit_file": str(tmp_path / "e2e.xml")}, check_mode=True)
        assert not failed and result["status"] == "unknown" and not marker.exists()


def test_a_suite_that_outlives_its_timeout_is_killed_with_its_children(tmp_path):
    pid_file = tmp_path / "child.pid"
    script = f"import subprocess, time; open({str(pid_file)!r}, 'w').write(str(subprocess.Popen(['sleep', '300']).pid)); time.sleep(300)"
    started = time.monotonic()
    failed, result, _warnings = run_module(test_suite, {"command": [sys.executable, "-c", script], "junit_file": str(tmp_path / "e2e.xml"),
                                           "timeout": "2s"})
    assert not failed and result["status"] == "failed" and time.monotonic() - started < 30
    assert by_check(result)["detail"].startswith("the suite did not finish within 2s and was killed") and result["exit_code"] is None
    assert exits_within(int(pid_file.read_text()), 5)


@pytest.mark.parametrize(("args", "option"), [
    ({"command": []}, "command"),
    ({"command": ["/nonexistent/pytest"]}, "command"),
    ({"chdir": "/nonexistent/dir"}, "chdir"),
    ({"timeout": "forever"}, "timeout"),
    ({"environment": {"A=B": "x"}}, "environment"),
])
def test_bad_input_names_the_option(tmp_path, args, option):
    failed, result, _warnings = run_module(test_suite, {"command": [sys.executable, "-c", "pass"], "junit_file": str(tmp_path / "e.xml"), **args})
    assert failed and result["error"]["option"] == option, result["msg"]


def test_documentation_matches_the_argument_spec():
    assert mismatches(test_suite.ARGUMENT_SPEC, documented_options(test_suite)) == []
