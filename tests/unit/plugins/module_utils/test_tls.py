# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""TLS endpoint checks against a real local TLS server that presents, by SNI, the certificates the tests make (tests/unit/tls_pki.py):
an own CA, and leaves that are valid, expired, for another host, from an untrusted CA, and expiring in 3 days."""
from __future__ import annotations

import socket
import threading
from pathlib import Path

import pytest
from tls_pki import SniTlsServer
from unithelpers import free_port

from ansible_collections.ofm.rollback.plugins.module_utils.errors import InputError
from ansible_collections.ofm.rollback.plugins.module_utils.tls import Endpoint, TlsChecker, name_matches, parse_endpoints


@pytest.fixture(name="pki")
def fixture_pki(tls_pki: dict[str, Path]) -> dict[str, Path]:
    return tls_pki


@pytest.fixture(name="server")
def fixture_server(tls_server: SniTlsServer) -> SniTlsServer:
    return tls_server


def checker(pki: dict[str, Path], **kwargs) -> TlsChecker:
    return TlsChecker(ca_path=str(pki["bundle"]), timeout=5, retry_delay=0, **kwargs)


def kinds(result: dict) -> set[str]:
    return {problem["kind"] for problem in result["problems"]}


def at(server: SniTlsServer, name: str, **kwargs) -> Endpoint:
    return Endpoint(host="127.0.0.1", port=server.port, server_name=name, **kwargs)


def test_a_valid_certificate_passes_every_check(pki, server):
    result = checker(pki).check(at(server, "valid.ofm.test"))
    assert result["ok"] and result["problems"] == [] and result["error"] is None and result["attempts"] == 1
    assert result["verification"] == {"verified": True, "verify_code": None, "verify_message": None, "hostname_checked": True}
    assert result["hostname_match"] is True and result["expires_soon"] is False
    cert = result["certificate"]
    assert cert["subject"] == "CN=valid.ofm.test" and cert["issuer"] == "CN=OFM Test Root CA" and cert["dns_names"] == ["valid.ofm.test"]
    assert cert["not_after"].endswith("+00:00") and cert["not_before"].endswith("+00:00") and cert["days_left"] in (89, 90)
    assert result["tls_version"] in ("TLSv1.2", "TLSv1.3") and result["cipher"]
    assert result["endpoint"] == f"127.0.0.1:{server.port} (valid.ofm.test)"


def test_an_expired_certificate_fails_as_expired_only(pki, server):
    result = checker(pki).check(at(server, "expired.ofm.test"))
    assert not result["ok"] and kinds(result) == {"expired"}
    assert result["verification"]["verify_code"] == 10 and "expired" in result["verification"]["verify_message"]
    assert result["certificate"]["days_left"] in (-10, -11) and "day(s) ago" in result["problems"][0]["message"]


def test_a_certificate_for_another_host_fails_as_hostname_only(pki, server):
    result = checker(pki).check(at(server, "wronghost.ofm.test"))
    assert not result["ok"] and kinds(result) == {"hostname"} and result["hostname_match"] is False
    assert result["verification"]["verify_code"] == 62
    assert "not valid for wronghost.ofm.test (it holds other.example.net)" in result["problems"][0]["message"]


def test_a_certificate_from_an_unknown_ca_fails_as_untrusted_only(pki, server):
    result = checker(pki).check(at(server, "untrusted.ofm.test"))
    assert not result["ok"] and kinds(result) == {"untrusted"} and result["hostname_match"] is True
    assert result["verification"]["verify_code"] in (19, 20) and result["certificate"]["issuer"] == "CN=Rogue CA"
    assert str(pki["bundle"]) in result["problems"][0]["message"] and "self-signed certificate in certificate chain" in result["problems"][0]["message"]


def test_the_system_trust_store_does_not_trust_the_test_ca(server):
    result = TlsChecker(timeout=5).check(at(server, "valid.ofm.test"))
    assert not result["ok"] and kinds(result) == {"untrusted"} and "system trust store" in result["problems"][0]["message"]


def test_a_certificate_expiring_in_three_days_warns_by_default_and_fails_when_asked(pki, server):
    result = checker(pki).check(at(server, "soon.ofm.test"))
    assert result["ok"] and kinds(result) == {"soon"} and result["expires_soon"] is True and result["certificate"]["days_left"] == 3
    assert not checker(pki, fail_on=["soon"]).check(at(server, "soon.ofm.test"))["ok"]
    assert checker(pki, min_days_valid=3).check(at(server, "soon.ofm.test"))["problems"] == []


def test_sni_selects_the_certificate(pki, server):
    results = checker(pki).check_all([at(server, "valid.ofm.test"), at(server, "expired.ofm.test"), at(server, "unknown.ofm.test")])
    subjects = [result["certificate"]["subject"] for result in results["endpoints"]]
    assert subjects == ["CN=valid.ofm.test", "CN=expired.ofm.test", "CN=other.example.net"]  # unknown name: the server's default
    assert {"valid.ofm.test", "expired.ofm.test", "unknown.ofm.test"} <= set(server.names_seen)


def test_several_endpoints_in_one_call_keep_their_order_and_name_the_failed_ones(pki, server):
    names = ["valid.ofm.test", "expired.ofm.test", "wronghost.ofm.test", "untrusted.ofm.test", "soon.ofm.test"]
    results = checker(pki).check_all([at(server, name) for name in names])
    assert [result["server_name"] for result in results["endpoints"]] == names
    assert [result["ok"] for result in results["endpoints"]] == [True, False, False, False, True]
    assert results["failed_endpoints"] == [f"127.0.0.1:{server.port} ({name})" for name in names[1:4]]


def test_expected_names_are_matched_against_the_sans_with_wildcards(pki, server):
    good = checker(pki).check(at(server, "wild.ofm.test", expected_names=("a.wild.ofm.test", "wild.ofm.test")))
    assert good["ok"] and good["verification"]["hostname_checked"] is False and good["checked_names"] == ["a.wild.ofm.test", "wild.ofm.test"]
    bad = checker(pki).check(at(server, "wild.ofm.test", expected_names=("a.b.wild.ofm.test", "wild.ofm.test")))
    assert not bad["ok"] and kinds(bad) == {"hostname"} and "not valid for a.b.wild.ofm.test (" in bad["problems"][0]["message"]


def test_an_unreachable_port_is_tried_twice_and_reported(pki):
    sleeps: list[float] = []
    port = free_port()
    results = TlsChecker(ca_path=str(pki["bundle"]), timeout=2, retry_delay=0.25, sleep=sleeps.append).check_all([Endpoint("127.0.0.1", port)])
    result = results["endpoints"][0]
    assert not result["ok"] and kinds(result) == {"unreachable"} and result["attempts"] == 2 and sleeps == [0.25]
    assert result["error"] == f"127.0.0.1:{port} is unreachable: connection refused (nothing listens on that port)"
    assert result["certificate"] is None and results["failed_endpoints"] == [f"127.0.0.1:{port}"]
    assert TlsChecker(timeout=2, retry_delay=0, fail_on=["expired"]).check(Endpoint("127.0.0.1", port))["ok"]


def test_a_server_that_never_answers_times_out(pki):
    with socket.create_server(("127.0.0.1", 0)) as silent:  # accepts TCP (backlog) but never speaks TLS
        result = TlsChecker(ca_path=str(pki["bundle"]), timeout=0.3, retry_delay=0).check(Endpoint("127.0.0.1", silent.getsockname()[1]))
    assert not result["ok"] and result["attempts"] == 2 and "no answer within timeout 0.3 s" in result["error"]


def test_a_server_that_refuses_the_handshake_is_reported_without_retry(pki):
    with socket.create_server(("127.0.0.1", 0)) as plain:
        port = plain.getsockname()[1]

        def answer_plain_text() -> None:
            conn, _address = plain.accept()
            with conn:
                conn.recv(1024)
                conn.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n")
        thread = threading.Thread(target=answer_plain_text, daemon=True)
        thread.start()
        result = TlsChecker(ca_path=str(pki["bundle"]), timeout=3, retry_delay=0).check(Endpoint("127.0.0.1", port))
        thread.join(5)
    assert not result["ok"] and kinds(result) == {"handshake"} and result["attempts"] == 1
    assert result["error"].startswith(f"TLS handshake with 127.0.0.1:{port} failed: ")


@pytest.mark.parametrize("name, dns, ips, expected", [
    ("api.ofm.social", ["*.ofm.social"], [], True),
    ("ofm.social", ["*.ofm.social"], [], False),
    ("a.b.ofm.social", ["*.ofm.social"], [], False),
    ("API.ofm.social.", ["api.ofm.social"], [], True),
    ("x.com", ["*.com"], [], False),
    ("10.0.0.1", ["10.0.0.1"], [], False),
    ("10.0.0.1", [], ["10.0.0.1"], True),
    ("::1", [], ["0:0:0:0:0:0:0:1"], True),
])
def test_name_matching(name, dns, ips, expected):
    assert name_matches(name, dns, ips) is expected


@pytest.mark.parametrize("raw, option", [
    ([], "endpoints"),
    ([{"host": " "}], "endpoints[0].host"),
    ([{"host": "a"}, {"host": "b", "port": 0}], "endpoints[1].port"),
    ([{"host": "a", "port": 70000}], "endpoints[0].port"),
    ([{"host": "a", "expected_names": [""]}], "endpoints[0].expected_names"),
])
def test_bad_endpoints_name_the_option(raw, option):
    with pytest.raises(InputError) as caught:
        parse_endpoints(raw)
    assert caught.value.option == option and "Accepted" in str(caught.value)


@pytest.mark.parametrize("kwargs, option", [
    ({"min_days_valid": -1}, "min_days_valid"),
    ({"ca_path": "/nonexistent/ca.pem"}, "ca_path"),
    ({"timeout": 0}, "timeout"),
    ({"fail_on": ["expired", "late"]}, "fail_on"),
])
def test_bad_options_name_the_option(kwargs, option):
    with pytest.raises(InputError) as caught:
        TlsChecker(**kwargs)
    assert caught.value.option == option and "Accepted" in str(caught.value)


def test_a_ca_path_that_is_not_pem_is_refused(tmp_path):
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n")
    with pytest.raises(InputError) as caught:
        TlsChecker(ca_path=str(junk))
    assert caught.value.option == "ca_path"
