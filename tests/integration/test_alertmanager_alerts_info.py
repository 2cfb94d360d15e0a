"""The lab's real Alertmanager and ofm.rollback.alertmanager_alerts_info: an alert posted with `lab alert fire` fails the
check and is listed, `lab alert clear` (and `lab reset`) resolves it; the bad canary fires the SLO burn-rate alert in
Alertmanager through the lab Prometheus; an Alertmanager that hangs or is gone is unknown (or fails the task) as asked."""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import uuid
from pathlib import Path
from typing import Iterator

import pytest
import yaml
from labtest import run_lab, run_module, tls, wait_until

from lab.components.alertmanager import BINARY, config
from lab.components.base import http_json
from lab.config import HOST, LabConfig

# Posts alerts to the lab Alertmanager and makes the canary bad: runs in the one pytest process of the shared-lab modules.
pytestmark = pytest.mark.shared_lab
TOKEN = "am-integration-SECRET-" + uuid.uuid4().hex[:8]


def alerts(lab: LabConfig, workdir: Path, *matchers: str, **args) -> dict:
    run = run_module("alertmanager_alerts_info", {"alertmanager_url": lab.url("alertmanager"), "unavailable_is": "unknown", **tls(lab),
                                                  **({"matchers": list(matchers)} if matchers else {}), **args}, workdir)
    assert not run.failed, run.output[-3000:]
    return run.result


def test_a_posted_alert_fails_the_check_until_cleared(clean_lab, tmp_path):
    name = f"OfmLabTest{uuid.uuid4().hex[:6]}"
    fired = run_lab("alert", "fire", name, "--label", "severity=ticket", "--label", "team=sre")
    assert name in fired.stdout
    result = alerts(clean_lab, tmp_path)
    assert result["status"] == "failed" and result["failed_checks"] == ["alerts"]
    listed = [alert for alert in result["alerts"] if alert["name"] == name]
    assert len(listed) == 1 and listed[0]["severity"] == "ticket" and listed[0]["labels"]["team"] == "sre"
    assert listed[0]["since"].endswith("Z") and listed[0]["labels"]["service"] == "ofm-social-os"
    assert f"{name} (ticket; origin=lab, team=sre) since {listed[0]['since']}" in result["msg"]

    other_service = alerts(clean_lab, tmp_path, f'alertname="{name}"', 'service="another-service"')
    assert other_service["status"] == "ok", "the matchers are applied by Alertmanager"

    cleared = run_lab("alert", "clear")
    assert f"resolved 1 lab-posted alert(s): {name}" in cleared.stdout
    after = alerts(clean_lab, tmp_path, 'service="ofm-social-os"', f'alertname="{name}"')
    assert after["status"] == "ok" and after["alerts"] == [] and "no alert firing for" in after["msg"]


def test_lab_reset_resolves_the_posted_alerts(lab, tmp_path):
    name = f"OfmLabReset{uuid.uuid4().hex[:6]}"
    run_lab("alert", "fire", name)
    assert alerts(lab, tmp_path, f'alertname="{name}"')["status"] == "failed"
    run_lab("reset")
    assert alerts(lab, tmp_path, f'alertname="{name}"')["status"] == "ok"


def test_the_bad_canary_fires_the_burn_rate_alert_in_alertmanager(clean_lab, tmp_path):
    burn = ('service="ofm-social-os"', 'alertname="OfmErrorBudgetBurn"', 'slo="error_rate"', 'version="canary"', 'severity="page"')
    run_lab("canary", "bad", "errors")
    try:
        fired = wait_until(lambda: (found := alerts(clean_lab, tmp_path, *burn))["status"] == "failed" and found, 120, interval=2,
                           what="the page burn-rate alert of the canary's error_rate in Alertmanager")
    finally:
        run_lab("canary", "good")
    [alert] = fired["alerts"]
    assert alert["labels"]["slo"] == "error_rate" and alert["severity"] == "page" and "burns its error budget" in alert["summary"]
    stable = alerts(clean_lab, tmp_path, 'alertname="OfmErrorBudgetBurn"', 'version="stable"')
    assert stable["status"] == "ok", "the canary's errors do not burn the stable version's budget"


@pytest.fixture(name="own_alertmanager")
def fixture_own_alertmanager(lab: LabConfig, tmp_path: Path) -> Iterator[tuple[subprocess.Popen, str]]:
    """An Alertmanager of this test's own (not the lab's, which other tests use), on a free port."""
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        port = probe.getsockname()[1]
    (tmp_path / "am.yml").write_text(yaml.safe_dump(config(lab)))
    argv = [shutil.which(BINARY) or BINARY, f"--config.file={tmp_path / 'am.yml'}", f"--storage.path={tmp_path / 'data'}",
            f"--web.listen-address={HOST}:{port}", "--cluster.listen-address="]
    with open(tmp_path / "am.log", "wb") as log:
        process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)  # pylint: disable=consider-using-with
    url = f"http://{HOST}:{port}"
    try:
        wait_until(lambda: http_json(f"{url}/-/ready") is not None, 30, interval=0.2, what="the test's own Alertmanager ready")
        yield process, url
    finally:
        if process.poll() is None:
            os.kill(process.pid, signal.SIGCONT)
            process.terminate()
            process.wait(10)


@pytest.mark.reliability("fault", procedure="validation", case="Alertmanager hangs or is stopped",
                         expected="unknown, or failed clearly when asked to")
def test_an_alertmanager_that_hangs_or_is_gone_is_unknown_or_fails_as_asked(own_alertmanager, tmp_path):
    process, url = own_alertmanager
    quick = {"alertmanager_url": url, "timeout": 1, "retries": 0}
    assert run_module("alertmanager_alerts_info", quick, tmp_path).result["status"] == "ok"
    os.kill(process.pid, signal.SIGSTOP)
    try:
        hanging = run_module("alertmanager_alerts_info", {**quick, "unavailable_is": "unknown"}, tmp_path)
        failing = run_module("alertmanager_alerts_info", quick, tmp_path)
    finally:
        os.kill(process.pid, signal.SIGCONT)
    assert not hanging.failed and hanging.result["status"] == "unknown" and hanging.result["unknown_checks"] == ["alerts"]
    assert "Alertmanager could not be asked" in hanging.result["msg"] and "ok" not in [c["status"] for c in hanging.result["checks"]]
    assert failing.failed and "Alertmanager" in failing.result["msg"]
    process.terminate()
    process.wait(10)
    gone = run_module("alertmanager_alerts_info", {**quick, "unavailable_is": "unknown"}, tmp_path)
    assert not gone.failed and gone.result["status"] == "unknown" and "could not be asked" in gone.result["checks"][0]["detail"]


def test_bad_input_names_the_option_and_credentials_stay_out_of_the_output(lab, tmp_path):
    bad = run_module("alertmanager_alerts_info", {"alertmanager_url": lab.url("alertmanager"), "matchers": ["service"], **tls(lab),
                                                  "alertmanager_token": TOKEN}, tmp_path)
    assert bad.failed and "matchers" in bad.result["msg"] and "label matcher" in bad.result["msg"]
    url = run_module("alertmanager_alerts_info", {"alertmanager_url": "alertmanager:9093", "alertmanager_token": TOKEN}, tmp_path)
    assert url.failed and "alertmanager_url" in url.result["msg"]
    good = run_module("alertmanager_alerts_info", {"alertmanager_url": lab.url("alertmanager"), "alertmanager_token": TOKEN, **tls(lab)},
                      tmp_path, env={"ANSIBLE_VERBOSITY": "3"})
    assert not good.failed and good.result["status"] in ("ok", "failed")
    assert TOKEN not in bad.output + url.output + good.output + json.dumps([bad.result, url.result, good.result])
