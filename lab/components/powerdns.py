"""PowerDNS Authoritative (Debian ``pdns-server`` + ``pdns-backend-sqlite3``): the zone ``ofm.social``, its HTTP API
(``X-API-Key``) and RFC 2136 dynamic updates signed with a TSIG key.

The API key and the TSIG secret are in the credentials file (``powerdns_api_key``, ``powerdns_tsig_secret``); the API key
reaches pdns_server only through its config file (0600). ``lab up`` and ``lab reset`` put the zone back to exactly
``SEED_RRSETS``: record sets added since are deleted, changed ones replaced, the SOA serial included.
"""
from __future__ import annotations

import json
import os
import shutil
import sqlite3
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Iterable, Optional

from lab.components.base import Component
from lab.config import HOST, LabConfig
from lab.process import LabError

ZONE = "ofm.social."
TSIG_KEY_NAME = "ofm-lab-tsig"
TSIG_ALGORITHM = "hmac-sha256"
SCHEMA_CANDIDATES = (
    Path("/usr/share/pdns-backend-sqlite3/schema/schema.sqlite3.sql"),
    Path("/usr/share/doc/pdns-backend-sqlite3/schema.sqlite3.sql"),
)

# (name, type, ttl, [contents]) of the seeded zone.
SEED_RRSETS: tuple[tuple[str, str, int, tuple[str, ...]], ...] = (
    (ZONE, "SOA", 3600, ("ns1.ofm.social. hostmaster.ofm.social. 2026010101 10800 3600 604800 300",)),
    (ZONE, "NS", 3600, ("ns1.ofm.social.", "ns2.ofm.social.")),
    (ZONE, "TXT", 300, ('"v=spf1 -all"',)),
    ("ns1.ofm.social.", "A", 3600, ("192.0.2.53",)),
    ("ns2.ofm.social.", "A", 3600, ("192.0.2.54",)),
    ("api.ofm.social.", "A", 300, ("192.0.2.10", "192.0.2.11")),
    ("api.ofm.social.", "AAAA", 300, ("2001:db8::10",)),
    ("app.ofm.social.", "A", 300, ("192.0.2.20",)),
    ("app.ofm.social.", "AAAA", 300, ("2001:db8::20",)),
    ("status.ofm.social.", "CNAME", 300, ("ofm.statuspage.io.",)),
    ("_verify.ofm.social.", "TXT", 300, ('"ofm-lab-verification=1"',)),
)

PDNS_CONF = """\
# Written by `lab up`; edits are lost on the next start. Holds the API key: mode 0600.
launch=gsqlite3
gsqlite3-database={database}
local-address={host}:{dns}
api=yes
api-key={api_key}
webserver=yes
webserver-address={host}
webserver-port={api}
webserver-allow-from={host}
dnsupdate=yes
allow-dnsupdate-from={host}/32
guardian=no
daemon=no
socket-dir={socket_dir}
disable-syslog=yes
loglevel=4
cache-ttl=0
negquery-cache-ttl=0
query-cache-ttl=0
consistent-backends=yes
"""


def seed_rrsets() -> list[dict[str, Any]]:
    """The seeded record sets in the API's rrset shape."""
    return [{"name": name, "type": rtype, "ttl": ttl, "records": [{"content": c, "disabled": False} for c in contents]}
            for name, rtype, ttl, contents in SEED_RRSETS]


def _canonical(rrset: dict[str, Any]) -> tuple:
    records = sorted((r["content"], bool(r.get("disabled", False))) for r in rrset.get("records", []))
    return rrset["name"], rrset["type"], rrset.get("ttl"), tuple(records)


def restore_patch(current: Iterable[dict[str, Any]], wanted: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rrsets of a PATCH that turns the ``current`` record sets into exactly ``wanted``: DELETE for each
    (name, type) not wanted, REPLACE for each wanted one that is missing or differs; empty when equal."""
    wanted = list(wanted)
    have = {(r["name"], r["type"]): _canonical(r) for r in current}
    want_keys = {(r["name"], r["type"]) for r in wanted}
    patch = [{"name": name, "type": rtype, "changetype": "DELETE"} for name, rtype in sorted(have) if (name, rtype) not in want_keys]
    for rrset in wanted:
        if have.get((rrset["name"], rrset["type"])) != _canonical(rrset):
            patch.append({**rrset, "changetype": "REPLACE"})
    return patch


def api(cfg: LabConfig, method: str, path: str, body: Any = None, api_key: Optional[str] = None) -> Any:
    """Call the lab PowerDNS's API (``path`` under /api/v1/servers/localhost); the parsed answer, LabError on a failure."""
    url = f"http://{HOST}:{cfg.ports['powerdns_api']}/api/v1/servers/localhost{path}"
    key = cfg.credentials().powerdns_api_key if api_key is None else api_key
    request = urllib.request.Request(url, method=method, data=json.dumps(body).encode() if body is not None else None,
                                     headers={"X-API-Key": key, "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # nosec - loopback lab URL
            payload = response.read()
    except urllib.error.HTTPError as exc:
        raise LabError(f"PowerDNS API {method} {path}: HTTP {exc.code} {exc.read().decode(errors='replace')[:300]}") from exc
    except OSError as exc:
        raise LabError(f"PowerDNS API {method} {path}: {exc}") from exc
    return json.loads(payload) if payload else None


def zone_rrsets(cfg: LabConfig) -> list[dict[str, Any]]:
    return api(cfg, "GET", f"/zones/{ZONE}")["rrsets"]


def seed_zone(cfg: LabConfig) -> None:
    """The TSIG key with the lab's secret, the zone (created when missing) with exactly the seeded record sets, and the
    zone's TSIG-ALLOW-DNSUPDATE metadata naming that key."""
    creds = cfg.credentials()
    key = {"name": TSIG_KEY_NAME, "algorithm": TSIG_ALGORITHM, "key": creds.powerdns_tsig_secret}
    existing = {k["name"].rstrip("."): k for k in api(cfg, "GET", "/tsigkeys")}
    if TSIG_KEY_NAME in existing:
        api(cfg, "PUT", f"/tsigkeys/{existing[TSIG_KEY_NAME]['id']}", key)
    else:
        api(cfg, "POST", "/tsigkeys", key)
    zones = {z["name"] for z in api(cfg, "GET", "/zones")}
    if ZONE not in zones:
        api(cfg, "POST", "/zones", {"name": ZONE, "kind": "Native", "nameservers": [], "soa_edit_api": "",
                                    "rrsets": seed_rrsets()})
    else:
        patch = restore_patch(zone_rrsets(cfg), seed_rrsets())
        if patch:
            api(cfg, "PATCH", f"/zones/{ZONE}", {"rrsets": patch})
    api(cfg, "PUT", f"/zones/{ZONE}/metadata/TSIG-ALLOW-DNSUPDATE", {"metadata": [TSIG_KEY_NAME]})


def schema_file() -> Optional[Path]:
    return next((path for path in SCHEMA_CANDIDATES if path.exists()), None)


class PowerDns(Component):
    name = "powerdns"
    ports = ("powerdns_dns", "powerdns_api")
    description = ("PowerDNS Authoritative on SQLite: zone ofm.social, HTTP API (X-API-Key), RFC 2136 updates with "
                   f"TSIG key {TSIG_KEY_NAME} ({TSIG_ALGORITHM})")

    def available(self) -> Optional[str]:
        if not shutil.which("pdns_server"):
            return "pdns_server is not installed (apt-get install pdns-server pdns-backend-sqlite3)"
        if schema_file() is None:
            return "the gsqlite3 backend's schema is missing (apt-get install pdns-backend-sqlite3)"
        return None

    def config_dir(self, cfg: LabConfig) -> Path:
        return cfg.path("etc", "pdns")

    def prepare(self, cfg: LabConfig) -> None:
        conf_dir = self.config_dir(cfg)
        conf_dir.mkdir(parents=True, exist_ok=True)
        data = cfg.path("data", "powerdns")
        data.mkdir(parents=True, exist_ok=True)
        socket_dir = cfg.path("run", "pdns")
        socket_dir.mkdir(parents=True, exist_ok=True)
        database = data / "pdns.sqlite3"
        if not database.exists():
            schema = schema_file()
            if schema is None:
                raise LabError(self.available() or "no gsqlite3 schema")
            with sqlite3.connect(database) as conn:
                conn.executescript(schema.read_text())
        descriptor = os.open(conf_dir / "pdns.conf", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(PDNS_CONF.format(database=database, host=HOST, dns=cfg.ports["powerdns_dns"],
                                          api=cfg.ports["powerdns_api"], api_key=cfg.credentials().powerdns_api_key,
                                          socket_dir=socket_dir))

    def argv(self, cfg: LabConfig) -> list[str]:
        return [shutil.which("pdns_server") or "pdns_server", f"--config-dir={self.config_dir(cfg)}"]

    def started(self, cfg: LabConfig) -> None:
        seed_zone(cfg)

    def reset(self, cfg: LabConfig) -> None:
        seed_zone(cfg)

    def endpoints(self, cfg: LabConfig) -> dict[str, str]:
        return {"dns": f"{HOST}:{cfg.ports['powerdns_dns']}", "api": f"http://{HOST}:{cfg.ports['powerdns_api']}/api/v1"}
