# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one command runner: real processes, the command lines it records without secrets, and each failure mapped one way."""
from __future__ import annotations

import os
import pwd
import sys
from pathlib import Path

import pytest

from ansible_collections.ofm.rollback.plugins.module_utils import command
from ansible_collections.ofm.rollback.plugins.module_utils.errors import CommandFailed, DeadlineExceeded, InputError, OfmRollbackError
from ansible_collections.ofm.rollback.plugins.module_utils.redact import redact_command

SECRET = "pw-4711-unit"
PROGRAMS = {"pg_ctl": command.Program("pg_bin_dir", "the directory of pg_ctl")}


def python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def test_runs_a_real_program_records_it_and_returns_its_stdout():
    runner = command.CommandRunner("test")
    assert runner.run(python("import os, sys; print(os.getcwd(), sys.stdin.read() == '')"), "probe", "here", timeout=30).split() == [
        os.getcwd(), "True"]
    record = runner.records[0]
    assert record.rc == 0 and record.duration is not None and record.duration >= 0
    assert runner.commands == [python("import os, sys; print(os.getcwd(), sys.stdin.read() == '')")]


def test_cwd_and_env_reach_the_program():
    runner = command.CommandRunner("test", cwd="/")
    assert runner.run(python("import os; print(os.getcwd(), os.environ.get('OFM_X'))"), "probe", "here", timeout=30,
                      env={"OFM_X": "y", "PATH": os.environ["PATH"]}).split() == ["/", "y"]


def test_a_non_zero_exit_carries_the_end_of_stderr_without_secrets():
    runner = command.CommandRunner("PostgreSQL", secrets=[SECRET], hint="Look at the log.")
    code = f"import sys; print('\\n'.join(f'line {{n}}' for n in range(8)), file=sys.stderr); print('password={SECRET}', file=sys.stderr); sys.exit(3)"
    with pytest.raises(CommandFailed) as caught:
        runner.run([*python(code), f"--secret={SECRET}"], "restore", "/srv/sandbox", timeout=30)
    error = caught.value
    assert (error.rc, error.system, error.operation, error.target, error.hint) == (3, "PostgreSQL", "restore", "/srv/sandbox", "Look at the log.")
    assert error.reason.startswith(f"{os.path.basename(sys.executable)} exited 3: line 4 / line 5 / line 6 / line 7 / password=")
    assert error.details["rc"] == 3 and error.details["stderr"].endswith("password=********")
    assert SECRET not in repr(error.to_result()) and SECRET not in repr(runner.commands)
    assert runner.records[0].rc == 3 and runner.commands[0][-1] == "--secret=********"


def test_a_failure_hook_chooses_the_error():
    runner = command.CommandRunner("helm")
    seen = []

    def failure(failed: command.Failure) -> OfmRollbackError:
        seen.append(failed)
        return OfmRollbackError("mapped", system="helm")

    with pytest.raises(OfmRollbackError, match="mapped"):
        runner.run(python("import sys; print('out'); print('Error: boom', file=sys.stderr); sys.exit(1)"), "history", "r", timeout=30,
                   failure=failure)
    assert (seen[0].rc, seen[0].stderr.strip(), seen[0].stdout.strip(), seen[0].output) == (1, "Error: boom", "out", "Error: boom")


def test_a_timeout_is_a_deadline_exceeded():
    runner = command.CommandRunner("test")
    with pytest.raises(DeadlineExceeded) as caught:
        runner.run(python("import time; time.sleep(30)"), "wait", "here", timeout=0.3)
    assert caught.value.timeout == 0.3 and "did not finish within 300ms" in caught.value.reason
    assert runner.records[0].rc is None and runner.records[0].duration < 10


@pytest.mark.parametrize("argv, option, accepted", [
    (["/nonexistent/bin/pg_ctl", "start"], "pg_bin_dir", "the directory of pg_ctl"),
    (["no-such-program-ofm", "x"], None, "no-such-program-ofm installed in a directory of the search path (PATH)"),
])
def test_a_missing_program_names_the_option_that_sets_it(argv, option, accepted):
    runner = command.CommandRunner("PostgreSQL", programs=PROGRAMS)
    with pytest.raises(InputError) as caught:
        runner.run(argv, "start", "here", timeout=5)
    assert (caught.value.option, caught.value.accepted, caught.value.operation) == (option, accepted, "start")
    assert f"the program '{argv[0]}' was not found" in caught.value.reason
    assert (f"(option {option})" in caught.value.reason) == bool(option)


def test_a_program_that_may_not_be_run_is_refused_the_same_way(tmp_path: Path):
    script = tmp_path / "pg_ctl"
    script.write_text("#!/bin/sh\n")
    script.chmod(0o644)
    with pytest.raises(InputError) as caught:
        command.CommandRunner("PostgreSQL", programs=PROGRAMS).run([str(script)], "start", "here", timeout=5)
    assert caught.value.option == "pg_bin_dir" and "may not be run" in caught.value.reason


def test_a_fake_runner_gets_the_prefix_env_and_cwd_and_the_record_leaves_the_prefix_out():
    calls = []

    def fake(argv, timeout, env=None, cwd=None):
        calls.append((argv, timeout, env, cwd))
        return type("Done", (), {"returncode": 0, "stdout": "ok", "stderr": ""})()

    runner = command.CommandRunner("test", cwd="/", runner=fake)
    runner.prefix = ["setpriv", "--reuid=1"]
    assert runner.run(["pg_ctl", "status"], "status", "here", timeout=9, env={"A": "1"}) == "ok"
    assert calls == [(["setpriv", "--reuid=1", "pg_ctl", "status"], 9, {"A": "1"}, "/")]
    assert runner.commands == [["pg_ctl", "status"]]


def test_as_user_prefix():
    me = pwd.getpwuid(os.geteuid()).pw_name
    assert command.as_user_prefix(me) == []
    with pytest.raises(InputError) as caught:
        command.as_user_prefix("no-such-user-here")
    assert caught.value.option == "os_user"


def test_redact_command_hides_secret_flag_values_and_secret_looking_arguments():
    argv = ["helm", "rollback", "r", "1", "--kube-token", "s3cr3t", "--kube-token=other", "--namespace", "ns", "https://u:p@host/x"]
    assert redact_command(argv) == ["helm", "rollback", "r", "1", "--kube-token", "********", "--kube-token=********", "--namespace", "ns",
                                    "https://********@host/x"]
