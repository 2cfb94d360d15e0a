"""The lab's external-service helpers: the PowerDNS zone restore patch, the lab PKI and the new credentials."""
from __future__ import annotations

import base64
import datetime
import json
import stat

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from lab import tls
from lab.components.powerdns import ZONE, restore_patch, seed_rrsets
from lab.config import Credentials, load_config

NOW = datetime.datetime(2026, 6, 1, tzinfo=datetime.timezone.utc)


def test_restore_patch_is_empty_for_the_seeded_zone_in_any_order():
    current = [dict(r, records=list(reversed(r["records"]))) for r in reversed(seed_rrsets())]
    assert restore_patch(current, seed_rrsets()) == []


def test_restore_patch_deletes_added_and_replaces_changed_rrsets():
    current = seed_rrsets()
    current.append({"name": "new.ofm.social.", "type": "A", "ttl": 60, "records": [{"content": "192.0.2.99"}]})
    changed = next(r for r in current if r["name"] == "api.ofm.social." and r["type"] == "A")
    changed["records"] = [{"content": "192.0.2.66", "disabled": False}]
    soa = next(r for r in current if r["type"] == "SOA")
    soa["records"] = [{"content": soa["records"][0]["content"].replace("2026010101", "2026010102"), "disabled": False}]
    ttl_only = next(r for r in current if r["name"] == "app.ofm.social." and r["type"] == "A")
    ttl_only["ttl"] = 60
    current = [r for r in current if not (r["name"] == "status.ofm.social." and r["type"] == "CNAME")]

    patch = restore_patch(current, seed_rrsets())

    assert {(p["name"], p["type"], p["changetype"]) for p in patch} == {
        ("new.ofm.social.", "A", "DELETE"), ("api.ofm.social.", "A", "REPLACE"), (ZONE, "SOA", "REPLACE"),
        ("app.ofm.social.", "A", "REPLACE"), ("status.ofm.social.", "CNAME", "REPLACE")}
    replaced = {(p["name"], p["type"]): p for p in patch if p["changetype"] == "REPLACE"}
    seeded = {(r["name"], r["type"]): r for r in seed_rrsets()}
    assert all(p["records"] == seeded[key]["records"] and p["ttl"] == seeded[key]["ttl"] for key, p in replaced.items())


def test_issue_needs_a_hostname():
    ca_key, ca_cert = tls.make_ca(NOW)
    with pytest.raises(ValueError, match="hostnames"):
        tls.issue(ca_key, ca_cert, (), NOW, NOW + datetime.timedelta(days=1))


def test_lab_pki_signs_each_server_certificate_with_its_hosts_and_validity(tmp_path):
    crt_list = tls.write_lab_pki(tmp_path, NOW)

    ca = x509.load_pem_x509_certificate(tls.ca_file(tmp_path).read_bytes())
    lines = [line.split() for line in crt_list.read_text().splitlines()]
    assert [sni for _path, sni in lines] == ["api.ofm.social", "expired.ofm.social", "wrong.ofm.social"]
    for (path, sni), spec in zip(lines, tls.SERVER_CERTS):
        assert stat.S_IMODE((tmp_path / path).stat().st_mode) == 0o600
        cert = x509.load_pem_x509_certificate((tmp_path / path).read_bytes())
        cert.verify_directly_issued_by(ca)
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName)
        assert tuple(sans) == spec.hostnames
        assert (sni in sans) is (spec.name != "wrong-host")
        assert (cert.not_valid_after_utc < NOW) is spec.expired
        assert cert.not_valid_before_utc < NOW


def test_lab_pki_keeps_a_valid_ca_and_replaces_one_about_to_expire(tmp_path):
    tls.write_lab_pki(tmp_path, NOW)
    first = tls.ca_file(tmp_path).read_bytes()
    tls.write_lab_pki(tmp_path, NOW + datetime.timedelta(days=10))
    assert tls.ca_file(tmp_path).read_bytes() == first
    tls.write_lab_pki(tmp_path, NOW + datetime.timedelta(days=3640))
    assert tls.ca_file(tmp_path).read_bytes() != first
    assert isinstance(x509.load_pem_x509_certificate(tls.ca_file(tmp_path).read_bytes()).public_key(), ec.EllipticCurvePublicKey)


def test_credentials_of_an_older_lab_get_the_external_secrets_backfilled(tmp_path, monkeypatch):
    monkeypatch.setenv("OFM_LAB_STATE_DIR", str(tmp_path))
    data = json.loads(json.dumps(Credentials.generate(), default=lambda o: o.__dict__))
    for name in ("powerdns_api_key", "powerdns_tsig_secret", "aws_access_key_id", "aws_secret_access_key"):
        del data[name]
    (tmp_path / "credentials.json").write_text(json.dumps(data))
    creds = load_config(tmp_path, fresh=True).credentials()
    assert len(base64.b64decode(creds.powerdns_tsig_secret)) == 32
    assert creds.powerdns_api_key and creds.aws_access_key_id.startswith("AKIALAB") and creds.aws_secret_access_key
    assert json.loads((tmp_path / "credentials.json").read_text())["powerdns_api_key"] == creds.powerdns_api_key
