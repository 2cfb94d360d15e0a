"""Faults of the ops API and Prometheus that a stopped process cannot show: throttling, bad gateways, resets, hangs, slow
and malformed answers, injected by a real proxy (tests/integration/faultproxy.py) in front of the lab's real services.

The modules under test only read (ofm.rollback.ops_api_info: the admin check of every procedure; ofm.rollback.slo_check: the
SLO gate), so these tests do not share the lab's state. Each asserts the documented outcome: retried and succeeded, or
failed clearly (the error names the system and what happened), and how many requests the fault met.
"""
from __future__ import annotations

import pytest
from faultproxy import FaultProxy
from labtest import credentials, run_module


def ops_api_info(lab, tmp_path, proxy: FaultProxy, **options):
    admin = credentials(lab)["identities"]["admin"]
    args = {"ops_api_url": proxy.url, "timeout": 3, "retries": 2, **options}
    return run_module("ops_api_info", args, tmp_path, env={"OFM_OPS_API_TOKEN": admin["token"]})


def cafile(lab) -> str:
    return str(lab.path("tls", "ca.pem"))


def fault(procedure: str, case: str, expected: str):
    return pytest.mark.reliability("fault", procedure=procedure, case=case, expected=expected)


@fault("all (admin check)", "ops API answers 429 with Retry-After: 1, then answers", "retried after the Retry-After, succeeded")
def test_ops_api_429_with_retry_after_is_retried_and_succeeds(lab, tmp_path, reliability):
    with FaultProxy(lab.url("ops_api"), ["status:429:1", "pass"], cafile(lab)) as proxy:
        run = ops_api_info(lab, tmp_path, proxy)
    assert not run.failed, run.stdout[-2000:]
    assert run.result["is_admin"] is True and proxy.seen["status"] == 1 and proxy.seen["pass"] >= 1
    reliability.observed("429 met once, retried, succeeded (admin confirmed)")


@fault("all (admin check)", "ops API answers 502, then 503, then answers", "retried, succeeded")
def test_ops_api_bad_gateway_then_unavailable_is_retried_and_succeeds(lab, tmp_path, reliability):
    with FaultProxy(lab.url("ops_api"), ["status:502", "status:503", "pass"], cafile(lab)) as proxy:
        run = ops_api_info(lab, tmp_path, proxy)
    assert not run.failed, run.stdout[-2000:]
    assert run.result["is_admin"] is True and proxy.seen["status"] == 2
    reliability.observed("502 and 503 met, retried, succeeded")


@fault("all (admin check)", "ops API answers 500 to every request", "retried, then failed clearly")
def test_ops_api_500_every_time_fails_clearly_after_the_retries(lab, tmp_path, reliability):
    with FaultProxy(lab.url("ops_api"), ["status:500"], cafile(lab)) as proxy:
        run = ops_api_info(lab, tmp_path, proxy)
    assert run.failed
    message = run.result["msg"]
    assert "500" in message and proxy.requests >= 3, message
    reliability.observed("500 on every attempt (3 requests or more), failed naming the status")


@fault("all (admin check)", "ops API resets the connection once", "retried, succeeded")
def test_ops_api_connection_reset_is_retried_and_succeeds(lab, tmp_path, reliability):
    with FaultProxy(lab.url("ops_api"), ["reset", "pass"], cafile(lab)) as proxy:
        run = ops_api_info(lab, tmp_path, proxy)
    assert not run.failed, run.stdout[-2000:]
    assert run.result["is_admin"] is True and proxy.seen["reset"] == 1
    reliability.observed("connection reset once, retried, succeeded")


@fault("all (admin check)", "ops API answers 200 with a body that is not JSON", "failed clearly, naming the bad answer")
def test_ops_api_malformed_json_fails_clearly(lab, tmp_path, reliability):
    with FaultProxy(lab.url("ops_api"), ["malformed"], cafile(lab)) as proxy:
        run = ops_api_info(lab, tmp_path, proxy)
    assert run.failed, run.stdout[-2000:]
    message = run.result["msg"].lower()
    assert "json" in message and "ops api" in message, run.result["msg"]
    reliability.observed("failed, the message names the ops API and the answer that is not JSON")


@fault("all (admin check)", "ops API never answers (hangs)", "timed out, retried, then failed clearly")
def test_ops_api_hanging_times_out_and_fails_clearly(lab, tmp_path, reliability):
    with FaultProxy(lab.url("ops_api"), ["hang"], cafile(lab)) as proxy:
        run = ops_api_info(lab, tmp_path, proxy, timeout=1, retries=1)
    assert run.failed, run.stdout[-2000:]
    assert "time" in run.result["msg"].lower() and proxy.seen["hang"] >= 1, run.result["msg"]
    reliability.observed("no answer within the 1 s timeout, failed saying so")


def slo_check(lab, tmp_path, proxy: FaultProxy, **options):
    args = {"prometheus_url": proxy.url, "scope": "canary", "window": lab.sli_window, "sustain": "10s", "resolution": "1s",
            "timeout": 3, "retries": 1, **options}
    return run_module("slo_check", args, tmp_path)


@fault("emergency (SLO gate)", "Prometheus answers slowly (1.5 s a query, within the timeout)", "waited, succeeded")
def test_prometheus_slow_within_the_timeout_is_waited_for(lab, tmp_path, reliability):
    with FaultProxy(lab.url("prometheus"), ["delay:1.5", "pass"], cafile(lab)) as proxy:
        run = slo_check(lab, tmp_path, proxy)
    assert not run.failed, run.stdout[-2000:]
    assert run.result["monitoring_available"] is True and proxy.seen["delay"] == 1
    assert {slo["verdict"] for slo in run.result["slos"].values()} <= {"ok", "breach", "unknown"}
    reliability.observed("the slow answer was waited for; every SLO evaluated")


@fault("emergency (SLO gate)", "Prometheus slower than the timeout on every query", "failed clearly: Prometheus could not be asked")
def test_prometheus_slower_than_the_timeout_fails_clearly(lab, tmp_path, reliability):
    with FaultProxy(lab.url("prometheus"), ["hang"], cafile(lab)) as proxy:
        run = slo_check(lab, tmp_path, proxy, timeout=1, retries=0)
    assert run.failed, run.stdout[-2000:]
    assert "prometheus" in run.result["msg"].lower() and proxy.seen["hang"] >= 1, run.result["msg"]
    reliability.observed("failed within the timeout, naming Prometheus")


@fault("emergency (SLO gate)", "Prometheus answers 503 (unavailable_is=unknown)", "every SLO unknown, monitoring_available false")
def test_prometheus_503_with_unavailable_is_unknown_makes_every_slo_unknown(lab, tmp_path, reliability):
    with FaultProxy(lab.url("prometheus"), ["status:503"], cafile(lab)) as proxy:
        run = slo_check(lab, tmp_path, proxy, unavailable_is="unknown")
    assert not run.failed, run.stdout[-2000:]
    assert run.result["monitoring_available"] is False
    assert {slo["verdict"] for slo in run.result["slos"].values()} == {"unknown"}
    reliability.observed("every SLO unknown, monitoring_available false, not a breach and not ok")
