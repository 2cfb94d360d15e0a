# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""HaproxyRuntimeClient against a real HAProxy started with a temporary configuration."""
from __future__ import annotations

import socket

import pytest

from ansible_collections.ofm.rollback.plugins.module_utils.errors import (
    AuthorizationError,
    InputError,
    NotFoundError,
    UnavailableError,
)
from ansible_collections.ofm.rollback.plugins.module_utils.haproxy import HaproxyRuntimeClient, ServerWeight, parse_address

BACKEND = "ofm_api"


@pytest.mark.parametrize("kind", ["admin", "tcp"])
def test_get_and_set_weight_over_unix_and_tcp(haproxy, kind):
    client = HaproxyRuntimeClient(getattr(haproxy, kind))
    assert client.get_weight(BACKEND, "canary") == ServerWeight(current=10, initial=10)
    client.set_weight(BACKEND, "canary", 0)
    assert client.get_weight(BACKEND, "canary") == ServerWeight(current=0, initial=10)
    assert HaproxyRuntimeClient(haproxy.admin).get_weight(BACKEND, "stable").current == 90


def test_show_servers_state_of_one_backend_and_of_all(haproxy):
    client = HaproxyRuntimeClient(haproxy.admin)
    client.set_weight(BACKEND, "canary", 3)
    rows = client.show_servers_state(BACKEND)
    assert [(row["be_name"], row["srv_name"], row["srv_uweight"], row["srv_iweight"]) for row in rows] == [
        (BACKEND, "stable", "90", "90"), (BACKEND, "canary", "3", "10")]
    assert {row["be_name"] for row in client.show_servers_state()} == {BACKEND, "other"}


@pytest.mark.parametrize("call, answer", [
    (lambda client: client.get_weight(BACKEND, "nosuch"), "No such server"),
    (lambda client: client.get_weight("nosuch", "canary"), "No such backend"),
    (lambda client: client.show_servers_state("nosuch"), "Can't find backend"),
])
def test_unknown_names_are_not_found_errors_naming_socket_and_command(haproxy, call, answer):
    with pytest.raises(NotFoundError) as caught:
        call(HaproxyRuntimeClient(haproxy.admin))
    message = str(caught.value)
    assert message.startswith("HAProxy runtime API: command '")
    assert f"on unix socket {haproxy.admin} failed: {answer}" in message
    assert "show servers state" in caught.value.hint


def test_operator_socket_cannot_set_weights(haproxy):
    client = HaproxyRuntimeClient(haproxy.operator)
    assert client.get_weight(BACKEND, "canary").current == 10
    with pytest.raises(AuthorizationError) as caught:
        client.set_weight(BACKEND, "canary", 0)
    assert "Permission denied" in str(caught.value) and "level admin" in str(caught.value)
    assert HaproxyRuntimeClient(haproxy.admin).get_weight(BACKEND, "canary").current == 10


@pytest.mark.parametrize("backend, server, weight, problem", [
    (BACKEND, "canary", 257, "257"),
    (BACKEND, "canary", -1, "-1"),
    (BACKEND, "canary", True, "True"),
    ("ofm api", "canary", 0, "backend name 'ofm api'"),
    (BACKEND, "canary;shutdown", 0, "server name 'canary;shutdown'"),
])
def test_bad_names_and_weights_fail_before_anything_is_sent(tmp_path, backend, server, weight, problem):
    client = HaproxyRuntimeClient(str(tmp_path / "absent.sock"))
    with pytest.raises(InputError) as caught:
        client.set_weight(backend, server, weight)
    assert problem in str(caught.value)


@pytest.mark.reliability("bad-input", procedure="haproxy_server", case="command='show info\\nshutdown sessions'",
                         expected="refused before any change")
def test_a_command_with_a_newline_is_refused_before_sending(tmp_path, reliability):
    with pytest.raises(InputError) as caught:
        HaproxyRuntimeClient(str(tmp_path / "absent.sock")).command("show info\nshutdown sessions")
    assert "without newlines" in str(caught.value)
    reliability.observed("refused before the socket was opened: one command, without newlines")


def test_missing_socket_names_the_socket_and_command(tmp_path):
    path = tmp_path / "absent.sock"
    with pytest.raises(UnavailableError) as caught:
        HaproxyRuntimeClient(str(path)).get_weight(BACKEND, "canary")
    message = str(caught.value)
    assert message.startswith(f"HAProxy runtime API: command 'get weight {BACKEND}/canary' on unix socket {path} failed: No such file")
    assert "stats socket" in caught.value.hint


def test_a_silent_server_times_out():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        address = f"127.0.0.1:{listener.getsockname()[1]}"
        with pytest.raises(UnavailableError) as caught:
            HaproxyRuntimeClient(address, timeout=0.2).show_servers_state(BACKEND)
    assert "no answer within 0.2s" in str(caught.value)
    assert caught.value.target == address


@pytest.mark.parametrize("address, endpoint", [
    ("/run/haproxy/admin.sock", "/run/haproxy/admin.sock"),
    ("haproxy.sock", "haproxy.sock"),
    ("unix@/run/haproxy.sock", "/run/haproxy.sock"),
    ("127.0.0.1:9999", ("127.0.0.1", 9999)),
    ("ipv4@10.0.0.5:9999", ("10.0.0.5", 9999)),
    ("[::1]:9999", ("::1", 9999)),
    ("ipv6@[::1]:9999", ("::1", 9999)),
    ("lb.internal:9999", ("lb.internal", 9999)),
])
def test_parse_address(address, endpoint):
    assert parse_address(address) == endpoint


@pytest.mark.parametrize("address", ["", "127.0.0.1:", "127.0.0.1:http", "host:70000", "unix@", ":9999"])
def test_bad_addresses_name_the_option(address):
    with pytest.raises(InputError) as caught:
        HaproxyRuntimeClient(address)
    assert caught.value.option == "haproxy_runtime_api"
    assert "host:port" in str(caught.value)


def test_timeout_must_be_positive():
    with pytest.raises(InputError) as caught:
        HaproxyRuntimeClient("/run/haproxy.sock", timeout=0)
    assert caught.value.option == "haproxy_timeout"


def test_from_params_reads_the_router_options():
    client = HaproxyRuntimeClient.from_params({"haproxy_runtime_api": "ipv4@10.0.0.5:9999", "haproxy_timeout": 2.5})
    assert (client.endpoint, client.timeout, client.target) == (("10.0.0.5", 9999), 2.5, "10.0.0.5:9999")
    with pytest.raises(InputError) as caught:
        HaproxyRuntimeClient.from_params({"haproxy_runtime_api": "/run/haproxy.sock", "haproxy_timeout": -1.0})
    assert caught.value.option == "haproxy_timeout"
