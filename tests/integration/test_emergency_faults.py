"""The emergency rollback when its own dependencies are down: the real lab processes are stopped (or frozen), not faked.

Each test takes one dependency away, runs playbooks/emergency-rollback.yml, checks what a responder needs, and brings the
dependency back. Forced runs (with a reason) need no sustained breach, so the tests stay short; the operator is a listed
admin unless the test is about authorization.
"""
from __future__ import annotations

import itertools
import json
import os
import signal
import time
import urllib.parse
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest
from kubelab import kubeconfig_with_token
from labtest import credentials, emergency, flat, lab_call, record, run_lab, statuspage_incidents, stopped, wait_until

from lab import process
from lab.components.comms import Comms
from lab.components.haproxy import weights
from lab.components.kube_apiserver import KubeApiServer
from lab.components.ofm_api import OfmApi
from lab.components.ops_api import OpsApi
from lab.components.prometheus import Prometheus

# Reads or changes the lab's shared state: runs in file order in the one pytest process of such modules (scripts/test.sh).
pytestmark = pytest.mark.shared_lab

INITIAL = {"stable": 90, "canary": 10}
ROLLED_BACK = {"stable": 100, "canary": 0}
FAST = {"incident_admins": ["lab-admin"], "rollback_validation_sustain": "2s"}
FORCED = {"rollback_force": True, "rollback_force_reason": "dependency-fault test"}
_numbers = itertools.count(9001)


def incident_id() -> str:
    return f"INC-{next(_numbers)}"


@contextmanager
def frozen(lab, component) -> Iterator[None]:
    """The component's process stopped with SIGSTOP: it accepts connections (the kernel does) and never answers."""
    run_lab("reset")
    pid = process.read_pid(component.pid_file(lab))
    assert pid, f"{component.name} is not running"
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)
        run_lab("reset")


@pytest.mark.reliability("fault", procedure="emergency", case="ops API process stopped",
                         expected="fell back to Argo Rollouts, rolled back")
def test_ops_api_stopped_the_fallback_rolls_back(lab, tmp_path):
    incident = incident_id()
    with stopped(lab, OpsApi(), reset=True):
        run = emergency(tmp_path, incident, **FORCED, **FAST)
        assert weights(lab) == ROLLED_BACK, run.stdout[-4000:]
    assert run.returncode == 0, run.stdout[-4000:]
    rollback = record(tmp_path / "incidents", incident)["rollback"]
    assert rollback["path"] == "argo"
    assert rollback["attempts"][0]["path"] == "ops_api" and rollback["attempts"][0]["error_type"] == "UnavailableError"


def ops_api_down_as(lab, tmp_path: Path, identity: str, operator: str, incident: str) -> tuple[object, dict]:
    """The forced emergency run of a non-admin ``operator`` whose kubeconfig holds the lab identity's token, with the ops API
    stopped; the run and the HAProxy weights right after it."""
    kubeconfig = kubeconfig_with_token(Path(lab.path("kubeconfig")), credentials(lab)["identities"][identity]["token"], tmp_path / "kubeconfig")
    with stopped(lab, OpsApi(), reset=True):
        run = emergency(tmp_path, incident, rollback_operator=operator, ofm_kubeconfig=str(kubeconfig), **FORCED,
                        rollback_validation_sustain="2s")
        return run, weights(lab)


@pytest.mark.reliability("fault", procedure="emergency", case="ops API stopped, so the admin check cannot ask it",
                         expected="authorized by the cluster's RBAC, fell back, rolled back")
def test_a_non_admin_is_authorized_by_the_clusters_rbac_when_the_ops_api_is_down(lab, tmp_path):
    incident = incident_id()
    sre = credentials(lab)["identities"]["kube_sre"]
    run, after = ops_api_down_as(lab, tmp_path, "kube_sre", "sre-on-call", incident)
    assert after == ROLLED_BACK, run.stdout[-4000:]
    assert run.returncode == 0, run.stdout[-4000:]
    result = record(tmp_path / "incidents", incident)
    assert result["operator"]["authorized_by"].startswith("Kubernetes RBAC (SelfSubjectAccessReview")
    assert [attempt["path"] for attempt in result["rollback"]["attempts"]] == ["ops_api", "argo"]
    # A no_log task's args are the word "censored".
    audited = [args.get("incident_authority") for args in (json.loads(line).get("args") for line in (tmp_path / "audit.jsonl").read_text().splitlines())
               if isinstance(args, dict)]
    assert any(str(authority).startswith("Kubernetes RBAC") for authority in audited), "the audit trail names the authority"
    assert sre["token"] not in run.stdout and sre["token"] not in (tmp_path / "audit.jsonl").read_text()


def test_a_non_admin_without_rbac_rights_is_refused_when_the_ops_api_is_down(lab, tmp_path):
    run, after = ops_api_down_as(lab, tmp_path, "kube_viewer", "viewer", incident_id())
    assert after == INITIAL, "nothing changed"
    assert run.returncode != 0
    assert "Refused: viewer is not in incident_admins and the ops API could not be asked" in run.stdout
    assert "the cluster denies" in run.stdout


@pytest.mark.reliability("fault", procedure="emergency", case="ops API hangs (process frozen with SIGSTOP)",
                         expected="timed out within the deadline, fell back, rolled back")
def test_ops_api_hanging_the_fallback_rolls_back_within_the_budget(lab, tmp_path):
    incident = incident_id()
    with frozen(lab, OpsApi()):
        run = emergency(tmp_path, incident, **FORCED, **FAST, canary_rollback_deadline=6)
        assert weights(lab) == ROLLED_BACK, run.stdout[-4000:]
    assert run.returncode == 0, run.stdout[-4000:]
    attempts = record(tmp_path / "incidents", incident)["rollback"]["attempts"]
    assert attempts[0]["path"] == "ops_api" and attempts[0]["error_type"] in ("UnavailableError", "DeadlineExceeded")
    assert 5 <= float(attempts[0]["seconds"]) <= 12, "the ops API path used its budget, no more"
    assert attempts[1]["path"] == "argo" and attempts[1]["ok"] is True


@pytest.mark.reliability("fault", procedure="emergency", case="ops API and Kubernetes API stopped",
                         expected="failed clearly with the manual commands, nothing half-done")
def test_ops_api_and_kubernetes_down_fail_clearly_with_the_manual_commands(lab, tmp_path):
    incident = incident_id()
    with stopped(lab, OpsApi(), KubeApiServer(), reset=True):
        run = emergency(tmp_path, incident, **FORCED, **FAST, canary_rollback_deadline=3)
        assert weights(lab) == INITIAL, "nothing half-done"
    assert run.returncode != 0
    assert "No rollback path worked" in run.stdout
    assert "kubectl argo rollouts abort ofm-social-os-api-rollout -n ofm-production" in run.stdout
    assert "set server ofm_api/canary weight 0" in run.stdout
    assert "[FAILED] Execute Rollback: no rollback path worked" in flat(run.stdout)


@pytest.mark.reliability("fault", procedure="emergency", case="Prometheus stopped",
                         expected="refused naming Prometheus, nothing changed")
def test_prometheus_down_without_force_is_refused_naming_prometheus(lab, tmp_path):
    incident = incident_id()
    with stopped(lab, Prometheus(), reset=True):
        run = emergency(tmp_path, incident, **FAST)
        assert weights(lab) == INITIAL
    assert "the breach cannot be confirmed: Prometheus could not be asked" in run.stdout, run.stdout[-4000:]
    assert "Nothing was changed" in run.stdout


@pytest.mark.reliability("fault", procedure="emergency", case="Prometheus stopped, forced with a reason",
                         expected="rolled back, recovery NOT VERIFIED, line MANUAL")
def test_prometheus_down_with_force_rolls_back_and_says_it_is_not_verified(lab, tmp_path):
    incident = incident_id()
    with stopped(lab, Prometheus(), reset=True):
        run = emergency(tmp_path, incident, **FORCED, **FAST)
        assert weights(lab) == ROLLED_BACK, run.stdout[-4000:]
    assert run.returncode == 0, run.stdout[-4000:]
    result = record(tmp_path / "incidents", incident)
    assert set(result["trigger"]["unknown"]) == {"p95_latency", "error_rate", "success_rate", "webhook_signature_verification",
                                                 "db_connection_failures"}
    assert "NOT VERIFIED" in run.stdout and "validated" not in run.stdout.split("Outcome:")[1].split("\n")[0]
    assert "[MANUAL] SLO Recovery: Prometheus could not be asked during this run" in flat(run.stdout) and "dashboards" in run.stdout
    assert result["rollback"]["path"] == "ops_api"


@pytest.mark.reliability("fault", procedure="emergency", case="Slack stand-in stopped",
                         expected="went on, declaration line MANUAL with the message to post")
def test_slack_down_the_declaration_is_a_manual_step_with_the_message(lab, tmp_path):
    incident = incident_id()
    with stopped(lab, Comms("slack"), reset=True):
        run = emergency(tmp_path, incident, **FORCED, **FAST)
        assert weights(lab) == ROLLED_BACK, run.stdout[-4000:]
    assert run.returncode == 0, run.stdout[-4000:]
    assert "[MANUAL] Declare Incident: Post it in #ops-alerts by hand: " in flat(run.stdout)
    step = record(tmp_path / "incidents", incident)["manual_steps"][0]
    assert step["item"] == "Declare Incident" and step["step"].startswith("Post it in #ops-alerts by hand: ")
    assert "Slack did not take the declaration" in step["why"]
    assert f"{incident}: emergency canary rollback started by lab-admin" in step["step"], "the message to post"


@pytest.mark.reliability("fault", procedure="emergency", case="Statuspage stand-in stopped",
                         expected="went on, status page line MANUAL")
def test_statuspage_down_the_rollback_goes_on_and_the_update_is_a_manual_step(lab, tmp_path):
    incident = incident_id()
    with stopped(lab, Comms("statuspage"), reset=True):
        run = emergency(tmp_path, incident, **FORCED, **FAST)
        assert weights(lab) == ROLLED_BACK, run.stdout[-4000:]
    assert run.returncode == 0, run.stdout[-4000:]
    assert "status page NOT updated" in run.stdout
    assert "[MANUAL] Status Page: On page " in flat(run.stdout)
    result = record(tmp_path / "incidents", incident)
    step = next(step for step in result["manual_steps"] if step["item"] == "Status Page")
    assert "Statuspage did not take the update" in step["why"]
    # Both the declaration and the rolled-back update failed: the step asks for the state the page should now show.
    assert f'"Degraded performance of the OFM API ({incident})" to monitoring' in step["step"], step
    assert "The release was rolled back" in step["step"], "the text to post"
    assert result["status_page"]["delivered"] is False and result["status_page"]["error"]
    assert statuspage_incidents(lab, incident) == [], "nothing reached the page"
    assert credentials(lab)["statuspage_api_key"] not in run.stdout + (tmp_path / "audit.jsonl").read_text()


def newest_value_age(lab, expr: str) -> float:
    """Seconds between now and the newest value of ``expr`` in a 60 s range query at 1 s steps (0 while it is current)."""
    end = int(time.time())
    query = urllib.parse.urlencode({"query": expr, "start": end - 60, "end": end, "step": 1})
    series = lab_call(f"{lab.url('prometheus')}/api/v1/query_range?{query}")["data"]["result"]
    newest = max((float(values[-1][0]) for values in (item["values"] for item in series) if values), default=end - 60)
    return end - newest


@pytest.mark.reliability("fault", procedure="emergency (SLO gate)", case="Prometheus returns stale data (the canary's metrics stopped arriving)",
                         expected="the SLOs are unknown (stale data), not OK: no rollback without force, nothing changed")
def test_stale_data_is_unknown_not_ok(lab, tmp_path, reliability):
    """The canary frozen (SIGSTOP): its scrapes fail, its SLI series end, and Prometheus answers with values that stop before
    now. The older values say the canary is healthy; stale, they must not count as OK (nor as a breach)."""
    incident = incident_id()
    canary = OfmApi("canary")
    with frozen(lab, canary):
        # The rate windows (the lab's 15 s) keep giving values for a while; then the series end. Three seconds later the
        # newest value is older than max_sample_age (two 1 s resolutions) while most of the 60 s span still holds values.
        wait_until(lambda: newest_value_age(lab, 'ofm:sli_error_ratio{version="canary"}') >= 3, 60,
                   interval=0.5, what="the canary's error ratio to stop 3 s before now")
        run = emergency(tmp_path, incident, ofm_slo_sustain="60s", **FAST)
        assert weights(lab) == INITIAL
    output = flat(run.stdout)
    assert "No rollback: the breach cannot be confirmed, these SLOs have no usable data" in output, output[-4000:]
    assert "stale data: the newest value is" in output and "no SLO of the canary breaches" not in output, output[-4000:]
    assert "Nothing was changed" in output
    reliability.observed("every SLO unknown with 'stale data: the newest value is ... older than the end of the span'; no rollback, "
                         "canary weight unchanged")
