# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""TLS endpoint checks against real local TLS servers whose certificates the tests make: an own CA, and leaves that are
valid, expired, for another host, from an untrusted CA, and expiring in 3 days, chosen by SNI on one server."""
from __future__ import annotations

import socket
import ssl
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from unithelpers import documented_options, free_port, mismatches, run_module

from ansible_collections.ofm.rollback.plugins.module_utils.errors import InputError
from ansible_collections.ofm.rollback.plugins.module_utils.tls import Endpoint, TlsChecker, name_matches, parse_endpoints
from ansible_collections.ofm.rollback.plugins.modules import tls_certificate_info

NOW = datetime.now(timezone.utc)
DAY = timedelta(days=1)


@dataclass
class Authority:
    name: x509.Name
    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def make_ca(common_name: str) -> Authority:
    key = ec.generate_private_key(ec.SECP256R1())
    name = _name(common_name)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(NOW - 30 * DAY).not_valid_after(NOW + 3650 * DAY)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, key_cert_sign=True, crl_sign=True, encipher_only=False, decipher_only=False),
                           critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))
    return Authority(name, key, cert)


def make_leaf(ca: Authority, directory: Path, label: str, names: list[str], not_before: datetime, not_after: datetime) -> tuple[Path, Path]:
    """A leaf signed by ``ca`` for ``names``; returns its PEM certificate (leaf then CA) and key files."""
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(_name(names[0])).issuer_name(ca.name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(not_before).not_valid_after(not_after)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name) for name in names]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()), critical=False)
            .sign(ca.key, hashes.SHA256()))
    cert_file, key_file = directory / f"{label}.crt", directory / f"{label}.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM) + ca.cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return cert_file, key_file


class SniTlsServer:
    """A TLS server on 127.0.0.1 that presents the certificate of the SNI name asked for (``default`` without a known name);
    each connection is handshaken in a thread of its own and then closed. ``names_seen`` records the SNI names received."""

    def __init__(self, certificates: dict[str, tuple[Path, Path]], default: str):
        self.contexts = {}
        for name, (cert_file, key_file) in certificates.items():
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(cert_file, key_file)
            self.contexts[name] = context
        self.context = self.contexts[default]
        self.context.sni_callback = self._select
        self.names_seen: list[str] = []
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _select(self, tls: ssl.SSLObject, server_name: str, _context: ssl.SSLContext) -> None:
        self.names_seen.append(server_name)
        if server_name in self.contexts:
            tls.context = self.contexts[server_name]

    def _serve(self) -> None:
        while True:
            try:
                conn, _address = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._handshake, args=(conn,), daemon=True).start()

    def _handshake(self, conn: socket.socket) -> None:
        conn.settimeout(5)
        try:
            with self.context.wrap_socket(conn, server_side=True):
                pass
        except OSError:  # the client refused the certificate and aborted the handshake
            conn.close()

    def close(self) -> None:
        self.listener.close()


@pytest.fixture(scope="module", name="pki")
def fixture_pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    directory = tmp_path_factory.mktemp("pki")
    ca, rogue = make_ca("OFM Test Root CA"), make_ca("Rogue CA")
    bundle = directory / "ca.pem"
    bundle.write_bytes(ca.cert.public_bytes(serialization.Encoding.PEM))
    return {
        "bundle": bundle,
        "valid.ofm.test": make_leaf(ca, directory, "valid", ["valid.ofm.test"], NOW - DAY, NOW + 90 * DAY),
        "expired.ofm.test": make_leaf(ca, directory, "expired", ["expired.ofm.test"], NOW - 100 * DAY, NOW - 10 * DAY),
        "wronghost.ofm.test": make_leaf(ca, directory, "other", ["other.example.net"], NOW - DAY, NOW + 90 * DAY),
        "untrusted.ofm.test": make_leaf(rogue, directory, "untrusted", ["untrusted.ofm.test"], NOW - DAY, NOW + 90 * DAY),
        "soon.ofm.test": make_leaf(ca, directory, "soon", ["soon.ofm.test"], NOW - 60 * DAY, NOW + 3 * DAY + timedelta(hours=1)),
        "wild.ofm.test": make_leaf(ca, directory, "wild", ["*.wild.ofm.test", "wild.ofm.test"], NOW - DAY, NOW + 90 * DAY),
    }


@pytest.fixture(scope="module", name="server")
def fixture_server(pki: dict[str, Path]) -> Iterator[SniTlsServer]:
    server = SniTlsServer({name: files for name, files in pki.items() if name != "bundle"}, default="wronghost.ofm.test")
    yield server
    server.close()


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


# --- the module ---------------------------------------------------------------------------------

@pytest.mark.usefixtures("module_runner")
class TestModule:
    """main() as a module process runs it and in process as the action plugin does (fixture module_runner)."""

    def test_fails_on_the_three_failures_and_reports_every_endpoint(self, pki, server):
        endpoints = [{"host": "127.0.0.1", "port": server.port, "server_name": name}
                     for name in ("valid.ofm.test", "expired.ofm.test", "wronghost.ofm.test", "untrusted.ofm.test", "soon.ofm.test")]
        failed, result, warnings = run_module(tls_certificate_info, {"endpoints": endpoints, "ca_path": str(pki["bundle"]), "timeout": 5},
                                              check_mode=True)
        assert failed and result["changed"] is False
        assert [entry["ok"] for entry in result["endpoints"]] == [True, False, False, False, True]
        assert len(result["failed_endpoints"]) == 3 and "2 of 5 TLS endpoint(s) ok" in result["msg"]
        assert warnings == [f"127.0.0.1:{server.port} (soon.ofm.test): " + result["endpoints"][4]["problems"][0]["message"]]

    def test_passes_when_every_endpoint_is_fine(self, pki, server):
        failed, result, _warnings = run_module(tls_certificate_info, {
            "endpoints": [{"host": "127.0.0.1", "port": server.port, "server_name": "valid.ofm.test"}], "ca_path": str(pki["bundle"])})
        assert not failed and result["failed_endpoints"] == [] and result["msg"] == "1 of 1 TLS endpoint(s) ok"
        assert result["endpoints"][0]["certificate"]["subject"] == "CN=valid.ofm.test"

    def test_bad_input_names_the_option(self, pki):
        failed, result, _warnings = run_module(tls_certificate_info, {"endpoints": [{"host": "a", "port": 0}], "ca_path": str(pki["bundle"])})
        assert failed and result["error"]["option"] == "endpoints[0].port" and "1 to 65535" in result["msg"]
        failed, result, _warnings = run_module(tls_certificate_info, {"endpoints": [{"host": "a"}], "min_days_valid": -3})
        assert failed and result["error"]["option"] == "min_days_valid"
        failed, result, _warnings = run_module(tls_certificate_info, {"endpoints": [{"host": "a"}], "fail_on": ["late"]})
        assert failed and "fail_on" in result["msg"]


def test_documentation_matches_the_argument_spec():
    assert mismatches(tls_certificate_info.ARGUMENT_SPEC, documented_options(tls_certificate_info)) == []
