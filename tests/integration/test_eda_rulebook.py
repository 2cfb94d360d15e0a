# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The rulebook (extensions/eda/rulebooks/emergency_rollback.yml) run by ansible-rulebook against the lab: the lab
Prometheus fires its burn-rate alerts, the lab Alertmanager delivers them to the collection's event source, and the
rulebook runs the emergency playbook once, however many alerts fire; in dry-run mode it only announces."""
from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml

from lab.components.alertmanager import api as alertmanager_api
from lab.components.kube_apiserver import KubeApiServer
from lab.components.ops_api import OpsApi
from lab.config import HOST, REPO_ROOT, LabConfig
from labtest import run_lab, slo_wait, start_components, stop_components, wait_until

pytestmark = pytest.mark.shared_lab

RULEBOOK = REPO_ROOT / "extensions" / "eda" / "rulebooks" / "emergency_rollback.yml"
SOURCES = REPO_ROOT / "extensions" / "eda" / "plugins" / "event_source"
PLAY = "PLAY [Emergency canary rollback (SLO violation)]"


@contextmanager
def rulebook(lab: LabConfig, tmp_path: Path, **variables: Any) -> Iterator[Path]:
    """ansible-rulebook with the rulebook, the lab inventory and ``variables``, listening on the lab's eda port; its log."""
    vars_file = tmp_path / "rulebook-vars.yml"
    vars_file.write_text(yaml.safe_dump({"ofm_eda_host": HOST, "ofm_eda_port": lab.ports["eda"], "ofm_eda_operator": "eda-rollback",
                                         **variables}))
    env = {**os.environ, "ANSIBLE_CONFIG": str(REPO_ROOT / "ansible.cfg"), "ANSIBLE_COLLECTIONS_PATH": str(REPO_ROOT / ".collections"),
           "OFM_AUDIT_LOG": str(tmp_path / "audit.jsonl"), "ANSIBLE_NOCOLOR": "1", "ANSIBLE_FORCE_COLOR": "0"}
    log = tmp_path / "rulebook.log"
    with open(log, "wb") as out:
        process = subprocess.Popen([str(Path(sys.executable).parent / "ansible-rulebook"), "-r", str(RULEBOOK), "-i",  # pylint: disable=consider-using-with
                                    str(REPO_ROOT / "inventories" / "lab"), "-S", str(SOURCES), "--vars", str(vars_file), "-v"],
                                   cwd=REPO_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: _listening(lab.ports["eda"]) or process.poll() is not None, 90, interval=0.5, what="ansible-rulebook listening")
        assert process.poll() is None, log.read_text()[-3000:]
        yield log
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex((HOST, port)) == 0


def post_alert(lab: LabConfig, slo: str, started: datetime) -> dict:
    """What Alertmanager posts for one firing canary alert of ``slo`` (webhook payload version 4); the source's answer."""
    alert = {"status": "firing", "labels": {"alertname": "OfmErrorBudgetBurn", "severity": "page", "slo": slo, "version": "canary",
                                            "service": "ofm-social-os"},
             "annotations": {}, "startsAt": started.isoformat().replace("+00:00", "Z"), "fingerprint": f"test-{slo}"}
    body = {"version": "4", "status": "firing", "receiver": "lab-eda", "groupLabels": {"alertname": "OfmErrorBudgetBurn"},
            "commonLabels": {}, "externalURL": "http://lab.invalid", "alerts": [alert]}
    request = urllib.request.Request(f"http://{HOST}:{lab.ports['eda']}/alerts", data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=5) as response:  # nosec - the lab's loopback
        return json.loads(response.read())


def records(lab: LabConfig, since: float) -> list[dict]:
    """The incident records the lab inventory's runs wrote (in the lab's state directory) since ``since``."""
    return [json.loads(path.read_text()) for path in sorted(lab.path("incidents").glob("INC-*.json")) if path.stat().st_mtime >= since]


def canary_pages(lab: LabConfig) -> list:
    """The canary's active paging burn-rate alerts in the lab Alertmanager."""
    query = urllib.parse.urlencode([("filter", 'alertname="OfmErrorBudgetBurn"'), ("filter", 'version="canary"'),
                                    ("filter", 'severity="page"'), ("active", "true")])
    return alertmanager_api(lab, "GET", f"alerts?{query}") or []


@pytest.fixture(name="eda_lab")
def fixture_eda_lab(lab: LabConfig) -> Iterator[LabConfig]:
    """The lab reset, and no canary alert of an earlier test still firing: Alertmanager would deliver it to the rulebook."""
    run_lab("reset")
    wait_until(lambda: not canary_pages(lab), 180, interval=2, what="no paging canary alert left in the lab Alertmanager")
    yield lab
    run_lab("reset")


def test_a_broken_canary_is_rolled_back_once_by_the_rulebook(eda_lab, tmp_path):
    """Break the canary: its alerts fire in Prometheus, Alertmanager delivers them, the source holds each until it has
    fired the gate's sustain, the rulebook runs the emergency playbook once, the canary is rolled back and validated;
    alerts that come later (another SLO, Alertmanager's repeats) start no second rollback."""
    started = time.time()
    with rulebook(eda_lab, tmp_path, ofm_eda_dry_run=False, ofm_eda_sustained_for=25) as log:
        run_lab("canary", "bad", "errors")
        done = wait_until(lambda: [r for r in records(eda_lab, started) if r.get("outcome")] or None, 240, interval=2,
                          what="the incident record of the rollback the rulebook ran")
        text = log.read_text()
        assert text.count('"POST /alerts HTTP/1.1" 202') >= 1, "Alertmanager delivered nothing to the source"
        # a late alert of another SLO, firing long enough already: an event at once, throttled by the rule
        assert post_alert(eda_lab, "p95_latency", datetime.now(timezone.utc) - timedelta(minutes=5))["events"] == 1
        time.sleep(3)  # the rule engine answers an event within milliseconds; no run may start from it
        text = log.read_text()
    assert text.count(PLAY) == 1, text[-4000:]
    assert len(done) == 1 and len(records(eda_lab, started)) == 1, [r.get("incident_id") for r in records(eda_lab, started)]
    outcome = done[0]["outcome"]
    assert outcome.startswith("rolled back, traffic on stable"), outcome
    assert done[0]["operator"]["name"] == "eda-rollback" and done[0]["operator"]["authorized_by"] == "ops API (admin role)"


@pytest.mark.reliability("fault", procedure="emergency", case="the rulebook's run: ops API and Kubernetes API stopped",
                         expected="the run failed, retried into the same incident once they were back, rolled back")
def test_a_run_that_cannot_reach_the_ops_api_or_the_cluster_is_retried_into_the_same_incident(eda_lab, tmp_path, reliability):
    """The ops API and the Kubernetes API are stopped (their real processes) when the alert arrives: the emergency run
    cannot authorize the operator or roll back, and fails. The event is not dropped: ansible-rulebook runs the playbook
    again 10 s later, with the same incident id (the alert's start), by when both are back: the retry resumes the incident
    and rolls the canary back."""
    started = time.time()
    run_lab("canary", "bad", "errors")
    slo_wait(eda_lab, tmp_path, "breach")  # a breach the gate confirms, so that only the unreachable systems fail the run
    down = (OpsApi(), KubeApiServer())
    stop_components(eda_lab, *down)
    try:
        with rulebook(eda_lab, tmp_path, ofm_eda_dry_run=False, ofm_eda_sustained_for=25) as log:
            # the lab's own alert may be delivered first (Alertmanager retries what the stopped rulebook did not take)
            post_alert(eda_lab, "error_rate", datetime.now(timezone.utc) - timedelta(minutes=5))
            first = wait_until(lambda: [r for r in records(eda_lab, started) if r.get("outcome")] or None, 240, interval=1,
                               what="the record of the run that could not reach the ops API or the cluster")
            start_components(*down)
            down = ()
            done = wait_until(lambda: [r for r in records(eda_lab, started) if str(r.get("outcome", "")).startswith("rolled back")] or None,
                              240, interval=2, what="the record of the retried run")
            text = log.read_text()
    finally:
        if down:
            start_components(*down)
    assert not first[0]["outcome"].startswith("rolled back"), first[0]["outcome"]
    incidents = {record["incident_id"] for record in records(eda_lab, started)}
    assert len(incidents) == 1 and re.fullmatch(r"INC-\d{14}", incidents.pop()), incidents
    assert done[0]["outcome"].startswith("rolled back, traffic on stable"), done[0]["outcome"]
    assert text.count(PLAY) >= 2, text[-4000:]
    reliability.observed("failed, retried by ansible-rulebook into the same incident, rolled back")


def test_dry_run_only_announces(eda_lab, tmp_path):
    started = time.time()
    with rulebook(eda_lab, tmp_path, ofm_eda_dry_run=True, ofm_eda_sustained_for=25) as log:
        # a firing alert that has not lasted the sustain yet: held, nothing announced
        assert post_alert(eda_lab, "error_rate", datetime.now(timezone.utc))["events"] == 1
        time.sleep(2)
        assert "DRY RUN" not in log.read_text()
        assert post_alert(eda_lab, "success_rate", datetime.now(timezone.utc) - timedelta(minutes=5))["events"] == 1
        wait_until(lambda: "DRY RUN: would roll the canary back (success_rate" in log.read_text(), 30, interval=0.5,
                   what="the dry run's announcement")
        text = log.read_text()
    assert PLAY not in text and not records(eda_lab, started)
