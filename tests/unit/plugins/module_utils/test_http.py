# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""HttpClient against a real local HTTP(S) server on a free port."""
from __future__ import annotations

import datetime
import ipaddress
import json
import socket
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Optional

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

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


class Reply:
    def __init__(self, status: int = 200, body: Any = None, headers: Optional[dict[str, str]] = None, delay: float = 0.0,
                 content_type: str = "application/json"):
        self.status = status
        self.body = {"ok": True} if body is None else body
        self.headers = headers or {}
        self.delay = delay
        self.content_type = content_type


class ScriptedServer:
    """Answers each request with the next scripted Reply (the last one repeats) and records what it received."""

    def __init__(self, tls_context: Optional[ssl.SSLContext] = None):
        self.replies: list[Reply] = [Reply()]
        self.seen: list[dict[str, Any]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                server.seen.append({"method": self.command, "path": self.path, "headers": dict(self.headers),
                                    "body": self.rfile.read(length).decode() if length else ""})
                reply = server.replies.pop(0) if len(server.replies) > 1 else server.replies[0]
                if reply.delay:
                    time.sleep(reply.delay)
                payload = reply.body if isinstance(reply.body, str) else json.dumps(reply.body)
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", reply.content_type)
                    self.send_header("Content-Length", str(len(payload.encode())))
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(payload.encode())
                except (BrokenPipeError, ConnectionResetError):
                    pass

            do_GET = do_POST = do_PUT = do_DELETE = _handle

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        if tls_context is not None:
            self.httpd.socket = tls_context.wrap_socket(self.httpd.socket, server_side=True)
        scheme = "https" if tls_context else "http"
        self.url = f"{scheme}://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def script(self, *replies: Reply) -> None:
        self.replies = list(replies)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class FakeTime:
    """A monotonic clock that only moves when the client sleeps."""

    def __init__(self):
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture(name="server")
def fixture_server():
    server = ScriptedServer()
    yield server
    server.close()


@pytest.fixture(name="fake_time")
def fixture_fake_time():
    return FakeTime()


def client(url: str, fake_time: FakeTime, **kwargs: Any) -> HttpClient:
    kwargs.setdefault("retries", 3)
    kwargs.setdefault("read_timeout", 5)
    return HttpClient(url, system="Test API", sleep=fake_time.sleep, clock=fake_time.clock, **kwargs)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_get_returns_parsed_json_and_records_the_attempt(server, fake_time):
    server.script(Reply(200, {"hello": "world"}))
    http = client(server.url, fake_time)
    response = http.request("GET", "/api/x", params={"limit": 5})
    assert response.status == 200
    assert response.body == {"hello": "world"}
    assert server.seen[0]["path"] == "/api/x?limit=5"
    assert server.seen[0]["headers"]["User-Agent"] == f"ofm.rollback/{COLLECTION_VERSION}"
    assert http.requests == [{"method": "GET", "url": f"{server.url}/api/x?limit=5", "attempt": 1, "duration": 0.0, "status": 200}]


def test_text_body_is_returned_as_text(server, fake_time):
    server.script(Reply(200, "line 1\nline 2", content_type="text/plain"))
    assert client(server.url, fake_time).request("GET", "logs").body == "line 1\nline 2"


def test_get_is_retried_on_503_with_exponential_backoff(server, fake_time):
    server.script(Reply(503, {"error": "busy"}), Reply(503, {"error": "busy"}), Reply(200, {"ok": True}))
    http = client(server.url, fake_time, backoff_factor=0.5)
    assert http.request("GET", "/x").body == {"ok": True}
    assert len(server.seen) == 3
    assert fake_time.sleeps == [0.5, 1.0]
    assert [entry["status"] for entry in http.requests] == [503, 503, 200]
    assert [entry["attempt"] for entry in http.requests] == [1, 2, 3]


def test_get_gives_up_after_retries_with_attempt_count(server, fake_time):
    server.script(Reply(502, {"error": "bad gateway"}))
    with pytest.raises(UnavailableError) as caught:
        client(server.url, fake_time, retries=2).request("GET", "/x")
    assert caught.value.attempts == 3
    assert len(server.seen) == 3
    assert caught.value.status == 502
    assert "HTTP 502: bad gateway after 3 attempt(s)" in str(caught.value)
    assert str(caught.value).startswith(f"Test API: GET /x on {server.url}/x failed:")


def test_post_is_not_retried_on_503(server, fake_time):
    server.script(Reply(503, {"error": "busy"}), Reply(200))
    with pytest.raises(UnavailableError) as caught:
        client(server.url, fake_time).request("POST", "/rollback", json={"reason": "x"})
    assert len(server.seen) == 1
    assert caught.value.attempts == 1
    assert caught.value.sent is True
    assert "may have reached the server" in caught.value.hint


def test_post_is_retried_on_429_honouring_retry_after(server, fake_time):
    server.script(Reply(429, {"error": "slow down"}, headers={"Retry-After": "4"}), Reply(200, {"done": True}))
    http = client(server.url, fake_time, backoff_factor=0.5)
    assert http.request("POST", "/rollback", json={"reason": "x"}).body == {"done": True}
    assert [seen["method"] for seen in server.seen] == ["POST", "POST"]
    assert server.seen[1]["body"] == '{"reason": "x"}'
    assert fake_time.sleeps == [4.0]
    assert [entry["status"] for entry in http.requests] == [429, 200]


def test_post_still_refused_with_429_says_nothing_was_processed(server, fake_time):
    server.script(Reply(429, {"error": "slow down"}))
    with pytest.raises(UnavailableError) as caught:
        client(server.url, fake_time, retries=2, backoff_factor=0.5).request("POST", "/rollback", json={})
    assert len(server.seen) == 3 and fake_time.sleeps == [0.5, 1.0]
    assert caught.value.status == 429 and caught.value.attempts == 3
    assert caught.value.sent is False
    assert "HTTP 429: slow down after 3 attempt(s)" in str(caught.value)
    assert "without processing it" in caught.value.hint


def test_post_marked_idempotent_is_retried(server, fake_time):
    server.script(Reply(503, {"error": "busy"}), Reply(200, {"done": True}))
    response = client(server.url, fake_time).request("POST", "/api/v1/query", data={"query": "up"}, idempotent=True)
    assert response.body == {"done": True}
    assert len(server.seen) == 2
    assert server.seen[1]["body"] == "query=up"


def test_get_marked_not_idempotent_is_not_retried(server, fake_time):
    server.script(Reply(500, {"error": "oops"}), Reply(200))
    with pytest.raises(UnavailableError):
        client(server.url, fake_time).request("GET", "/x", idempotent=False)
    assert len(server.seen) == 1


def test_429_is_retried_for_get_honouring_retry_after(server, fake_time):
    server.script(Reply(429, {"error": "slow down"}, headers={"Retry-After": "7"}), Reply(200))
    http = client(server.url, fake_time, backoff_factor=0.5)
    assert http.request("GET", "/x").status == 200
    assert fake_time.sleeps == [7.0]


def test_retry_after_beyond_deadline_stops_retrying(server, fake_time):
    server.script(Reply(503, {"error": "maintenance"}, headers={"Retry-After": "120"}), Reply(200))
    with pytest.raises(UnavailableError) as caught:
        client(server.url, fake_time, deadline=30).request("GET", "/x")
    assert len(server.seen) == 1
    assert fake_time.sleeps == []
    assert "30s deadline" in str(caught.value)


def test_long_retry_after_without_deadline_stops_retrying(server, fake_time):
    server.script(Reply(503, {"error": "maintenance"}, headers={"Retry-After": "3600"}), Reply(200))
    with pytest.raises(UnavailableError) as caught:
        client(server.url, fake_time).request("GET", "/x")
    assert "asked to retry after 3600s" in str(caught.value)
    assert fake_time.sleeps == []


def test_deadline_caps_total_time_across_retries(server, fake_time):
    server.script(Reply(503, {"error": "busy"}))
    with pytest.raises(UnavailableError) as caught:
        client(server.url, fake_time, retries=10, backoff_factor=1, deadline=5).request("GET", "/x")
    assert fake_time.sleeps == [1.0, 2.0]
    assert caught.value.attempts == 3
    assert "5s deadline leaves no time" in str(caught.value)


@pytest.mark.parametrize("client_deadline, call_deadline", [(None, 5), (30, 5), (5, 30)])
def test_the_earlier_of_the_client_and_call_deadline_caps_the_call(server, fake_time, client_deadline, call_deadline):
    server.script(Reply(503, {"error": "busy"}))
    http = client(server.url, fake_time, retries=10, backoff_factor=1, deadline=client_deadline)
    with pytest.raises(UnavailableError) as caught:
        http.request("GET", "/x", deadline=call_deadline)
    assert fake_time.sleeps == [1.0, 2.0]
    assert "5s deadline leaves no time" in str(caught.value)


def test_a_call_deadline_applies_to_that_call_only(server, fake_time):
    server.script(Reply(503, {"error": "busy"}, headers={"Retry-After": "2"}), Reply(503, {"error": "busy"}, headers={"Retry-After": "2"}),
                  Reply(200))
    http = client(server.url, fake_time)
    with pytest.raises(UnavailableError):
        http.request("GET", "/x", deadline=1)
    assert fake_time.sleeps == []
    assert http.request("GET", "/x").status == 200
    assert fake_time.sleeps == [2.0]


def test_a_call_deadline_caps_the_read_timeout(server, fake_time):
    server.script(Reply(200, delay=1.0))
    with pytest.raises(UnavailableError) as caught:
        client(server.url, fake_time, read_timeout=5).request("POST", "/rollback", json={}, deadline=0.2)
    assert "no response within the read timeout after 1 attempt(s)" in str(caught.value)
    assert caught.value.sent is True


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_connect_refused_is_retried_for_any_method(fake_time, method):
    url = f"http://127.0.0.1:{free_port()}"
    http = client(url, fake_time, retries=2)
    with pytest.raises(UnavailableError) as caught:
        http.request(method, "/x", json={"a": 1})
    assert caught.value.attempts == 3
    assert len(http.requests) == 3
    assert all("could not connect" in entry["error"] for entry in http.requests)
    assert "could not connect" in caught.value.reason
    assert caught.value.hint == UnavailableError.default_hint
    assert caught.value.sent is False
    assert caught.value.to_result()["error"]["sent"] is False


def test_read_timeout_is_retried_for_get(server, fake_time):
    server.script(Reply(200, delay=1.0), Reply(200))
    http = client(server.url, fake_time, read_timeout=0.2, retries=1)
    assert http.request("GET", "/slow").status == 200
    assert len(server.seen) == 2
    assert http.requests[0]["error"] == "no response within the read timeout"


def test_read_timeout_is_not_retried_for_post(server, fake_time):
    server.script(Reply(200, delay=1.0), Reply(200))
    with pytest.raises(UnavailableError) as caught:
        client(server.url, fake_time, read_timeout=0.2).request("POST", "/rollback", json={})
    assert len(server.seen) == 1
    assert "no response within the read timeout after 1 attempt(s)" in str(caught.value)
    assert "check the current state" in caught.value.hint
    assert caught.value.sent is True


def test_401_maps_to_authentication_error(server, fake_time):
    server.script(Reply(401, {"error": "Authentication required"}))
    with pytest.raises(AuthenticationError) as caught:
        client(server.url, fake_time).request("GET", "/internal/ops/logs")
    assert caught.value.status == 401
    assert "HTTP 401: Authentication required" in str(caught.value)
    assert len(server.seen) == 1


def test_403_maps_to_authorization_error_with_roles(server, fake_time):
    server.script(Reply(403, {"error": "Insufficient permissions", "required": "admin", "current": ["viewer"]}))
    with pytest.raises(AuthorizationError) as caught:
        client(server.url, fake_time).request("POST", "/internal/ops/canary/rollback", json={})
    assert caught.value.required_role == "admin"
    assert caught.value.current_roles == ["viewer"]
    assert "needs role 'admin' and the caller holds: viewer" in str(caught.value)


@pytest.mark.parametrize("status, error_type", [(404, NotFoundError), (409, ConflictError), (400, InputError), (422, InputError)])
def test_other_client_errors_map_with_the_body(server, fake_time, status, error_type):
    server.script(Reply(status, {"error": f"problem {status}"}))
    with pytest.raises(error_type) as caught:
        client(server.url, fake_time).request("GET", "/x")
    assert f"HTTP {status}: problem {status}" in str(caught.value)
    assert caught.value.details["body"] == {"error": f"problem {status}"}
    assert len(server.seen) == 1


def test_expected_error_status_is_returned_not_raised(server, fake_time):
    server.script(Reply(400, {"status": "error", "error": "parse error"}))
    response = client(server.url, fake_time).request("POST", "/q", expected=(200, 400))
    assert response.status == 400
    assert response.body["error"] == "parse error"


def test_invalid_json_is_a_data_error(server, fake_time):
    server.script(Reply(200, "{not json"))
    with pytest.raises(DataError, match="does not parse"):
        client(server.url, fake_time).request("GET", "/x")


def test_error_body_that_is_not_json_is_kept_as_text(server, fake_time):
    server.script(Reply(502, "<html>Bad Gateway</html>"))
    with pytest.raises(UnavailableError) as caught:
        client(server.url, fake_time, retries=0).request("GET", "/x")
    assert "HTTP 502: <html>Bad Gateway</html> after 1 attempt(s)" in str(caught.value)


def test_request_that_cannot_be_built_is_not_retried(server, fake_time):
    http = client(server.url, fake_time)
    with pytest.raises(InputError) as caught:
        http.request("GET", "/x", headers={"X-Reason": "two\nlines"})
    assert "could not be sent" in str(caught.value)
    assert server.seen == []
    assert len(http.requests) == 1 and fake_time.sleeps == []


def test_redirects_are_not_followed(server, fake_time):
    server.script(Reply(302, "", headers={"Location": "https://elsewhere.example/login"}, content_type="text/plain"))
    with pytest.raises(DataError) as caught:
        client(server.url, fake_time).request("GET", "/x")
    assert "redirects to https://elsewhere.example/login" in str(caught.value)
    assert len(server.seen) == 1


def test_bearer_token_is_sent_and_never_shown(server, fake_time):
    token = "tok-SECRET-123"
    server.script(Reply(401, {"error": f"token {token} expired"}))
    http = client(server.url, fake_time, auth=BearerAuth(token))
    with pytest.raises(AuthenticationError) as caught:
        http.request("GET", "/x")
    assert server.seen[0]["headers"]["Authorization"] == f"Bearer {token}"
    shown = json.dumps([str(caught.value), caught.value.to_result(), http.requests])
    assert token not in shown
    assert REDACTED in str(caught.value)


def test_session_cookie_is_sent_and_never_shown(server, fake_time):
    cookie = "s%3Aabc123.signature"
    server.script(Reply(500, {"error": "Canary rollback failed", "details": f"session connect.sid={cookie} rejected"}))
    http = client(server.url, fake_time, auth=SessionCookieAuth(cookie))
    with pytest.raises(UnavailableError) as caught:
        http.request("POST", "/internal/ops/canary/rollback", json={"reason": "x"})
    assert server.seen[0]["headers"]["Cookie"] == f"connect.sid={cookie}"
    assert "abc123" not in json.dumps([str(caught.value), caught.value.to_result(), http.requests])
    assert "Canary rollback failed" in str(caught.value)


def test_basic_auth_is_sent_and_its_encoding_never_shown(server, fake_time):
    server.script(Reply(403, {"error": "denied", "header": "Basic dXNlcjpzM2NyM3Q="}))
    http = client(server.url, fake_time, auth=BasicAuth("user", "s3cr3t"))
    with pytest.raises(AuthorizationError) as caught:
        http.request("GET", "/x")
    assert server.seen[0]["headers"]["Authorization"] == "Basic dXNlcjpzM2NyM3Q="
    assert "dXNlcjpzM2NyM3Q" not in json.dumps(caught.value.to_result())


def test_secrets_in_url_and_query_are_redacted_in_log_and_errors(server, fake_time):
    server.script(Reply(404, {"error": "no such thing"}))
    base = server.url.replace("http://", "http://ops:pa55word@")
    http = client(base, fake_time)
    with pytest.raises(NotFoundError) as caught:
        http.request("GET", "/x", params={"token": "qtok", "limit": 2})
    shown = json.dumps([str(caught.value), caught.value.to_result(), http.requests])
    assert "pa55word" not in shown and "qtok" not in shown
    assert http.requests[0]["url"] == f"http://{REDACTED}@127.0.0.1:{server.url.rsplit(':', 1)[1]}/x?token={REDACTED}&limit=2"


def test_extra_secrets_are_redacted_from_response_bodies(server, fake_time):
    server.script(Reply(400, {"error": "bad value my-private-value"}))
    with pytest.raises(InputError) as caught:
        client(server.url, fake_time, secrets=["my-private-value"]).request("GET", "/x")
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
    server = ScriptedServer(context)
    server.cert_path = cert_path
    yield server
    server.close()


def test_tls_is_verified_by_default_and_not_retried(tls_server, fake_time):
    http = client(tls_server.url, fake_time)
    with pytest.raises(UnavailableError) as caught:
        http.request("GET", "/x")
    assert "certificate verification failed" in str(caught.value)
    assert "ca_path" in caught.value.hint
    assert caught.value.attempts == 1
    assert caught.value.sent is False
    assert len(http.requests) == 1


def test_tls_with_ca_path_succeeds(tls_server, fake_time):
    assert client(tls_server.url, fake_time, ca_path=str(tls_server.cert_path)).request("GET", "/x").status == 200


def test_tls_without_verification_succeeds(tls_server, fake_time):
    assert client(tls_server.url, fake_time, verify=False).request("GET", "/x").status == 200


def test_collection_version_matches_galaxy_yml():
    galaxy = yaml.safe_load((COLLECTION_ROOT / "galaxy.yml").read_text())
    assert galaxy["version"] == COLLECTION_VERSION
