"""Each way of making the canary bad shows in its SLI within 30 s, and the SLI recovers when it is good again."""
from __future__ import annotations

import pytest
from labtest import run_lab, wait_until

# Reads or changes the lab's shared state: runs in file order in the one pytest process of such modules (scripts/test.sh).
pytestmark = pytest.mark.shared_lab

# fault -> (recording rule, breach predicate) for the canary's series
BREACHES = {
    "slow": ("ofm:sli_latency_p95_seconds", lambda v: v > 10),
    "errors": ("ofm:sli_error_ratio", lambda v: v > 0.01),
    "publish": ("ofm:sli_success_ratio", lambda v: v < 0.95),
    "webhooks": ("ofm:sli_webhook_verified_ratio", lambda v: v < 0.999),
    "db": ("ofm:sli_db_connection_failure_ratio", lambda v: v > 0.05),
    "queue": ("ofm:publish_queue_backlog", lambda v: v > 3),
}


def breached(prometheus, fault: str, version: str) -> bool:
    rule, is_breach = BREACHES[fault]
    value = prometheus.value(rule, version)
    return value is not None and is_breach(value)


def test_each_fault_breaches_its_sli_then_recovers(clean_lab, prometheus):
    # The SLIs are rates over a window: a fault of an earlier test on this lab leaves the window until it has slid past.
    for fault in BREACHES:
        wait_until(lambda f=fault: not breached(prometheus, f, "canary"), 120, what=f"canary {fault} clean before any fault")
    for fault in BREACHES:
        run_lab("canary", "bad", fault)
        wait_until(lambda f=fault: breached(prometheus, f, "canary"), 30, what=f"canary {fault} breach in {BREACHES[fault][0]}")
        assert not breached(prometheus, fault, "stable"), f"{fault} on the canary breached the stable SLI"
        run_lab("canary", "good")
    for fault in BREACHES:
        wait_until(lambda f=fault: not breached(prometheus, f, "canary"), 120, what=f"canary {fault} recovery")


@pytest.mark.parametrize("fault", ["bogus"])
def test_unknown_fault_is_refused_naming_the_accepted_ones(lab, fault):
    result = run_lab("canary", "bad", fault, check=False)
    assert result.returncode == 2
    assert "slow, errors, webhooks, db, publish, queue" in result.stderr
