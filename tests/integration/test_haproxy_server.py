"""haproxy_server and haproxy_server_info through the real ``ansible`` commands, and the snapshot kind ``haproxy``.

Against the lab's HAProxy (TCP admin socket and UNIX socket): reads and check mode only, since other tests change its canary
weights in parallel. Everything that writes runs against an HAProxy of this module's own (tests/unit/haproxytest.py: three
backends, 55 servers, both sockets), which the fault tests also stop and freeze. Not shared_lab.
"""
from __future__ import annotations

import json
import signal

import pytest
from haproxytest import INITIAL, fixture_lb, fixture_lb_process, fixture_own_lb, settings, state_rows  # noqa: F401  pylint: disable=unused-import
from labtest import run_lab, run_module, run_play
from unithelpers import haproxy_command

from ansible_collections.ofm.rollback.plugins.module_utils.config import plan
from ansible_collections.ofm.rollback.plugins.module_utils.haproxy_kind import KIND
from lab.components.haproxy import BACKEND
from lab.config import HOST, LabConfig, load_config

SECRET = "lb-stats-pw-3f9a0"


@pytest.fixture(scope="module", name="lab_haproxy")
def fixture_lab_haproxy() -> dict[str, str]:
    """The lab HAProxy's runtime API addresses; fails when the lab's HAProxy does not run."""
    cfg: LabConfig = load_config()
    status = json.loads(run_lab("status", "--json", check=False).stdout)
    state = next((row["state"] for row in status["components"] if row["component"] == "haproxy"), "absent")
    if state != "running":
        pytest.fail(f"the lab's haproxy is {state}: bring the lab up (scripts/test.sh or lab up)")
    return {"tcp": f"{HOST}:{cfg.ports['haproxy_admin']}", "unix": str(cfg.path("run", "haproxy.sock")),
            "config": str(cfg.path("etc", "haproxy.cfg"))}


# --- the lab's HAProxy: reads and check mode ---------------------------------------------------------------

@pytest.mark.parametrize("kind", ["tcp", "unix"])
def test_info_of_the_lab_haproxy(lab_haproxy, tmp_path, kind):
    done = run_module("haproxy_server_info", {"haproxy_runtime_api": lab_haproxy[kind], "backends": [BACKEND],
                                              "config_file": lab_haproxy["config"]}, tmp_path)
    assert not done.failed, done.output
    servers = done.result["backends"][BACKEND]
    assert set(servers) == {"stable", "canary"} and servers["stable"]["weight"] + servers["canary"]["weight"] == 100
    assert {entry["state"] for entry in done.result["servers"]} == {"ready"}
    assert done.result["reload"] == {"checked": True, "keeps_state": False, "state_file": None, "backends": {BACKEND: False},
                                     "reason": f"{lab_haproxy['config']} has no server-state-file in its global section"}


def test_check_mode_on_the_lab_haproxy_sends_no_write(lab_haproxy, tmp_path):
    info = run_module("haproxy_server_info", {"haproxy_runtime_api": lab_haproxy["unix"], "backends": [BACKEND]}, tmp_path).result
    weight = info["backends"][BACKEND]["canary"]["weight"]
    done = run_module("haproxy_server", {"haproxy_runtime_api": lab_haproxy["tcp"], "servers": [
        {"backend": BACKEND, "server": "canary", "weight": weight + 7, "state": "maint"}]}, tmp_path, check=True, diff=True)
    assert not done.failed and done.result["changed"], done.output
    assert done.result["commands"] == [f"set server {BACKEND}/canary state maint", f"set server {BACKEND}/canary weight {weight + 7}"]
    assert done.result["round_trips"] == 1
    assert '"state": "maint"' in done.stdout and "before" in done.stdout  # the diff


@pytest.mark.parametrize("kind", ["tcp", "unix"])
def test_the_kind_reads_the_lab_haproxy_and_plans_nothing_against_itself(lab_haproxy, kind):
    options = {"haproxy": {"runtime_api": lab_haproxy[kind], "backends": [BACKEND], "timeout": 5.0}}
    snapshot = KIND.build(options).read()
    assert set(snapshot[BACKEND]) == {"stable", "canary"}
    appliers = {"haproxy": KIND.build(options)}
    found = plan.make_plan(appliers, {"haproxy": snapshot})
    report = plan.restore(found, appliers, check_mode=True)
    assert report.result("haproxy").status in (plan.UNCHANGED_KIND, plan.PLANNED)  # PLANNED only if another test moved a weight meanwhile
    assert KIND.scope(options).startswith("haproxy ")


# --- an HAProxy of the tests' own: writes ------------------------------------------------------------------

def test_snapshot_change_restore_equal_then_unchanged_through_a_play(lb, tmp_path):
    change = [{"backend": "app", "server": "a1", "weight": 0, "state": "drain"}, {"backend": "app", "server": "a3", "state": "ready"},
              *({"backend": "big", "server": f"s{index:02d}", "weight": 100 + index} for index in range(1, 51))]
    tasks = [
        {"name": "Snapshot", "ofm.rollback.haproxy_server_info": {"haproxy_runtime_api": lb.admin, "backends": ["app", "big"]}, "register": "snap"},
        {"name": "Change", "ofm.rollback.haproxy_server": {"haproxy_runtime_api": lb.tcp, "servers": change}, "register": "changed"},
        {"name": "Restore", "ofm.rollback.haproxy_server": {"haproxy_runtime_api": lb.admin, "servers": "{{ snap.servers }}"},
         "register": "restored"},
        {"name": "Restore again", "ofm.rollback.haproxy_server": {"haproxy_runtime_api": lb.tcp, "servers": "{{ snap.servers }}"},
         "register": "again"},
        {"name": "Read after", "ofm.rollback.haproxy_server_info": {"haproxy_runtime_api": lb.tcp, "backends": ["app", "big"]}, "register": "after"},
    ]
    done = run_play(tasks, tmp_path, diff=True)
    assert done.rc == 0, done.output
    results = done.result
    assert results["changed"]["changed"] and len(results["changed"]["commands"]) == 53
    assert results["restored"]["changed"] and results["restored"]["round_trips"] == 3
    assert not results["again"]["changed"] and results["again"]["commands"] == [] and results["again"]["round_trips"] == 1
    assert results["after"]["backends"] == results["snap"]["backends"]
    assert results["snap"]["backends"]["app"] == {name: {"weight": weight, "state": state} for name, (weight, state) in INITIAL["app"].items()}
    assert "reloads or restarts" in done.output  # the reload warning of the changing tasks
    assert '"weight": 101' in done.stdout  # the diff of the change task


def test_check_mode_changes_nothing_in_haproxy(lb, tmp_path):
    before = state_rows(lb)
    done = run_module("haproxy_server", {"haproxy_runtime_api": lb.admin, "servers": [
        {"backend": "app", "server": "a2", "weight": 0, "state": "maint"}, {"backend": "big", "server": "s05", "state": "drain"}]},
        tmp_path, check=True, diff=True)
    assert not done.failed and done.result["changed"] and len(done.result["commands"]) == 3, done.output
    assert state_rows(lb) == before


@pytest.mark.parametrize("servers, words", [
    ([{"backend": "app", "server": "a1", "weight": 300}], "servers[0].weight"),
    ([{"backend": "app", "server": "a1", "state": "up"}], "value of state must be one of: ready, drain, maint"),
    ([{"backend": "app", "server": "nosuch", "weight": 1}, {"backend": "ghost", "server": "a1", "weight": 1}], "no server app/nosuch, ghost/a1"),
    ([{"backend": "app", "server": "a1"}], "has neither a weight nor a state"),
])
def test_bad_input_fails_before_anything_is_written(lb, tmp_path, servers, words):
    before = state_rows(lb)
    done = run_module("haproxy_server", {"haproxy_runtime_api": lb.tcp, "servers": servers}, tmp_path)
    assert done.failed and words in done.result["msg"], done.output
    assert state_rows(lb) == before


def test_drain_and_wait_through_ansible(lb, tmp_path):
    done = run_module("haproxy_server", {"haproxy_runtime_api": lb.admin, "wait_drained": True, "wait_timeout": 30, "wait_interval": 0.2,
                                         "servers": [{"backend": "drain", "server": "d1", "state": "drain"}]}, tmp_path)
    assert not done.failed and done.result["drained"]["sessions"] == {"drain/d1": 0}, done.output
    assert settings(lb)["drain"]["d1"] == (10, 0x08)


def test_the_reload_check_leaks_nothing_of_the_configuration(lb, tmp_path):
    config = tmp_path / "haproxy.cfg"
    config.write_text(f"global\n    server-state-file /var/lib/haproxy/state\nuserlist ops\n    user admin insecure-password {SECRET}\n"
                      f"defaults\n    load-server-state-from-file global\nlisten stats\n    stats auth admin:{SECRET}\nbackend app\n")
    done = run_module("haproxy_server", {"haproxy_runtime_api": lb.admin, "config_file": str(config),
                                         "servers": [{"backend": "app", "server": "a2", "weight": 3}]}, tmp_path, diff=True)
    assert not done.failed and done.result["reload"]["keeps_state"] is True and not done.warnings, done.output
    assert SECRET not in done.output


@pytest.mark.parametrize("kind", ["admin", "tcp"])
def test_the_kind_restores_over_both_sockets(lb, kind):
    options = {"haproxy": {"runtime_api": getattr(lb, kind), "backends": None, "timeout": 5.0}}
    snapshot = KIND.build(options).read()
    haproxy_command(lb.admin, "set server app/a1 weight 1; set server drain/d1 state maint; set server big/s33 weight 0")
    appliers = {"haproxy": KIND.build(options)}
    report = plan.restore(plan.make_plan(appliers, {"haproxy": snapshot}), appliers)
    assert report.restored_targets("haproxy") == ["drain", "app", "big"] and appliers["haproxy"].round_trips == 4
    assert KIND.build(options).read() == snapshot
    assert not plan.make_plan({"haproxy": KIND.build(options)}, {"haproxy": snapshot}).changed


# --- faults ------------------------------------------------------------------------------------------------

@pytest.mark.reliability("fault", procedure="external", case="HAProxy runtime API frozen",
                         expected="timed out clearly, nothing changed")
def test_a_frozen_haproxy_gives_a_clear_error(own_lb, tmp_path):
    own_lb.process.send_signal(signal.SIGSTOP)
    try:
        done = run_module("haproxy_server", {"haproxy_runtime_api": own_lb.tcp, "haproxy_timeout": 1,
                                             "servers": [{"backend": "app", "server": "a1", "weight": 1}]}, tmp_path)
    finally:
        own_lb.process.send_signal(signal.SIGCONT)
    assert done.failed and "no answer within 1s" in done.result["msg"] and own_lb.tcp in done.result["msg"], done.output
    assert settings(own_lb)["app"]["a1"] == (10, 0)


@pytest.mark.reliability("fault", procedure="external", case="HAProxy stopped",
                         expected="failed clearly, nothing changed")
def test_a_stopped_haproxy_gives_a_clear_error(own_lb, tmp_path):
    own_lb.process.terminate()
    own_lb.process.wait(timeout=10)
    for address in (own_lb.tcp, own_lb.admin):  # HAProxy leaves its socket file behind: refused, not missing
        done = run_module("haproxy_server_info", {"haproxy_runtime_api": address}, tmp_path)
        assert done.failed and "Connection refused" in done.result["msg"] and "Check that HAProxy runs" in done.result["msg"], done.output
        assert done.result["error"]["type"] == "UnavailableError"
