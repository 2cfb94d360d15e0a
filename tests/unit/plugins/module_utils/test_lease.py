"""One rollback at a time: the lease's rules (free, held, expired, dead, taken over, waited for, raced) on the file backend,
the Lease object's round trip, and the module's option checks and backend fallback."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from dataclasses import replace

import pytest

from ansible_collections.ofm.rollback.plugins.module_utils import lease as leases
from ansible_collections.ofm.rollback.plugins.module_utils import lease_run
from ansible_collections.ofm.rollback.plugins.module_utils.errors import ConflictError, InputError

HOST = socket.gethostname()


class Clock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def holder(name: str = "a", **fields) -> leases.Holder:
    base = leases.Holder(identity=f"other-host:{name}:1", incident_id="INC-1", operator=name, procedure="emergency",
                         host="other-host", pid=4242, ttl=60.0)
    return replace(base, **fields)


def me() -> leases.Holder:
    pid = os.getpid()
    return leases.Holder(identity=leases.process_identity(pid, HOST), incident_id="INC-2", operator="bob", procedure="emergency",
                         host=HOST, pid=pid, ttl=60.0)


def test_a_free_lease_is_taken_and_a_second_run_is_refused_naming_the_holder_and_since_when(tmp_path):
    store, clock = leases.FileStore(str(tmp_path)), Clock()
    first = holder("alice")
    taken = leases.acquire(store, "ofm-rollback-x", first, clock=clock, sleep=clock.sleep)
    assert taken.acquired and taken.changed and taken.previous is None
    clock.now += 10
    with pytest.raises(leases.LeaseHeld) as refused:
        leases.acquire(store, "ofm-rollback-x", me(), clock=clock, sleep=clock.sleep)
    text = str(refused.value)
    assert "alice (INC-1, emergency) on other-host (pid 4242)" in text
    assert f"since {leases.utc(1_800_000_000.0)}" in text and "UTC" in text and "renewed 10 s ago" in text
    assert "Nothing was changed" in text and "rollback_lease_wait" in text
    assert store.read("ofm-rollback-x")[0].identity == first.identity  # untouched


def test_the_same_run_renews_without_a_change_and_keeps_its_acquire_time(tmp_path):
    store, clock = leases.FileStore(str(tmp_path)), Clock()
    mine = me()
    leases.acquire(store, "l", mine, clock=clock, sleep=clock.sleep)
    clock.now += 30
    again = leases.acquire(store, "l", mine, clock=clock, sleep=clock.sleep)
    assert again.acquired and not again.changed
    found = store.read("l")[0]
    assert found.acquired == 1_800_000_000.0 and found.renewed == clock.now


def test_an_expired_lease_is_taken_over_and_counted(tmp_path):
    store, clock = leases.FileStore(str(tmp_path)), Clock()
    leases.acquire(store, "l", holder("alice"), clock=clock, sleep=clock.sleep)
    clock.now += 61
    taken = leases.acquire(store, "l", me(), clock=clock, sleep=clock.sleep)
    assert taken.took_over == "expired" and taken.previous.operator == "alice"
    assert store.read("l")[0].transitions == 1


def test_a_holder_on_this_host_whose_process_is_gone_is_dead_at_once(tmp_path):
    store, clock = leases.FileStore(str(tmp_path)), Clock()
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    dead = holder("carol", identity=leases.process_identity(child.pid, HOST) + "-was", host=HOST, pid=child.pid)
    leases.acquire(store, "l", dead, clock=clock, sleep=clock.sleep)
    taken = leases.acquire(store, "l", me(), clock=clock, sleep=clock.sleep)
    assert taken.took_over == "dead"


def test_a_live_holder_on_this_host_is_not_dead():
    alive = leases.Holder(identity=leases.process_identity(os.getppid(), HOST), host=HOST, pid=os.getppid())
    assert not alive.dead_here(HOST)
    assert not holder("x").dead_here(HOST)  # another host: cannot tell, so never dead


def test_takeover_takes_a_live_lease_and_returns_the_previous_holder(tmp_path):
    store, clock = leases.FileStore(str(tmp_path)), Clock()
    leases.acquire(store, "l", holder("alice"), clock=clock, sleep=clock.sleep)
    taken = leases.acquire(store, "l", me(), takeover=True, clock=clock, sleep=clock.sleep)
    assert taken.took_over == "takeover" and taken.previous.operator == "alice"


def test_waiting_queues_behind_a_holder_until_it_lets_go(tmp_path):
    store, clock = leases.FileStore(str(tmp_path)), Clock()
    first = holder("alice")
    leases.acquire(store, "l", first, clock=clock, sleep=clock.sleep)
    sleeps = []

    def sleep(seconds):
        sleeps.append(seconds)
        clock.sleep(seconds)
        if len(sleeps) == 3:
            leases.release(store, "l", first)

    taken = leases.acquire(store, "l", me(), wait=30, poll=2, clock=clock, sleep=sleep)
    assert taken.acquired and taken.previous is None and taken.waited == pytest.approx(6)
    with pytest.raises(leases.LeaseHeld, match="after waiting 5 s"):
        leases.acquire(store, "l", holder("dave"), wait=5, poll=2, clock=clock, sleep=clock.sleep)


def test_release_frees_only_the_runs_own_lease(tmp_path):
    store = leases.FileStore(str(tmp_path))
    leases.acquire(store, "l", holder("alice"))
    assert leases.release(store, "l", me()) == (False, store.read("l")[0])
    assert store.read("l")[0].operator == "alice"
    changed = leases.release(store, "l", holder("alice"))[0]
    assert changed and store.read("l")[0] is None


def test_two_writers_racing_on_one_version_get_one_success_and_one_conflict(tmp_path):
    store = leases.FileStore(str(tmp_path))
    version = store.read("l")[1]
    store.write("l", holder("alice"), version)
    with pytest.raises(ConflictError):
        store.write("l", holder("bob"), version)


def test_many_threads_acquiring_at_once_leave_exactly_one_holder(tmp_path):
    won, lost = [], []

    def race(index):  # pylint: disable=disallowed-name
        store = leases.FileStore(str(tmp_path))
        try:
            leases.acquire(store, "l", holder(f"op{index}", host=f"host-{index}"))
            won.append(index)
        except leases.LeaseHeld:
            lost.append(index)

    threads = [threading.Thread(target=race, args=(index,)) for index in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(won) == 1 and len(lost) == 7


def test_renewal_stops_when_the_run_ends_or_the_lease_is_taken(tmp_path):
    store, clock = leases.FileStore(str(tmp_path)), Clock()
    mine = me()
    leases.acquire(store, "l", mine, clock=clock, sleep=clock.sleep)
    lives = iter([True, True, True, False])
    why = leases.renew_while_alive(store, "l", mine, 1, 0.5, alive=lambda _pid: next(lives), clock=clock, sleep=clock.sleep)
    assert "process ended" in why and store.read("l")[0].renewed > 1_800_000_000.0
    leases.acquire(store, "l", holder("eve"), takeover=True, clock=clock, sleep=clock.sleep)
    why = leases.renew_while_alive(store, "l", mine, 1, 0.5, alive=lambda _pid: True, clock=clock, sleep=clock.sleep)
    assert "taken over" in why and store.read("l")[0].operator == "eve"


def test_the_lease_object_round_trips_holder_and_times():
    original = holder("alice", acquired=1_800_000_000.25, renewed=1_800_000_030.5, transitions=3)
    obj = leases.lease_object("ofm-rollback-x", "ofm-production", original, "17")
    assert obj["metadata"]["resourceVersion"] == "17" and obj["spec"]["leaseDurationSeconds"] == 60
    assert obj["spec"]["renewTime"] == "2027-01-15T08:00:30.500000Z"
    back = leases.holder_from_lease(obj)
    assert back == original
    assert leases.holder_from_lease(leases.lease_object("x", "ns", None, "18")) is None


@pytest.mark.parametrize("name", ["", "Upper", "has_underscore", "-dash", "dash-", "a" * 64, "../etc", "x\ny"])
def test_a_bad_lease_name_is_refused_naming_the_option(name):
    with pytest.raises(InputError) as refused:
        leases.checked_name(name)
    assert refused.value.option == "name" and "lower-case letters" in str(refused.value)


@pytest.mark.parametrize("option,value,accepted", [
    ("ttl", "5s", "15s to 1h"), ("ttl", "2h", "15s to 1h"), ("ttl", "soon", "duration"),
    ("wait", "2h", "up to 1h"), ("wait", "-1", "duration"),
])
def test_ttl_and_wait_out_of_range_are_refused(option, value, accepted):
    params = {"name": "l", "ttl": "60s", "wait": 0, option: value}
    with pytest.raises(InputError) as refused:
        lease_run.checked_params(params)
    assert refused.value.option == option and accepted in str(refused.value)


def params(tmp_path, **overrides):
    base = {"name": "ofm-rollback-t", "namespace": "ofm-production", "state": "held", "incident_id": "INC-7", "operator": "bob",
            "procedure": "planned", "target": "release ofm", "ttl": "60s", "wait": 0, "takeover": False, "backend": "file",
            "lock_dir": str(tmp_path), "if_unavailable": "fail", "renew": True,
            "kubeconfig": None, "context": None, "host": None, "api_key": None, "ca_cert": None, "validate_certs": True}
    return {**base, **overrides}


def test_run_takes_then_releases_with_the_renewer_started_and_a_diff(tmp_path):
    started = []
    result = lease_run.run(params(tmp_path), False, start_renewer=lambda spec: started.append(spec) or 999)
    assert result["acquired"] and result["changed"] and result["renewer_pid"] == 999 and result["backend"] == "file"
    assert result["diff"]["after"]["holder"] == result["lease"]["identity"] and "took the lease" in result["msg"]
    assert started[0]["interval"] == 20.0 and started[0]["holder"]["incident_id"] == "INC-7"
    again = lease_run.run(params(tmp_path), False, start_renewer=lambda spec: pytest.fail("renewer started twice"))
    assert again["acquired"] and not again["changed"]
    released = lease_run.run(params(tmp_path, state="released"), False)
    assert released["changed"] and leases.FileStore(str(tmp_path)).read("ofm-rollback-t")[0] is None


def test_check_mode_writes_nothing_and_a_held_lease_is_a_warning(tmp_path):
    result = lease_run.run(params(tmp_path), True, start_renewer=lambda spec: pytest.fail("renewer in check mode"))
    assert result["acquired"] and result["changed"] and "would take" in result["msg"]
    assert leases.FileStore(str(tmp_path)).read("ofm-rollback-t") == (None, None)
    leases.acquire(leases.FileStore(str(tmp_path)), "ofm-rollback-t", holder("alice"))
    checked = lease_run.run(params(tmp_path), True)
    assert not checked["acquired"] and checked["held_by"]["operator"] == "alice" and "alice" in checked["warnings"][0]


def test_auto_falls_back_to_the_lock_file_when_kubernetes_is_unreachable(tmp_path):
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    result = lease_run.run(params(tmp_path, backend="auto", host=f"http://127.0.0.1:{port}"), False, start_renewer=lambda spec: 1)
    assert result["acquired"] and result["backend"] == "file"
    assert "Kubernetes API could not be used" in result["warnings"][0]


def test_nothing_reachable_fails_or_proceeds_as_asked(tmp_path):
    blocked = tmp_path / "not-a-dir"
    blocked.write_text("a file where the lock directory should be")
    with pytest.raises(Exception, match="lock"):
        lease_run.run(params(tmp_path, lock_dir=str(blocked)), False)
    went_on = lease_run.run(params(tmp_path, lock_dir=str(blocked), if_unavailable="proceed"), False)
    assert not went_on["acquired"] and went_on["backend"] == "none" and "make sure no one else" in went_on["warnings"][-1]


def test_the_renewers_store_is_made_at_its_first_use_and_once():
    """The renewer starts with the run: its store (and the client's imports) waits until the first renewal needs it."""
    made = []

    class Recording:
        def read(self, name):
            return None, name

    def make():
        made.append(1)
        return Recording()

    store = leases.StoreWhenNeeded(make)
    assert made == []
    assert store.read("ofm-rollback") == (None, "ofm-rollback") and store.read("x") == (None, "x")
    assert made == [1]
