"""The lab's external services: the real PowerDNS (queries, RFC 2136 updates with TSIG, the HTTP API and the zone's
reset), HAProxy's TLS frontend with the lab CA's certificates by SNI, and moto's server mode as the AWS stand-in.

Not shared_lab: only this module uses the zone ofm.social, and it resets the PowerDNS component alone (not `lab reset`).
"""
from __future__ import annotations

import base64
import socket
import ssl
import time
import urllib.error
import urllib.request
from typing import Iterator

import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import dns.tsig
import dns.update
import pytest
from cryptography import x509

from lab.components import aws, powerdns
from lab.config import HOST, LabConfig
from lab.process import LabError
from lab.tls import ca_file

SNI_CERT = {"api.ofm.social": "api.ofm.social", "expired.ofm.social": "expired.ofm.social",
            "wrong.ofm.social": "legacy.example.net"}


@pytest.fixture(name="zone")
def fixture_zone(lab: LabConfig) -> Iterator[LabConfig]:
    """The zone as seeded before and after the test."""
    powerdns.PowerDns().reset(lab)
    yield lab
    powerdns.PowerDns().reset(lab)


def query(lab: LabConfig, name: str, rtype: str) -> dns.message.Message:
    return dns.query.udp(dns.message.make_query(name, rtype), HOST, port=lab.ports["powerdns_dns"], timeout=3)


def answer(lab: LabConfig, name: str, rtype: str) -> set[str]:
    response = query(lab, name, rtype)
    return {rdata.to_text() for rrset in response.answer if rrset.rdtype == dns.rdatatype.from_text(rtype) for rdata in rrset}


def update(lab: LabConfig, secret: str, name: str, address: str) -> str:
    """An RFC 2136 update signed with ``secret``; the answer's rcode (read without verifying its TSIG, which a server
    that refused the key cannot sign)."""
    keyring = {dns.name.from_text(powerdns.TSIG_KEY_NAME): dns.tsig.Key(powerdns.TSIG_KEY_NAME, secret, powerdns.TSIG_ALGORITHM)}
    message = dns.update.UpdateMessage("ofm.social", keyring=keyring, keyalgorithm=powerdns.TSIG_ALGORITHM)
    message.replace(name, 300, "A", address)
    with socket.create_connection((HOST, lab.ports["powerdns_dns"]), timeout=5) as sock:
        dns.query.send_tcp(sock, message.to_wire())
        response = dns.query.receive_tcp(sock, time.time() + 5, keyring=False, request_mac=b"")[0]
    return dns.rcode.to_text(response.rcode())


def test_powerdns_answers_the_seeded_records(lab: LabConfig):
    assert answer(lab, "api.ofm.social", "A") == {"192.0.2.10", "192.0.2.11"}
    assert answer(lab, "api.ofm.social", "AAAA") == {"2001:db8::10"}
    assert answer(lab, "app.ofm.social", "A") == {"192.0.2.20"}
    assert answer(lab, "status.ofm.social", "CNAME") == {"ofm.statuspage.io."}
    assert answer(lab, "ofm.social", "TXT") == {'"v=spf1 -all"'}
    assert query(lab, "api.ofm.social", "A").flags & dns.flags.AA


def test_rfc2136_update_with_the_tsig_key_is_applied_and_a_wrong_key_refused(zone: LabConfig):
    secret = zone.credentials().powerdns_tsig_secret
    wrong = base64.b64encode(bytes(32)).decode()

    assert update(zone, secret, "canary.ofm.social.", "192.0.2.77") == "NOERROR"
    assert answer(zone, "canary.ofm.social", "A") == {"192.0.2.77"}

    assert update(zone, wrong, "rogue.ofm.social.", "192.0.2.66") in ("REFUSED", "NOTAUTH")
    assert answer(zone, "rogue.ofm.social", "A") == set()
    assert not any(r["name"] == "rogue.ofm.social." for r in powerdns.zone_rrsets(zone))


def test_powerdns_api_answers_with_the_key_and_refuses_without(lab: LabConfig):
    zones = powerdns.api(lab, "GET", "/zones")
    assert powerdns.ZONE in {z["name"] for z in zones}
    url = f"http://{HOST}:{lab.ports['powerdns_api']}/api/v1/servers/localhost/zones"
    for headers in ({}, {"X-API-Key": "not-the-key"}):
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=5)  # nosec - loopback
        assert refused.value.code == 401
    with pytest.raises(LabError, match="HTTP 401"):
        powerdns.api(lab, "GET", "/zones", api_key="not-the-key")


def test_reset_restores_exactly_the_seeded_zone(zone: LabConfig):
    secret = zone.credentials().powerdns_tsig_secret
    assert update(zone, secret, "added.ofm.social.", "192.0.2.88") == "NOERROR"
    assert update(zone, secret, "api.ofm.social.", "192.0.2.99") == "NOERROR"
    powerdns.api(zone, "PATCH", f"/zones/{powerdns.ZONE}", {"rrsets": [
        {"name": "status.ofm.social.", "type": "CNAME", "changetype": "DELETE"}]})
    assert powerdns.restore_patch(powerdns.zone_rrsets(zone), powerdns.seed_rrsets())

    powerdns.PowerDns().reset(zone)

    assert powerdns.restore_patch(powerdns.zone_rrsets(zone), powerdns.seed_rrsets()) == []
    assert answer(zone, "added.ofm.social", "A") == set()
    assert answer(zone, "api.ofm.social", "A") == {"192.0.2.10", "192.0.2.11"}
    assert answer(zone, "status.ofm.social", "CNAME") == {"ofm.statuspage.io."}
    assert update(zone, secret, "again.ofm.social.", "192.0.2.89") == "NOERROR"


@pytest.mark.parametrize("sni", sorted(SNI_CERT))
def test_tls_frontend_serves_each_certificate_by_sni(lab: LabConfig, sni: str):
    context = ssl.create_default_context(cafile=str(ca_file(lab.path("tls"))))
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with socket.create_connection((HOST, lab.ports["haproxy_tls"]), timeout=5) as sock:
        with context.wrap_socket(sock, server_hostname=sni) as conn:
            der = conn.getpeercert(binary_form=True)
    cert = x509.load_der_x509_certificate(der)
    assert cert.subject.get_attributes_for_oid(x509.oid.NameOID.COMMON_NAME)[0].value == SNI_CERT[sni]

    verifying = ssl.create_default_context(cafile=str(ca_file(lab.path("tls"))))
    with socket.create_connection((HOST, lab.ports["haproxy_tls"]), timeout=5) as sock:
        if sni == "api.ofm.social":
            with verifying.wrap_socket(sock, server_hostname=sni) as conn:
                conn.sendall(b"GET /health HTTP/1.1\r\nHost: api.ofm.social\r\nConnection: close\r\n\r\n")
                assert conn.recv(64).startswith(b"HTTP/1.1 200")
            return
        with pytest.raises(ssl.SSLCertVerificationError) as failed:
            verifying.wrap_socket(sock, server_hostname=sni)
    assert ("expired" if sni == "expired.ofm.social" else "Hostname mismatch") in failed.value.verify_message


def test_untrusted_without_the_lab_ca(lab: LabConfig):
    with socket.create_connection((HOST, lab.ports["haproxy_tls"]), timeout=5) as sock:
        with pytest.raises(ssl.SSLCertVerificationError) as failed:
            ssl.create_default_context().wrap_socket(sock, server_hostname="api.ofm.social")
    assert "unable to get local issuer certificate" in failed.value.verify_message


def test_moto_serves_the_seeded_route53_zone_alb_and_distribution(lab: LabConfig):
    r53 = aws.client(lab, "route53")
    [zone_entry] = [z for z in r53.list_hosted_zones()["HostedZones"] if z["Name"] == aws.ZONE]
    records = r53.list_resource_record_sets(HostedZoneId=zone_entry["Id"])["ResourceRecordSets"]
    weighted = {r["SetIdentifier"]: r["Weight"] for r in records if r["Name"] == "app.ofm.social." and "Weight" in r}
    assert weighted == {"blue": 90, "green": 10}
    assert {"api.ofm.social.", "status.ofm.social."} <= {r["Name"] for r in records}

    elb = aws.client(lab, "elbv2")
    [alb] = elb.describe_load_balancers(Names=[aws.ALB_NAME])["LoadBalancers"]
    [listener] = elb.describe_listeners(LoadBalancerArn=alb["LoadBalancerArn"])["Listeners"]
    names = {g["TargetGroupArn"]: g["TargetGroupName"] for g in elb.describe_target_groups()["TargetGroups"]}
    rules = elb.describe_rules(ListenerArn=listener["ListenerArn"])["Rules"]
    [path_rule] = [r for r in rules if not r["IsDefault"]]
    forward = path_rule["Actions"][0]["ForwardConfig"]["TargetGroups"]
    assert {names[g["TargetGroupArn"]]: g["Weight"] for g in forward} == aws.TARGET_GROUPS

    cloudfront = aws.client(lab, "cloudfront")
    [dist] = [d for d in cloudfront.list_distributions()["DistributionList"]["Items"] if d["Comment"] == aws.DISTRIBUTION_COMMENT]
    got = cloudfront.get_distribution_config(Id=dist["Id"])
    assert got["ETag"]
    assert got["DistributionConfig"]["Origins"]["Items"][0]["DomainName"] == alb["DNSName"]
