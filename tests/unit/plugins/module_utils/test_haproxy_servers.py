# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Server weights and states in batches, drain waits and the reload check, against a real HAProxy of the tests' own."""
from __future__ import annotations

import signal
import socket
import threading
import time

import pytest
from haproxytest import INITIAL, fixture_lb, fixture_lb_process, fixture_own_lb, held_session, settings, state_rows  # noqa: F401  pylint: disable=unused-import
from unithelpers import haproxy_command

from ansible_collections.ofm.rollback.plugins.module_utils import haproxy as haproxy_client
from ansible_collections.ofm.rollback.plugins.module_utils import haproxy_servers
from ansible_collections.ofm.rollback.plugins.module_utils.errors import (
    AuthorizationError,
    DataError,
    DeadlineExceeded,
    InputError,
    NotFoundError,
    UnavailableError,
)
from ansible_collections.ofm.rollback.plugins.module_utils.haproxy import HaproxyRuntimeClient
from ansible_collections.ofm.rollback.plugins.module_utils.haproxy_servers import (
    HaproxyServers,
    Wanted,
    reload_check,
    servers_info,
    set_servers,
    state_of,
    wanted_servers,
)

FORCED_MAINT, CONFIGURED, FORCED_DRAIN = 0x01, 0x04, 0x08


def params(address: str, servers: list[dict], **extra) -> dict:
    return {"haproxy_runtime_api": address, "haproxy_timeout": 5.0, "servers": servers, "wait_drained": False, "wait_timeout": 300.0,
            "wait_interval": 1.0, "config_file": None, **extra}


# --- the client's batches ------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["admin", "tcp"])
def test_several_commands_on_one_connection_answer_in_order(lb, kind):
    client = HaproxyRuntimeClient(getattr(lb, kind))
    answers = client.commands(["set server app/a1 weight 7", "get weight app/a1", "set server app/nosuch weight 1",
                               "show servers state drain", "get weight app/a2"])
    assert client.round_trips == 1
    assert answers[0] == "" and answers[1] == "7 (initial 10)" and answers[2].startswith("No such server")
    assert client.servers_state_rows("show servers state drain", answers[3])[0]["srv_name"] == "d1"
    assert answers[4] == "20 (initial 20)"


def test_a_batch_longer_than_a_line_takes_more_connections_and_keeps_the_answers_aligned(lb, monkeypatch):
    monkeypatch.setattr(haproxy_client, "MAX_LINE", 200)
    client = HaproxyRuntimeClient(lb.admin)
    answers = client.commands([f"get weight big/s{index:02d}" for index in range(1, 51)])
    assert answers == [f"{index} (initial {index})" for index in range(1, 51)]
    assert client.round_trips == 5  # ten commands of 18 characters and their nine "; " fit in 200


def test_a_truncated_answer_is_a_data_error_naming_the_commands():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        client = HaproxyRuntimeClient(f"127.0.0.1:{listener.getsockname()[1]}", timeout=2)

        def answer_once() -> None:
            conn, _address = listener.accept()
            conn.recv(1024)
            conn.sendall(b"\n7 (initial 10)")
            conn.close()

        threading.Thread(target=answer_once, daemon=True).start()
        with pytest.raises(DataError) as caught:
            client.commands(["set server app/a1 weight 7", "get weight app/a1", "get weight app/a2"])
    assert "complete answers to 3 commands" in str(caught.value)


def test_a_command_holding_a_separator_is_refused_before_anything_is_sent(tmp_path):
    with pytest.raises(InputError):
        HaproxyRuntimeClient(str(tmp_path / "absent.sock")).commands(["show info", "show stat; shutdown sessions server app/a1"])


# --- reading -------------------------------------------------------------------------------------------

def test_read_every_backend_with_weights_and_states(lb):
    client = HaproxyRuntimeClient(lb.tcp)
    found = HaproxyServers(client).read()
    assert client.round_trips == 1
    assert {backend: {name: (server.weight, server.state) for name, server in servers.items()} for backend, servers in found.items()} == INITIAL
    assert found["app"]["a3"].admin_flags == ("forced maint", "configured disabled")
    assert found["app"]["a3"].operational == "stopped" and found["app"]["a1"].initial_weight == 10


def test_read_named_backends_and_a_missing_one(lb):
    servers = HaproxyServers(HaproxyRuntimeClient(lb.admin))
    assert list(servers.read(["drain", "app"])) == ["drain", "app"]
    with pytest.raises(NotFoundError) as caught:
        servers.read(["app", "nosuch", "other"])
    assert "nosuch, other" in str(caught.value) and "app, big, drain, tracked, tracking" in str(caught.value)


@pytest.mark.parametrize("admin, state", [(0, "ready"), (CONFIGURED, "ready"), (FORCED_DRAIN, "drain"), (0x10, "drain"),
                                          (FORCED_MAINT | CONFIGURED, "maint"), (0x02, "maint"), (0x20, "maint"),
                                          (FORCED_MAINT | FORCED_DRAIN, "maint")])
def test_state_of_the_admin_bits(admin, state):
    assert state_of(admin) == state


# --- input ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("item, option, accepted", [
    ({"backend": "app", "server": "a1", "weight": 257}, "servers[0].weight", "0 to 256"),
    ({"backend": "app", "server": "a1", "weight": -1}, "servers[0].weight", "0 to 256"),
    ({"backend": "app", "server": "a1", "weight": True}, "servers[0].weight", "0 to 256"),
    ({"backend": "app", "server": "a1", "state": "up"}, "servers[0].state", "ready, drain, maint"),
    ({"backend": "app", "server": "a1"}, "servers[0]", "weight (0 to 256), state (ready, drain, maint), or both"),
    ({"backend": "app;shutdown", "server": "a1", "weight": 1}, "servers[0].backend", "letters, digits"),
])
def test_bad_input_is_refused_naming_the_option_before_any_connection(tmp_path, item, option, accepted):
    with pytest.raises(InputError) as caught:
        set_servers(params(str(tmp_path / "absent.sock"), [item]), check_mode=False)
    assert caught.value.option == option
    assert accepted in str(caught.value)


def test_a_server_given_twice_is_refused():
    with pytest.raises(InputError) as caught:
        wanted_servers([{"backend": "app", "server": "a1", "weight": 1}, {"backend": "app", "server": "a1", "state": "drain"}])
    assert caught.value.option == "servers[1]" and "given twice" in str(caught.value)


def test_missing_servers_and_backends_are_named_together_and_nothing_is_written(lb):
    before = state_rows(lb)
    with pytest.raises(NotFoundError) as caught:
        set_servers(params(lb.admin, [{"backend": "app", "server": "a1", "weight": 1}, {"backend": "app", "server": "zz", "weight": 1},
                                      {"backend": "nope", "server": "a1", "state": "drain"}]), check_mode=False)
    assert "no server app/zz, nope/a1" in str(caught.value) and "Nothing was changed" in str(caught.value)
    assert state_rows(lb) == before


@pytest.mark.parametrize("option", ["wait_timeout", "wait_interval"])
def test_waits_must_be_positive(lb, option):
    with pytest.raises(InputError) as caught:
        set_servers(params(lb.admin, [{"backend": "app", "server": "a1", "weight": 1}], **{option: 0}), check_mode=False)
    assert caught.value.option == option


# --- writing -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["admin", "tcp"])
def test_set_weights_and_states_then_nothing_to_do(lb, kind):
    wanted = [{"backend": "app", "server": "a1", "weight": 0, "state": "drain"}, {"backend": "app", "server": "a3", "state": "ready"},
              {"backend": "app", "server": "a2", "weight": 40}, {"backend": "big", "server": "s07", "state": "maint"}]
    result, timed_out = set_servers(params(getattr(lb, kind), wanted), check_mode=False)
    assert timed_out is None and result["changed"]
    assert result["commands"] == ["set server app/a1 state drain", "set server big/s07 state maint", "set server app/a1 weight 0",
                                  "set server app/a2 weight 40", "set server app/a3 state ready"]
    assert result["round_trips"] == 3  # read, write, read back
    now = settings(lb)
    assert now["app"] == {"a1": (0, FORCED_DRAIN), "a2": (40, 0), "a3": (30, CONFIGURED)}
    assert now["big"]["s07"] == (7, FORCED_MAINT) and now["big"]["s08"] == (8, 0)
    assert result["diff"] == {"before": {"app": {"a1": {"weight": 10, "state": "ready"}, "a3": {"weight": 30, "state": "maint"},
                                                 "a2": {"weight": 20, "state": "ready"}}, "big": {"s07": {"weight": 7, "state": "ready"}}},
                              "after": {"app": {"a1": {"weight": 0, "state": "drain"}, "a3": {"weight": 30, "state": "ready"},
                                                "a2": {"weight": 40, "state": "ready"}}, "big": {"s07": {"weight": 7, "state": "maint"}}}}
    assert [server["state"] for server in result["servers"]] == ["drain", "ready", "ready", "maint"]
    assert "HAProxy forgets weights and states" in result["warnings"][0] and "not checked" in result["warnings"][0]
    again, _timed_out = set_servers(params(getattr(lb, kind), wanted), check_mode=False)
    assert not again["changed"] and again["commands"] == [] and again["round_trips"] == 1 and again["warnings"] == []
    assert again["diff"]["before"] == again["diff"]["after"] == result["diff"]["after"]


def test_check_mode_sends_no_write_and_haproxy_is_unchanged(lb):
    before = state_rows(lb)
    result, _timed_out = set_servers(params(lb.admin, [{"backend": "app", "server": "a1", "weight": 99, "state": "maint"}]), check_mode=True)
    assert result["changed"] and result["commands"] == ["set server app/a1 state maint", "set server app/a1 weight 99"]
    assert result["round_trips"] == 1
    assert result["servers"][0]["weight"] == 99 and result["servers"][0]["state"] == "maint"
    assert state_rows(lb) == before


def test_an_operator_socket_is_refused_and_the_result_says_nothing_was_done(lb):
    with pytest.raises(AuthorizationError) as caught:
        set_servers(params(lb.operator, [{"backend": "app", "server": "a1", "weight": 1}, {"backend": "app", "server": "a2", "weight": 2}]),
                    check_mode=False)
    assert "level admin" in str(caught.value)
    assert caught.value.details["done"] == [] and caught.value.details["not_done"] == ["app/a1", "app/a2"]
    assert [entry["command"] for entry in caught.value.details["refused"]] == ["set server app/a1 weight 1", "set server app/a2 weight 2"]
    assert settings(lb)["app"]["a1"] == (10, 0)


def test_a_server_that_cannot_take_its_state_fails_the_read_back_naming_what_is_done(lb):
    haproxy_command(lb.admin, "set server tracked/main state maint")
    with pytest.raises(DataError) as caught:
        set_servers(params(lb.tcp, [{"backend": "app", "server": "a1", "weight": 4}, {"backend": "tracking", "server": "follower", "state": "ready"}]),
                    check_mode=False)
    assert "tracking/follower is {'weight': 1, 'state': 'maint'}" in str(caught.value) and "tracks another" in caught.value.hint
    assert caught.value.details["done"] == ["app/a1"] and caught.value.details["not_done"] == ["tracking/follower"]
    assert settings(lb)["tracking"]["follower"] == (1, 0x02)


def test_fifty_servers_in_one_write(lb):
    wanted = [{"backend": "big", "server": f"s{index:02d}", "weight": 51 - index} for index in range(1, 51)]
    result, _timed_out = set_servers(params(lb.admin, wanted), check_mode=False)
    assert len(result["commands"]) == 50 and result["round_trips"] == 3
    assert {name: weight for name, (weight, _admin) in settings(lb)["big"].items()} == {f"s{index:02d}": 51 - index for index in range(1, 51)}


# --- drains --------------------------------------------------------------------------------------------

def test_drain_wait_times_out_while_a_session_is_open_and_reports_it(lb, lb_process):
    with held_session(lb, lb_process[1]):
        result, timed_out = set_servers(params(lb.admin, [{"backend": "drain", "server": "d1", "state": "drain"}], wait_drained=True,
                                               wait_timeout=0.3, wait_interval=0.1), check_mode=False)
    assert isinstance(timed_out, DeadlineExceeded) and "drain/d1 1" in str(timed_out)
    assert result["changed"] and result["drained"]["sessions"] == {"drain/d1": 1}
    assert settings(lb)["drain"]["d1"] == (10, FORCED_DRAIN)


def test_drain_wait_polls_until_the_last_session_ends(lb, lb_process):
    servers = HaproxyServers(HaproxyRuntimeClient(lb.tcp))
    with held_session(lb, lb_process[1]) as client:
        servers.write(["set server drain/d1 state maint"])

        def sleep(seconds: float) -> None:
            client.close()
            time.sleep(seconds)

        polled = servers.wait_drained([("drain", "d1")], timeout=10, interval=0.05, sleep=sleep)
    assert polled.value == {"drain/d1": 0} and polled.polls > 1


def test_no_drain_wait_in_check_mode(lb, lb_process):
    with held_session(lb, lb_process[1]):
        result, timed_out = set_servers(params(lb.admin, [{"backend": "drain", "server": "d1", "weight": 0}], wait_drained=True,
                                               wait_timeout=0.2), check_mode=True)
    assert timed_out is None and result["drained"] is None and result["round_trips"] == 1


# --- info ----------------------------------------------------------------------------------------------

def test_info_reads_states_and_sessions_on_one_connection(lb, lb_process):
    with held_session(lb, lb_process[1]):
        info = servers_info({"haproxy_runtime_api": lb.tcp, "haproxy_timeout": 5.0, "backends": ["drain", "app"], "config_file": None})
    assert info["round_trips"] == 1 and not info["changed"]
    assert info["backends"] == {"drain": {"d1": {"weight": 10, "state": "ready"}},
                                "app": {"a1": {"weight": 10, "state": "ready"}, "a2": {"weight": 20, "state": "ready"},
                                        "a3": {"weight": 30, "state": "maint"}}}
    assert info["servers"][0] == {"backend": "drain", "server": "d1", "weight": 10, "state": "ready"}
    assert info["details"][0]["sessions"] == 1 and info["details"][1]["sessions"] == 0


def test_info_servers_restore_exactly_what_was_read(lb):
    info = servers_info({"haproxy_runtime_api": lb.admin, "haproxy_timeout": 5.0, "backends": None, "config_file": None})
    set_servers(params(lb.admin, [{"backend": "app", "server": "a1", "weight": 3, "state": "maint"},
                                  {"backend": "big", "server": "s50", "state": "drain"}]), check_mode=False)
    result, _timed_out = set_servers(params(lb.admin, info["servers"]), check_mode=False)
    assert result["commands"] == ["set server app/a1 weight 10", "set server app/a1 state ready", "set server big/s50 state ready"]
    assert servers_info({"haproxy_runtime_api": lb.admin, "haproxy_timeout": 5.0, "backends": None, "config_file": None})["backends"] == info["backends"]


# --- faults --------------------------------------------------------------------------------------------

def test_a_stopped_haproxy_is_a_clear_error(own_lb):
    own_lb.process.terminate()
    own_lb.process.wait(timeout=10)
    for address in (own_lb.admin, own_lb.tcp):
        with pytest.raises(UnavailableError) as caught:
            set_servers(params(address, [{"backend": "app", "server": "a1", "weight": 1}]), check_mode=False)
        assert "command 'show servers state'" in str(caught.value) and "Check that HAProxy runs" in str(caught.value)
        assert ("No such file" in str(caught.value) or "Connection refused" in str(caught.value))


def test_a_frozen_haproxy_times_out(own_lb):
    own_lb.process.send_signal(signal.SIGSTOP)
    try:
        with pytest.raises(UnavailableError) as caught:
            set_servers(params(own_lb.tcp, [{"backend": "app", "server": "a1", "weight": 1}], haproxy_timeout=0.5), check_mode=False)
    finally:
        own_lb.process.send_signal(signal.SIGCONT)
    assert "no answer within 0.5s" in str(caught.value) and caught.value.target == own_lb.tcp


def test_haproxy_stopping_between_read_and_write_reports_progress_unknown(own_lb):
    servers = HaproxyServers(HaproxyRuntimeClient(own_lb.admin))
    plan = servers.plan([Wanted("app", "a1", 1)])
    own_lb.process.terminate()
    own_lb.process.wait(timeout=10)
    with pytest.raises(UnavailableError) as caught:
        haproxy_servers._written(servers, plan, ["set server app/a1 weight 1"])  # pylint: disable=protected-access
    assert caught.value.details == {"done": "unknown", "not_done": "unknown", "commands": ["set server app/a1 weight 1"]}


# --- reload check --------------------------------------------------------------------------------------

GLOBAL_STATE = "global\n    server-state-base /var/lib/haproxy\n    server-state-file state\n"


@pytest.mark.parametrize("text, keeps, backends", [
    ("global\n    maxconn 10\ndefaults\n    load-server-state-from-file global\nbackend app\n", False, {"app": False}),
    (GLOBAL_STATE + "defaults\n    mode http\nbackend app\n", False, {"app": False}),
    (GLOBAL_STATE + "defaults\n    load-server-state-from-file global\nbackend app\nbackend web\n", True, {"app": True, "web": True}),
    (GLOBAL_STATE + "defaults\n    load-server-state-from-file global\nbackend app\n    load-server-state-from-file none\nbackend web\n",
     False, {"app": False, "web": True}),
    (GLOBAL_STATE + "defaults keep\n    load-server-state-from-file local # per backend\ndefaults plain\n    mode tcp\n"
                    "backend app from keep\nlisten web\n", False, {"app": True, "web": False}),
])
def test_reload_check_reads_the_configuration(tmp_path, text, keeps, backends):
    config = tmp_path / "haproxy.cfg"
    config.write_text(text)
    check = reload_check(str(config), list(backends))
    assert (check.checked, check.keeps_state, check.backends) == (True, keeps, backends)
    if "server-state-file" in text:
        assert check.state_file == "/var/lib/haproxy/state"
    assert (check.warning() is None) == keeps


def test_reload_check_of_a_directory_and_of_nothing(tmp_path):
    (tmp_path / "10-global.cfg").write_text(GLOBAL_STATE + "defaults\n    load-server-state-from-file global\n")
    (tmp_path / "20-app.cfg").write_text("backend app\n    balance roundrobin\n")
    assert reload_check(str(tmp_path), ["app"]).keeps_state is True
    unchecked = reload_check(None, ["app"])
    assert (unchecked.checked, unchecked.keeps_state) == (False, None) and "set config_file" in unchecked.warning()


def test_an_unreadable_configuration_names_the_option(tmp_path):
    with pytest.raises(InputError) as caught:
        reload_check(str(tmp_path / "absent.cfg"), ["app"])
    assert caught.value.option == "config_file" and "absent.cfg" in str(caught.value)


# --- connection retries --------------------------------------------------------------------------------

def test_a_refused_connection_is_tried_again_and_then_reported_as_not_sent(tmp_path):
    client = HaproxyRuntimeClient(str(tmp_path / "gone.sock"))
    pauses = []
    client.sleep = pauses.append
    with pytest.raises(UnavailableError) as caught:
        client.commands(["show info"])
    assert pauses == list(haproxy_client.RETRY_DELAYS) and client.round_trips == 3
    assert caught.value.attempts == 3 and caught.value.sent is False


def test_a_socket_that_comes_back_while_retrying_answers(lb, tmp_path):
    path = tmp_path / "reloading.sock"
    client = HaproxyRuntimeClient(str(path))

    def socket_comes_back(_seconds: float) -> None:  # a stand-in for HAProxy binding its socket again, forwarding to the real one
        listener = socket.socket(socket.AF_UNIX)
        listener.bind(str(path))
        listener.listen(1)

        def forward() -> None:
            conn, _address = listener.accept()
            with conn, socket.socket(socket.AF_UNIX) as upstream:
                upstream.connect(lb.admin)
                upstream.sendall(conn.recv(65536))
                while chunk := upstream.recv(65536):
                    conn.sendall(chunk)
            listener.close()

        threading.Thread(target=forward, daemon=True).start()

    client.sleep = socket_comes_back
    assert client.commands(["get weight app/a1"]) == ["10 (initial 10)"] and client.round_trips == 2
