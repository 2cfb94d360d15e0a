"""http_suite, test_suite and load_test through the real ``ansible`` against the lab's OFM API behind HAProxy.

The lab faults switched here (``content`` on both versions, ``errors`` on the canary) are enabled on top of whatever is set
and disabled again afterwards, so the tests leave the lab's faults as they found them.
"""
from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path
from typing import Iterator

import pytest
from labtest import lab_call, run_module
from unithelpers import free_port

from lab.config import REPO_ROOT, LabConfig

# Switches faults of the lab's OFM API: runs in file order in the one pytest process of such modules (scripts/test.sh).
pytestmark = pytest.mark.shared_lab

SUITE_FILE = REPO_ROOT / "lab" / "e2e" / "critical-path.yml"
E2E_SUITE = REPO_ROOT / "lab" / "e2e" / "test_critical_paths.py"
SECRET = "Bearer runners-SECRET-2b7e"


@contextlib.contextmanager
def api_fault(lab: LabConfig, name: str, versions: tuple[str, ...] = ("stable", "canary")) -> Iterator[None]:
    """The OFM API fault ``name`` on ``versions`` for the duration of the block."""
    urls = [f"{lab.url(f'ofm_api_{version}')}/__lab/faults" for version in versions]
    for url in urls:
        lab_call(url, "POST", {"enable": [name]})
    try:
        yield
    finally:
        for url in urls:
            lab_call(url, "POST", {"disable": [name]})


def by_name(result: dict) -> dict[str, dict]:
    return {check["name"]: check for check in result["checks"]}


def test_http_suite_passes_and_the_content_fault_fails_exactly_the_json_case(lab, tmp_path):
    args = {"base_url": lab.url("haproxy"), "suite_file": str(SUITE_FILE), "secret_headers": {"Authorization": SECRET}}
    healthy = run_module("http_suite", args, tmp_path)
    assert not healthy.failed and healthy.result["status"] == "ok", healthy.output
    with api_fault(lab, "content"):
        broken = run_module("http_suite", args, tmp_path)
    assert not broken.failed and broken.result["status"] == "failed", broken.output
    assert broken.result["failed_checks"] == ["list posts"] and broken.result["unknown_checks"] == []
    assert "$[?!@.status] absent" in by_name(broken.result)["list posts"]["detail"]
    assert "runners-SECRET" not in healthy.output + broken.output


def test_http_suite_check_mode_sends_no_publish(lab, tmp_path):
    run = run_module("http_suite", {"base_url": lab.url("haproxy"), "suite_file": str(SUITE_FILE)}, tmp_path, check=True)
    assert not run.failed and run.result["unknown_checks"] == ["publish a post"], run.output
    assert [case["result"] for case in run.result["cases"]] == ["ok", "ok", "unknown"]


def test_http_suite_against_a_stopped_service_is_unknown(tmp_path):
    closed = f"http://127.0.0.1:{free_port()}"  # as a stopped service: the connection is refused
    run = run_module("http_suite", {"base_url": closed, "suite_file": str(SUITE_FILE), "retries": 0, "unavailable_is": "unknown"}, tmp_path)
    assert not run.failed and run.result["status"] == "unknown" and len(run.result["unknown_checks"]) == 3, run.output
    failing = run_module("http_suite", {"base_url": closed, "suite_file": str(SUITE_FILE), "retries": 0}, tmp_path)
    assert failing.failed and failing.result["error"]["type"] == "UnavailableError"


def test_the_e2e_suite_passes_and_the_content_fault_fails_the_posts_test(lab, tmp_path):
    junit = tmp_path / "e2e.xml"
    args = {"command": [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(E2E_SUITE), f"--junitxml={junit}"],
            "chdir": str(REPO_ROOT), "environment": {"OFM_E2E_BASE_URL": lab.url("haproxy")}, "junit_file": str(junit), "timeout": "2m"}
    healthy = run_module("test_suite", args, tmp_path)
    assert not healthy.failed and healthy.result["status"] == "ok", healthy.output
    assert healthy.result["totals"] == {"tests": 3, "failures": 0, "errors": 0, "skipped": 0}
    with api_fault(lab, "content"):
        broken = run_module("test_suite", args, tmp_path)
    assert not broken.failed and broken.result["status"] == "failed", broken.output
    assert [case["name"] for case in broken.result["failed_cases"]] == ["lab.e2e.test_critical_paths.test_posts_have_what_clients_show"]
    assert "has status None" in broken.result["failed_cases"][0]["message"] and broken.result["exit_code"] == 1


def test_load_test_passes_on_the_healthy_lab_and_fails_on_canary_errors(lab, tmp_path):
    posts = [{"name": "list posts", "url": "/api/posts"}]
    args = {"host": lab.url("haproxy"), "suite": posts, "users": 4, "run_time": "3s", "wait_time": "20ms"}
    healthy = run_module("load_test", args, tmp_path)
    assert not healthy.failed and healthy.result["status"] == "ok", healthy.output
    assert healthy.result["stats"]["requests"] >= 30 and healthy.result["stats"]["failures"] == 0
    # The canary takes 10 % of the traffic and answers half of /api/* with a 500 under `errors`: about 5 % fail.
    with api_fault(lab, "errors", ("canary",)):
        broken = run_module("load_test", args, tmp_path)
    assert not broken.failed and broken.result["failed_checks"] == ["error_rate"], json.dumps(broken.result["stats"])
    assert by_name(broken.result)["p95_latency"]["status"] == "ok"


def test_the_fault_switches_are_undone(lab):
    for version in ("stable", "canary"):
        faults = lab_call(f"{lab.url(f'ofm_api_{version}')}/__lab/faults")["faults"]
        assert "content" not in faults and "errors" not in faults
    assert Path(SUITE_FILE).is_file()
