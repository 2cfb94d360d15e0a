# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""HttpClient against a real local HTTP(S) server on a free port."""
from __future__ import annotations

import datetime
import ipaddress
import json
import ssl
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from unithelpers import FakeClock, Reply, ScriptedService, free_port

from ansible_collections.ofm.rollback.plugins.module_utils.errors import (
    AuthenticationError,
    AuthorizationError,
    ConflictError,
    DataError,
    InputError,
    NotFoundError,
    UnavailableError,
)
from ansible_collections.ofm.rollback.plugins.module_utils.http import (
    COLLECTION_VERSION,
    BasicAuth,
    BearerAuth,
    HttpClient,
    SessionCookieAuth,
)
from ansible_collections.ofm.rollback.plugins.module_utils.redact import REDACTED

COLLECTION_ROOT = Path(__file__).resolve().parents[4]


@pytest.fixture(name="server")
def fixture_server() -> Iterator[ScriptedService]:
    server = ScriptedService()
    yield server
    server.close()


@pytest.fixture(name="clock")
def fixture_clock() -> FakeClock:
    return FakeClock(start=1000.0)


def client(url: str, clock: FakeClock, **kwargs: Any) -> HttpClient:
    kwargs.setdefault("retries", 3)
    kwargs.setdefault("read_timeout", 5)
    return HttpClient(url, system="Test API", sleep=clock.sleep, clock=lambda: clock.now, **kwargs)


def test_get_returns_parsed_json_and_records_the_attempt(server, clock):
    server.script(Reply(200, {"hello": "world"}))
    http = client(server.url, clock)
    response = http.request("GET", "/api/x", params={"limit": 5})
    assert response.status == 200
    assert response.body == {"hello": "world"}
    assert server.received[0].path == "/api/x?limit=5"
    assert server.received[0].headers["User-Agent"] == f"ofm.rollback/{COLLECTION_VERSION}"
    assert http.requests == [{"method": "GET", "url": f"{server.url}/api/x?limit=5", "attempt": 1, "duration": 0.0, "status": 200}]


def test_text_body_is_returned_as_text(server, clock):
    server.script(Reply(200, "line 1\nline 2"))
    assert client(server.url, clock).request("GET", "logs").body == "line 1\nline 2"


def test_get_is_retried_on_503_with_exponential_backoff(server, clock):
    server.script(Reply(503, {"error": "busy"}), Reply(503, {"error": "busy"}), Reply(200, {"ok": True}))
    http = client(server.url, clock, backoff_factor=0.5)
    assert http.request("GET", "/x").body == {"ok": True}
    assert len(server.received) == 3
    assert clock.sleeps == [0.5, 1.0]
    assert [entry["status"] for entry in http.requests] == [503, 503, 200]
    assert [entry["attempt"] for entry in http.requests] == [1, 2, 3]


def test_get_gives_up_after_retries_with_attempt_count(server, clock):
    server.script(Reply(502, {"error": "bad gateway"}))
    with pytest.raises(UnavailableError) as caught:
        client(server.url, clock, retries=2).request("GET", "/x")
    assert caught.value.attempts == 3
    assert len(server.received) == 3
    assert caught.value.status == 502
    assert "HTTP 502: bad gateway after 3 attempt(s)" in str(caught.value)
    assert str(caught.value).startswith(f"Test API: GET /x on {server.url}/x failed:")


def test_post_is_not_retried_on_503(server, clock):
    server.script(Reply(503, {"error": "busy"}), Reply(200))
    with pytest.raises(UnavailableError) as caught:
        client(server.url, clock).request("POST", "/rollback", json={"reason": "x"})
    assert len(server.received) == 1
    assert caught.value.attempts == 1
    assert caught.value.sent is True
    assert "may have reached the server" in caught.value.hint


def test_post_is_retried_on_429_honouring_retry_after(server, clock):
    server.script(Reply(429, {"error": "slow down"}, headers={"Retry-After": "4"}), Reply(200, {"done": True}))
    http = client(server.url, clock, backoff_factor=0.5)
    assert http.request("POST", "/rollback", json={"reason": "x"}).body == {"done": True}
    assert [request.method for request in server.received] == ["POST", "POST"]
    assert server.received[1].raw == '{"reason": "x"}'
    assert clock.sleeps == [4.0]
    assert [entry["status"] for entry in http.requests] == [429, 200]


def test_post_still_refused_with_429_says_nothing_was_processed(server, clock):
    server.script(Reply(429, {"error": "slow down"}))
    with pytest.raises(UnavailableError) as caught:
        client(server.url, clock, retries=2, backoff_factor=0.5).request("POST", "/rollback", json={})
    assert len(server.received) == 3 and clock.sleeps == [0.5, 1.0]
    assert caught.value.status == 429 and caught.value.attempts == 3
    assert caught.value.sent is False
    assert "HTTP 429: slow down after 3 attempt(s)" in str(caught.value)
    assert "without processing it" in caught.value.hint


def test_post_marked_idempotent_is_retried(server, clock):
    server.script(Reply(503, {"error": "busy"}), Reply(200, {"done": True}))
    response = client(server.url, clock).request("POST", "/api/v1/query", data={"query": "up"}, idempotent=True)
    assert response.body == {"done": True}
    assert len(server.received) == 2
    assert server.received[1].raw == "query=up"


def test_get_marked_not_idempotent_is_not_retried(server, clock):
    server.script(Reply(500, {"error": "oops"}), Reply(200))
    with pytest.raises(UnavailableError):
        client(server.url, clock).request("GET", "/x", idempotent=False)
    assert len(server.received) == 1


def test_429_is_retried_for_get_honouring_retry_after(server, clock):
    server.script(Reply(429, {"error": "slow down"}, headers={"Retry-After": "7"}), Reply(200))
    http = client(server.url, clock, backoff_factor=0.5)
    assert http.request("GET", "/x").status == 200
    assert clock.sleeps == [7.0]


def test_retry_after_beyond_deadline_stops_retrying(server, clock):
    server.script(Reply(503, {"error": "maintenance"}, headers={"Retry-After": "120"}), Reply(200))
    with pytest.raises(UnavailableError) as caught:
        client(server.url, clock, deadline=30).request("GET", "/x")
    assert len(server.received) == 1
    assert clock.sleeps == []
    assert "30s deadline" in str(caught.value)


def test_long_retry_after_without_deadline_stops_retrying(server, clock):
    server.script(Reply(503, {"error": "maintenance"}, headers={"Retry-After": "3600"}), Reply(200))
    with pytest.raises(UnavailableError) as caught:
        client(server.url, clock).request("GET", "/x")
    assert "asked to retry after 3600s" in str(caught.value)
    assert clock.sleeps == []


def test_deadline_caps_total_time_across_retries(server, clock):
    server.script(Reply(503, {"error": "busy"}))
    with pytest.raises(UnavailableError) as caught:
        client(server.url, clock, retries=10, backoff_factor=1, deadline=5).request("GET", "/x")
    assert clock.sleeps == [1.0, 2.0]
    assert caught.value.attempts == 3
    assert "5s deadline leaves no time" in str(caught.value)


@pytest.mark.parametrize("client_deadline, call_deadline", [(None, 5), (30, 5), (5, 30)])
def test_the_earlier_of_the_client_and_call_deadline_caps_the_call(server, clock, client_deadline, call_deadline):
    server.script(Reply(503, {"error": "busy"}))
    http = client(server.url, clock, retries=10, backoff_factor=1, deadline=client_deadline)
    with pytest.raises(UnavailableError) as caught:
        http.request("GET", "/x", deadline=call_deadline)
    assert clock.sleeps == [1.0, 2.0]
    assert "5s deadline leaves no time" in str(caught.value)


def test_a_call_deadline_applies_to_that_call_only(server, clock):
    server.script(Reply(503, {"error": "busy"}, headers={"Retry-After": "2"}), Reply(503, {"error": "busy"}, headers={"Retry-After": "2"}),
                  Reply(200))
    http = client(server.url, clock)
    with pytest.raises(UnavailableError):
        http.request("GET", "/x", deadline=1)
    assert clock.sleeps == []
    assert http.request("GET", "/x").status == 200
    assert clock.sleeps == [2.0]


def test_a_call_deadline_caps_the_read_timeout(server, clock):
    server.script(Reply(200, delay=1.0))
    with pytest.raises(UnavailableError) as caught:
        client(server.url, clock, read_timeout=5).request("POST", "/rollback", json={}, deadline=0.2)
    assert "no response within the read timeout after 1 attempt(s)" in str(caught.value)
    assert caught.value.sent is True


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_connect_refused_is_retried_for_any_method(clock, method):
    url = f"http://127.0.0.1:{free_port()}"
    http = client(url, clock, retries=2)
    with pytest.raises(UnavailableError) as caught:
        http.request(method, "/x", json={"a": 1})
    assert caught.value.attempts == 3
    assert len(http.requests) == 3
    assert all("could not connect" in entry["error"] for entry in http.requests)
    assert "could not connect" in caught.value.reason
    assert caught.value.hint == UnavailableError.default_hint
    assert caught.value.sent is False
    assert caught.value.to_result()["error"]["sent"] is False


def test_read_timeout_is_retried_for_get(server, clock):
    server.script(Reply(200, delay=1.0), Reply(200))
    http = client(server.url, clock, read_timeout=0.2, retries=1)
    assert http.request("GET", "/slow").status == 200
    assert len(server.received) == 2
    assert http.requests[0]["error"] == "no response within the read timeout"


def test_read_timeout_is_not_retried_for_post(server, clock):
    server.script(Reply(200, delay=1.0), Reply(200))
    with pytest.raises(UnavailableError) as caught:
        client(server.url, clock, read_timeout=0.2).request("POST", "/rollback", json={})
    assert len(server.received) == 1
    assert "no response within the read timeout after 1 attempt(s)" in str(caught.value)
    assert "check the current state" in caught.value.hint
    assert caught.value.sent is True


def test_401_maps_to_authentication_error(server, clock):
    server.script(Reply(401, {"error": "Authentication required"}))
    with pytest.raises(AuthenticationError) as caught:
        client(server.url, clock).request("GET", "/internal/ops/logs")
    assert caught.value.status == 401
    assert "HTTP 401: Authentication required" in str(caught.value)
    assert len(server.received) == 1


def test_403_maps_to_authorization_error_with_the_roles_the_services_client_reads(server, clock):
    server.script(Reply(403, {"error": "Insufficient permissions", "required": "admin", "current": ["viewer"]}))
    with pytest.raises(AuthorizationError) as caught:
        client(server.url, clock, refusal_roles=lambda body: (body["required"], body["current"])).request(
            "POST", "/internal/ops/canary/rollback", json={})
    assert caught.value.required_role == "admin"
    assert caught.value.current_roles == ["viewer"]
    assert "needs role 'admin' and the caller holds: viewer" in str(caught.value)


@pytest.mark.parametrize("status, error_type", [(404, NotFoundError), (409, ConflictError), (400, InputError), (422, InputError)])
def test_other_client_errors_map_with_the_body(server, clock, status, error_type):
    server.script(Reply(status, {"error": f"problem {status}"}))
    with pytest.raises(error_type) as caught:
        client(server.url, clock).request("GET", "/x")
    assert f"HTTP {status}: problem {status}" in str(caught.value)
    assert caught.value.details["body"] == {"error": f"problem {status}"}
    assert len(server.received) == 1


def test_expected_error_status_is_returned_not_raised(server, clock):
    server.script(Reply(400, {"status": "error", "error": "parse error"}))
    response = client(server.url, clock).request("POST", "/q", expected=(200, 400))
    assert response.status == 400
    assert response.body["error"] == "parse error"


def test_invalid_json_is_a_data_error(server, clock):
    server.script(Reply(200, "{not json", content_type="application/json"))
    with pytest.raises(DataError, match="does not parse"):
        client(server.url, clock).request("GET", "/x")


def test_error_body_that_is_not_json_is_kept_as_text(server, clock):
    server.script(Reply(502, "<html>Bad Gateway</html>", content_type="application/json"))
    with pytest.raises(UnavailableError) as caught:
        client(server.url, clock, retries=0).request("GET", "/x")
    assert "HTTP 502: <html>Bad Gateway</html> after 1 attempt(s)" in str(caught.value)


def test_request_that_cannot_be_built_is_not_retried(server, clock):
    http = client(server.url, clock)
    with pytest.raises(InputError) as caught:
        http.request("GET", "/x", headers={"X-Reason": "two\nlines"})
    assert "could not be sent" in str(caught.value)
    assert server.received == []
    assert len(http.requests) == 1 and clock.sleeps == []


def test_redirects_are_not_followed(server, clock):
    server.script(Reply(302, "", headers={"Location": "https://elsewhere.example/login"}))
    with pytest.raises(DataError) as caught:
        client(server.url, clock).request("GET", "/x")
    assert "redirects to https://elsewhere.example/login" in str(caught.value)
    assert len(server.received) == 1


def test_bearer_token_is_sent_and_never_shown(server, clock):
    token = "tok-SECRET-123"
    server.script(Reply(401, {"error": f"token {token} expired"}))
    http = client(server.url, clock, auth=BearerAuth(token))
    with pytest.raises(AuthenticationError) as caught:
        http.request("GET", "/x")
    assert server.received[0].headers["Authorization"] == f"Bearer {token}"
    shown = json.dumps([str(caught.value), caught.value.to_result(), http.requests])
    assert token not in shown
    assert REDACTED in str(caught.value)


def test_session_cookie_is_sent_and_never_shown(server, clock):
    cookie = "s%3Aabc123.signature"
    server.script(Reply(500, {"error": "Canary rollback failed", "details": f"session connect.sid={cookie} rejected"}))
    http = client(server.url, clock, auth=SessionCookieAuth(cookie))
    with pytest.raises(UnavailableError) as caught:
        http.request("POST", "/internal/ops/canary/rollback", json={"reason": "x"})
    assert server.received[0].headers["Cookie"] == f"connect.sid={cookie}"
    assert "abc123" not in json.dumps([str(caught.value), caught.value.to_result(), http.requests])
    assert "Canary rollback failed" in str(caught.value)


def test_basic_auth_is_sent_and_its_encoding_never_shown(server, clock):
    server.script(Reply(403, {"error": "denied", "header": "Basic dXNlcjpzM2NyM3Q="}))
    http = client(server.url, clock, auth=BasicAuth("user", "s3cr3t"))
    with pytest.raises(AuthorizationError) as caught:
        http.request("GET", "/x")
    assert server.received[0].headers["Authorization"] == "Basic dXNlcjpzM2NyM3Q="
    assert "dXNlcjpzM2NyM3Q" not in json.dumps(caught.value.to_result())


def test_secrets_in_url_and_query_are_redacted_in_log_and_errors(server, clock):
    server.script(Reply(404, {"error": "no such thing"}))
    base = server.url.replace("http://", "http://ops:pa55word@")
    http = client(base, clock)
    with pytest.raises(NotFoundError) as caught:
        http.request("GET", "/x", params={"token": "qtok", "limit": 2})
    shown = json.dumps([str(caught.value), caught.value.to_result(), http.requests])
    assert "pa55word" not in shown and "qtok" not in shown
    assert http.requests[0]["url"] == f"http://{REDACTED}@127.0.0.1:{server.url.rsplit(':', 1)[1]}/x?token={REDACTED}&limit=2"


def test_extra_secrets_are_redacted_from_response_bodies(server, clock):
    server.script(Reply(400, {"error": "bad value my-private-value"}))
    with pytest.raises(InputError) as caught:
        client(server.url, clock, secrets=["my-private-value"]).request("GET", "/x")
    assert "my-private-value" not in json.dumps(caught.value.to_result())


def make_certificate(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ofm-test")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                   .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
                   .not_valid_after(now + datetime.timedelta(days=1))
                   .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
                   .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                   .sign(key, hashes.SHA256()))
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return cert_path, key_path


@pytest.fixture(name="tls_server")
def fixture_tls_server(tmp_path):
    cert_path, key_path = make_certificate(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    server = ScriptedService(context)
    server.cert_path = cert_path
    yield server
    server.close()


def test_tls_is_verified_by_default_and_not_retried(tls_server, clock):
    http = client(tls_server.url, clock)
    with pytest.raises(UnavailableError) as caught:
        http.request("GET", "/x")
    assert "certificate verification failed" in str(caught.value)
    assert "ca_path" in caught.value.hint
    assert caught.value.attempts == 1
    assert caught.value.sent is False
    assert len(http.requests) == 1


def test_tls_with_ca_path_succeeds(tls_server, clock):
    assert client(tls_server.url, clock, ca_path=str(tls_server.cert_path)).request("GET", "/x").status == 200


def test_tls_without_verification_succeeds(tls_server, clock):
    assert client(tls_server.url, clock, verify=False).request("GET", "/x").status == 200


def test_collection_version_matches_galaxy_yml():
    galaxy = yaml.safe_load((COLLECTION_ROOT / "galaxy.yml").read_text())
    assert galaxy["version"] == COLLECTION_VERSION
