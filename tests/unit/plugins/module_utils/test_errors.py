# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import json

import pytest

from ansible_collections.ofm.rollback.plugins.module_utils.errors import (
    AuthenticationError,
    AuthorizationError,
    ConflictError,
    DataError,
    DeadlineExceeded,
    InputError,
    NotFoundError,
    OfmRollbackError,
    UnavailableError,
)
from ansible_collections.ofm.rollback.plugins.module_utils.redact import REDACTED, redact, redact_url


def test_message_names_system_operation_target_reason_and_hint():
    error = OfmRollbackError("HTTP 500: boom", system="ops API", operation="POST /internal/ops/canary/rollback",
                             target="https://internal.ofm.social/internal/ops/canary/rollback", hint="Check the ops API logs.")
    assert str(error) == ("ops API: POST /internal/ops/canary/rollback on https://internal.ofm.social/internal/ops/canary/rollback "
                          "failed: HTTP 500: boom. Check the ops API logs.")


def test_message_without_target_or_hint_has_no_dangling_words():
    assert str(OfmRollbackError("it broke.", system="helm", operation="rollback")) == "helm: rollback failed: it broke."


def test_target_with_credentials_is_redacted():
    error = NotFoundError("gone", system="Prometheus", operation="GET /x", target="https://admin:hunter2@prom.example/x")
    assert "hunter2" not in str(error)
    assert "admin" not in error.target
    assert error.target == f"https://{REDACTED}@prom.example/x"


def test_details_are_redacted():
    error = DataError("bad", details={"headers": {"Authorization": "Bearer abc.def"}, "password": "p4ss", "body": "token=xyz&a=1"})
    text = json.dumps(error.to_result())
    for secret in ("abc.def", "p4ss", "xyz"):
        assert secret not in text
    assert error.details["body"] == f"token={REDACTED}&a=1"


def test_to_result_gives_fail_json_kwargs():
    error = UnavailableError("HTTP 503 after 4 attempt(s)", attempts=4, system="Prometheus", operation="POST /api/v1/query_range",
                             target="http://prom:9090/api/v1/query_range", status=503)
    result = error.to_result()
    assert result["msg"] == str(error)
    assert result["error"]["type"] == "UnavailableError"
    assert result["error"]["attempts"] == 4
    assert result["error"]["sent"] is None
    assert result["error"]["status"] == 503
    assert result["error"]["system"] == "Prometheus"
    assert result["error"]["hint"] == UnavailableError.default_hint


@pytest.mark.parametrize("sent", [True, False])
def test_to_result_says_whether_the_request_reached_the_server(sent):
    assert UnavailableError("HTTP 503 after 1 attempt(s)", sent=sent).to_result()["error"]["sent"] is sent


def test_input_error_names_option_and_accepted_values():
    error = InputError("'weekly' is not a valid choice", option="scope", accepted=["canary", "stable", "both"])
    assert str(error) == ("ofm.rollback: check of option 'scope' failed: 'weekly' is not a valid choice. "
                          "Accepted values: canary, stable, both.")
    assert error.to_result()["error"]["option"] == "scope"
    assert error.to_result()["error"]["accepted"] == ["canary", "stable", "both"]


def test_input_error_with_accepted_description():
    error = InputError("'5x' is not a duration", option="sustain", accepted="a duration such as 5m")
    assert str(error).endswith("Accepted: a duration such as 5m.")


def test_authorization_error_tells_which_role_is_missing():
    error = AuthorizationError("HTTP 403: Insufficient permissions", required_role="admin", current_roles=["viewer", "operator"],
                               system="ops API", operation="POST /internal/ops/canary/rollback", target="https://internal.ofm.social")
    assert "needs role 'admin'" in str(error)
    assert "viewer, operator" in str(error)
    assert error.to_result()["error"]["required_role"] == "admin"
    assert error.to_result()["error"]["current_roles"] == ["viewer", "operator"]


def test_authorization_error_without_roles_points_at_allow_list():
    error = AuthorizationError("HTTP 403: IP not allowed", system="ops API", operation="GET /internal/ops/logs")
    assert error.required_role is None
    assert "allow-list" in error.hint


def test_deadline_exceeded_keeps_last_state_out_of_the_result():
    error = DeadlineExceeded("all_ok did not hold", timeout=60.0, last_state={"polls": 4}, system="Prometheus", operation="wait for all_ok")
    assert error.last_state == {"polls": 4}
    assert error.to_result()["error"]["timeout"] == 60.0
    assert "last_state" not in error.to_result()["error"]


@pytest.mark.parametrize("cls", [AuthenticationError, AuthorizationError, NotFoundError, ConflictError, UnavailableError,
                                 DeadlineExceeded, DataError, InputError])
def test_every_error_is_an_ofm_rollback_error_with_a_hint(cls):
    error = cls("reason")
    assert isinstance(error, OfmRollbackError)
    assert error.to_result()["error"]["type"] == cls.__name__
    if cls is not InputError:
        assert error.hint


def test_reason_is_redacted():
    error = AuthenticationError("HTTP 401: bad cookie connect.sid=s%3Aabc123.sig")
    assert "abc123" not in str(error)


@pytest.mark.parametrize("text, secret", [
    ("Authorization: Bearer eyJhbGciOi.payload.sig", "eyJhbGciOi"),
    ("authorization=Basic dXNlcjpwYXNz", "dXNlcjpwYXNz"),
    ("Cookie: connect.sid=s%3Aabc.def; theme=dark", "abc.def"),
    ("Set-Cookie: connect.sid=zzz; Path=/", "zzz"),
    ("https://ops:Pa55@internal.ofm.social/x", "Pa55"),
    ("https://ghp_tokenonly@github.com/x", "ghp_tokenonly"),
    ("GET /api?access_token=t0k3n&limit=5", "t0k3n"),
    ("password=hunter2", "hunter2"),
    ('{"api_key": "k-123"}', "k-123"),
])
def test_secret_looking_patterns_are_redacted(text, secret):
    assert secret not in redact(text)
    assert REDACTED in redact(text)


def test_given_secret_values_and_their_url_encoding_are_redacted():
    secret = "s:abc/def"
    text = f"cookie value {secret} and encoded s%3Aabc%2Fdef"
    assert redact(text, [secret]) == f"cookie value {REDACTED} and encoded {REDACTED}"


def test_redact_walks_nested_values_and_masks_sensitive_keys():
    value = {"outer": [{"token": "t"}, "Bearer-free text"], "Cookie": "a=b", "count": 3, "empty_password": ""}
    assert redact(value) == {"outer": [{"token": REDACTED}, "Bearer-free text"], "Cookie": REDACTED, "count": 3, "empty_password": ""}


def test_redact_url_keeps_host_and_harmless_parameters():
    assert redact_url("https://u:p@h.example:8443/p?limit=5&token=abc") == f"https://{REDACTED}@h.example:8443/p?limit=5&token={REDACTED}"
