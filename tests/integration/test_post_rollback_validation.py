"""playbooks/post-rollback-validation.yml on the lab, after a real emergency rollback (its incident record gives the times):
a healthy service passes every automated line and CI gets a JUnit file with one case per line; each of a slow query, a
new error signature, a failing smoke test, a queue backlog and a firing alert makes exactly its line fail; the 2-hour watch
(20 s in the lab) is PENDING, goes on where it stopped, and fails at a breach; sources that do not answer make their lines
UNKNOWN (JUnit errors, the run fails); check mode writes no state; bad input is refused first; no secret in the output."""
from __future__ import annotations

import re
import socket
import time
from pathlib import Path
from typing import Any, Iterator, Optional

import pytest
from junitparser import Error, Failure, JUnitXml, Skipped
from labtest import Prometheus, credentials, emergency, flat, lab_call, run_lab, run_module, run_playbook, slo_wait, tls, wait_until

from ansible_collections.ofm.rollback.plugins.plugin_utils import checklist
from lab.config import LabConfig

pytestmark = pytest.mark.shared_lab

INCIDENT = "INC-8101"
IMMEDIATE = ["post-immediate.slo-compliance", "post-immediate.error-monitoring", "post-immediate.application-logs",
             "post-immediate.database-performance", "post-immediate.queue-processing", "post-immediate.integration-tests"]
EXTENDED = ["post-extended.end-to-end-tests", "post-extended.load-testing", "post-extended.business-metrics", "post-extended.monitoring-systems"]
SUCCESS = ["success.all-slos", "success.application-stability", "success.no-ongoing-incidents", "success.business-operations",
           "success.documentation-complete"]
LESSONS = "The canary's error budget alarm fired within a minute; add a pre-deploy contract test for /api/posts."


def statuses(junit: Path) -> dict[str, str]:
    """Line id -> ok / failed / unknown / skipped, read back from the JUnit file as a CI tool reads it."""
    found = {}
    for suite in JUnitXml.fromfile(str(junit)):
        for case in suite:
            line_id = re.search(r"\(([a-z0-9.-]+)\)$", case.name).group(1)
            kinds = {type(result) for result in case.result}
            found[line_id] = "failed" if Failure in kinds else "unknown" if Error in kinds else "skipped" if Skipped in kinds else "ok"
    return found


def validate(tmp_path: Path, name: str, *args: str, phases: Optional[list[str]] = None, **extra: Any):
    junit = tmp_path / f"{name}.xml"
    extra_vars = {"incident_id": INCIDENT, "validation_junit": str(junit), **extra}
    if phases is not None:
        extra_vars["validation_phases"] = phases
    run = run_playbook("post-rollback-validation.yml", *args, extra_vars=extra_vars, timeout=600)
    return run, junit


def faults(lab: LabConfig, version: str, enable: list[str]) -> None:
    lab_call(f"{lab.url('ofm_api_' + version)}/__lab/faults", "POST", {"enable": enable})


def service_alerts(lab: LabConfig) -> list[dict[str, Any]]:
    return lab_call(f"{lab.url('alertmanager')}/api/v2/alerts?active=true&silenced=false&inhibited=false&filter=service%3D%22ofm-social-os%22")


def heal(lab: LabConfig) -> None:
    for version in ("stable", "canary"):
        lab_call(f"{lab.url('ofm_api_' + version)}/__lab/faults", "PUT", {"faults": []})


@pytest.fixture(name="incident", scope="module")
def fixture_incident(lab: LabConfig, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A real emergency rollback of a canary answering 500s; its record then completed as a person does after the review."""
    run_lab("reset")
    workdir = tmp_path_factory.mktemp("validation")
    run_lab("canary", "bad", "errors")
    slo_wait(lab, workdir, "breach")
    rolled = emergency(workdir, INCIDENT)
    assert rolled.returncode == 0, rolled.stdout[-4000:]
    run_lab("canary", "good")
    # What people do after the rollback: resolve the status page incident once the service is back, and wait for the
    # burn-rate alerts of the canary's bad minutes to end (its short windows empty within a minute in the lab).
    secrets = credentials(lab)
    resolved = run_module("statuspage_incident", {"api_url": f"{lab.url('statuspage')}/v1", "page_id": secrets["statuspage_page_id"],
                                                  "api_key": secrets["statuspage_api_key"], "status": "resolved", "body": "Recovered",
                                                  "name": f"Degraded performance of the OFM API ({INCIDENT})", **tls(lab)}, workdir)
    assert not resolved.failed, resolved.stdout[-2000:]
    wait_until(lambda: not service_alerts(lab), timeout=150, interval=2, what="no alert of the service firing")
    records = workdir / "incidents"
    record = sorted(records.glob(f"{INCIDENT}-*.md"))[-1]
    text = record.read_text()
    assert "_To be written at the post-incident review._" in text, "the emergency record leaves Lessons learned to people"
    record.write_text(text.replace("_To be written at the post-incident review._", LESSONS))
    yield {"records": records, "record": record, "workdir": workdir}
    heal(lab)
    run_lab("reset")


@pytest.fixture(name="healthy")
def fixture_healthy(lab: LabConfig, incident: dict[str, Any]) -> Iterator[dict[str, Any]]:
    heal(lab)
    # The alerts of an earlier test's fault end within a minute of it (the lab's shortest windows).
    wait_until(lambda: not service_alerts(lab), timeout=150, interval=2, what="no alert of the service firing")
    yield {**incident, "extra": {"ofm_incident_record_dir": str(incident["records"])}}
    heal(lab)
    run_lab("validation", "slow-query", "off")
    run_lab("alert", "clear")


def test_after_the_emergency_every_automated_line_passes_and_ci_gets_junit(lab, healthy, tmp_path):
    markdown = tmp_path / "summary.md"
    run, junit = validate(tmp_path, "all", validation_markdown=str(markdown), validation_watch_wait="40s", **healthy["extra"])
    output = flat(run.stdout)
    assert run.returncode == 0, run.stdout[-6000:]
    found = statuses(junit)
    printed = [line.id for line in checklist.load().printed_by("validation")]
    assert sorted(found) == sorted(printed), "one JUnit case per checklist line the procedure prints"
    assert {line_id: found[line_id] for line_id in IMMEDIATE + EXTENDED + SUCCESS} == dict.fromkeys(IMMEDIATE + EXTENDED + SUCCESS, "ok"), output[-6000:]
    assert found["post-extended.user-experience"] == "skipped" and found["success.team-confidence"] == "skipped"
    assert "Outcome:   PASSED" in output and "[ok    ] All SLOs:" in output
    text = markdown.read_text()
    assert text.startswith("### ofm.rollback post-rollback validation (INC-8101)") and "| User Experience | MANUAL |" in text
    secrets = credentials(lab)
    for secret in (secrets["identities"]["admin"]["token"], secrets["db_admin_password"], secrets["statuspage_api_key"]):
        assert secret not in run.stdout and secret not in junit.read_text() and secret not in text


@pytest.mark.parametrize("fault, line_id, phases", [
    ("slow-query", "post-immediate.database-performance", ["immediate"]),
    ("signature", "post-immediate.application-logs", ["immediate"]),
    ("content", "post-immediate.integration-tests", ["immediate"]),
    ("queue", "post-immediate.queue-processing", ["immediate"]),
    ("alert", "post-extended.monitoring-systems", ["extended"]),
])
def test_each_fault_fails_exactly_its_line(lab, healthy, tmp_path, fault, line_id, phases):
    # The service was healthy until now, and what it does from now on is judged (the earlier tests' faults are history).
    now = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    if fault == "slow-query":
        run_lab("validation", "slow-query", "on")
    elif fault == "alert":
        run_lab("alert", "fire", "OfmValidationTest")
    else:
        for version in ("stable", "canary"):
            faults(lab, version, [fault])
    if fault == "queue":
        # The stalled worker's backlog grows with each job: judged once it passes the lab's threshold (5 jobs).
        prometheus = Prometheus(lab.url("prometheus"))
        wait_until(lambda: max(prometheus.query("max by (version) (temporal_task_queue_backlog)").values(), default=0) > 5, timeout=60,
                   what="a publish backlog above 5")
    run, junit = validate(tmp_path, fault, phases=phases, validation_since=now, validation_baseline_until=now, **healthy["extra"])
    found = statuses(junit)
    owned = IMMEDIATE if phases == ["immediate"] else EXTENDED
    bad = {line: found[line] for line in owned if found[line] not in ("ok", "skipped")}
    assert bad == {line_id: "failed"}, flat(run.stdout)[-6000:]
    assert run.returncode != 0 and "check(s) failed" in flat(run.stdout)


def test_the_watch_is_pending_goes_on_where_it_stopped_and_fails_at_a_breach(lab, healthy, tmp_path):
    since = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    extra = {**healthy["extra"], "validation_since": since, "ofm_validation_watch_duration": "40s"}
    first, junit = validate(tmp_path, "watch-1", phases=["success"], **extra)
    assert first.returncode == 0, flat(first.stdout)[-4000:]
    assert statuses(junit)["success.all-slos"] == "skipped" and "PENDING" in first.stdout
    covered = re.search(r"(\d+)s of 40s covered", flat(first.stdout))
    assert covered, flat(first.stdout)[-3000:]
    # The webhooks fault breaches webhook_signature_verification and nothing else: publishing goes on at its rate, so the
    # business line must stay ok (the errors fault would cut the publish rate itself, and that line could rightly fail).
    faults(lab, "stable", ["webhooks"])
    second, junit = validate(tmp_path, "watch-2", phases=["success"], validation_watch_wait="60s", **extra)
    found = statuses(junit)
    assert found["success.all-slos"] == "failed", flat(second.stdout)[-4000:]
    # The breach is the SLOs' line: business operations and the record stay ok, and stability is not failed (the watch stops at
    # the first breach, so its signals are not watched to the end: unknown). The burn-rate alert that the same breach fires
    # makes "No ongoing incidents" fail too, as it should.
    unaffected = ("success.business-operations", "success.documentation-complete")
    assert {line: found[line] for line in unaffected} == dict.fromkeys(unaffected, "ok")
    assert found["success.application-stability"] in ("ok", "unknown")
    assert re.search(r"webhook_signature_verification.*breach", flat(second.stdout), re.I), flat(second.stdout)[-3000:]
    assert second.returncode != 0


def test_sources_that_do_not_answer_are_unknown_never_ok(lab, healthy, tmp_path):
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    extra = {**healthy["extra"], "ofm_prometheus_url": f"http://127.0.0.1:{port}", "ofm_ops_api_url": f"http://127.0.0.1:{port}",
             "ofm_validation_database": {"host": "127.0.0.1", "port": port, "database": "ofm", "user": "ofm_monitor", "password": "x"}}
    run, junit = validate(tmp_path, "down", phases=["immediate"], **extra)
    found = statuses(junit)
    assert {line: found[line] for line in IMMEDIATE} == {
        "post-immediate.slo-compliance": "unknown", "post-immediate.error-monitoring": "unknown", "post-immediate.application-logs": "unknown",
        "post-immediate.database-performance": "unknown", "post-immediate.queue-processing": "unknown", "post-immediate.integration-tests": "ok"}
    output = flat(run.stdout)
    assert run.returncode != 0 and "could not be judged" in output and "Database Performance" in output


def test_check_mode_keeps_no_watch_state(lab, healthy, tmp_path):
    state_dir = tmp_path / "records"
    state_dir.mkdir()
    for path in healthy["records"].iterdir():
        if path.is_file():
            (state_dir / path.name).write_text(path.read_text())
    run, junit = validate(tmp_path, "check", "--check", phases=["success"], ofm_incident_record_dir=str(state_dir))
    assert run.returncode == 0, flat(run.stdout)[-4000:]
    assert not list((state_dir / "watch").glob("*.json")), "check mode saved the watch's state"
    assert "CHECK MODE" in run.stdout and statuses(junit)["success.documentation-complete"] == "ok"


@pytest.mark.reliability("bad-input", procedure="validation", case="validation_phases=['immediate', 'afterwards']",
                         expected="refused before any change")
def test_bad_input_is_refused_before_anything_runs(tmp_path, reliability):
    run, junit = validate(tmp_path, "bad", phases=["immediate", "afterwards"])
    assert run.returncode != 0 and not junit.exists()
    output = flat(run.stdout + run.stderr)
    assert "post_rollback_validation_phases" in output and "immediate" in output and "afterwards" in output
    reliability.observed("refused, no JUnit written: names post_rollback_validation_phases and the phases accepted")
