"""Tests of the OFM Social OS API stand-in: fault isolation, signatures, lab control, real server."""
from __future__ import annotations

import email.message
import hashlib
import hmac
import io
import json
import random
import re
import time
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Optional

import pytest
from prometheus_client.parser import text_string_to_metric_families
from unithelpers import LabService, http_call

from lab.services.httpbase import HTTPError, Request, Response
from lab.services.ofm_api import (FAULTS, ApiSettings, FaultStateError, OfmApi, build_router, verify_tiktok_signature)

SECRET = "unit-test-webhook-secret"
NOW = 1_800_000_000


class FakeClock:
    """Wall clock and sleep that only move when told, so slow answers take no real time."""

    def __init__(self) -> None:
        self.now = float(NOW)

    def sleep(self, seconds: float) -> None:
        self.now += seconds

    def time(self) -> float:
        return self.now


def tiktok_header(body: bytes, timestamp: int = NOW, secret: str = SECRET) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},s={digest}"


def make_api(*faults: str, state_file: Optional[Path] = None, app_log: Optional[Path] = None) -> tuple[OfmApi, FakeClock]:
    clock = FakeClock()
    settings = ApiSettings(version_name="canary", webhook_secret=SECRET, slow_seconds=12.0, error_ratio=1.0,
                           db_failure_ratio=1.0, publish_failure_ratio=1.0, state_file=state_file, app_log=app_log)
    api = OfmApi(settings, rng=random.Random(7), sleep=clock.sleep, clock=clock.time)
    if faults:
        api.replace_faults(list(faults))
    return api, clock


def call(api: OfmApi, clock: FakeClock, method: str, path: str, body: Any = None,
         headers: Optional[dict[str, str]] = None) -> Response:
    """One request through the router and the metrics hook, without a socket."""
    raw = body if isinstance(body, bytes) else (json.dumps(body).encode() if body is not None else b"")
    message = email.message.Message()
    for key, value in {**(headers or {}), "Content-Length": str(len(raw))}.items():
        message[key] = value
    handler = SimpleNamespace(command=method, path=path, headers=message, rfile=io.BytesIO(raw), client_address=("127.0.0.1", 0))
    route, params, _known = build_router(api).resolve(method, path)
    assert route is not None, f"no route for {method} {path}"
    request = Request(handler, params)  # type: ignore[arg-type]
    started = clock.now
    try:
        response = route(request)
    except HTTPError as exc:
        response = exc.response
    api.observe(request, response, clock.now - started + 0.002)
    return response


def send_standard_traffic(api: OfmApi, clock: FakeClock, rounds: int = 20) -> None:
    for index in range(rounds):
        call(api, clock, "GET", "/api/posts")
        call(api, clock, "POST", "/api/posts/publish", {"post_id": index, "platform": "tiktok"})
        body = json.dumps({"event": "video.publish.complete", "n": index}).encode()
        call(api, clock, "POST", "/webhooks/tiktok", body, {"TikTok-Signature": tiktok_header(body, int(clock.now))})
    api.drain_publish_queue(rounds * 10)


def sli_damage(api: OfmApi) -> dict[str, float]:
    """How far each SLI is from perfect: every value is 0 when nothing is wrong."""
    samples = {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
               for family in api.metrics.registry.collect() for sample in family.samples}

    def total(name: str, **labels: str) -> float:
        return sum(value for (sample_name, sample_labels), value in samples.items()
                   if sample_name == name and set(labels.items()) <= set(sample_labels))

    return {
        "latency": total("http_request_duration_seconds_count") - total("http_request_duration_seconds_bucket", le="10.0"),
        "errors": sum(value for (name, labels), value in samples.items()
                      if name == "http_requests_total" and dict(labels)["status"].startswith("5")),
        "webhooks": total("webhook_signature_total") - total("webhook_signature_verified_total"),
        "db": total("db_connection_attempts_total", result="failure"),
        "publish": total("publish_requests_total", result="failure"),
        "queue": total("temporal_task_queue_backlog", task_queue="publish"),
    }


def test_without_faults_every_request_succeeds_and_no_sli_moves() -> None:
    api, clock = make_api()
    send_standard_traffic(api, clock)
    assert sli_damage(api) == {"latency": 0, "errors": 0, "webhooks": 0, "db": 0, "publish": 0, "queue": 0}
    assert api.metrics.registry.get_sample_value("http_requests_total", {"method": "GET", "route": "/api/posts", "status": "200"}) == 20
    assert api.metrics.registry.get_sample_value("publish_requests_total", {"result": "success"}) == 20


FAULT_TO_SLI = {"slow": "latency", "errors": "errors", "webhooks": "webhooks", "db": "db", "publish": "publish", "queue": "queue"}


@pytest.mark.parametrize("fault", sorted(FAULT_TO_SLI))
def test_each_fault_moves_only_its_own_sli(fault: str) -> None:
    api, clock = make_api(fault)
    send_standard_traffic(api, clock)
    damage = sli_damage(api)
    moved = FAULT_TO_SLI[fault]
    assert damage[moved] > 0
    assert {name: value for name, value in damage.items() if name != moved} == {name: 0 for name in damage if name != moved}


# Faults that move no SLI at all: what they break is seen elsewhere (the body of an answer, the application log).
NO_SLI_FAULTS = ("content", "signature")


def test_fault_table_covers_every_fault() -> None:
    assert sorted([*FAULT_TO_SLI, *NO_SLI_FAULTS]) == sorted(FAULTS)


def test_content_fault_breaks_only_the_posts_body_and_moves_no_sli() -> None:
    api, clock = make_api("content")
    send_standard_traffic(api, clock)
    assert sli_damage(api) == {"latency": 0, "errors": 0, "webhooks": 0, "db": 0, "publish": 0, "queue": 0}
    posts = call(api, clock, "GET", "/api/posts")
    assert posts.status == 200 and len(posts.body) == 4 and all("status" not in post and post["id"] for post in posts.body)
    api.replace_faults([])
    assert all("status" in post for post in call(api, clock, "GET", "/api/posts").body)


def test_db_fault_retries_so_requests_still_succeed() -> None:
    api, clock = make_api("db")
    response = call(api, clock, "GET", "/api/posts")
    assert response.status == 200
    assert api.metrics.registry.get_sample_value("db_connection_attempts_total", {"result": "failure"}) == 1
    assert api.metrics.registry.get_sample_value("db_connection_attempts_total", {"result": "success"}) == 1


def test_errors_fault_answers_500_with_the_production_body() -> None:
    api, clock = make_api("errors")
    response = call(api, clock, "GET", "/api/posts")
    assert (response.status, response.body) == (500, {"error": "Internal Server Error"})


def test_webhooks_fault_rejects_a_correct_signature_with_401() -> None:
    api, clock = make_api("webhooks")
    body = b'{"event":"x"}'
    response = call(api, clock, "POST", "/webhooks/tiktok", body, {"TikTok-Signature": tiktok_header(body, int(clock.now))})
    assert (response.status, response.body) == (401, {"error": "Invalid signature"})


def test_slow_fault_does_not_slow_webhooks() -> None:
    api, clock = make_api("slow")
    body = b"{}"
    call(api, clock, "POST", "/webhooks/tiktok", body, {"TikTok-Signature": tiktok_header(body, int(clock.now))})
    assert clock.now == NOW
    call(api, clock, "GET", "/api/posts")
    assert clock.now == NOW + 12


def test_queue_fault_keeps_jobs_until_it_is_lifted() -> None:
    api, clock = make_api("queue")
    for index in range(3):
        assert call(api, clock, "POST", "/api/posts/publish", {"post_id": index, "platform": "x"}).status == 202
    assert api.drain_publish_queue(10) == 0
    assert api.metrics.registry.get_sample_value("temporal_task_queue_backlog", {"task_queue": "publish"}) == 3
    api.edit_faults(enable=[], disable=["queue"])
    assert api.drain_publish_queue(10) == 3
    assert api.backlog == 0


@pytest.mark.parametrize("body", [{"post_id": 1, "platform": "myspace"}, {"platform": "x"}, {"post_id": True, "platform": "x"}, [1, 2]])
def test_publish_rejects_an_invalid_body(body: Any) -> None:
    api, clock = make_api()
    response = call(api, clock, "POST", "/api/posts/publish", body)
    assert response.status == 400
    assert api.backlog == 0


def test_a_good_signature_is_accepted() -> None:
    body = b'{"event":"video.publish.complete"}'
    assert verify_tiktok_signature(SECRET, tiktok_header(body), body, now=NOW)


@pytest.mark.parametrize("header, body", [
    (None, b"{}"),
    ("", b"{}"),
    (tiktok_header(b"{}"), b'{"tampered":1}'),
    (tiktok_header(b"{}", secret="another-secret"), b"{}"),
    (tiktok_header(b"{}").replace("s=", "s=0"), b"{}"),
    (tiktok_header(b"{}", timestamp=NOW - 301), b"{}"),
    (tiktok_header(b"{}", timestamp=NOW + 301), b"{}"),
    (tiktok_header(b"{}").split(",")[1], b"{}"),
    (tiktok_header(b"{}").split(",", maxsplit=1)[0], b"{}"),
    (f"t=abc,{tiktok_header(b'{}').split(',')[1]}", b"{}"),
    (tiktok_header(b"{}") + ",t=1", b"{}"),
    ("sha256=deadbeef", b"{}"),
], ids=["missing", "empty", "tampered-body", "wrong-secret", "tampered-signature", "expired", "future",
        "no-timestamp", "no-signature", "non-numeric-timestamp", "duplicate-key", "other-format"])
def test_a_bad_signature_is_rejected(header: Optional[str], body: bytes) -> None:
    assert not verify_tiktok_signature(SECRET, header, body, now=NOW)


def test_put_with_an_unknown_fault_names_the_accepted_values() -> None:
    api, clock = make_api("db")
    response = call(api, clock, "PUT", "/__lab/faults", {"faults": ["slow", "meteor"]})
    assert response.status == 400
    assert "'meteor'" in response.body["error"]
    assert all(name in response.body["error"] for name in FAULTS)
    assert api.faults == ["db"]


@pytest.mark.parametrize("body", [{"faults": "slow"}, {}, {"faults": [1]}])
def test_put_without_a_list_of_names_is_rejected(body: Any) -> None:
    api, clock = make_api("db")
    assert call(api, clock, "PUT", "/__lab/faults", body).status == 400
    assert api.faults == ["db"]


def test_put_replaces_and_post_edits_the_fault_set() -> None:
    api, clock = make_api("db")
    replaced = call(api, clock, "PUT", "/__lab/faults", {"faults": ["webhooks", "slow"]})
    assert replaced.body == {"faults": ["slow", "webhooks"], "available": list(FAULTS)}
    edited = call(api, clock, "POST", "/__lab/faults", {"enable": ["errors"], "disable": ["slow"]})
    assert edited.body["faults"] == ["errors", "webhooks"]
    assert call(api, clock, "GET", "/__lab/faults").body["faults"] == ["errors", "webhooks"]
    assert call(api, clock, "GET", "/health").body == {"ok": True, "service": "ofm-social-os-api", "version": "canary",
                                                       "faults": ["errors", "webhooks"], "flags": {}, "flag_problems": {}}


def test_post_refuses_to_enable_and_disable_the_same_fault() -> None:
    api, clock = make_api("db")
    response = call(api, clock, "POST", "/__lab/faults", {"enable": ["slow"], "disable": ["slow"]})
    assert response.status == 400
    assert api.faults == ["db"]


def test_the_fault_set_survives_a_restart_through_the_state_file(tmp_path: Path) -> None:
    state_file = tmp_path / "faults.json"
    make_api("queue", "errors", state_file=state_file)
    assert json.loads(state_file.read_text()) == {"faults": ["errors", "queue"]}
    restarted, _clock = make_api(state_file=state_file)
    assert restarted.faults == ["errors", "queue"]


@pytest.mark.parametrize("content", ["not json", '{"faults": ["meteor"]}', '["slow"]'])
def test_a_bad_state_file_stops_the_start_with_its_path(tmp_path: Path, content: str) -> None:
    state_file = tmp_path / "faults.json"
    state_file.write_text(content)
    with pytest.raises(FaultStateError, match=str(state_file)):
        make_api(state_file=state_file)


def test_lab_control_health_and_metrics_are_not_counted() -> None:
    api, clock = make_api()
    for path in ("/health", "/metrics", "/__lab/faults"):
        call(api, clock, "GET", path)
    assert sli_damage(api)["latency"] == 0
    assert api.metrics.registry.get_sample_value("http_request_duration_seconds_count",
                                                 {"method": "GET", "route": "/health", "status": "200"}) is None
    assert sum(sample.value for family in api.metrics.registry.collect() if family.name == "http_requests"
               for sample in family.samples if sample.name == "http_requests_total") == 0


# --- the real server, started as the lab starts it ---------------------------------------------

def running_api(log: Path, *args: str) -> LabService:
    return LabService("ofm_api", "--webhook-secret", SECRET, *args, log=log)


def scrape(base: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    status, text = http_call(f"{base}/metrics")
    assert status == 200
    return {(sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def value(samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> Optional[float]:
    return samples.get((name, frozenset(labels.items())))


def wait_for_metric(base: str, name: str, labels: dict[str, str], expected: float) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    deadline = time.monotonic() + 15
    samples = scrape(base)
    while value(samples, name, **labels) != expected and time.monotonic() < deadline:
        time.sleep(0.05)
        samples = scrape(base)
    return samples


def test_real_server_exposes_the_production_metrics(tmp_path: Path) -> None:
    server = running_api(tmp_path / "api.log", "--version-name", "canary", "--seed", "3", "--queue-drain-per-second", "100",
                         "--state-file", str(tmp_path / "faults.json"))
    try:
        for _request in range(5):
            assert http_call(f"{server.url}/api/posts")[0] == 200
        for index in range(3):
            assert http_call(f"{server.url}/api/posts/publish", "POST", {"post_id": index, "platform": "reddit"})[0] == 202
        body = b'{"event":"video.publish.complete"}'
        for _request in range(2):
            assert http_call(f"{server.url}/webhooks/tiktok", "POST", body, {"TikTok-Signature": tiktok_header(body, int(time.time()))})[0] == 200
        assert http_call(f"{server.url}/webhooks/tiktok", "POST", body, {"TikTok-Signature": tiktok_header(b"{}", int(time.time()))})[0] == 401
        assert http_call(f"{server.url}/nowhere")[0] == 404
        assert http_call(f"{server.url}/__lab/faults")[1]["faults"] == []

        samples = wait_for_metric(server.url, "publish_requests_total", {"result": "success"}, 3)
        assert value(samples, "publish_requests_total", result="success") == 3
        assert value(samples, "http_requests_total", method="GET", route="/api/posts", status="200") == 5
        assert value(samples, "http_requests_total", method="POST", route="/api/posts/publish", status="202") == 3
        assert value(samples, "http_requests_total", method="POST", route="/webhooks/tiktok", status="200") == 2
        assert value(samples, "http_requests_total", method="POST", route="/webhooks/tiktok", status="401") == 1
        assert value(samples, "http_requests_total", method="GET", route="unmatched", status="404") == 1
        assert value(samples, "http_requests_total", method="GET", route="/api/posts", status="500") == 0
        assert value(samples, "http_request_duration_seconds_bucket", method="GET", route="/api/posts", status="200", le="10.0") == 5
        assert value(samples, "webhook_signature_total", platform="tiktok") == 3
        assert value(samples, "webhook_signature_verified_total", platform="tiktok") == 2
        assert value(samples, "db_connection_attempts_total", result="success") == 8
        assert value(samples, "db_connection_attempts_total", result="failure") == 0
        assert value(samples, "temporal_task_queue_backlog", task_queue="publish") == 0
        counted_routes = {dict(labels).get("route") for name, labels in samples if name == "http_requests_total"}
        assert counted_routes == {"/api/posts", "/api/posts/publish", "/webhooks/tiktok", "unmatched"}
        assert all("version" not in dict(labels) for _name, labels in samples)

        assert http_call(f"{server.url}/__lab/faults", "PUT", {"faults": ["queue"]})[0] == 200
        for index in range(2):
            assert http_call(f"{server.url}/api/posts/publish", "POST", {"post_id": index, "platform": "x"})[0] == 202
        assert value(scrape(server.url), "temporal_task_queue_backlog", task_queue="publish") == 2
    finally:
        assert server.stop() == 0

    restarted = running_api(tmp_path / "api-restarted.log", "--state-file", str(tmp_path / "faults.json"))
    try:
        health = http_call(f"{restarted.url}/health")[1]
        assert (health["version"], health["faults"]) == ("stable", ["queue"])
    finally:
        assert restarted.stop() == 0


# The application log and the business metric

LOG_LINE = re.compile(r"^(?P<time>\S+) (?P<level>INFO|WARN|ERROR) version=canary (?P<rest>.*)$")


def log_lines(path: Path) -> list[re.Match]:
    lines = path.read_text(encoding="utf-8").splitlines()
    matches = [LOG_LINE.match(line) for line in lines]
    assert all(matches), lines
    return matches  # type: ignore[return-value]


def every_sample(api: OfmApi) -> dict[tuple[str, tuple], float]:
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in api.metrics.registry.collect() for sample in family.samples if not sample.name.endswith("_created")}


def test_app_log_has_one_line_per_request_with_zoned_time_level_route_and_status(tmp_path: Path) -> None:
    api, clock = make_api(app_log=tmp_path / "app.log")
    send_standard_traffic(api, clock, rounds=2)
    call(api, clock, "GET", "/health")
    call(api, clock, "POST", "/api/posts/publish", {"post_id": 1, "platform": "myspace"})
    lines = log_lines(tmp_path / "app.log")
    assert len(lines) == 7  # 2 x (posts, publish, webhook) + the 400; /health is not logged
    assert all(datetime.fromisoformat(line["time"]).utcoffset() is not None for line in lines)
    assert [line["level"] for line in lines] == ["INFO"] * 6 + ["WARN"]
    assert "method=GET route=/api/posts status=200 duration_ms=2" in lines[0]["rest"]
    assert "route=/api/posts/publish status=400" in lines[-1]["rest"] and "error=" not in tmp_path.joinpath("app.log").read_text()


@pytest.mark.parametrize("fault, kind, route", [
    ("errors", "UpstreamError: post store at 10.0.3.", "status=500"),
    ("publish", "PublishTimeoutError: platform tiktok did not answer in 30 s (job ", "route=worker:publish"),
])
def test_errors_are_logged_with_their_message(tmp_path: Path, fault: str, kind: str, route: str) -> None:
    api, clock = make_api(fault, app_log=tmp_path / "app.log")
    send_standard_traffic(api, clock, rounds=2)
    errors = [line["rest"] for line in log_lines(tmp_path / "app.log") if "error=" in line["rest"]]
    assert errors and all(route in rest and f'error="{kind}' in rest for rest in errors)
    assert all(line["level"] == "ERROR" for line in log_lines(tmp_path / "app.log") if "error=" in line["rest"])


def test_signature_fault_logs_a_new_error_and_changes_no_status_latency_or_metric(tmp_path: Path) -> None:
    healthy, healthy_clock = make_api(app_log=tmp_path / "healthy.log")
    faulty, faulty_clock = make_api("signature", app_log=tmp_path / "faulty.log")
    statuses = {}
    for name, api, clock in (("healthy", healthy, healthy_clock), ("faulty", faulty, faulty_clock)):
        send_standard_traffic(api, clock, rounds=30)
        statuses[name] = [call(api, clock, "GET", "/api/posts").status for _request in range(10)]
    assert statuses["healthy"] == statuses["faulty"] == [200] * 10
    assert every_sample(healthy) == every_sample(faulty)
    assert healthy_clock.now == faulty_clock.now
    assert "ERROR" not in (tmp_path / "healthy.log").read_text()
    errors = [line["rest"] for line in log_lines(tmp_path / "faulty.log") if line["level"] == "ERROR"]
    assert 5 <= len(errors) <= 35  # a share of the 70 /api/* requests
    assert all("status=20" in rest and 'error="CdnSigningError: signing key kid-' in rest for rest in errors)
    requests = [line for line in log_lines(tmp_path / "faulty.log") if "request completed" in line["rest"]]
    assert len(requests) == len(log_lines(tmp_path / "healthy.log"))


def test_publish_jobs_completed_counts_successful_jobs_per_platform() -> None:
    api, clock = make_api()
    for index, platform in enumerate(["tiktok", "x", "x", "reddit"]):
        call(api, clock, "POST", "/api/posts/publish", {"post_id": index, "platform": platform})
    assert api.drain_publish_queue(10) == 4
    completed = {platform: api.metrics.registry.get_sample_value("publish_jobs_completed_total", {"platform": platform})
                 for platform in ("instagram", "reddit", "tiktok", "x")}
    assert completed == {"instagram": 0, "reddit": 1, "tiktok": 1, "x": 2}
    failing, failing_clock = make_api("publish")
    call(failing, failing_clock, "POST", "/api/posts/publish", {"post_id": 1, "platform": "x"})
    failing.drain_publish_queue(10)
    assert failing.metrics.registry.get_sample_value("publish_jobs_completed_total", {"platform": "x"}) == 0
