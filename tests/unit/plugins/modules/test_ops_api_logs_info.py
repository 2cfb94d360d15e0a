# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""ops_api_logs_info's main() against a fake ops API serving an application log."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any, Iterator

import pytest
from unithelpers import FakeService, Received, Reply, documented_options, free_port, mismatches, run_module

from ansible_collections.ofm.rollback.plugins.doc_fragments import http_client as http_client_fragment
from ansible_collections.ofm.rollback.plugins.doc_fragments import ops_api as ops_api_fragment
from ansible_collections.ofm.rollback.plugins.modules import ops_api_logs_info

pytestmark = pytest.mark.usefixtures("module_runner")

SESSION = "sid-admin-SECRET-51c2"


def at(minutes_ago: float) -> str:
    return (datetime.now(timezone.utc) - timedelta(minutes=minutes_ago)).astimezone(timezone(timedelta(hours=-5))).isoformat()


class FakeLogs(FakeService):
    def __init__(self) -> None:
        self.lines: list[str] = []
        super().__init__()

    def answer(self, request: Received) -> Reply:
        if request.headers.get("Cookie") != f"connect.sid={SESSION}":
            return Reply(401, {"error": "Authentication required"})
        count = int(request.query["lines"][0])
        return Reply(200, "".join(line + "\n" for line in self.lines[-count:]), content_type="text/plain")


@pytest.fixture(name="ops")
def fixture_ops() -> Iterator[FakeLogs]:
    server = FakeLogs()
    yield server
    server.close()


def run(args: dict[str, Any]) -> tuple[bool, dict[str, Any]]:
    failed, result, _warnings = run_module(ops_api_logs_info, args)
    return failed, result


def test_new_signature_in_the_last_window_fails_with_a_redacted_example(ops):
    ops.lines = [f"{at(30)} ERROR msg=x error=\"KnownError: retry 1\"",
                 f"{at(3)} ERROR msg=x error=\"KnownError: retry 2\"",
                 f"{at(2)} ERROR msg=x error=\"AuthError: cookie connect.sid={SESSION} rejected for user 41\"",
                 f"{at(1)} INFO msg=\"request completed\""]
    failed, result = run({"ops_api_url": ops.url, "ops_api_session_cookie": SESSION, "window": "10m", "lines": 100})
    assert not failed and result["changed"] is False
    assert (result["status"], result["failed_checks"], result["lines_read"], result["baseline_signatures"]) == ("failed", ["signatures"], 4, 1)
    [new] = result["new_signatures"]
    assert new["count"] == 1 and new["signature"].startswith("AuthError: cookie connect.sid=") and "user <n>" in new["signature"]
    assert new["first_seen"].endswith("-05:00")
    assert SESSION not in json.dumps(result)
    assert result["window"]["since"] < result["window"]["now"]
    assert [received.path for received in ops.received] == ["/internal/ops/logs?lines=100"]


def test_only_known_signatures_pass(ops):
    ops.lines = [f"{at(30)} ERROR error=\"KnownError: retry 1\"", f"{at(3)} ERROR error=\"KnownError: retry 2\""]
    failed, result = run({"ops_api_url": ops.url, "ops_api_session_cookie": SESSION})
    assert not failed and result["status"] == "ok" and result["new_signatures"] == []


def test_unreachable_ops_api_is_unknown_or_fails_as_asked():
    url = f"http://127.0.0.1:{free_port()}"
    failed, result = run({"ops_api_url": url, "ops_api_session_cookie": SESSION, "retries": 0, "unavailable_is": "unknown"})
    assert not failed
    assert (result["status"], result["unknown_checks"], result["available"]) == ("unknown", ["signatures"], False)
    assert "could not be asked" in result["checks"][0]["detail"]
    failed, result = run({"ops_api_url": url, "ops_api_session_cookie": SESSION, "retries": 0})
    assert failed and result["msg"].startswith("ops API: GET /internal/ops/logs")


def test_a_refused_login_fails_even_with_unavailable_is_unknown(ops):
    failed, result = run({"ops_api_url": ops.url, "ops_api_session_cookie": "wrong", "unavailable_is": "unknown"})
    assert failed and "admin" in result["msg"]


def test_bad_input_names_the_option_and_sends_nothing(ops):
    failed, result = run({"ops_api_url": ops.url, "ops_api_session_cookie": SESSION, "levels": ["error", "loud"]})
    assert failed and result["error"]["option"] == "levels" and "loud" in result["msg"]
    failed, result = run({"ops_api_url": ops.url, "ops_api_session_cookie": SESSION, "since": "2026-03-01T10:00:00Z",
                          "baseline_until": "2026-03-01T11:00:00Z"})
    assert failed and result["error"]["option"] == "baseline_until"
    assert ops.received == []


def test_docs_match_argument_spec():
    assert mismatches(ops_api_logs_info.ARGUMENT_SPEC,
                      documented_options(ops_api_logs_info, ops_api_fragment, http_client_fragment)) == []
