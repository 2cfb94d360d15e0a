"""dns_record, dns_record_info and the snapshot kind ``dns`` against the lab's real PowerDNS (HTTP API and RFC 2136 with the
lab's TSIG key), moto's Route53 (a weighted pair), and a PowerDNS of the tests' own for faults (stopped, frozen with SIGSTOP)
and for counting the UPDATE messages received.

Every test works in a zone of its own (created and deleted here), so ofm.social and the lab's processes are left alone.
"""
from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any, Iterator

import pytest
from dnslab import (PrivatePowerDns, create_zone, delete_zone, lab_api_url, pdns_call, route53_delete, route53_state, route53_zone,
                    statistic, unique_zone, zone_state)
from labtest import credentials, run_module

from ansible_collections.ofm.rollback.plugins.module_utils.config import plan
from ansible_collections.ofm.rollback.plugins.module_utils.dns.kind import KIND
from lab.config import HOST, LabConfig

WRONG_SECRET = base64.b64encode(b"w" * 32).decode()


@pytest.fixture(name="pdns_zone")
def fixture_pdns_zone(lab: LabConfig) -> Iterator[str]:
    key = credentials(lab)["powerdns_api_key"]
    zone = unique_zone()
    create_zone(lab_api_url(lab), key, zone)
    yield zone
    delete_zone(lab_api_url(lab), key, zone)


@pytest.fixture(name="r53_zone")
def fixture_r53_zone(lab: LabConfig) -> Iterator[tuple[str, str]]:
    zone = unique_zone("dns-r53")
    zone_id = route53_zone(lab, zone)
    yield zone, zone_id
    route53_delete(lab, zone_id)


def connection(lab: LabConfig, backend: str, zone: str, **extra: Any) -> dict[str, Any]:
    creds = credentials(lab)
    if backend == "powerdns":
        return {"backend": "powerdns", "zone": zone, "api_url": lab_api_url(lab), "api_key": creds["powerdns_api_key"], **extra}
    if backend == "rfc2136":
        return {"backend": "rfc2136", "zone": zone, "server": f"{HOST}:{lab.ports['powerdns_dns']}", "tsig_key_name": "ofm-lab-tsig",
                "tsig_key_secret": creds["powerdns_tsig_secret"], **extra}
    return {"backend": "route53", "zone": zone, **aws_options(lab), **extra}


def aws_options(lab: LabConfig) -> dict[str, Any]:
    creds = credentials(lab)
    return {"aws_access_key": creds["aws_access_key_id"], "aws_secret_key": creds["aws_secret_access_key"],
            "aws_endpoint_url": f"http://{HOST}:{lab.ports['aws']}", "aws_region": "us-east-1"}


def kind_params(lab: LabConfig, backend: str, zone: str, **extra: Any) -> dict[str, Any]:
    own = connection(lab, backend, zone, **extra)
    shared = {key: own.pop(key) for key in list(own) if key.startswith("aws_")}
    return {"dns": own, **shared}


def secrets_of(lab: LabConfig) -> list[str]:
    creds = credentials(lab)
    return [creds["powerdns_api_key"], creds["powerdns_tsig_secret"], creds["aws_secret_access_key"]]


def assert_no_secret(lab: LabConfig, text: str) -> None:
    for secret in secrets_of(lab):
        assert secret not in text


def pdns(lab: LabConfig, method: str, zone: str, rrsets: list[dict[str, Any]]) -> None:
    pdns_call(lab_api_url(lab), credentials(lab)["powerdns_api_key"], method, f"/zones/{zone}", {"rrsets": rrsets})


def state(lab: LabConfig, zone: str) -> list[tuple]:
    return zone_state(lab_api_url(lab), credentials(lab)["powerdns_api_key"], zone)


def rrset(name: str, rtype: str, ttl: int, *contents: str) -> dict[str, Any]:
    return {"name": name, "type": rtype, "ttl": ttl, "changetype": "REPLACE", "records": [{"content": c, "disabled": False} for c in contents]}


@pytest.mark.parametrize("backend", ["powerdns", "rfc2136"])
def test_kind_snapshot_change_restore_is_equal_and_idempotent(lab: LabConfig, pdns_zone: str, backend: str):
    zone = pdns_zone
    snapshot = KIND.build(kind_params(lab, backend, zone)).read()
    assert f"api.{zone} A" in snapshot[zone] and f"{zone} SOA" not in snapshot[zone] and f"{zone} NS" not in snapshot[zone]
    seeded = state(lab, zone)

    pdns(lab, "PATCH", zone, [rrset(f"api.{zone}", "A", 60, "198.51.100.1"), rrset(f"new.{zone}", "A", 300, "198.51.100.7"),
                              {"name": f"status.{zone}", "type": "CNAME", "changetype": "DELETE"},
                              rrset(f"_verify.{zone}", "TXT", 300, '"changed"')])
    changed = state(lab, zone)

    applier = KIND.build(kind_params(lab, backend, zone))
    restore_plan = plan.make_plan({"dns": applier}, {"dns": snapshot})
    counts = restore_plan.kind("dns").counts()
    assert (counts["add"], counts["change"], counts["remove"]) == (1, 2, 1)
    checked = plan.restore(restore_plan, {"dns": applier}, check_mode=True)
    assert checked.result("dns").status == plan.PLANNED and state(lab, zone) == changed
    assert applier.round_trips == 1

    report = plan.restore(restore_plan, {"dns": applier})
    assert report.result("dns").status == plan.RESTORED, report.as_dict()
    assert applier.round_trips == 2  # one read, one PATCH / one UPDATE for the whole zone
    assert KIND.build(kind_params(lab, backend, zone)).read() == snapshot
    restored = state(lab, zone)
    assert [r for r in restored if r[1] != "SOA"] == [r for r in seeded if r[1] != "SOA"]

    again = KIND.build(kind_params(lab, backend, zone))
    second = plan.make_plan({"dns": again}, {"dns": snapshot})
    assert not second.changed
    assert plan.restore(second, {"dns": again}).result("dns").status == plan.UNCHANGED_KIND
    assert again.round_trips == 1


def test_kind_names_filter_restores_only_its_names(lab: LabConfig, pdns_zone: str):
    zone = pdns_zone
    params = kind_params(lab, "powerdns", zone, names=["api"], types=["A"])
    snapshot = KIND.build(params).read()
    assert list(snapshot[zone]) == [f"api.{zone} A"]
    pdns(lab, "PATCH", zone, [rrset(f"api.{zone}", "A", 60, "198.51.100.1"), rrset(f"api.{zone}", "AAAA", 60, "2001:db8::99")])
    applier = KIND.build(params)
    report = plan.restore(plan.make_plan({"dns": applier}, {"dns": snapshot}), {"dns": applier})
    assert report.result("dns").status == plan.RESTORED
    now = {(r[0], r[1]): r for r in state(lab, zone)}
    assert now[(f"api.{zone}", "A")][3] == ("192.0.2.10", "192.0.2.11")
    assert now[(f"api.{zone}", "AAAA")][3] == ("2001:db8::99",)  # outside the filter: left as it is


def test_kind_route53_weighted_pair_restored_in_one_batch(lab: LabConfig, r53_zone: tuple[str, str]):
    zone, zone_id = r53_zone
    params = kind_params(lab, "route53", zone)
    snapshot = KIND.build(params).read()
    assert snapshot[zone][f"app.{zone} CNAME blue"]["weight"] == 90
    before = route53_state(lab, zone_id)

    from lab.components import aws  # pylint: disable=import-outside-toplevel
    aws.client(lab, "route53").change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={"Changes": [
        {"Action": "UPSERT", "ResourceRecordSet": {"Name": f"app.{zone}", "Type": "CNAME", "TTL": 60, "SetIdentifier": "blue", "Weight": 0,
                                                   "ResourceRecords": [{"Value": f"blue.app.{zone}"}]}},
        {"Action": "UPSERT", "ResourceRecordSet": {"Name": f"app.{zone}", "Type": "CNAME", "TTL": 60, "SetIdentifier": "red", "Weight": 5,
                                                   "ResourceRecords": [{"Value": f"red.app.{zone}"}]}},
        {"Action": "DELETE", "ResourceRecordSet": {"Name": f"api.{zone}", "Type": "A", "TTL": 300, "ResourceRecords": [{"Value": "192.0.2.10"}]}}]})

    applier = KIND.build(params)
    restore_plan = plan.make_plan({"dns": applier}, {"dns": snapshot})
    assert plan.restore(restore_plan, {"dns": applier}, check_mode=True).result("dns").status == plan.PLANNED
    assert route53_state(lab, zone_id) != before
    report = plan.restore(restore_plan, {"dns": applier})
    assert report.result("dns").status == plan.RESTORED, report.as_dict()
    assert route53_state(lab, zone_id) == before
    again = KIND.build(params)
    assert not plan.make_plan({"dns": again}, {"dns": snapshot}).changed


@pytest.mark.parametrize("backend", ["powerdns", "rfc2136"])
def test_dns_record_change_diff_idempotent_check_mode(lab: LabConfig, pdns_zone: str, backend: str, tmp_path: Path):
    zone = pdns_zone
    args = {**connection(lab, backend, zone), "records": [
        {"name": "api", "type": "A", "ttl": 60, "values": ["198.51.100.10", "198.51.100.11"]},
        {"name": "www", "type": "CNAME", "values": ["api"]},
        {"name": "status", "type": "CNAME", "values": ["ofm.statuspage.io."]}]}
    before = state(lab, zone)

    checked = run_module("dns_record", args, tmp_path, check=True, diff=True)
    assert not checked.failed and checked.result["changed"], checked.output
    assert state(lab, zone) == before  # the SOA serial included: nothing was sent
    changes = {c["key"]: c for c in checked.result["changes"]}
    assert changes[f"api.{zone} A"]["before"] == {"ttl": 300, "values": ["192.0.2.10", "192.0.2.11"]}
    assert changes[f"api.{zone} A"]["values"] == ["198.51.100.10", "198.51.100.11"] and changes[f"api.{zone} A"]["ttl"] == 60
    assert changes[f"www.{zone} CNAME"]["action"] == "add" and changes[f"www.{zone} CNAME"]["values"] == [f"api.{zone}"]
    assert set(changes) == {f"api.{zone} A", f"www.{zone} CNAME"}
    # the --diff output: before and after of what changes, nothing of what does not
    diff_text = checked.stdout.split("--- before", 1)[1].split("localhost | ", 1)[0]
    assert '"192.0.2.10"' in diff_text and '"198.51.100.10"' in diff_text and f"www.{zone} CNAME" in diff_text
    assert f"status.{zone} CNAME" not in diff_text

    done = run_module("dns_record", args, tmp_path, diff=True)
    assert not done.failed and done.result["changed"], done.output
    assert done.result["changes"] == checked.result["changes"]
    now = {(r[0], r[1]): r for r in state(lab, zone)}
    assert now[(f"api.{zone}", "A")][2:] == (60, ("198.51.100.10", "198.51.100.11"))
    assert now[(f"www.{zone}", "CNAME")][3] == (f"api.{zone}",)

    second = run_module("dns_record", args, tmp_path)
    assert not second.failed and not second.result["changed"], second.output

    absent = run_module("dns_record", {**connection(lab, backend, zone), "state": "absent", "records": [{"name": "www", "type": "CNAME"}]},
                        tmp_path)
    assert absent.result["changed"] and (f"www.{zone}", "CNAME") not in {(r[0], r[1]) for r in state(lab, zone)}
    for run in (checked, done, second, absent):
        assert_no_secret(lab, run.output)


def test_dns_record_exact_false_adds_and_removes_single_values(lab: LabConfig, pdns_zone: str, tmp_path: Path):
    zone = pdns_zone
    base = connection(lab, "powerdns", zone)
    added = run_module("dns_record", {**base, "exact": False, "records": [{"name": "api", "type": "A", "values": ["192.0.2.12"]}]}, tmp_path)
    assert added.result["record_sets"][0]["values"] == ["192.0.2.10", "192.0.2.11", "192.0.2.12"]
    removed = run_module("dns_record", {**base, "exact": False, "state": "absent",
                                        "records": [{"name": "api", "type": "A", "values": ["192.0.2.10"]}]}, tmp_path)
    assert removed.result["changed"]
    now = {(r[0], r[1]): r for r in state(lab, zone)}
    assert now[(f"api.{zone}", "A")][2:] == (300, ("192.0.2.11", "192.0.2.12"))


def test_dns_record_info_reports_present_and_absent(lab: LabConfig, pdns_zone: str, tmp_path: Path):
    zone = pdns_zone
    for backend in ("powerdns", "rfc2136"):
        run = run_module("dns_record_info", {**connection(lab, backend, zone), "records": [
            {"name": "api", "type": "AAAA"}, {"name": "ghost", "type": "A"}, {"name": "api"}]}, tmp_path)
        assert not run.failed, run.output
        shown = {(r["name"], r["type"]): r for r in run.result["record_sets"]}
        assert shown[(f"api.{zone}", "AAAA")]["values"] == ["2001:db8::10"]
        assert shown[(f"ghost.{zone}", "A")]["state"] == "absent"
        assert shown[(f"api.{zone}", "A")]["state"] == "present"
        whole = run_module("dns_record_info", connection(lab, backend, zone), tmp_path)
        assert {r["type"] for r in whole.result["record_sets"]} >= {"A", "AAAA", "CNAME", "TXT", "MX"}
        assert "SOA" not in {r["type"] for r in whole.result["record_sets"]}


def test_dns_record_wait_for_the_authoritative_answer(lab: LabConfig, pdns_zone: str, tmp_path: Path):
    zone = pdns_zone
    run = run_module("dns_record", {**connection(lab, "powerdns", zone), "wait": True, "wait_timeout": 30,
                                    "wait_servers": [f"{HOST}:{lab.ports['powerdns_dns']}"],
                                    "records": [{"name": "api", "type": "A", "ttl": 120, "values": ["198.51.100.20"]},
                                                {"name": "status", "type": "CNAME", "values": ["status.example.net."], "ttl": 60}]}, tmp_path)
    assert not run.failed, run.output
    assert run.result["wait"]["record_sets"] == 2 and run.result["wait"]["polls"] >= 1


@pytest.mark.parametrize("case, record, option, words", [
    ("outside", {"name": "api.example.net.", "type": "A", "values": ["192.0.2.1"]}, "records[0].name", "outside the zone"),
    ("cname beside data", {"name": "api", "type": "CNAME", "values": ["x.example.net."]}, "records", "CNAME cannot stand beside"),
    ("bad ttl", {"name": "api", "type": "A", "ttl": -5, "values": ["192.0.2.1"]}, "records[0].ttl", "TTL -5"),
    ("bad value", {"name": "api", "type": "A", "values": ["not-an-address"]}, "records[0].values", "not a valid A value"),
    ("no values", {"name": "api", "type": "A"}, "records[0].values", "needs values"),
])
def test_dns_record_bad_input_fails_before_any_change(lab: LabConfig, pdns_zone: str, tmp_path: Path, case: str, record: dict, option: str,
                                                      words: str):
    del case
    before = state(lab, pdns_zone)
    run = run_module("dns_record", {**connection(lab, "powerdns", pdns_zone), "records": [record]}, tmp_path)
    assert run.failed and run.result["error"]["option"] == option and words in run.result["msg"], run.output
    assert run.result["error"]["accepted"]
    assert state(lab, pdns_zone) == before


def test_unknown_zone_and_type_name_the_option_and_the_accepted_values(lab: LabConfig, pdns_zone: str, tmp_path: Path):
    run = run_module("dns_record", {**connection(lab, "powerdns", "nowhere.test"), "records": [{"name": "a", "type": "A", "values": ["192.0.2.1"]}]},
                     tmp_path)
    assert run.failed and run.result["error"]["option"] == "zone" and pdns_zone in run.result["error"]["accepted"], run.output
    rfc = run_module("dns_record", {**connection(lab, "rfc2136", "nowhere.test"), "records": [{"name": "a", "type": "A", "values": ["192.0.2.1"]}]},
                     tmp_path)
    assert rfc.failed and rfc.result["error"]["option"] == "zone", rfc.output
    info = run_module("dns_record_info", {**connection(lab, "powerdns", pdns_zone), "records": [{"name": "api", "type": "BOGUS"}]}, tmp_path)
    assert info.failed and info.result["error"]["option"] == "records[0].type" and "TXT" in info.result["error"]["accepted"], info.output
    typed = run_module("dns_record", {**connection(lab, "powerdns", pdns_zone), "records": [{"name": "api", "type": "SOA", "values": ["x"]}]},
                       tmp_path)
    assert typed.failed and "records" in typed.result["msg"] and "TXT" in typed.result["msg"]


def test_route53_weight_out_of_range_and_weighted_change(lab: LabConfig, r53_zone: tuple[str, str], tmp_path: Path):
    zone, zone_id = r53_zone
    before = route53_state(lab, zone_id)
    bad = run_module("dns_record", {**connection(lab, "route53", zone), "records": [
        {"name": "app", "type": "CNAME", "set_identifier": "blue", "weight": 300, "values": [f"blue.app.{zone}"]}]}, tmp_path)
    assert bad.failed and bad.result["error"]["option"] == "records[0].weight", bad.output
    assert route53_state(lab, zone_id) == before
    args = {**connection(lab, "route53", zone), "wait": True, "wait_timeout": 30, "records": [
        {"name": "app", "type": "CNAME", "set_identifier": "blue", "weight": 100, "ttl": 60, "values": [f"blue.app.{zone}"]},
        {"name": "app", "type": "CNAME", "set_identifier": "green", "weight": 0, "ttl": 60, "values": [f"green.app.{zone}"]}]}
    done = run_module("dns_record", args, tmp_path, diff=True)
    assert not done.failed and done.result["changed"], done.output
    assert done.result["wait"]["route53_status"] == "INSYNC"
    weights = {r["SetIdentifier"]: r["Weight"] for r in route53_state(lab, zone_id) if "SetIdentifier" in r}
    assert weights == {"blue": 100, "green": 0}
    assert not run_module("dns_record", args, tmp_path).result["changed"]
    assert_no_secret(lab, done.output)


@pytest.mark.reliability("secret", procedure="dns_record", case="a PowerDNS API key and a TSIG key the server refuses",
                         expected="no secret in any output")
def test_refused_api_key_and_tsig_key_change_nothing_and_leak_nothing(lab: LabConfig, pdns_zone: str, tmp_path: Path, reliability):
    before = state(lab, pdns_zone)
    records = [{"name": "api", "type": "A", "values": ["198.51.100.66"]}]
    bad_key = run_module("dns_record", {**connection(lab, "powerdns", pdns_zone, api_key="not-the-key-1234"), "records": records}, tmp_path)
    assert bad_key.failed and bad_key.result["error"]["type"] == "AuthenticationError" and "api_key" in bad_key.result["msg"], bad_key.output
    assert "not-the-key-1234" not in bad_key.output
    bad_tsig = run_module("dns_record", {**connection(lab, "rfc2136", pdns_zone, tsig_key_secret=WRONG_SECRET), "records": records}, tmp_path)
    assert bad_tsig.failed and bad_tsig.result["error"]["type"] == "AuthenticationError", bad_tsig.output
    assert "refused the TSIG key 'ofm-lab-tsig'" in bad_tsig.result["msg"] and "nothing was changed" in bad_tsig.result["msg"]
    assert WRONG_SECRET not in bad_tsig.output
    assert state(lab, pdns_zone) == before
    for run in (bad_key, bad_tsig):
        assert_no_secret(lab, run.output)
    reliability.observed("both refused (AuthenticationError naming the option), zone unchanged, neither key nor a lab secret in the output")


@pytest.fixture(name="private_pdns", scope="module")
def fixture_private_pdns(lab: LabConfig, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivatePowerDns]:
    creds = credentials(lab)
    server = PrivatePowerDns(tmp_path_factory.mktemp("pdns"), creds["powerdns_api_key"], creds["powerdns_tsig_secret"]).start()
    yield server
    server.stop()


def private_args(server: PrivatePowerDns, backend: str, zone: str, **extra: Any) -> dict[str, Any]:
    if backend == "powerdns":
        return {"backend": "powerdns", "zone": zone, "api_url": server.api_url, "api_key": server.api_key, **extra}
    return {"backend": "rfc2136", "zone": zone, "server": server.server, "tsig_key_name": "ofm-lab-tsig", "tsig_key_secret": server.tsig_secret,
            **extra}


def test_rfc2136_check_mode_sends_no_update_and_a_change_is_one_update(private_pdns: PrivatePowerDns, tmp_path: Path):
    zone = unique_zone()
    create_zone(private_pdns.api_url, private_pdns.api_key, zone)

    def updates() -> int:
        return statistic(private_pdns.api_url, private_pdns.api_key, "dnsupdate-queries")

    args = private_args(private_pdns, "rfc2136", zone, records=[
        {"name": "api", "type": "A", "values": ["198.51.100.1"]}, {"name": "status", "type": "CNAME", "values": ["api"]},
        {"name": "_verify", "type": "TXT", "values": ['"v2"']}, {"name": "@", "type": "MX", "values": ["20 mx2"]}])
    first = updates()
    checked = run_module("dns_record", args, tmp_path, check=True)
    assert checked.result["changed"] and len(checked.result["changes"]) == 4, checked.output
    assert updates() == first
    done = run_module("dns_record", args, tmp_path)
    assert done.result["changed"] and done.result["round_trips"] == 2, done.output
    assert updates() == first + 1
    assert not run_module("dns_record", args, tmp_path).result["changed"]
    assert updates() == first + 1
    delete_zone(private_pdns.api_url, private_pdns.api_key, zone)


@pytest.mark.parametrize("backend", ["powerdns", "rfc2136"])
@pytest.mark.reliability("fault", procedure="external", case="PowerDNS frozen (SIGSTOP)",
                         expected="timed out clearly; a re-run completes")
def test_frozen_server_is_a_clear_error_and_a_rerun_completes(private_pdns: PrivatePowerDns, backend: str, tmp_path: Path):
    zone = unique_zone()
    create_zone(private_pdns.api_url, private_pdns.api_key, zone)
    args = private_args(private_pdns, backend, zone, timeout=2, records=[{"name": "api", "type": "A", "values": ["198.51.100.5"]}])
    private_pdns.freeze()
    try:
        run = run_module("dns_record", args, tmp_path, timeout=120)
    finally:
        private_pdns.thaw()
    assert run.failed and run.result["error"]["type"] == "UnavailableError", run.output
    assert "no " in run.result["error"]["reason"] and run.result["error"]["reason"], run.output
    assert private_pdns.api_key not in run.output and private_pdns.tsig_secret not in run.output
    rerun = run_module("dns_record", args, tmp_path)
    assert not rerun.failed, rerun.output
    now = {(r[0], r[1]): r for r in zone_state(private_pdns.api_url, private_pdns.api_key, zone)}
    assert now[(f"api.{zone}", "A")][3] == ("198.51.100.5",)
    delete_zone(private_pdns.api_url, private_pdns.api_key, zone)


@pytest.mark.reliability("fault", procedure="external", case="PowerDNS frozen during the write",
                         expected="failed, naming what was not confirmed")
def test_frozen_during_the_write_reports_what_was_not_confirmed(private_pdns: PrivatePowerDns, tmp_path: Path):
    """The read answers, the UPDATE does not: the error says the update was sent and may have been applied, and names the
    record sets; a re-run after the server is back finds them done or does them."""
    zone = unique_zone()
    create_zone(private_pdns.api_url, private_pdns.api_key, zone)
    from ansible_collections.ofm.rollback.plugins.module_utils.dns.tasks import record_task  # pylint: disable=import-outside-toplevel
    from ansible_collections.ofm.rollback.plugins.module_utils.errors import UnavailableError  # pylint: disable=import-outside-toplevel
    from ansible_collections.ofm.rollback.plugins.module_utils.dns import rfc2136  # pylint: disable=import-outside-toplevel
    params = {**private_args(private_pdns, "rfc2136", zone, timeout=2.0), "port": 53, "tsig_algorithm": "hmac-sha256", "state": "present",
              "exact": True, "wait": False, "records": [{"name": "api", "type": "A", "values": ["198.51.100.9"]}]}
    real_write = rfc2136.Rfc2136Backend.write

    def frozen_write(self, changes):
        private_pdns.freeze()
        return real_write(self, changes)

    rfc2136.Rfc2136Backend.write = frozen_write
    try:
        with pytest.raises(UnavailableError) as failed:
            record_task(params, check_mode=False)
    finally:
        rfc2136.Rfc2136Backend.write = real_write
        private_pdns.thaw()
    assert failed.value.sent is True and "may have been applied" in str(failed.value)
    assert failed.value.details["not_written"] == [f"api.{zone} A"]
    again = record_task(params, check_mode=False)
    assert again["record_sets"][0]["values"] == ["198.51.100.9"]
    delete_zone(private_pdns.api_url, private_pdns.api_key, zone)


@pytest.mark.reliability("fault", procedure="external", case="PowerDNS stopped",
                         expected="failed clearly, nothing sent")
def test_stopped_server_is_a_clear_error_with_nothing_sent(lab: LabConfig, tmp_path: Path):
    server = PrivatePowerDns(tmp_path / "stopped", "k-" + "x" * 20, credentials(lab)["powerdns_tsig_secret"])
    args = {"backend": "powerdns", "zone": "ofm.social", "api_url": server.api_url, "api_key": server.api_key, "timeout": 2,
            "records": [{"name": "api", "type": "A", "values": ["198.51.100.5"]}]}
    run = run_module("dns_record", args, tmp_path)
    assert run.failed and run.result["error"]["type"] == "UnavailableError" and run.result["error"]["sent"] is False, run.output
    rfc = run_module("dns_record", {"backend": "rfc2136", "zone": "ofm.social", "server": server.server, "timeout": 2,
                                    "records": [{"name": "api", "type": "A", "values": ["198.51.100.5"]}]}, tmp_path)
    assert rfc.failed and rfc.result["error"]["type"] == "UnavailableError", rfc.output
    assert json.dumps(run.result).count(server.api_key) == 0
