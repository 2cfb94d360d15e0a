# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""http_suite's main() against a local API served from a thread, a closed port and a socket that never answers."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator

import pytest
import yaml
from unithelpers import FakeService, Received, Reply, documented_options, free_port, mismatches, run_module, silent_port

from ansible_collections.ofm.rollback.plugins.doc_fragments import http_client
from ansible_collections.ofm.rollback.plugins.module_utils.http_suite import parse_case
from ansible_collections.ofm.rollback.plugins.modules import http_suite

SECRET = "Bearer smoke-SECRET-7f3a"
POSTS = [{"id": 101, "status": "published", "platform": "tiktok"}, {"id": 102, "status": "draft", "platform": "x"}]
SUITE_FILE = Path(__file__).resolve().parents[4] / "lab" / "e2e" / "critical-path.yml"


class FakeApi(FakeService):
    """/health, /api/posts (``broken`` drops each post's status), POST /api/posts/publish (202), /echo (the request's headers
    as JSON), /slow (answers after ``slow`` seconds), /text (plain text)."""

    def __init__(self) -> None:
        self.broken = False
        self.slow = 0.3
        super().__init__()

    def answer(self, request: Received) -> Reply:
        path = request.path_only
        if path == "/health":
            return Reply(200, {"ok": True, "service": "ofm-social-os-api"})
        if path == "/api/posts" and request.method == "GET":
            return Reply(200, [{k: v for k, v in post.items() if not (self.broken and k == "status")} for post in POSTS])
        if path == "/api/posts/publish" and request.method == "POST":
            if request.body.get("platform") != "tiktok":
                return Reply(400, {"error": "platform must be one of tiktok"})
            return Reply(202, {"queued": True, "job_id": "ab" * 16})
        if path == "/echo":
            return Reply(200, {"headers": request.headers})
        if path == "/slow":
            return Reply(200, {"ok": True}, delay=self.slow)
        if path == "/text":
            return Reply(200, "plain words")
        return Reply(404, {"error": "not found"})


@pytest.fixture(name="api")
def fixture_api() -> Iterator[FakeApi]:
    service = FakeApi()
    yield service
    service.close()


@pytest.fixture(name="silent_port")
def fixture_silent_port() -> Iterator[int]:
    with silent_port() as port:
        yield port


def by_name(result: dict) -> dict[str, dict]:
    return {check["name"]: check for check in result["checks"]}


@pytest.mark.usefixtures("module_runner")
class TestModule:
    """main() as a module process runs it and in process as the action plugin does (fixture module_runner)."""

    def test_the_lab_suite_file_passes_on_a_healthy_api(self, api):
        failed, result, _warnings = run_module(http_suite, {"base_url": api.url, "suite_file": str(SUITE_FILE)})
        assert not failed and result["changed"] is False
        assert result["status"] == "ok", result["msg"]
        assert [case["name"] for case in result["cases"]] == ["health", "list posts", "publish a post"]
        assert [case["status"] for case in result["cases"]] == [200, 200, 202]
        assert all(case["latency_ms"] >= 0 for case in result["cases"])
        assert [(r.method, r.path) for r in api.received] == [("GET", "/health"), ("GET", "/api/posts"), ("POST", "/api/posts/publish")]
        assert api.received[2].body == {"post_id": 101, "platform": "tiktok"}

    def test_a_broken_body_fails_exactly_the_assertion_case(self, api):
        api.broken = True
        failed, result, _warnings = run_module(http_suite, {"base_url": api.url, "suite_file": str(SUITE_FILE)})
        assert not failed and result["status"] == "failed"
        assert result["failed_checks"] == ["list posts"] and result["unknown_checks"] == []
        detail = by_name(result)["list posts"]["detail"]
        assert detail.startswith("HTTP 200 in ") and "$[?!@.status] absent: 2 value(s) matched" in detail
        assert result["cases"][1]["failed_assertion"].startswith("$[?!@.status] absent")

    def test_status_latency_and_text_bodies_are_judged(self, api):
        suite = [
            {"name": "refused publish", "method": "POST", "url": "/api/posts/publish", "json": {"post_id": 1, "platform": "x"}},
            {"name": "expected refusal", "method": "POST", "url": "/api/posts/publish", "json": {"platform": "x"}, "status": [400, 422],
             "assert": [{"path": "$.error", "op": "contains", "value": "platform"}]},
            {"name": "slow", "url": "/slow", "latency_budget": "100ms"},
            {"name": "text", "url": "/text", "assert": [{"path": "$.ok", "op": "exists"}]},
            {"name": "absolute", "url": api.url + "/health", "status": "200"},
        ]
        failed, result, _warnings = run_module(http_suite, {"base_url": api.url, "suite": suite})
        checks = by_name(result)
        assert not failed and result["failed_checks"] == ["refused publish", "slow", "text"]
        assert ", expected 200" in checks["refused publish"]["detail"] and checks["refused publish"]["data"]["status"] == 400
        assert checks["expected refusal"]["status"] == "ok"
        assert "over the latency budget 100ms" in checks["slow"]["detail"]
        assert "the body is not JSON" in checks["text"]["detail"]
        assert checks["absolute"]["status"] == "ok"

    def test_check_mode_sends_only_safe_methods(self, api):
        failed, result, _warnings = run_module(http_suite, {"base_url": api.url, "suite_file": str(SUITE_FILE)}, check_mode=True)
        assert not failed and result["status"] == "unknown" and result["unknown_checks"] == ["publish a post"]
        assert by_name(result)["publish a post"]["detail"] == "POST not sent in check mode"
        assert [r.method for r in api.received] == ["GET", "GET"]

    def test_secret_headers_are_sent_and_never_shown(self, api):
        suite = [{"name": "echo", "url": "/echo", "assert": [{"path": "$.headers.Authorization", "op": "equals", "value": "something else"}]}]
        failed, result, _warnings = run_module(http_suite, {"base_url": api.url, "suite": suite, "secret_headers": {"Authorization": SECRET},
                                               "headers": {"X-Team": "sre"}})
        assert not failed and result["status"] == "failed"
        assert api.received[0].headers["Authorization"] == SECRET and api.received[0].headers["X-Team"] == "sre"
        assert "smoke-SECRET-7f3a" not in json.dumps(result)

    def test_a_refused_service_is_unknown_and_later_cases_are_not_sent(self):
        base = f"http://127.0.0.1:{free_port()}"
        args = {"base_url": base, "suite_file": str(SUITE_FILE), "retries": 0, "unavailable_is": "unknown"}
        failed, result, _warnings = run_module(http_suite, args)
        assert not failed and result["status"] == "unknown" and result["unknown_checks"] == ["health", "list posts", "publish a post"]
        assert "could not connect" in by_name(result)["health"]["detail"]
        assert by_name(result)["list posts"]["detail"] == f"not sent: {base} did not answer case 'health'"
        failed, result, _warnings = run_module(http_suite, {**args, "unavailable_is": "fail"})
        assert failed and result["error"]["type"] == "UnavailableError" and "could not connect" in result["msg"]

    def test_a_service_that_never_answers_is_unknown(self, silent_port):
        args = {"base_url": f"http://127.0.0.1:{silent_port}", "suite_file": str(SUITE_FILE), "timeout": 0.5, "retries": 0,
                "unavailable_is": "unknown"}
        failed, result, _warnings = run_module(http_suite, args)
        assert not failed and result["status"] == "unknown" and len(result["unknown_checks"]) == 3
        assert "no response within the read timeout" in by_name(result)["health"]["detail"]


@pytest.mark.parametrize(("args", "option", "words"), [
    ({"suite": []}, "suite", "non-empty list"),
    ({"suite": [{"name": "a", "url": "/a"}, {"name": "a", "url": "/b"}]}, "suite[1].name", "two cases"),
    ({"suite": [{"name": "a", "url": "/a", "methd": "GET"}]}, "suite[0].methd", "unknown key"),
    ({"suite": [{"name": "a", "url": "/a", "method": "FETCH"}]}, "suite[0].method", "GET, HEAD, POST"),
    ({"suite": [{"name": "a", "url": "/a", "status": 700}]}, "suite[0].status", "100 to 599"),
    ({"suite": [{"name": "a", "url": "/a", "latency_budget": "soon"}]}, "suite[0].latency_budget", "duration"),
    ({"suite": [{"name": "a", "url": "/a", "assert": [{"path": "$.x", "op": "is"}]}]}, "suite[0].assert[0].op", "equals, not_equals"),
    ({"suite": [{"name": "a", "url": "/a", "assert": [{"path": "$[", "op": "exists"}]}]}, "suite[0].assert[0].path", "RFC 9535"),
    ({"suite": [{"name": "a", "url": "/a", "assert": [{"path": "$.x", "op": "matches", "value": "("}]}]}, "suite[0].assert[0].value", "regular"),
    ({"suite": [{"name": "a", "url": "/a", "assert": [{"path": "$.x", "op": "gt"}]}]}, "suite[0].assert[0].value", "needs a value"),
    ({"suite": [{"name": "a", "url": "/a", "json": {}, "body": "x"}]}, "suite[0].json", "one of json"),
    ({"suite": [{"name": "a", "url": "ftp://host/a"}]}, "suite[0].url", "absolute http(s) URL"),
    ({"suite": [{"name": "a", "url": "/a"}], "base_url": None}, "suite[0].url", "set base_url"),
    ({"suite": [{"name": "a", "url": "/a"}], "base_url": "api.ofm.social"}, "base_url", "absolute http(s) URL"),
    ({"suite": [{"name": "a", "url": "/a"}], "secret_headers": {"Authorization": ["x"]}}, "secret_headers", "strings"),
    ({"suite_file": "/nonexistent/suite.yml"}, "suite_file", "readable YAML"),
])
def test_bad_input_names_the_option_before_anything_is_sent(api, args, option, words):
    failed, result, _warnings = run_module(http_suite, {"base_url": api.url, **args})
    assert failed and result["error"]["option"] == option and words in result["msg"]
    assert api.received == []


def test_a_suite_file_without_cases_is_refused(tmp_path):
    path = tmp_path / "suite.yml"
    path.write_text(yaml.safe_dump({"tests": []}))
    failed, result, _warnings = run_module(http_suite, {"base_url": "http://127.0.0.1:9", "suite_file": str(path)})
    assert failed and result["error"]["option"] == "suite_file" and "no top-level key 'cases'" in result["msg"]


DOCUMENT = {"ok": True, "n": 3, "items": [{"id": 1, "tag": "a"}, {"id": 2, "tag": "b"}], "name": "ofm-api", "flag": 1}


@pytest.mark.parametrize(("path", "op", "value", "problem"), [
    ("$.ok", "equals", True, None),
    ("$.flag", "equals", True, "found 1"),
    ("$.n", "not_equals", 4, None),
    ("$.n", "not_equals", 3, "found 3"),
    ("$.missing", "exists", None, "nothing matched"),
    ("$.items[?@.id > 5]", "absent", None, None),
    ("$.items[?@.id > 1]", "absent", None, "1 value(s) matched"),
    ("$.name", "contains", "api", None),
    ("$.items[*].tag", "contains", "b", "found \"a\" (value 1 of 2)"),
    ("$.items", "contains", {"id": 2, "tag": "b"}, None),
    ("$.items[0]", "contains", "color", "no key"),
    ("$.items[*].tag", "matches", "^[ab]$", None),
    ("$.items[*].tag", "matches", "^a$", "found \"b\" (value 2 of 2)"),
    ("$.n", "matches", "^3$", None),
    ("$.n", "gt", 2, None),
    ("$.n", "lt", 3, "found 3"),
    ("$.name", "gt", 1, "not a number"),
    ("$.items", "length", 2, None),
    ("$.items", "length", {"min": 3}, "found length 2"),
    ("$.n", "length", 1, "has no length"),
    ("$.missing", "equals", 1, "nothing matched"),
])
def test_each_operator_judges_every_selected_value(path, op, value, problem):
    entry = {"path": path, "op": op} if op in ("exists", "absent") else {"path": path, "op": op, "value": value}
    assertion = parse_case({"name": "c", "url": "/", "assert": [entry]}, "suite[0]").assertions[0]
    found = assertion.judge(DOCUMENT)
    assert found is None if problem is None else problem in found


def test_documentation_matches_the_argument_spec():
    assert mismatches(http_suite.ARGUMENT_SPEC, documented_options(http_suite, http_client)) == []
