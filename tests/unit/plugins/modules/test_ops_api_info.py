# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""ops_api_info's main() against a fake ops API with the production auth answers."""
from __future__ import annotations

import contextlib
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterator, Optional
from unittest import mock

import pytest
from ansible.module_utils import basic

from ansible_collections.ofm.rollback.plugins.doc_fragments import http_client as http_client_fragment
from ansible_collections.ofm.rollback.plugins.doc_fragments import ops_api as ops_api_fragment
from ansible_collections.ofm.rollback.plugins.modules import ops_api_info
from tests.unit.plugins.module_utils.test_argspec_docs import doc_options, mismatches

try:
    from ansible.module_utils.testing import patch_module_args
except ImportError:  # ansible-core < 2.19
    @contextlib.contextmanager
    def patch_module_args(args: Optional[dict[str, Any]] = None) -> Iterator[None]:
        with mock.patch.object(basic, "_ANSIBLE_ARGS", json.dumps({"ANSIBLE_MODULE_ARGS": args or {}}).encode()):
            yield

ADMIN_SESSION = "sid-admin-SECRET-0f3b"
VIEWER_TOKEN = "viewer-token-SECRET-77aa"


class FakeOpsApi:
    """``/health`` and the admin-only ``/internal/ops/logs``; ``blocked`` answers /internal like an IP allow-list."""

    def __init__(self) -> None:
        self.blocked = False
        self.seen: list[tuple[str, str]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                fake.seen.append((self.command, self.path))
                status, body = fake.answer(self.path, self.headers)
                payload = body.encode() if isinstance(body, str) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/plain" if isinstance(body, str) else "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def answer(self, path: str, headers: Any) -> tuple[int, Any]:
        if path == "/health":
            return 200, {"ok": True, "timestamp": "2025-01-01T03:00:00.000Z", "service": "ofm-internal-ops"}
        if self.blocked:
            return 403, {"error": "Forbidden", "reason": "IP not allowed"}
        if headers.get("Cookie") == f"connect.sid={ADMIN_SESSION}":
            return 200, "2025-01-01T03:00:00.000Z 127.0.0.1 \"GET /health\" 200 1ms\n"
        if headers.get("Authorization") == f"Bearer {VIEWER_TOKEN}":
            return 403, {"error": "Insufficient permissions", "required": "admin", "current": ["viewer"]}
        return 401, {"error": "Authentication required"}

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(name="ops")
def fixture_ops() -> Iterator[FakeOpsApi]:
    server = FakeOpsApi()
    yield server
    server.close()


class ModuleExit(Exception):
    def __init__(self, result: dict[str, Any], failed: bool):
        super().__init__(result.get("msg"))
        self.result = result
        self.failed = failed


def fake_exit_json(_module: Any, **kwargs: Any) -> None:
    raise ModuleExit(kwargs, failed=False)


def fake_fail_json(_module: Any, msg: Any = None, **kwargs: Any) -> None:
    raise ModuleExit({"msg": msg, **kwargs}, failed=True)


def run(args: dict[str, Any]) -> tuple[bool, dict[str, Any]]:
    with patch_module_args(args), mock.patch.multiple(basic.AnsibleModule, exit_json=fake_exit_json, fail_json=fake_fail_json):
        with pytest.raises(ModuleExit) as caught:
            ops_api_info.main()
    return caught.value.failed, caught.value.result


def test_admin_session_is_admin(ops):
    failed, result = run({"ops_api_url": ops.url, "ops_api_session_cookie": ADMIN_SESSION})
    assert not failed
    assert result["changed"] is False
    assert (result["authenticated"], result["is_admin"], result["roles"]) == (True, True, ["admin"])
    assert result["health"]["service"] == "ofm-internal-ops"
    assert ops.seen == [("GET", "/health"), ("GET", "/internal/ops/logs?lines=1")]
    assert [entry["status"] for entry in result["requests"]] == [200, 200]
    assert ADMIN_SESSION not in json.dumps(result)


def test_viewer_token_lists_its_roles(ops):
    failed, result = run({"ops_api_url": ops.url, "ops_api_token": VIEWER_TOKEN})
    assert not failed
    assert (result["authenticated"], result["is_admin"], result["roles"]) == (True, False, ["viewer"])
    assert "does not hold the admin role" in result["msg"]
    assert VIEWER_TOKEN not in json.dumps(result)


def test_no_credentials_are_not_authenticated(ops, monkeypatch):
    monkeypatch.delenv("OFM_OPS_API_SESSION", raising=False)
    monkeypatch.delenv("OFM_OPS_API_TOKEN", raising=False)
    failed, result = run({"ops_api_url": ops.url})
    assert not failed
    assert (result["authenticated"], result["is_admin"], result["roles"]) == (False, False, [])


def test_credentials_come_from_the_environment(ops, monkeypatch):
    monkeypatch.setenv("OFM_OPS_API_SESSION", ADMIN_SESSION)
    failed, result = run({"ops_api_url": ops.url})
    assert not failed and result["is_admin"] is True


def test_ip_allow_list_leaves_identity_unknown(ops):
    ops.blocked = True
    failed, result = run({"ops_api_url": ops.url, "ops_api_session_cookie": ADMIN_SESSION})
    assert not failed
    assert (result["authenticated"], result["is_admin"], result["roles"]) == (None, False, None)
    assert "IP not allowed" in result["identity_detail"]


def test_unreachable_ops_api_fails_naming_it():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}"
    failed, result = run({"ops_api_url": url, "retries": 0})
    assert failed
    assert result["msg"].startswith(f"ops API: GET /health on {url}/health failed: could not connect")
    assert len(result["requests"]) == 1


def test_cookie_and_token_are_mutually_exclusive(ops):
    failed, result = run({"ops_api_url": ops.url, "ops_api_session_cookie": ADMIN_SESSION, "ops_api_token": VIEWER_TOKEN})
    assert failed
    assert "mutually exclusive: ops_api_session_cookie|ops_api_token" in result["msg"]
    assert ops.seen == []


def test_docs_match_argument_spec():
    docs: dict[str, Any] = {}
    for fragment in (ops_api_fragment, http_client_fragment):
        docs.update(doc_options(fragment.ModuleDocFragment.DOCUMENTATION))
    assert mismatches(ops_api_info.ARGUMENT_SPEC, docs) == []
