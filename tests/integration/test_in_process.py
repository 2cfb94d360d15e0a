"""The HTTP modules run in the Ansible worker on the controller, and as a module process everywhere else, with the same result."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from labtest import run_play, tls

# Reads or changes the lab's shared state: runs in file order in the one pytest process of such modules (scripts/test.sh).
pytestmark = pytest.mark.shared_lab


def ops_api_task(register: str, lab_url: str, **extra: Any) -> dict[str, Any]:
    return {"name": register, "register": register, "ofm.rollback.ops_api_info": {"ops_api_url": lab_url, **tls()}, **extra}


def shipped_modules(remote_tmp: Path) -> list[str]:
    """The collection's AnsiballZ payloads Ansible wrote for module processes (kept by ANSIBLE_KEEP_REMOTE_FILES)."""
    return sorted(path.name for path in remote_tmp.rglob("AnsiballZ_ops_api_info.py"))


def comparable(result: dict[str, Any]) -> dict[str, Any]:
    """A result without what differs from call to call (timings, the server's clock)."""
    result = {key: value for key, value in result.items() if key not in ("invocation", "health")}
    result["requests"] = [{key: value for key, value in entry.items() if key != "duration"} for entry in result["requests"]]
    return result


def test_on_the_controller_the_module_runs_in_process(lab, secrets, tmp_path: Path):
    remote_tmp = tmp_path / "remote"
    env = {"ANSIBLE_KEEP_REMOTE_FILES": "1", "ANSIBLE_REMOTE_TMP": str(remote_tmp),
           "OFM_OPS_API_TOKEN": secrets["identities"]["admin"]["token"]}
    url = lab.url("ops_api")
    run = run_play([
        ops_api_task("in_process", url),
        ops_api_task("as_process", url, vars={"ofm_in_process": False}),
    ], tmp_path, env=env)
    assert run.rc == 0, run.stdout
    in_process, as_process = run.result["in_process"], run.result["as_process"]
    assert in_process["is_admin"] is True
    assert comparable(in_process) == comparable(as_process)
    assert shipped_modules(remote_tmp) == ["AnsiballZ_ops_api_info.py"]  # only the task with ofm_in_process: false


def test_check_mode_and_the_diff_are_those_of_a_module_process(lab, secrets, tmp_path: Path):
    """A registered result keeps the module's ``diff`` (without --diff too), in check mode as in a module process."""
    args = {"ops_api_url": lab.url("ops_api"), "reason": "PLANNED", "incident_id": "INC-4242",
            "haproxy_runtime_api": f"127.0.0.1:{lab.ports['haproxy_admin']}", **tls(lab)}
    task = {"ofm.rollback.canary_rollback": args, "check_mode": True}
    run = run_play([{"name": "in process", "register": "in_process", **task},
                    {"name": "as process", "register": "as_process", "vars": {"ofm_in_process": False}, **task}], tmp_path,
                   env={"OFM_OPS_API_TOKEN": secrets["identities"]["admin"]["token"]})
    assert run.rc == 0, run.stdout
    in_process, as_process = run.result["in_process"], run.result["as_process"]
    assert in_process["changed"] is True and "Would POST the rollback" in in_process["msg"]
    assert in_process["diff"] == as_process["diff"] and in_process["diff"]["before"]
    assert {key for key in in_process if key != "started_at"} == {key for key in as_process if key != "started_at"}


def test_a_task_environment_runs_the_module_as_a_process(lab, secrets, tmp_path: Path):
    """``environment:`` applies to a module process only, so such a task is never run in process."""
    remote_tmp = tmp_path / "remote"
    env = {"ANSIBLE_KEEP_REMOTE_FILES": "1", "ANSIBLE_REMOTE_TMP": str(remote_tmp)}
    run = run_play([ops_api_task("with_environment", lab.url("ops_api"),
                                 environment={"OFM_OPS_API_TOKEN": secrets["identities"]["admin"]["token"]})], tmp_path, env=env)
    assert run.rc == 0, run.stdout
    assert run.result["with_environment"]["is_admin"] is True
    assert shipped_modules(remote_tmp) == ["AnsiballZ_ops_api_info.py"]
    assert secrets["identities"]["admin"]["token"] not in run.stdout
