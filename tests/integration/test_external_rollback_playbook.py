"""playbooks/external-rollback.yml on the lab, as the README runs it: a snapshot before the change (config-snapshot.yml),
a change to what the external-service rollback restores, then the rollback puts it back while leaving the configuration
kinds alone (they are config-rollback.yml's); check mode changes nothing; a second run changes nothing; the certificate
line fails on an expired, a wrong-host and an untrusted certificate; no secret value in the output or the audit trail."""
from __future__ import annotations

import base64
import json
import re
import socket
import threading
import time
from typing import Any, Iterator

import pytest
from labtest import credentials, flat, lab_call, run_lab, run_playbook

from lab.components import aws, powerdns
from lab.components.haproxy import weights as haproxy_weights
from lab.config import LabConfig

pytestmark = pytest.mark.shared_lab

SECRET_PATH = "/api/v1/namespaces/ofm-production/secrets/ofm-social-os-secrets"
CONFIGMAP_PATH = "/api/v1/namespaces/ofm-production/configmaps/ofm-social-os-config"
LEAKED_KEY = "tiktok-key-pasted-from-the-staging-console"


def tiktok_key(lab: LabConfig) -> str:
    secret = lab_call(lab.url("kube_apiserver") + SECRET_PATH)
    return base64.b64decode(secret["data"]["TIKTOK_API_KEY"]).decode()


def set_tiktok_key(lab: LabConfig, value: str) -> None:
    lab_call(lab.url("kube_apiserver") + SECRET_PATH, "PATCH", {"data": {"TIKTOK_API_KEY": base64.b64encode(value.encode()).decode()}},
             headers={"Content-Type": "application/merge-patch+json"})


@pytest.fixture(name="good_external")
def fixture_good_external(good_config: LabConfig) -> Iterator[LabConfig]:
    run_lab("external", "good")
    yield good_config
    run_lab("external", "good")


def external_state(lab: LabConfig) -> dict[str, Any]:
    """What `lab external bad` changes: HAProxy weights, the Route's backends, the ALB's forward weights."""
    route = lab_call(lab.url("kube_apiserver") + "/apis/route.openshift.io/v1/namespaces/ofm-production/routes/ofm-api")["spec"]
    elb = aws.client(lab, "elbv2")
    alb = elb.describe_load_balancers(Names=[aws.ALB_NAME])["LoadBalancers"][0]
    listener = elb.describe_listeners(LoadBalancerArn=alb["LoadBalancerArn"])["Listeners"][0]
    names = {group["TargetGroupArn"]: group["TargetGroupName"] for group in elb.describe_target_groups()["TargetGroups"]}
    cloudfront = aws.client(lab, "cloudfront")
    distribution = next(item for item in cloudfront.list_distributions()["DistributionList"]["Items"] if item["Comment"] == aws.DISTRIBUTION_COMMENT)
    platforms = lab_call(lab.url("platforms") + "/__lab/state")
    zone = sorted((rrset["name"], rrset["type"], rrset["ttl"], sorted(record["content"] for record in rrset["records"]))
                  for rrset in powerdns.zone_rrsets(lab) if rrset["type"] != "SOA")
    return {"dns": zone, "haproxy": haproxy_weights(lab), "cdn": distribution["DefaultCacheBehavior"]["ViewerProtocolPolicy"],
            "meta": platforms["meta"], "tiktok": platforms["tiktok"],
            "route": [(backend["name"], backend["weight"]) for backend in [route["to"], *route.get("alternateBackends", [])]],
            "alb": sorted((names[group["TargetGroupArn"]], group["Weight"]) for group in listener["DefaultActions"][0]["ForwardConfig"]["TargetGroups"])}


def webhook(lab: LabConfig) -> str:
    return lab_call(lab.url("kube_apiserver") + CONFIGMAP_PATH)["data"]["WEBHOOK_URL_TIKTOK"]


def verdict(output: str, title: str) -> str:
    """The summary's line of ``title``: its status label and evidence (up to the next line of the summary)."""
    found = re.search(r"\[(ok    |FAILED|MANUAL)\] " + re.escape(title) + r": (.*?)(?= - \[|\n|$)", output)
    assert found, f"no line {title} in the summary"
    return f"{found.group(1).strip()}: {found.group(2)}"


def test_snapshot_change_then_external_rollback_restores_its_kinds_only(good_external, tmp_path, vault):
    lab = good_external
    extra = {"ofm_config_snapshot_dir": str(tmp_path / "snapshots")}
    audit = tmp_path / "audit.jsonl"
    taken = run_playbook("config-snapshot.yml", "--vault-password-file", str(vault), extra_vars=extra, audit_log=audit)
    assert taken.returncode == 0, taken.stdout[-4000:]
    good_key, good_webhook, good = tiktok_key(lab), webhook(lab), external_state(lab)

    run_lab("external", "bad")
    bad = external_state(lab)
    assert [name for name in good if good[name] == bad[name]] == [], "lab external bad left something as it was"
    set_tiktok_key(lab, LEAKED_KEY)
    run_lab("config", "bad")  # a configuration change too: the external rollback must leave it to config-rollback.yml
    bad_webhook = webhook(lab)
    assert bad_webhook != good_webhook

    checked = run_playbook("external-rollback.yml", "--check", "--diff", "--vault-password-file", str(vault), extra_vars=extra, audit_log=audit)
    assert checked.returncode == 0, checked.stdout[-4000:]
    assert "CHECK MODE" in checked.stdout
    assert tiktok_key(lab) == LEAKED_KEY, "check mode changed the Secret"
    assert external_state(lab) == bad, "check mode changed an external service"

    restored = run_playbook("external-rollback.yml", "--vault-password-file", str(vault), extra_vars=extra, audit_log=audit)
    output = flat(restored.stdout)
    assert restored.returncode == 0, restored.stdout[-4000:]
    assert tiktok_key(lab) == good_key
    assert external_state(lab) == good
    assert webhook(lab) == bad_webhook, "the external rollback restored a configuration kind"
    assert "[ok    ] API Credentials:" in output
    for title in ("DNS Records", "Load Balancer", "CDN Configuration", "Webhook Endpoints", "OAuth Applications", "Platform Permissions", "SSL Certificates"):
        assert f"[ok    ] {title}:" in output, title
    assert "[ok    ] Load Balancer: restored 8 key(s)" in output
    assert 'cdn ofm-social-cdn/DefaultCacheBehavior.ViewerProtocolPolicy: "allow-all" -> "redirect-to-https"' in output
    assert "ofm-social-os-secrets/TIKTOK_API_KEY: <changed>" in output
    assert "[ok    ] SSL Certificates: 1 endpoint(s) trusted" in output

    again = run_playbook("external-rollback.yml", "--vault-password-file", str(vault), extra_vars=extra, audit_log=audit)
    assert again.returncode == 0, again.stdout[-4000:]
    assert "changed=0" in again.stdout

    everything = "\n".join((taken.stdout, checked.stdout, restored.stdout, again.stdout, audit.read_text()))
    creds = credentials(lab)
    for secret in (LEAKED_KEY, good_key, creds["aws_secret_access_key"], creds["tiktok_access_token"], *creds["ofm_api_secrets"].values()):
        assert secret not in everything


def test_a_token_that_lost_a_scope_fails_the_permissions_line(good_external, tmp_path, vault):
    lab = good_external
    extra = {"ofm_config_snapshot_dir": str(tmp_path / "snapshots")}
    taken = run_playbook("config-snapshot.yml", "--vault-password-file", str(vault), extra_vars={**extra, "rollback_config_kinds": ["secrets"]})
    assert taken.returncode == 0, taken.stdout[-4000:]
    token = credentials(lab)["tiktok_access_token"]
    narrowed = {"platform": "tiktok", "token": token, "scopes": ["user.info.basic"], "expires_at": 4102444800}
    lab_call(lab.url("platforms") + "/__lab/tokens", "PUT", narrowed)
    try:
        run = run_playbook("external-rollback.yml", "--check", "--vault-password-file", str(vault), extra_vars=extra)
    finally:
        lab_call(lab.url("platforms") + "/__lab/reset", "POST", {})
    output = flat(run.stdout)
    assert run.returncode != 0
    shown = verdict(output, "Platform Permissions")
    assert shown.startswith("FAILED: ") and "tiktok ofm-tiktok" in shown and "video.publish" in shown, shown
    assert token not in run.stdout


@pytest.mark.parametrize("case, endpoint, ca, problem", [
    ("expired", "expired.ofm.social", True, "expired"),
    ("wrong host", "wrong.ofm.social", True, "hostname"),
    ("untrusted", "api.ofm.social", False, "untrusted"),
])
def test_the_certificate_line_fails_on_a_bad_certificate(good_config, tmp_path, vault, case, endpoint, ca, problem):
    lab = good_config
    extra = {"ofm_config_snapshot_dir": str(tmp_path / "snapshots")}
    taken = run_playbook("config-snapshot.yml", "--vault-password-file", str(vault), extra_vars={**extra, "rollback_config_kinds": ["secrets"]})
    assert taken.returncode == 0, taken.stdout[-4000:]
    tls = {"ofm_tls_endpoints": [{"host": "127.0.0.1", "port": lab.ports["haproxy_tls"], "server_name": endpoint}]}
    if not ca:
        tls["ofm_tls_ca_path"] = ""
    run = run_playbook("external-rollback.yml", "--check", "--vault-password-file", str(vault), extra_vars={**extra, **tls})
    output = flat(run.stdout)
    assert run.returncode != 0, f"{case}: {output[-3000:]}"
    shown = verdict(output, "SSL Certificates")
    assert shown.startswith("FAILED: ") and f"({endpoint}): " in shown and problem in shown.split(f"({endpoint}): ", 1)[1], shown
    assert "Failed lines: SSL Certificates" in output


class PowerDnsLink:
    """A TCP relay between the collection and the lab's PowerDNS API that can hang (accept, read, never answer), so PowerDNS
    stops answering for this test only: the lab's own server keeps serving the tests of the other pytest process."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.hanging = threading.Event()
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client = self.server.accept()[0]
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        if self.hanging.is_set():
            client.recv(65536)
            time.sleep(60)  # holds the connection without an answer, as a PowerDNS stuck on its backend does
            client.close()
            return
        upstream = socket.create_connection(("127.0.0.1", self.target_port))
        for source, sink in ((client, upstream), (upstream, client)):
            threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                try:
                    end.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self) -> None:
        self.server.close()


@pytest.mark.reliability("fault", procedure="external", case="DNS API hangs",
                         expected="stopped before any change; a re-run completes")
def test_a_hanging_dns_api_stops_the_rollback_before_any_change_and_a_rerun_completes_it(good_external, tmp_path, vault):
    lab = good_external
    link = PowerDnsLink(lab.ports["powerdns_api"])
    try:
        dns = {"backend": "powerdns", "zone": "ofm.social", "api_url": f"http://127.0.0.1:{link.port}",
               "api_key": credentials(lab)["powerdns_api_key"], "timeout": 2}
        extra = {"ofm_config_snapshot_dir": str(tmp_path / "snapshots"), "ofm_dns": dns}
        audit = tmp_path / "audit.jsonl"
        taken = run_playbook("config-snapshot.yml", "--vault-password-file", str(vault), extra_vars=extra, audit_log=audit)
        assert taken.returncode == 0, taken.stdout[-4000:]
        good = external_state(lab)
        run_lab("external", "bad")
        bad = external_state(lab)

        link.hanging.set()
        stuck = run_playbook("external-rollback.yml", "--vault-password-file", str(vault), extra_vars=extra, audit_log=audit)
        output = flat(stuck.stdout)
        assert stuck.returncode != 0, output[-3000:]
        assert external_state(lab) == bad, "a read that hung let the restore change something"
        assert "Nothing was changed." in output
        assert verdict(output, "DNS Records").startswith("FAILED: ")
        assert verdict(output, "Load Balancer").startswith("FAILED: ")  # not restored either: the restore stopped before any write

        link.hanging.clear()
        again = run_playbook("external-rollback.yml", "--vault-password-file", str(vault), extra_vars=extra, audit_log=audit)
        assert again.returncode == 0, again.stdout[-4000:]
        assert external_state(lab) == good
        records = [json.loads(line) for line in audit.read_text().splitlines()]
        restores = [record for record in records if "restore DNS" in str(record.get("task", ""))]
        assert [record.get("status") for record in restores][-2:] == ["failed", "changed"], restores
        assert dns["api_key"] not in audit.read_text()
    finally:
        link.close()
