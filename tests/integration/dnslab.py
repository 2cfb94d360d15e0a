"""Zones of the DNS tests' own: in the lab's PowerDNS (a zone per test, deleted afterwards, so ofm.social and other tests'
zones are not touched), in moto's Route53, and a PowerDNS server of the tests' own (``PrivatePowerDns``) for what must not
be done to the lab's process: stopping or freezing it, counting the dynamic updates it received.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any, Optional

from lab.components import aws, powerdns
from lab.config import HOST, LabConfig

TSIG_KEY = powerdns.TSIG_KEY_NAME


def unique_zone(prefix: str = "dns-it") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}.test."


def seed_rrsets(zone: str) -> list[dict[str, Any]]:
    """A small zone: SOA, apex NS, A/AAAA at api, a CNAME, a TXT, an MX."""
    rows = [(zone, "SOA", 3600, [f"ns1.{zone} hostmaster.{zone} 2026010101 10800 3600 604800 300"]),
            (zone, "NS", 3600, [f"ns1.{zone}"]),
            (f"ns1.{zone}", "A", 3600, ["192.0.2.53"]),
            (f"api.{zone}", "A", 300, ["192.0.2.10", "192.0.2.11"]),
            (f"api.{zone}", "AAAA", 300, ["2001:db8::10"]),
            (f"status.{zone}", "CNAME", 300, ["ofm.statuspage.io."]),
            (f"_verify.{zone}", "TXT", 300, ['"ofm-verification=1"']),
            (zone, "MX", 300, [f"10 mail.{zone}"])]
    return [{"name": name, "type": rtype, "ttl": ttl, "records": [{"content": c, "disabled": False} for c in contents]}
            for name, rtype, ttl, contents in rows]


def pdns_call(api_url: str, key: str, method: str, path: str, body: Any = None, timeout: float = 10) -> Any:
    """A call to a PowerDNS API (``path`` under /api/v1/servers/localhost)."""
    request = urllib.request.Request(f"{api_url}/api/v1/servers/localhost{path}", method=method,
                                     data=json.dumps(body).encode() if body is not None else None,
                                     headers={"X-API-Key": key, "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:  # nosec - loopback
        payload = response.read()
    return json.loads(payload) if payload else None


def create_zone(api_url: str, key: str, zone: str, rrsets: Optional[list[dict[str, Any]]] = None) -> None:
    pdns_call(api_url, key, "POST", "/zones", {"name": zone, "kind": "Native", "nameservers": [], "soa_edit_api": "",
                                               "rrsets": rrsets if rrsets is not None else seed_rrsets(zone)})
    pdns_call(api_url, key, "PUT", f"/zones/{zone}/metadata/TSIG-ALLOW-DNSUPDATE", {"metadata": [TSIG_KEY]})


def delete_zone(api_url: str, key: str, zone: str) -> None:
    try:
        pdns_call(api_url, key, "DELETE", f"/zones/{zone}")
    except urllib.error.HTTPError as exc:
        if exc.code != 404:
            raise


def zone_state(api_url: str, key: str, zone: str) -> list[tuple]:
    """The zone's record sets, SOA included, in a comparable form."""
    rrsets = pdns_call(api_url, key, "GET", f"/zones/{zone}")["rrsets"]
    return sorted((r["name"], r["type"], r["ttl"], tuple(sorted(x["content"] for x in r["records"]))) for r in rrsets)


def statistic(api_url: str, key: str, name: str) -> int:
    stats = pdns_call(api_url, key, "GET", "/statistics")
    return int(next(entry["value"] for entry in stats if entry["name"] == name))


def lab_api_url(lab: LabConfig) -> str:
    return f"http://{HOST}:{lab.ports['powerdns_api']}"


def route53_zone(lab: LabConfig, zone: str) -> str:
    """A hosted zone of its own in moto with a weighted CNAME pair, an A and a TXT; its id."""
    r53 = aws.client(lab, "route53")
    zone_id = r53.create_hosted_zone(Name=zone, CallerReference=uuid.uuid4().hex)["HostedZone"]["Id"]
    r53.change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={"Changes": [
        {"Action": "CREATE", "ResourceRecordSet": raw} for raw in (
            {"Name": f"app.{zone}", "Type": "CNAME", "TTL": 60, "SetIdentifier": "blue", "Weight": 90,
             "ResourceRecords": [{"Value": f"blue.app.{zone}"}]},
            {"Name": f"app.{zone}", "Type": "CNAME", "TTL": 60, "SetIdentifier": "green", "Weight": 10,
             "ResourceRecords": [{"Value": f"green.app.{zone}"}]},
            {"Name": f"api.{zone}", "Type": "A", "TTL": 300, "ResourceRecords": [{"Value": "192.0.2.10"}]},
            {"Name": f"_verify.{zone}", "Type": "TXT", "TTL": 300, "ResourceRecords": [{"Value": '"ofm-verification=1"'}]})]})
    return zone_id


def route53_delete(lab: LabConfig, zone_id: str) -> None:
    r53 = aws.client(lab, "route53")
    records = r53.list_resource_record_sets(HostedZoneId=zone_id)["ResourceRecordSets"]
    changes = [{"Action": "DELETE", "ResourceRecordSet": r} for r in records if r["Type"] not in ("SOA", "NS")]
    if changes:
        r53.change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={"Changes": changes})
    r53.delete_hosted_zone(Id=zone_id)


def route53_state(lab: LabConfig, zone_id: str) -> list[dict[str, Any]]:
    records = aws.client(lab, "route53").list_resource_record_sets(HostedZoneId=zone_id)["ResourceRecordSets"]
    return sorted((r for r in records if r["Type"] not in ("SOA", "NS")), key=lambda r: (r["Name"], r["Type"], r.get("SetIdentifier", "")))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


class PrivatePowerDns:
    """A pdns_server of its own (SQLite, API and dynamic updates on) under ``workdir``: started, stopped, frozen by the test."""

    def __init__(self, workdir: Path, api_key: str, tsig_secret: str) -> None:
        self.workdir = workdir
        self.api_key = api_key
        self.tsig_secret = tsig_secret
        self.dns_port = free_port()
        self.api_port = free_port()
        self.process: Optional[subprocess.Popen] = None

    @property
    def api_url(self) -> str:
        return f"http://{HOST}:{self.api_port}"

    @property
    def server(self) -> str:
        return f"{HOST}:{self.dns_port}"

    def start(self) -> "PrivatePowerDns":
        self.workdir.mkdir(parents=True, exist_ok=True)
        database = self.workdir / "pdns.sqlite3"
        if not database.exists():
            with sqlite3.connect(database) as conn:
                conn.executescript(powerdns.schema_file().read_text())
        conf = powerdns.PDNS_CONF.format(database=database, host=HOST, dns=self.dns_port, api=self.api_port, api_key=self.api_key,
                                         socket_dir=self.workdir)
        path = self.workdir / "pdns.conf"
        path.write_text(conf)
        os.chmod(path, 0o600)
        log = open(self.workdir / "pdns.log", "ab")  # pylint: disable=consider-using-with
        self.process = subprocess.Popen([shutil.which("pdns_server") or "pdns_server", f"--config-dir={self.workdir}"],
                                        stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while True:
            try:
                pdns_call(self.api_url, self.api_key, "GET", "/zones", timeout=2)
                break
            except (urllib.error.URLError, OSError):
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise AssertionError(f"private pdns_server did not start: {(self.workdir / 'pdns.log').read_text()[-2000:]}")
                time.sleep(0.2)
        keys = {k["name"].rstrip("."): k for k in pdns_call(self.api_url, self.api_key, "GET", "/tsigkeys")}
        if TSIG_KEY not in keys:
            pdns_call(self.api_url, self.api_key, "POST", "/tsigkeys", {"name": TSIG_KEY, "algorithm": "hmac-sha256", "key": self.tsig_secret})
        return self

    def freeze(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGCONT)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.thaw()
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self.process = None
