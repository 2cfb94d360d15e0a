# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""TLS of the collection's HTTP client against real HTTPS servers with the lab's certificates (tests/unit/refused_certs.py):
an untrusted certificate, one for another host and an expired one are refused before any request is sent, with an error
that says what is wrong and which option fixes it; and the mapping of verification failures to those errors."""
from __future__ import annotations

import json
import socket
import ssl
import threading
from pathlib import Path
from typing import Any, Iterator

import pytest
from refused_certs import OTHER_CA, OTHER_HOST, Certs, HttpsStandIn, make_certs
from unithelpers import FakeClock, free_port

from ansible_collections.ofm.rollback.plugins.module_utils.errors import CertificateError, InputError
from ansible_collections.ofm.rollback.plugins.module_utils.http import HttpClient
from ansible_collections.ofm.rollback.plugins.module_utils.ops_api import OpsApiClient
from ansible_collections.ofm.rollback.plugins.module_utils.prometheus import PrometheusClient
from ansible_collections.ofm.rollback.plugins.module_utils.tls import TlsOptions, problem_kind, refusal, verification_failure

SECRET = "tls-unit-SECRET-token-5f1c"


@pytest.fixture(scope="module", name="certs")
def fixture_certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    return make_certs(tmp_path_factory.mktemp("certs"))


@pytest.fixture(name="served")
def fixture_served(certs: Certs, request: pytest.FixtureRequest) -> Iterator[HttpsStandIn]:
    with HttpsStandIn(certs.pairs[request.param]) as server:
        yield server


def client(url: str, **kwargs: Any) -> HttpClient:
    clock = FakeClock(1000.0)
    return HttpClient(url, system="Test API", sleep=clock.sleep, clock=lambda: clock.now, retries=3, read_timeout=5, **kwargs)


def refused(http: HttpClient, method: str = "GET", path: str = "/health") -> CertificateError:
    with pytest.raises(CertificateError) as caught:
        http.request(method, path, json={"token": SECRET} if method == "POST" else None)
    return caught.value


REFUSALS = [
    pytest.param("untrusted", "untrusted", "ca_path", ("not trusted by ca_path", f"CN={OTHER_CA}"), ("Set ca_path",),
                 marks=pytest.mark.reliability("tls", procedure="all", case="the server's certificate is signed by another CA",
                                               expected="refused: not trusted, set ca_path; nothing sent"), id="untrusted"),
    pytest.param("wrong_host", "hostname", "the URL", ("not valid for 127.0.0.1", f"it names {OTHER_HOST}"),
                 ("ca_path cannot fix",), marks=pytest.mark.reliability(
                     "tls", procedure="all", case="the server's certificate is for another host name",
                     expected="refused: not valid for this host, use a name it holds; nothing sent"), id="wrong-host"),
    pytest.param("expired", "expired", None, ("expired at", "day(s) ago"), ("must be renewed",),
                 marks=pytest.mark.reliability("tls", procedure="all", case="the server's certificate has expired",
                                               expected="refused: expired, renew it on the server; nothing sent"), id="expired"),
]


@pytest.mark.parametrize("served, problem, option, reason_parts, hint_parts", REFUSALS, indirect=["served"])
def test_a_refused_certificate_fails_at_once_saying_what_and_which_option(served, certs, reliability, problem, option, reason_parts,
                                                                          hint_parts):
    http = client(served.url(), ca_path=str(certs.ca_file), secrets=[SECRET])
    error = refused(http, "POST", "/change")
    assert (error.problem, error.option, error.sent, error.attempts) == (problem, option, False, 1)
    assert error.reason.startswith("TLS certificate verification failed: the server's certificate")
    assert all(part in error.reason for part in reason_parts), error.reason
    assert all(part in error.hint for part in hint_parts) and "validate_certs=false" in error.hint, error.hint
    assert error.fields()["problem"] == problem and error.fields()["option"] == option
    assert len(http.requests) == 1 and "status" not in http.requests[0]  # one attempt, never answered, not retried
    assert served.requests == []  # no HTTP request got through: nothing changed
    assert SECRET not in json.dumps(error.to_result())
    reliability.observed(f"refused: {error.problem}, option {error.option or 'none (server side)'}; 1 attempt, nothing sent")


@pytest.mark.parametrize("served", ["trusted"], indirect=True)
def test_the_lab_ca_through_ca_path_is_trusted_for_the_address_and_the_name(served, certs):
    assert client(served.url(), ca_path=str(certs.ca_file)).request("GET", "/health").status == 200
    assert client(served.url("localhost"), ca_path=str(certs.ca_file)).request("GET", "/health").status == 200
    assert served.requests == ["GET /health", "GET /health"]


@pytest.mark.parametrize("served", ["trusted"], indirect=True)
def test_without_ca_path_the_lab_certificate_is_untrusted_and_the_error_says_the_default_bundle(served):
    error = refused(client(served.url()))
    assert error.problem == "untrusted" and "the default CA bundle (ca_path is not set)" in error.reason
    assert "CN=ofm.rollback lab CA" in error.reason and error.details["certificate"]["ip_addresses"] == ["127.0.0.1"]


@pytest.mark.parametrize("served", ["trusted"], indirect=True)
def test_a_client_that_polls_makes_one_handshake(served, certs):
    http = client(served.url("localhost"), ca_path=str(certs.ca_file))
    for poll in range(5):
        assert http.request("GET", "/health", params={"poll": poll}).status == 200
    assert len(served.requests) == 5 and served.handshakes == 1


@pytest.mark.parametrize("served", ["untrusted"], indirect=True)
def test_validate_certs_false_skips_every_check(served):
    assert client(served.url(), verify=False).request("GET", "/health").status == 200


@pytest.mark.reliability("tls", procedure="all", case="ca_path names a file that is not there",
                         expected="refused before any request: names ca_path")
def test_an_unreadable_ca_path_is_bad_input_naming_the_option_before_any_request(tmp_path):
    with pytest.raises(InputError) as missing:
        client("https://127.0.0.1:1", ca_path=str(tmp_path / "nope.pem"))
    assert missing.value.option == "ca_path" and "nope.pem" in str(missing.value) and missing.value.system == "Test API"
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate")
    with pytest.raises(InputError) as bad:
        client("https://127.0.0.1:1", ca_path=str(garbage), tls_options=TlsOptions("unleash_ca_path", "unleash_validate_certs"))
    assert bad.value.option == "unleash_ca_path" and "could not be loaded" in str(bad.value)


def test_a_plain_http_server_behind_an_https_url_is_named_as_such():
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def answer_plainly() -> None:
        conn, _address = listener.accept()
        with conn:
            conn.recv(4096)
            conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")

    threading.Thread(target=answer_plainly, daemon=True).start()
    try:
        error = refused(client(f"https://127.0.0.1:{port}", tls_options=TlsOptions(url="prometheus_url")))
    finally:
        listener.close()
    assert error.problem == "handshake" and "does not speak TLS" in error.reason
    assert error.option == "prometheus_url" and "scheme and port of prometheus_url" in error.hint


@pytest.mark.parametrize("served", ["wrong_host"], indirect=True)
def test_each_client_names_its_own_url_option(served, certs):
    base = {"validate_certs": True, "ca_path": str(certs.ca_file), "timeout": 5.0, "retries": 0}
    prometheus = PrometheusClient.from_params({**base, "prometheus_url": served.url(), "prometheus_token": None, "prometheus_username": None})
    with pytest.raises(CertificateError) as caught:
        prometheus.query("up")
    assert caught.value.option == "prometheus_url" and "prometheus_url" in caught.value.hint
    ops = OpsApiClient.from_params({**base, "ops_api_url": served.url(), "ops_api_token": SECRET, "ops_api_session_cookie": None})
    with pytest.raises(CertificateError) as caught:
        ops.http.request("GET", "/health")
    assert caught.value.option == "ops_api_url" and SECRET not in str(caught.value)
    assert served.requests == []


def verify_error(code: int, message: str) -> ssl.SSLCertVerificationError:
    error = ssl.SSLCertVerificationError(1, f"[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: {message}")
    error.verify_code, error.verify_message = code, message
    return error


def wrapped(error: BaseException) -> Exception:
    """The shape requests raises: an SSLError around urllib3's MaxRetryError around the ssl module's error."""
    try:
        try:
            raise error
        except ssl.SSLError as inner:
            raise ConnectionError("HTTPSConnectionPool(host='h', port=1): Max retries exceeded") from inner
    except ConnectionError as outer:
        return outer


LEAF = {"issuer": "CN=Rogue CA", "dns_names": ["legacy.example.net"], "ip_addresses": [], "not_before": "2026-01-01T00:00:00+00:00",
        "not_after": "2026-03-01T00:00:00+00:00", "days_left": -12}


@pytest.mark.parametrize("code, message, problem, option", [
    (20, "unable to get local issuer certificate", "untrusted", "unleash_ca_path"),
    (19, "self-signed certificate in certificate chain", "untrusted", "unleash_ca_path"),
    (18, "self-signed certificate", "untrusted", "unleash_ca_path"),
    (62, "Hostname mismatch, certificate is not valid for 'unleash.ofm.social'.", "hostname", "unleash_url"),
    (64, "IP address mismatch, certificate is not valid for '10.0.0.1'.", "hostname", "unleash_url"),
    (10, "certificate has expired", "expired", None),
    (9, "certificate is not yet valid", "not_yet_valid", None),
])
def test_verification_failures_map_to_a_problem_and_the_modules_option(code, message, problem, option):
    options = TlsOptions("unleash_ca_path", "unleash_validate_certs", "unleash_url")
    error = wrapped(verify_error(code, message))
    assert problem_kind(verification_failure(error)) == problem
    why = refusal(error, "https://unleash.ofm.social/api", "/etc/ofm/ca.pem", options, certificate=LEAF)
    assert (why.problem, why.option) == (problem, option)
    assert "unleash_validate_certs=false" in why.hint and "never outside a throwaway lab" in why.hint
    if problem == "untrusted":
        assert "not trusted by unleash_ca_path /etc/ofm/ca.pem" in why.reason and "issued by CN=Rogue CA" in why.reason
    if problem == "hostname":
        assert "not valid for unleash.ofm.social (it names legacy.example.net)" in why.reason and "unleash_url" in why.hint
    if problem == "expired":
        assert "expired at 2026-03-01T00:00:00+00:00 (" in why.reason and " day(s) ago)" in why.reason
    if problem == "not_yet_valid":
        assert "is not valid before 2026-01-01T00:00:00+00:00" in why.reason


def test_a_handshake_failure_without_verification_error_keeps_openssls_reason():
    error = wrapped(ssl.SSLError(1, "[SSL: TLSV1_ALERT_PROTOCOL_VERSION] tlsv1 alert protocol version (_ssl.c:1006)"))
    why = refusal(error, f"https://127.0.0.1:{free_port()}", None)
    assert why.problem == "handshake" and "TLSV1_ALERT_PROTOCOL_VERSION" in why.reason and "Max retries" not in why.reason
    assert why.option == "ca_path" and "TLS 1.2 or later" in why.hint


def test_the_server_certificate_is_read_only_when_verification_refused_it(monkeypatch: pytest.MonkeyPatch):
    reads: list[str] = []
    monkeypatch.setattr("ansible_collections.ofm.rollback.plugins.module_utils.tls.peer_certificate",
                        lambda url, timeout: reads.append(url) or None)
    refusal(wrapped(ssl.SSLError(1, "[SSL: WRONG_VERSION_NUMBER] wrong version number")), "https://h:1", None)
    assert reads == []
    why = refusal(wrapped(verify_error(10, "certificate has expired")), "https://h:1", None)
    assert reads == ["https://h:1"] and "is out of its validity dates (certificate has expired)" in why.reason


def test_certs_are_the_labs(certs: Certs):
    from cryptography import x509  # pylint: disable=import-outside-toplevel
    trusted = x509.load_pem_x509_certificate(certs.pairs["trusted"][0].read_bytes())
    trusted.verify_directly_issued_by(x509.load_pem_x509_certificate(Path(certs.ca_file).read_bytes()))
    names = trusted.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["localhost"] and [str(ip) for ip in names.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]


@pytest.mark.parametrize("served", ["untrusted"], indirect=True)
def test_the_canary_rollback_gives_up_at_once_on_a_refused_certificate(served, certs):
    from ansible_collections.ofm.rollback.plugins.module_utils.canary import CanaryRollback  # pylint: disable=import-outside-toplevel
    from ansible_collections.ofm.rollback.plugins.module_utils.ops_api import RollbackRequest  # pylint: disable=import-outside-toplevel
    from ansible_collections.ofm.rollback.plugins.module_utils.traffic import TrafficReader  # pylint: disable=import-outside-toplevel
    clock = FakeClock(1000.0)
    ops = OpsApiClient(client(served.url(), ca_path=str(certs.ca_file)))
    rollback = CanaryRollback(ops, TrafficReader(), deadline=30, clock=lambda: clock.now, sleep=clock.sleep)
    with pytest.raises(CertificateError) as caught:
        rollback.run(RollbackRequest("EMERGENCY_SLO_VIOLATION", "INC-7"))
    assert caught.value.problem == "untrusted" and clock.sleeps == [] and len(rollback.requests) == 1
    assert rollback.may_have_applied is False and served.requests == []
