# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The DNS record-set model and its zone checks, the wanted state of dns_record's options, the PowerDNS backend against a
fake PowerDNS API (the requests it sends), the RFC 2136 UPDATE message, the Route53 backend and the kind ``dns`` against
moto in process, and the docs against the argument specs."""
from __future__ import annotations

import copy
from typing import Any, Optional

import pytest
from unithelpers import FakeService, Received, Reply, documented_options, doc_options, mismatches

from ansible_collections.ofm.rollback.plugins.doc_fragments import aws as aws_fragment
from ansible_collections.ofm.rollback.plugins.doc_fragments import dns as dns_fragment
from ansible_collections.ofm.rollback.plugins.module_utils.config import plan
from ansible_collections.ofm.rollback.plugins.module_utils.dns import kind as dns_kind
from ansible_collections.ofm.rollback.plugins.module_utils.dns.client import DNS_SPEC, DnsClient, wanted_record_sets
from ansible_collections.ofm.rollback.plugins.module_utils.dns.records import (
    TYPES, RecordSet, Zone, check_result, check_ttl, check_type, check_weight, filtered, from_value)
from ansible_collections.ofm.rollback.plugins.module_utils.dns.rfc2136 import Rfc2136Backend, parse_server
from ansible_collections.ofm.rollback.plugins.module_utils.errors import AuthenticationError, InputError
from ansible_collections.ofm.rollback.plugins.modules import dns_record, dns_record_info

ZONE = "ofm.social."
API_KEY = "pdns-KEY-s3cr3t-123"


def rs(name: str, rtype: str, ttl: Optional[int], *values: str) -> RecordSet:
    return RecordSet(name, rtype, ttl, tuple(sorted(values)))


# --- model -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("given, absolute", [("api", "api.ofm.social."), ("API.ofm.social", "api.ofm.social."), ("api.ofm.social.", "api.ofm.social."),
                                             ("@", ZONE), ("ofm.social", ZONE), ("a.b", "a.b.ofm.social.")])
def test_names_are_absolute_and_lowercase(given: str, absolute: str):
    assert Zone("OFM.social").absolute(given) == absolute


def test_a_name_outside_the_zone_names_the_option():
    with pytest.raises(InputError) as failed:
        Zone("ofm.social").absolute("api.example.net.", "records[2].name")
    assert failed.value.option == "records[2].name" and "outside the zone ofm.social." in str(failed.value)
    assert "ofm.social." in str(failed.value.accepted)


CANONICAL = [("AAAA", "2001:0db8:0000::0010", "2001:db8::10"), ("CNAME", "api", "api.ofm.social."), ("MX", "10 mail", "10 mail.ofm.social."),
             ("TXT", "v=spf1", '"v=spf1"'), ("CNAME", "ofm.statuspage.io.", "ofm.statuspage.io.")]


@pytest.mark.parametrize("rtype, given, canonical", CANONICAL)
def test_values_are_canonical(rtype: str, given: str, canonical: str):
    assert Zone(ZONE).canonical(rtype, given) == canonical


def test_a_bad_value_type_ttl_or_weight_names_the_option_and_accepted_values():
    with pytest.raises(InputError, match="not a valid A value") as bad_value:
        Zone(ZONE).canonical("A", "300.1.1.1", "records[0].values")
    assert bad_value.value.option == "records[0].values"
    with pytest.raises(InputError) as bad_type:
        check_type("SPF2")
    assert bad_type.value.accepted == TYPES and bad_type.value.option == "records[].type"
    with pytest.raises(InputError):
        check_type("SOA")
    for ttl in (-1, 2 ** 31, "300", True):
        with pytest.raises(InputError, match="TTL"):
            check_ttl(ttl)
    assert check_ttl(0) == 0
    with pytest.raises(InputError) as bad_weight:
        check_weight(256)
    assert bad_weight.value.accepted == "an integer from 0 to 255"


def test_a_cname_beside_other_data_is_refused_in_the_zone_as_it_would_be():
    zone = Zone(ZONE)
    current = {"api.ofm.social. A": rs("api.ofm.social.", "A", 300, "192.0.2.1"),
               "www.ofm.social. CNAME": rs("www.ofm.social.", "CNAME", 300, "api.ofm.social.")}
    with pytest.raises(InputError, match="CNAME cannot stand beside") as failed:
        check_result(zone, current, {"api.ofm.social. CNAME": rs("api.ofm.social.", "CNAME", 300, "x.example.")})
    assert failed.value.option == "records"
    with pytest.raises(InputError):
        check_result(zone, current, {"www.ofm.social. TXT": rs("www.ofm.social.", "TXT", 300, '"x"')})
    # the A removed in the same change: the CNAME stands alone
    check_result(zone, current, {"api.ofm.social. A": None, "api.ofm.social. CNAME": rs("api.ofm.social.", "CNAME", 300, "x.example.")})
    # weighted CNAMEs of one name are one CNAME each
    check_result(zone, {}, {"app.ofm.social. CNAME blue": RecordSet("app.ofm.social.", "CNAME", 60, ("b.",), "blue", 90),
                            "app.ofm.social. CNAME green": RecordSet("app.ofm.social.", "CNAME", 60, ("g.",), "green", 10)})


def test_snapshots_leave_out_soa_and_apex_ns_and_filter_names_and_types():
    zone = Zone(ZONE)
    sets = [rs(ZONE, "SOA", 3600, "ns1.ofm.social. h.ofm.social. 1 2 3 4 5"), rs(ZONE, "NS", 3600, "ns1.ofm.social."),
            rs("sub.ofm.social.", "NS", 3600, "ns9.example."), rs("api.ofm.social.", "A", 300, "192.0.2.1"), rs("api.ofm.social.", "AAAA", 300, "2001:db8::1")]
    held = {record_set.key: record_set for record_set in sets}
    assert list(filtered(held, zone)) == ["api.ofm.social. A", "api.ofm.social. AAAA", "sub.ofm.social. NS"]
    assert list(filtered(held, zone, ["api.ofm.social."], ["AAAA"])) == ["api.ofm.social. AAAA"]


def test_a_value_round_trips_through_the_snapshot_shape():
    weighted = RecordSet("app.ofm.social.", "CNAME", 60, ("blue.ofm.social.",), "blue", 90)
    target = (("dns_name", "d1.cloudfront.net."), ("evaluate_target_health", False), ("hosted_zone_id", "Z2FDTNDATAQYW2"))
    alias = RecordSet("cdn.ofm.social.", "A", None, (), None, None, target)
    for record_set in (weighted, alias, rs("api.ofm.social.", "A", 300, "192.0.2.1")):
        assert from_value(record_set.key, record_set.value()) == record_set
    assert weighted.key == "app.ofm.social. CNAME blue" and "ttl" not in alias.value()


# --- wanted state of dns_record ------------------------------------------------------------------

def current_zone() -> dict[str, RecordSet]:
    api = rs("api.ofm.social.", "A", 300, "192.0.2.10", "192.0.2.11")
    return {api.key: api}


def test_exact_present_and_absent():
    zone = Zone(ZONE)
    wanted = wanted_record_sets(zone, [{"name": "api", "type": "A", "values": ["192.0.2.12"]}, {"name": "new", "type": "TXT", "values": ["x"]}],
                                current_zone(), state="present", exact=True)
    assert wanted["api.ofm.social. A"] == rs("api.ofm.social.", "A", 300, "192.0.2.12")  # the current TTL kept
    assert wanted["new.ofm.social. TXT"] == rs("new.ofm.social.", "TXT", 3600, '"x"')
    gone = wanted_record_sets(zone, [{"name": "api", "type": "A", "values": ["192.0.2.99"]}], current_zone(), state="absent", exact=True)
    assert gone == {"api.ofm.social. A": None}


def test_not_exact_adds_and_removes_single_values():
    zone = Zone(ZONE)
    added = wanted_record_sets(zone, [{"name": "api", "type": "A", "values": ["192.0.2.12"], "ttl": 60}], current_zone(), state="present", exact=False)
    assert added["api.ofm.social. A"] == rs("api.ofm.social.", "A", 60, "192.0.2.10", "192.0.2.11", "192.0.2.12")
    removed = wanted_record_sets(zone, [{"name": "api", "type": "A", "values": ["192.0.2.10"]}], current_zone(), state="absent", exact=False)
    assert removed["api.ofm.social. A"] == rs("api.ofm.social.", "A", 300, "192.0.2.11")
    emptied = wanted_record_sets(zone, [{"name": "api", "type": "A", "values": ["192.0.2.10", "192.0.2.11"]}], current_zone(), state="absent",
                                 exact=False)
    assert emptied == {"api.ofm.social. A": None}


@pytest.mark.parametrize("records, option", [
    ([{"name": "api", "type": "A"}], "records[0].values"),
    ([{"name": "api", "type": "A", "values": ["192.0.2.1"]}, {"name": "api.ofm.social.", "type": "a", "values": ["192.0.2.2"]}], "records[1]"),
    ([{"name": "www", "type": "CNAME", "values": ["a.example.", "b.example."]}], "records[0].values"),
    ([{"name": "app", "type": "CNAME", "values": ["a.example."], "set_identifier": "blue"}], "records[0].weight"),
    ([{"name": "app", "type": "CNAME", "values": ["a.example."], "set_identifier": "blue", "weight": -1}], "records[0].weight"),
    ([{"name": "x", "type": "A", "values": ["192.0.2.1"], "ttl": -3}], "records[0].ttl"),
])
def test_bad_records_name_the_option(records: list[dict[str, Any]], option: str):
    with pytest.raises(InputError) as failed:
        wanted_record_sets(Zone(ZONE), records, current_zone(), state="present", exact=True)
    assert failed.value.option == option and failed.value.accepted


# --- PowerDNS backend against a fake API ----------------------------------------------------------

class FakePowerDns(FakeService):
    """A PowerDNS API holding one zone in memory: GET of the zone, PATCH of rrsets (REPLACE/DELETE), 401 on a wrong key."""

    def __init__(self) -> None:
        super().__init__()
        self.rrsets = {("api.ofm.social.", "A"): {"ttl": 300, "records": [{"content": "192.0.2.10", "disabled": False}]},
                       (ZONE, "SOA"): {"ttl": 3600, "records": [{"content": "ns1.ofm.social. h.ofm.social. 1 2 3 4 5", "disabled": False}]},
                       ("old.ofm.social.", "TXT"): {"ttl": 300, "records": [{"content": '"x"', "disabled": False}]}}

    def answer(self, request: Received) -> Reply:
        if request.headers.get("X-API-Key") != API_KEY:
            return Reply(401, {"error": "Unauthorized"})
        if request.path_only == "/api/v1/servers/localhost/zones":
            return Reply(200, [{"name": ZONE}, {"name": "other.example."}])
        if request.path_only != f"/api/v1/servers/localhost/zones/{ZONE}":
            return Reply(404, {"error": "Could not find domain"})
        if request.method == "GET":
            return Reply(200, {"name": ZONE, "rrsets": [{"name": name, "type": rtype, **data} for (name, rtype), data in self.rrsets.items()]})
        for change in request.body["rrsets"]:
            if change["changetype"] == "DELETE":
                self.rrsets.pop((change["name"], change["type"]), None)
            else:
                self.rrsets[(change["name"], change["type"])] = {"ttl": change["ttl"], "records": change["records"]}
        return Reply(204, "")


@pytest.fixture(name="fake_pdns")
def fixture_fake_pdns():
    service = FakePowerDns()
    yield service
    service.close()


def pdns_client(url: str, key: str = API_KEY, zone: str = ZONE) -> DnsClient:
    return DnsClient.from_params({"backend": "powerdns", "zone": zone, "api_url": url, "api_key": key, "timeout": 5, "validate_certs": True})


def test_powerdns_reads_and_writes_a_whole_change_in_one_patch(fake_pdns: FakePowerDns):
    client = pdns_client(fake_pdns.url)
    current = client.read()
    assert set(current) == {"api.ofm.social. A", "ofm.social. SOA", "old.ofm.social. TXT"}
    wanted = {"api.ofm.social. A": rs("api.ofm.social.", "A", 60, "192.0.2.20", "192.0.2.21"), "old.ofm.social. TXT": None,
              "new.ofm.social. AAAA": rs("new.ofm.social.", "AAAA", 300, "2001:db8::1")}
    client.write(client.plan(current, wanted))
    patches = [r for r in fake_pdns.received if r.method == "PATCH"]
    assert len(patches) == 1 and client.round_trips == 2
    sent = {(r["name"], r["type"]): r for r in patches[0].body["rrsets"]}
    assert sent[("old.ofm.social.", "TXT")] == {"name": "old.ofm.social.", "type": "TXT", "changetype": "DELETE"}
    assert sent[("api.ofm.social.", "A")]["changetype"] == "REPLACE" and sent[("api.ofm.social.", "A")]["ttl"] == 60
    assert [r["content"] for r in sent[("api.ofm.social.", "A")]["records"]] == ["192.0.2.20", "192.0.2.21"]
    assert patches[0].headers["X-API-Key"] == API_KEY
    assert client.snapshot() == {k: v for k, v in wanted.items() if v is not None}
    client.write(client.plan(client.read(), wanted))
    assert len([r for r in fake_pdns.received if r.method == "PATCH"]) == 1  # nothing left to write: nothing sent


def test_powerdns_refused_key_and_unknown_zone(fake_pdns: FakePowerDns):
    with pytest.raises(AuthenticationError) as refused:
        pdns_client(fake_pdns.url, key="wrong-key-000").read()
    assert "api_key" in str(refused.value) and "wrong-key-000" not in str(refused.value.to_result())
    with pytest.raises(InputError) as unknown:
        pdns_client(fake_pdns.url, zone="nowhere.example").read()
    assert unknown.value.option == "zone" and unknown.value.accepted == ["ofm.social.", "other.example."]


@pytest.mark.parametrize("params, option", [({"api_url": None}, "api_url"), ({"api_key": None}, "api_key"), ({"backend": "bind"}, "backend"),
                                            ({"timeout": 0}, "timeout"), ({"zone": ""}, "zone")])
def test_powerdns_missing_settings(params: dict[str, Any], option: str):
    with pytest.raises(InputError) as failed:
        DnsClient.from_params({"backend": "powerdns", "zone": ZONE, "api_url": "http://127.0.0.1:1", "api_key": "k", "timeout": 5, **params})
    assert failed.value.option == option


# --- RFC 2136 ---------------------------------------------------------------------------------------

def test_rfc2136_one_signed_update_deletes_first():
    backend = Rfc2136Backend(Zone(ZONE), "127.0.0.1", 53, key_name="ofm-key", secret="c2VjcmV0c2VjcmV0c2VjcmV0", algorithm="hmac-sha256")
    message = backend.update_message([(rs("api.ofm.social.", "A", 300, "192.0.2.1"), rs("api.ofm.social.", "A", 60, "192.0.2.2", "192.0.2.3")),
                                      (rs("old.ofm.social.", "TXT", 300, '"x"'), None)])
    lines = [line for line in message.to_text().splitlines() if line.startswith(("old", "api"))]
    assert lines[0].startswith("old.ofm.social. ANY TXT")
    assert lines[1].startswith("api.ofm.social. ANY A")
    assert sorted(lines[2:]) == ["api.ofm.social. 60 IN A 192.0.2.2", "api.ofm.social. 60 IN A 192.0.2.3"]
    wire = message.to_wire()
    assert b"ofm-key" in wire and message.had_tsig
    assert b"c2VjcmV0c2VjcmV0c2VjcmV0" not in message.to_text().encode()


@pytest.mark.parametrize("server, port, expected", [("ns1", None, ("ns1", 53)), ("ns1:5353", 53, ("ns1", 5353)), ("[::1]:54", None, ("::1", 54)),
                                                    ("127.0.0.1", 1053, ("127.0.0.1", 1053))])
def test_rfc2136_server_forms(server: str, port: Optional[int], expected: tuple[str, int]):
    assert parse_server(server, port) == expected


@pytest.mark.parametrize("params, option", [({"server": None}, "server"), ({"server": "ns1:99999"}, "server"), ({"tsig_algorithm": "rsa"}, "tsig_algorithm"),
                                            ({"tsig_key_secret": None}, "tsig_key_secret")])
def test_rfc2136_bad_settings(params: dict[str, Any], option: str):
    with pytest.raises(InputError) as failed:
        DnsClient.from_params({"backend": "rfc2136", "zone": ZONE, "server": "127.0.0.1", "tsig_key_name": "k", "tsig_key_secret": "c2VjcmV0",
                               "timeout": 5, **params})
    assert failed.value.option == option


# --- Route53 and the kind against moto in process ---------------------------------------------------

@pytest.fixture(name="route53")
def fixture_route53(monkeypatch: pytest.MonkeyPatch):
    moto = pytest.importorskip("moto")
    boto3 = pytest.importorskip("boto3")
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(name, value)
    with moto.mock_aws():
        client = boto3.client("route53", region_name="us-east-1")
        zone_id = client.create_hosted_zone(Name=ZONE, CallerReference="unit")["HostedZone"]["Id"]
        changes = [{"Action": "CREATE", "ResourceRecordSet": {"Name": f"h{i:03d}.ofm.social.", "Type": "A", "TTL": 300,
                                                              "ResourceRecords": [{"Value": f"10.0.{i // 250}.{i % 250 + 1}"}]}} for i in range(320)]
        changes += [{"Action": "CREATE", "ResourceRecordSet": {"Name": "app.ofm.social.", "Type": "CNAME", "TTL": 60, "SetIdentifier": color,
                                                               "Weight": weight, "ResourceRecords": [{"Value": f"{color}.ofm.social."}]}}
                    for color, weight in (("blue", 90), ("green", 10))]
        changes.append({"Action": "CREATE", "ResourceRecordSet": {"Name": "cdn.ofm.social.", "Type": "A", "AliasTarget": {
            "HostedZoneId": "Z2FDTNDATAQYW2", "DNSName": "d1.cloudfront.net.", "EvaluateTargetHealth": False}}})
        client.change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={"Changes": changes})
        yield client, zone_id


def r53_params() -> dict[str, Any]:
    return {"backend": "route53", "zone": "ofm.social", "aws_retries": 2}


def test_route53_reads_every_page_and_writes_one_batch(route53):
    client, zone_id = route53
    dns = DnsClient.from_params(r53_params())
    current = dns.snapshot()
    assert len([k for k in current if k.startswith("h")]) == 320
    assert dns.backend.round_trips >= 3  # the zone's id, then two pages at least
    assert current["app.ofm.social. CNAME blue"].weight == 90
    assert dict(current["cdn.ofm.social. A"].alias)["dns_name"] == "d1.cloudfront.net."
    wanted = {"app.ofm.social. CNAME blue": RecordSet("app.ofm.social.", "CNAME", 60, ("blue.ofm.social.",), "blue", 0),
              "app.ofm.social. CNAME green": RecordSet("app.ofm.social.", "CNAME", 60, ("green.ofm.social.",), "green", 100),
              "h000.ofm.social. A": None}
    trips = dns.round_trips
    dns.write(dns.plan(dns.read(), wanted))
    assert dns.round_trips == trips + 3  # the read (two pages; the zone's id is known now), then ONE change batch
    assert dns.backend.wait_insync(timeout=5) == "INSYNC"
    records = client.list_resource_record_sets(HostedZoneId=zone_id, StartRecordName="app.ofm.social.", StartRecordType="CNAME")["ResourceRecordSets"]
    assert {r["SetIdentifier"]: r["Weight"] for r in records if r["Name"] == "app.ofm.social."} == {"blue": 0, "green": 100}


def test_kind_restores_the_zone_with_absence_and_nothing_in_check_mode(route53):
    client, zone_id = route53
    params = {"dns": {**r53_params(), "names": None, "types": None}}
    snapshot = dns_kind.KIND.build(params).read()
    client.change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={"Changes": [
        {"Action": "UPSERT", "ResourceRecordSet": {"Name": "app.ofm.social.", "Type": "CNAME", "TTL": 60, "SetIdentifier": "blue", "Weight": 1,
                                                   "ResourceRecords": [{"Value": "blue.ofm.social."}]}},
        {"Action": "CREATE", "ResourceRecordSet": {"Name": "late.ofm.social.", "Type": "TXT", "TTL": 60, "ResourceRecords": [{"Value": '"late"'}]}}]})
    applier = dns_kind.KIND.build(params)
    restore_plan = plan.make_plan({"dns": applier}, {"dns": copy.deepcopy(snapshot)})
    assert restore_plan.kind("dns").counts()["remove"] == 1 and restore_plan.kind("dns").counts()["change"] == 1
    assert plan.restore(restore_plan, {"dns": applier}, check_mode=True).result("dns").status == plan.PLANNED
    assert "late.ofm.social. TXT" in dns_kind.KIND.build(params).read()[ZONE]
    report = plan.restore(restore_plan, {"dns": applier})
    assert report.result("dns").status == plan.RESTORED
    assert dns_kind.KIND.build(params).read() == snapshot
    assert not plan.make_plan({"dns": dns_kind.KIND.build(params)}, {"dns": snapshot}).changed


def test_kind_scope_names_the_zone_and_no_secret():
    scope = dns_kind.scope({"dns": {"backend": "powerdns", "zone": "OFM.social", "api_url": "http://ns1:8081/", "api_key": API_KEY}})
    assert scope == "powerdns http://ns1:8081 zone ofm.social." and API_KEY not in scope
    with pytest.raises(InputError) as missing:
        dns_kind.build({})
    assert missing.value.option == "dns"


# --- docs -------------------------------------------------------------------------------------------

def test_doc_fragment_matches_dns_spec():
    assert mismatches(DNS_SPEC, doc_options(dns_fragment.ModuleDocFragment.DOCUMENTATION)) == []


@pytest.mark.parametrize("module", [dns_record, dns_record_info])
def test_module_docs_match_their_argument_spec(module: Any):
    assert mismatches(module.ARGUMENT_SPEC, documented_options(module, dns_fragment, aws_fragment)) == []


# --- waiting for the authoritative answers ----------------------------------------------------------

class TinyAuthority:
    """A UDP DNS server from a thread that answers from ``records`` ({(name, type): (ttl, [values])}), which tests change."""

    def __init__(self) -> None:
        import socket  # pylint: disable=import-outside-toplevel
        import threading  # pylint: disable=import-outside-toplevel
        self.records: dict[tuple[str, str], tuple[int, list[str]]] = {}
        self.queries = 0
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.running = True
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        import dns.message  # pylint: disable=import-outside-toplevel
        import dns.rdatatype  # pylint: disable=import-outside-toplevel
        import dns.rrset  # pylint: disable=import-outside-toplevel
        while self.running:
            try:
                wire, peer = self.sock.recvfrom(4096)
            except OSError:
                continue
            query = dns.message.from_wire(wire)
            self.queries += 1
            question = query.question[0]
            response = dns.message.make_response(query)
            held = self.records.get((question.name.to_text(), dns.rdatatype.to_text(question.rdtype)))
            if held:
                response.answer.append(dns.rrset.from_text_list(question.name, held[0], "IN", question.rdtype, held[1]))
            self.sock.sendto(response.to_wire(), peer)

    def close(self) -> None:
        self.running = False
        self.thread.join(2)
        self.sock.close()


def test_wait_polls_until_every_server_answers_the_written_values():
    from ansible_collections.ofm.rollback.plugins.module_utils.dns.wait import wait_for_answers  # pylint: disable=import-outside-toplevel
    from ansible_collections.ofm.rollback.plugins.module_utils.errors import DeadlineExceeded  # pylint: disable=import-outside-toplevel
    from ansible_collections.ofm.rollback.plugins.module_utils.polling import Poller  # pylint: disable=import-outside-toplevel
    server = TinyAuthority()
    try:
        server.records[("api.ofm.social.", "A")] = (300, ["192.0.2.1"])
        server.records[("old.ofm.social.", "TXT")] = (300, ['"x"'])
        changes = {"api.ofm.social. A": rs("api.ofm.social.", "A", 60, "192.0.2.9"), "old.ofm.social. TXT": None,
                   "app.ofm.social. CNAME blue": RecordSet("app.ofm.social.", "CNAME", 60, ("b.",), "blue", 1)}
        polls = []

        def sleep(seconds: float) -> None:
            polls.append(seconds)
            if len(polls) == 2:  # the servers catch up after the second round
                server.records[("api.ofm.social.", "A")] = (60, ["192.0.2.9"])
                del server.records[("old.ofm.social.", "TXT")]

        waited = wait_for_answers(Zone(ZONE), changes, [("127.0.0.1", server.port)], timeout=30,
                                  poller=Poller(timeout=30, interval=0.5, sleep=sleep))
        assert waited["polls"] == 3 and waited["record_sets"] == 2  # the weighted set is not asked for
        server.records[("api.ofm.social.", "A")] = (300, ["192.0.2.1"])
        with pytest.raises(DeadlineExceeded) as late:
            wait_for_answers(Zone(ZONE), changes, [("127.0.0.1", server.port)], timeout=0.3, interval=0.1)
        assert late.value.details["pending"][0]["answer"] == ["192.0.2.1"]
    finally:
        server.close()


def test_kind_is_registered_and_its_doc_is_the_actions_dns_option():
    from ansible_collections.ofm.rollback.plugins.doc_fragments import config_external  # pylint: disable=import-outside-toplevel
    from ansible_collections.ofm.rollback.plugins.module_utils.config import kinds  # pylint: disable=import-outside-toplevel
    assert kinds.EXTERNAL["dns"] is dns_kind.KIND
    assert mismatches(dns_kind.OPTIONS, doc_options(config_external.ModuleDocFragment.DOCUMENTATION)["dns"]["suboptions"]) == []
