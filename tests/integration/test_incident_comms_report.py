"""After a real emergency rollback in the lab: the communication protocol, the incident report and its evidence, and the
audit system of record.

- The emergency run tells #engineering, the #incident-response thread and leadership (Block Kit) once, besides #ops-alerts.
- playbooks/incident-comms.yml: customer success and the support brief; the status page's components; the affected
  customers (creators whose posts failed in the window, from the lab database) get a dry run, then one email each over
  STARTTLS + AUTH from the real SMTP server (read back from its Maildir), opt-out honoured; a re-run sends nothing new.
  SMTP refusing the login and Slack down never fail the run: their lines are MANUAL with what to do, and a re-run finishes.
- playbooks/incident-report.yml: report.html in headless Chromium (every section, one chart per SLI, no broken image, no
  request leaving the file), idempotent; the evidence bundle holds every artefact with the manifest's hashes and no secret;
  Prometheus down makes the charts say "No data" and the impact UNKNOWN.
- The audit callback's audit_logs rows match the JSONL chain (audit_verify source=both); an edited row is found.
- No secret in any output: the emergency, comms and report runs are -vvv; their output, the audit log and every file they wrote
  (records, ledgers, report, evidence bundle members) are scanned for every credential of the lab (tests/integration/
  test_secret_matrix.py does the other procedures and the failure paths).
"""
from __future__ import annotations

import hashlib
import json
import mailbox
import re
import socket
import tarfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any, Iterator

import pytest
from labtest import (admin_connection, artefacts, credentials, emergency, flat, lab_call, leaks, run_lab, run_module, run_playbook, secret_values,
                     slack_messages, slo_wait, statuspage_incidents, wait_until)

from lab.config import HOST, LabConfig

pytestmark = pytest.mark.shared_lab

INCIDENT = "INC-8301"
SECTIONS = ["Summary", "Rollback trigger", "Timeline", "Impact assessment", "Recovery time", "Charts", "Command history", "Team actions",
            "Configuration changes", "Operations log", "Contributing factors", "Lessons learned", "Follow-up items"]
SLOS = ["p95_latency", "error_rate", "success_rate", "webhook_signature_verification", "db_connection_failures"]
FAILED_CREATORS = (11, 12)
BROWSER_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def lab_secrets(lab: LabConfig) -> dict[str, str]:
    return secret_values(json.loads(Path(lab.credentials_file).read_text()))


def mails(lab: LabConfig) -> list[Any]:
    return [message for message in mailbox.Maildir(str(lab.state_dir / "mail"), create=True) if INCIDENT in (message["Subject"] or "")]


def ours(lab: LabConfig) -> list[dict[str, Any]]:
    return [message for message in slack_messages(lab) if INCIDENT in json.dumps(message)]


@pytest.fixture(name="incident", scope="module")
def fixture_incident(lab: LabConfig, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A real emergency rollback of a canary answering 500s, with the audit callback writing the audit_logs table too, while
    two creators' posts failed (rows the OFM API writes when publishing fails)."""
    run_lab("reset")
    workdir = tmp_path_factory.mktemp("comms")
    secrets = credentials(lab)
    env = {"OFM_AUDIT_DB_DSN": f"host={HOST} port={lab.ports['postgres']} dbname=ofm user=ofm_audit sslmode=disable",
           "OFM_AUDIT_DB_PASSWORD": secrets["db_audit_password"], "OFM_AUDIT_LOG": str(workdir / "audit.jsonl")}
    run_lab("canary", "bad", "errors")
    with admin_connection(lab, autocommit=True) as db:
        for creator in FAILED_CREATORS:
            db.execute("INSERT INTO posts (creator_id, platform, status, body) VALUES (%s, 'tiktok', 'failed', 'lab: publish failed')", (creator,))
    slo_wait(lab, workdir, "breach")
    rolled = emergency(workdir, INCIDENT, "-vvv", env=env)
    assert rolled.returncode == 0, rolled.stdout[-4000:]
    run_lab("canary", "good")
    extra = {"incident_id": INCIDENT, "ofm_incident_record_dir": str(workdir / "incidents")}
    yield {"workdir": workdir, "env": env, "extra": extra, "dir": workdir / "incidents" / INCIDENT,
           "outputs": {"emergency": [rolled.stdout + rolled.stderr], "comms": [], "report": []}}
    run_lab("reset")


def comms(incident: dict[str, Any], *args: str, **extra: Any):
    run = run_playbook("incident-comms.yml", "-vvv", *args, extra_vars={**incident["extra"], **extra}, env=incident["env"], timeout=300)
    incident["outputs"]["comms"].append(run.stdout + run.stderr)
    return run, flat(run.stdout)


def window_closed(incident: dict[str, Any]) -> None:
    """Wait until the report's window (the record's end plus the lab's 20 s lookahead) is in the past: its data stop moving."""
    record = json.loads(sorted((incident["workdir"] / "incidents").glob(f"{INCIDENT}-*.json"))[-1].read_text())
    started = datetime.fromisoformat(record["started_at"].replace("Z", "+00:00")).timestamp()
    wait_until(lambda: time.time() > started + record["duration_seconds"] + 25, timeout=90, interval=1, what="the report's window closed")


def report(incident: dict[str, Any], *args: str, **extra: Any):
    window_closed(incident)
    run = run_playbook("incident-report.yml", "-vvv", *args, extra_vars={**incident["extra"], **extra}, env=incident["env"], timeout=300)
    incident["outputs"]["report"].append(run.stdout + run.stderr)
    return run, flat(run.stdout)


def test_the_emergency_run_tells_engineering_the_incident_thread_and_leadership_once(lab, incident):
    found = ours(lab)
    by_channel = {}
    for message in found:
        by_channel.setdefault(message["channel"], []).append(message)
    assert len(by_channel["C0ENGINRG"]) == 1 and "state *monitoring*" in by_channel["C0ENGINRG"][0]["text"]
    root, reply = sorted(by_channel["C0INCRESP"], key=lambda message: message["ts"])
    assert "incident thread" in root["text"] and reply["thread_ts"] == root["ts"] and "now *monitoring*" in reply["text"]
    leadership = [message for message in found if message.get("blocks")]
    assert len(leadership) == 1 and leadership[0]["blocks"][0]["type"] == "header"
    assert any("*Failed requests*" in field["text"] for field in leadership[0]["blocks"][1]["fields"])


@pytest.mark.reliability("bad-input", procedure="comms", case="comms_state='fixed', then incident_id='INC-12; DROP TABLE posts' (after a real incident)",
                         expected="refused before any change")
def test_bad_input_is_refused_before_anything_is_sent(lab, incident, reliability):
    before = len(ours(lab))
    run, output = comms(incident, comms_state="fixed")
    assert run.returncode != 0 and "incident_comms_state" in output and "investigating, identified, monitoring, resolved" in output
    run, output = comms(incident, incident_id="INC-12; DROP TABLE posts")
    assert run.returncode != 0 and "is not an incident id" in output and "INC-<digits>" in output
    assert len(ours(lab)) == before
    reliability.observed("both refused, no Slack message: name incident_comms_state (its four states) and incident_id (INC-<digits>)")


def test_smtp_refusing_the_login_sends_no_email_and_never_fails_the_run(lab, incident):
    run, output = comms(incident, comms_send_customer_emails=True, ofm_smtp_password="not-the-password")
    assert run.returncode == 0, output[-4000:]
    assert "[MANUAL] Customer Notifications" in output and "refused the login of ofm-notify" in output
    assert mails(lab) == []
    ledger = json.loads((incident["dir"] / "emails.json").read_text()) if (incident["dir"] / "emails.json").exists() else {"entries": {}}
    assert not [entry for entry in ledger["entries"].values() if entry["status"] == "sent"]


def test_comms_dry_run_then_one_email_each_then_nothing_new(lab, incident):
    run, output = comms(incident)
    assert run.returncode == 0, output[-4000:]
    assert "[ok    ] Customer Success:" in output and "[ok    ] Support Team:" in output and "[ok    ] Status Page:" in output
    assert "dry run, the message to the first of 2" in output and "[MANUAL] Customer Notifications: Review the dry run" in output
    assert mails(lab) == []
    page = statuspage_incidents(lab, INCIDENT)[0]
    assert page["status"] == "monitoring" and {item["status"] for item in page["components"]} == {"operational"}
    with admin_connection(lab, autocommit=True) as db:
        opted = db.execute("SELECT email FROM creators WHERE id = %s", (FAILED_CREATORS[1],)).fetchone()[0]
    run, output = comms(incident, comms_send_customer_emails=True, ofm_comms_opt_out=[opted.upper()])
    assert run.returncode == 0, output[-4000:]
    delivered = mails(lab)
    assert len(delivered) == 1 and "[ok    ] Customer Notifications: 1 sent, 0 already sent, 1 opted out, 0 refused" in output
    message = delivered[0]
    assert message["X-Lab-Envelope-To"] != opted and message["Message-ID"].startswith(f"<{INCIDENT}.") and "tiktok" in message.get_payload()
    slack_before = len(ours(lab))
    again, output = comms(incident, comms_send_customer_emails=True, ofm_comms_opt_out=[opted])
    assert again.returncode == 0 and re.search(r"changed=0\s", again.stdout), output[-3000:]
    assert len(mails(lab)) == 1 and len(ours(lab)) == slack_before, "a re-run sends nothing new"
    assert "0 sent, 1 already sent, 1 opted out" in output


def test_check_mode_and_slack_down_never_lose_a_message(lab, incident):
    before = len(ours(lab))
    run, output = comms(incident, "--check", comms_state="resolved")
    assert run.returncode == 0 and len(ours(lab)) == before and "check mode: would post engineering.resolved" in output
    assert statuspage_incidents(lab, INCIDENT)[0]["status"] == "monitoring"
    down, output = comms(incident, comms_state="resolved", ofm_slack_api_url=f"http://{HOST}:{closed_port()}/api")
    assert down.returncode == 0, output[-3000:]
    assert "Outcome:   PARTIAL: NOT SENT" in output and "Post in #engineering by hand:" in output and len(ours(lab)) == before
    assert statuspage_incidents(lab, INCIDENT)[0]["status"] == "resolved", "the status page does not wait for Slack"
    healed, output = comms(incident, comms_state="resolved")
    assert healed.returncode == 0 and "Outcome:   OK" in output, output[-3000:]
    resolved = [message["channel"] for message in ours(lab)[before:] if "resolved" in (message.get("text") or "")]
    assert resolved.count("C0ENGINRG") == 1 and len(resolved) == len(set(resolved)), "each resolved message once, none twice"
    ledger = json.loads((incident["dir"] / "comms.json").read_text())["entries"]
    assert ledger["engineering.resolved"]["status"] == "sent"


def test_the_report_renders_in_chromium_with_every_section_and_a_chart_per_sli(lab, incident, tmp_path):
    from playwright.sync_api import sync_playwright  # pylint: disable=import-outside-toplevel
    from PIL import Image  # pylint: disable=import-outside-toplevel
    run, output = report(incident)
    assert run.returncode == 0, output[-5000:]
    for line in ("Rollback Trigger", "Timeline", "Impact Assessment", "Recovery Time", "Operations Log", "Command History", "Team Actions",
                 "Log Collection", "Metric Analysis", "Timeline Creation"):
        assert re.search(rf"\[ok    \] {line}:", output), (line, output[-5000:])
    assert "audit_logs table matches" in output
    html = incident["dir"] / "report.html"
    shot = tmp_path / "report.png"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=BROWSER_FLAGS)
        page = browser.new_page(viewport={"width": 1100, "height": 1400})
        requested: list[str] = []
        page.on("request", lambda request: requested.append(request.url))
        page.goto(html.as_uri())
        headings = page.eval_on_selector_all("h2", "nodes => nodes.map(node => node.textContent)")
        images = page.evaluate("Array.from(document.images).map(image => [image.alt, image.complete, image.naturalWidth])")
        page.screenshot(path=str(shot), full_page=False)
        browser.close()
    assert headings == SECTIONS
    assert len(images) == len(SLOS) and all(complete and width > 0 for _alt, complete, width in images), images
    assert {alt.split(" ")[0] for alt, _c, _w in images} == set(SLOS)
    assert requested == [html.as_uri()], "the report reads offline: no request leaves the file"
    picture = Image.open(shot)
    assert picture.size == (1100, 1400) and len(picture.convert("RGB").getcolors(1 << 20) or []) > 50, "a blank page is no report"
    again, output = report(incident)
    assert again.returncode == 0 and re.search(r"changed=0\s", again.stdout), "the same evidence rewrites nothing"


def test_the_bundle_holds_every_artefact_with_matching_hashes_and_no_secret(lab, incident):
    path = incident["dir"] / f"rca-{INCIDENT}.tar.gz"
    with tarfile.open(path) as archive:
        files = {member.name: archive.extractfile(member).read() for member in archive.getmembers()}
    listing = json.loads(files.pop("manifest.json"))
    assert {item["name"]: item["sha256"] for item in listing["files"]} == {name: hashlib.sha256(data).hexdigest() for name, data in files.items()}
    names = set(files)
    assert any(name.startswith("pod-logs/ofm-social-os-api-canary-") for name in names)
    assert {"ops-api.log", "kubernetes/events.json", "kubernetes/rollout-history.json", "audit/excerpt.jsonl", "incident/record.json",
            "helm/history.json"} <= names
    assert {f"sli/{name}.csv" for name in SLOS} <= names and listing["gaps"] == []
    assert "status=500" in files["ops-api.log"].decode() or "UpstreamError" in files["ops-api.log"].decode()
    assert b"status=500" in files[next(name for name in names if name.startswith("pod-logs/"))]
    assert leaks(lab_secrets(lab), iter(files.items())) == []


def test_a_kubernetes_api_failing_leaves_an_explicit_gap(lab, incident, tmp_path):
    kube = lab.url("kube_apiserver")
    lab_call(f"{kube}/__lab/faults", "PUT", {"status": 503, "count": -1, "paths": ["/api/v1/namespaces/ofm-production/pods"]})
    try:
        record = sorted((incident["workdir"] / "incidents").glob(f"{INCIDENT}-*.json"))[-1]
        found = run_module("rca_collect", {"kubeconfig": str(lab.state_dir / "kubeconfig"), "prometheus_url": lab.url("prometheus"),
                                           "ops_api_url": lab.url("ops_api"), "record": str(record), "dest": str(tmp_path / "rca.tar.gz"),
                                           "include": ["pod_logs", "events"], "lookback": "1m", "lookahead": "1m"},
                           tmp_path, env={"OFM_OPS_API_TOKEN": credentials(lab)["identities"]["admin"]["token"]})
    finally:
        lab_call(f"{kube}/__lab/faults", "DELETE")
    assert not found.failed, found.stdout[-2000:]
    assert found.result["status"] == "partial" and [gap["artefact"] for gap in found.result["gaps"]] == ["pod_logs"]
    assert "503" in found.result["gaps"][0]["reason"]
    with tarfile.open(tmp_path / "rca.tar.gz") as archive:
        manifest = json.loads(archive.extractfile("manifest.json").read())
        names = archive.getnames()
    assert manifest["gaps"][0]["artefact"] == "pod_logs" and "kubernetes/events.json" in names


def test_audit_logs_rows_match_the_jsonl_chain_and_an_edited_row_is_found(lab, incident, tmp_path):
    secrets = credentials(lab)
    database = {"host": HOST, "port": lab.ports["postgres"], "database": "ofm", "user": "ofm_audit", "password": secrets["db_audit_password"],
                "sslmode": "disable"}
    log = str(incident["workdir"] / "audit.jsonl")
    verified = run_module("audit_verify", {"path": log, "source": "both", "database": database}, tmp_path)
    assert not verified.failed and verified.result["ok"] and verified.result["table"]["missing_seqs"] == [], verified.stdout[-2000:]
    history = run_module("audit_log_info", {"incident_id": INCIDENT, "source": "table", "database": database}, tmp_path)
    assert not history.failed and any(item["module"] == "ofm.rollback.canary_rollback" for item in history.result["commands"])
    chain = verified.result["table"]["chain"]
    with admin_connection(lab, autocommit=True) as db:
        seq = db.execute("SELECT (meta->>'seq')::bigint FROM audit_logs WHERE meta->>'chain' = %s AND action = 'rollback.task.canary_rollback' "
                         "LIMIT 1", (chain,)).fetchone()[0]
        db.execute("UPDATE audit_logs SET meta = jsonb_set(meta, '{record,status}', '\"ok\"') WHERE meta->>'chain' = %s AND (meta->>'seq')::bigint = %s",
                   (chain, seq))
    broken = run_module("audit_verify", {"path": log, "source": "both", "database": database, "fail_on_broken": False}, tmp_path)
    assert not broken.result["ok"] and broken.result["table"]["first_broken"]["seq"] == seq
    assert "edited" in broken.result["table"]["first_broken"]["problem"]


def test_prometheus_down_makes_the_charts_say_no_data_and_the_impact_unknown(lab, incident):
    run, output = report(incident, ofm_prometheus_url=f"http://{HOST}:{closed_port()}", report_bundle=False)
    assert "[UNKNOWN] Impact Assessment" in output and "Prometheus could not be asked" in output, output[-4000:]
    text = (incident["dir"] / "report.md").read_text()
    assert "No data for error_rate" in text and "not measured" in text
    for section in SECTIONS:
        assert f"## {section}\n" in text


SUCCESS_PATHS = {
    "emergency": "success path: a real rollback of a breaching canary (ops API, Prometheus, HAProxy, Kubernetes, Slack, Statuspage, "
                 "audit table)",
    "comms": "success path: Slack, Statuspage, the customer database and SMTP (STARTTLS + AUTH) accept the credentials; one refused SMTP login",
    "report": "success path: the report and the evidence bundle (ops API logs, Kubernetes, Helm, Prometheus, audit table)",
}


@pytest.mark.parametrize("procedure", [
    pytest.param(procedure, marks=pytest.mark.reliability("secret", procedure=procedure, case=f"{case}; -vvv", expected="no secret in any output"))
    for procedure, case in SUCCESS_PATHS.items()])
def test_no_secret_in_any_output(lab, incident, reliability, procedure):
    """Each run's output and every file under the incident's work directory (audit log, records, ledgers, report, bundle members)."""
    outputs = incident["outputs"][procedure]
    assert outputs, f"no {procedure} run to scan"
    found = leaks(lab_secrets(lab), iter([*((f"{procedure} run {index}", output.encode()) for index, output in enumerate(outputs)),
                                          *artefacts(incident["workdir"])]))
    assert found == [], f"secrets found: {found}"
    assert "@creators.lab.ofm.social" not in (incident["dir"] / "emails.json").read_text(), "the ledger holds no address"
    reliability.observed(f"{len(outputs)} -vvv run(s), the audit log and every file written: no credential of the lab found")
