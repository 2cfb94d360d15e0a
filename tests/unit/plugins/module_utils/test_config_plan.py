# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The restore plan (per-key changes, secret values masked, one applier call per target), the restore report of a restore
that fails half-way and the re-run that completes it, and the Kubernetes appliers and rollouts over the test server's store."""
from __future__ import annotations

import copy
import json
from datetime import datetime, timezone
from typing import Any, Optional, Sequence

import pytest
from kubefake import StoreClient, api_exception

from ansible_collections.ofm.rollback.plugins.module_utils.config import kube_appliers
from ansible_collections.ofm.rollback.plugins.module_utils.config.plan import (
    ADD, CHANGE, FAILED, NOT_RESTORED, ORDER_KEY, PLANNED, REMOVE, RESTORED, UNCHANGED, Change, diff_target, make_plan, restore)
from ansible_collections.ofm.rollback.plugins.module_utils.config.resume import RestoreProgress
from ansible_collections.ofm.rollback.plugins.module_utils.run_journal import RunJournal, journal_path
from ansible_collections.ofm.rollback.plugins.module_utils.errors import InputError, NotFoundError, UnavailableError
from ansible_collections.ofm.rollback.plugins.module_utils.kube_config import RESTARTED_AT, KubeConfig

SECRET_NOW, SECRET_THEN = "sk-live-NOW-0123456789", "sk-live-THEN-9876543210"


class MemoryApplier:
    """A system in memory (targets of keys): reads count a round trip, each apply writes one target (and can be made to fail)."""

    def __init__(self, kind: str, state: dict[str, dict[str, Any]], secret: bool = False, fail: Sequence[str] = ()) -> None:
        self.kind = kind
        self.state = state
        self.secret = secret
        self.fail = list(fail)
        self.round_trips = 0
        self.applied: list[str] = []

    def read(self) -> dict[str, Any]:
        self.round_trips += 1
        return copy.deepcopy(self.state)

    def apply(self, changes: Sequence[Change]) -> None:
        target = changes[0].target
        assert {change.target for change in changes} == {target}
        self.round_trips += 1
        if target in self.fail:
            self.fail.remove(target)
            raise UnavailableError(f"connection reset while writing {target}: value {SECRET_THEN}", system=self.kind, operation="write")
        self.state[target] = {change.key: change.after for change in changes if change.action != REMOVE}
        self.applied.append(target)


def test_a_target_diff_says_per_key_what_changes_wanted_keys_first():
    changes = diff_target("configmaps", "cm", {"A": "1", "B": "2", "GONE": "x"}, {"B": "3", "A": "1", "NEW": "4"})
    assert [(change.key, change.action, change.before, change.after) for change in changes] == [
        ("B", CHANGE, "2", "3"), ("A", UNCHANGED, "1", "1"), ("NEW", ADD, None, "4"), ("GONE", REMOVE, "x", None)]


def test_with_an_absent_value_a_key_the_snapshot_lacks_takes_that_value_instead_of_being_removed():
    changes = diff_target("unleash", "default/production", {"kept": True, "on": True, "off": False}, {"kept": True}, absent=False)
    assert [(change.key, change.action, change.before, change.after) for change in changes] == [
        ("kept", UNCHANGED, True, True), ("on", CHANGE, True, False), ("off", UNCHANGED, False, False)]


def test_a_reorder_is_a_change_only_when_order_counts_and_only_of_the_common_keys():
    assert not [change for change in diff_target("env", "d", {"A": 1, "B": 2}, {"B": 2, "A": 1}) if change.changed]
    assert [change for change in diff_target("env", "d", {"A": 1, "B": 2}, {"A": 1, "C": 3, "B": 2}, ordered=True)
            if change.key == ORDER_KEY] == []
    order = [change for change in diff_target("env", "d", {"A": 1, "B": 2, "X": 0}, {"B": 2, "A": 1}, ordered=True) if change.key == ORDER_KEY]
    assert len(order) == 1 and (order[0].before, order[0].after) == (["A", "B"], ["B", "A"])


def secrets_system() -> MemoryApplier:
    return MemoryApplier("secrets", {"app": {"KEY": SECRET_NOW, "EXTRA": SECRET_NOW + "x", "SAME": "same-value-123"}}, secret=True)


def test_secret_values_never_appear_in_a_rendered_plan_diff_or_repr():
    applier = secrets_system()
    plan = make_plan({"secrets": applier}, {"secrets": {"app": {"KEY": SECRET_THEN, "SAME": "same-value-123", "OLD": SECRET_THEN + "o"}}})
    kind = plan.kind("secrets")
    assert kind.render(unchanged=True) == [
        {"target": "app", "key": "KEY", "action": CHANGE, "value": "<changed>"},
        {"target": "app", "key": "SAME", "action": UNCHANGED, "value": "<unchanged>"},
        {"target": "app", "key": "OLD", "action": ADD, "value": "<added>"},
        {"target": "app", "key": "EXTRA", "action": REMOVE, "value": "<removed>"}]
    assert plan.diff() == {"before": {"secrets": {"app": {"KEY": "<secret>", "EXTRA": "<secret>"}}},
                           "after": {"secrets": {"app": {"KEY": "<changed>", "OLD": "<added>"}}}}
    shown = json.dumps([plan.render(True), plan.diff(), plan.counts(), repr(plan)])
    for value in (SECRET_NOW, SECRET_THEN, "same-value-123"):
        assert value not in shown


def test_plain_values_are_shown_with_before_and_after():
    plan = make_plan({"configmaps": MemoryApplier("configmaps", {"cm": {"LOG_LEVEL": "debug", "X": "1"}})},
                     {"configmaps": {"cm": {"LOG_LEVEL": "info", "NEW": "n"}}})
    assert plan.render()["configmaps"] == [{"target": "cm", "key": "LOG_LEVEL", "action": CHANGE, "before": "debug", "after": "info"},
                                           {"target": "cm", "key": "NEW", "action": ADD, "after": "n"},
                                           {"target": "cm", "key": "X", "action": REMOVE, "before": "1"}]
    assert plan.diff()["before"] == {"configmaps": {"cm": {"LOG_LEVEL": "debug", "X": "1"}}}
    assert plan.counts() == {"configmaps": {ADD: 1, CHANGE: 1, REMOVE: 1, UNCHANGED: 0}}


def test_changes_are_grouped_per_target_and_only_targets_that_change_are_written():
    applier = MemoryApplier("configmaps", {"a": {"K": "1"}, "b": {"K": "2"}, "c": {"K": "3"}, "untouched": {"K": "4"}})
    plan = make_plan({"configmaps": applier}, {"configmaps": {"a": {"K": "1"}, "b": {"K": "9"}, "c": {}}})
    assert list(plan.kind("configmaps").by_target()) == ["b", "c"]
    report = restore(plan, {"configmaps": applier})
    assert applier.applied == ["b", "c"] and applier.round_trips == 3
    assert applier.state == {"a": {"K": "1"}, "b": {"K": "9"}, "c": {}, "untouched": {"K": "4"}}
    assert report.result("configmaps").restored == ("b", "c") and report.changed


def test_every_kind_is_read_before_anything_is_written():
    good = MemoryApplier("configmaps", {"cm": {"K": "now"}})

    class Unreachable(MemoryApplier):
        def read(self) -> dict[str, Any]:
            raise UnavailableError("connection refused", system="PostgreSQL")

    with pytest.raises(UnavailableError):
        make_plan({"configmaps": good, "rate_limits": Unreachable("rate_limits", {})},
                  {"configmaps": {"cm": {"K": "then"}}, "rate_limits": {"t": {}}})
    assert good.applied == [] and good.state == {"cm": {"K": "now"}}
    with pytest.raises(InputError, match=r"no applier for the kinds \['flags'\]"):
        make_plan({"configmaps": good}, {"flags": {}})


def systems(fail: Sequence[str] = ()) -> dict[str, MemoryApplier]:
    return {"flags": MemoryApplier("flags", {"cache": {"feature_flags:a": "false"}}),
            "configmaps": MemoryApplier("configmaps", {"one": {"K": "x"}, "two": {"K": "x"}}, fail=fail),
            "secrets": secrets_system(),
            "rate_limits": MemoryApplier("rate_limits", {"platform_rate_limits": {"tiktok": 10}})}


SNAPSHOT: dict[str, Any] = {"rate_limits": {"platform_rate_limits": {"tiktok": 60}}, "secrets": {"app": {"KEY": SECRET_THEN}},
                            "configmaps": {"one": {"K": "y"}, "two": {"K": "y"}}, "flags": {"cache": {"feature_flags:a": "true"}}}


def test_a_restore_that_fails_half_way_reports_what_was_and_was_not_restored_and_a_rerun_completes_it():
    appliers = systems(fail=["two"])
    report = restore(make_plan(appliers, SNAPSHOT), appliers)
    assert [(result.kind, result.status) for result in report.results] == [
        ("flags", RESTORED), ("configmaps", FAILED), ("secrets", NOT_RESTORED), ("rate_limits", NOT_RESTORED)]
    failed = report.result("configmaps")
    assert failed.restored == ("one",) and failed.not_restored == ("two",)
    assert failed.error["type"] == "UnavailableError" and "connection reset while writing two" in failed.error["msg"]
    assert report.restored_kinds == ["flags"] and report.not_restored_kinds == ["configmaps", "secrets", "rate_limits"]
    assert report.result("secrets").reason == "not attempted: configmaps failed first"
    assert report.message().startswith("restored: flags; failed: configmaps after restoring one (")
    assert report.message().endswith("not restored: secrets, rate_limits")
    assert appliers["configmaps"].state == {"one": {"K": "y"}, "two": {"K": "x"}} and appliers["secrets"].state["app"]["KEY"] == SECRET_NOW

    again = restore(make_plan(appliers, SNAPSHOT), appliers)
    assert [(result.kind, result.status) for result in again.results] == [
        ("flags", "unchanged"), ("configmaps", RESTORED), ("secrets", RESTORED), ("rate_limits", RESTORED)]
    assert again.result("configmaps").restored == ("two",) and appliers["configmaps"].applied == ["one", "two"]
    assert appliers["secrets"].state == {"app": {"KEY": SECRET_THEN}} and appliers["rate_limits"].state == SNAPSHOT["rate_limits"]
    third = restore(make_plan(appliers, SNAPSHOT), appliers)
    assert not third.changed and third.restored_kinds == ["flags", "configmaps", "secrets", "rate_limits"]


def test_an_error_of_a_secret_kind_is_reported_without_its_values():
    appliers = {"secrets": MemoryApplier("secrets", {"app": {"KEY": SECRET_NOW}}, secret=True, fail=["app"])}
    report = restore(make_plan(appliers, {"secrets": {"app": {"KEY": SECRET_THEN}}}), appliers)
    assert report.failed is not None and "connection reset while writing app" in report.failed.error["msg"]
    assert SECRET_THEN not in json.dumps(report.as_dict()) and SECRET_NOW not in json.dumps(report.as_dict())


def test_an_unexpected_exception_is_reported_like_the_others():
    class Broken(MemoryApplier):
        def apply(self, changes: Sequence[Change]) -> None:
            raise KeyError(f"password={SECRET_THEN}")

    appliers = {"configmaps": Broken("configmaps", {"cm": {"K": "1"}})}
    report = restore(make_plan(appliers, {"configmaps": {"cm": {"K": "2"}}}), appliers)
    assert report.failed is not None and report.failed.error["type"] == "KeyError" and SECRET_THEN not in report.failed.error["msg"]


def test_check_mode_writes_nothing_and_says_what_would_change():
    appliers = systems()
    before = {kind: copy.deepcopy(applier.state) for kind, applier in appliers.items()}
    report = restore(make_plan(appliers, SNAPSHOT), appliers, check_mode=True)
    assert {kind: applier.state for kind, applier in appliers.items()} == before
    assert report.of(PLANNED) == ["flags", "configmaps", "secrets", "rate_limits"] and report.changed and report.check_mode
    assert report.result("configmaps").not_restored == ("one", "two")
    assert report.message() == "would restore: flags, configmaps, secrets, rate_limits"


# --- Kubernetes appliers, over the test server's store

NS = "ofm-production"


def deployment(name: str, env: list[dict[str, Any]], config: str = "ofm-social-os-config", volume_secret: Optional[str] = None) -> dict[str, Any]:
    pod: dict[str, Any] = {"containers": [{"name": "api", "image": "api:1", "envFrom": [{"configMapRef": {"name": config}}], "env": env}]}
    if volume_secret:
        pod["volumes"] = [{"name": "certs", "secret": {"secretName": volume_secret}}]
    return {"metadata": {"name": name}, "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}},
                                                 "template": {"metadata": {"labels": {"app": name}}, "spec": pod}}}


ENV = [{"name": "FEATURE_FLAGS", "value": "a=true"}, {"name": "NODE_ENV", "value": "production"},
       {"name": "TIKTOK_API_KEY", "valueFrom": {"secretKeyRef": {"name": "ofm-social-os-secrets", "key": "TIKTOK_API_KEY"}}}]


@pytest.fixture(name="server")
def fixture_server() -> StoreClient:
    server = StoreClient()
    server.create("v1", "Namespace", "", {"metadata": {"name": NS}})
    server.create("v1", "ConfigMap", NS, {"metadata": {"name": "ofm-social-os-config"},
                                          "data": {"LOG_LEVEL": "info", "WEBHOOK_URL_TIKTOK": "https://hooks.example/tiktok"}})
    server.create("v1", "Secret", NS, {"metadata": {"name": "ofm-social-os-secrets"}, "data": {"TIKTOK_API_KEY": "c2stVEhFTg=="}})
    server.create("apps/v1", "Deployment", NS, deployment("ofm-social-os-api", ENV))
    server.create("apps/v1", "Deployment", NS, deployment("worker", [], config="other", volume_secret="ofm-social-os-secrets"))
    return server


def take(client: KubeConfig, sections: dict[str, Any]) -> dict[str, Any]:
    """What a snapshot of the named objects holds now (the appliers' reads)."""
    return {kind: applier.read() for kind, applier in kube_appliers.appliers(client, NS, sections).items()}


NAMED = {"configmaps": {"ofm-social-os-config": {}}, "secrets": {"ofm-social-os-secrets": {}}, "env": {"ofm-social-os-api/api": []}}


def change_everything(server: StoreClient) -> None:
    server.write("v1", "ConfigMap", NS, "ofm-social-os-config", {"data": {"LOG_LEVEL": "debug", "WEBHOOK_URL_TIKTOK": None, "NEW": "1"}})
    server.write("v1", "Secret", NS, "ofm-social-os-secrets", {"data": {"TIKTOK_API_KEY": "c2stTk9X", "LEAKED": "eA=="}})
    server.write("apps/v1", "Deployment", NS, "ofm-social-os-api", [
        {"op": "replace", "path": "/spec/template/spec/containers/0/env",
         "value": [{"name": "DEBUG", "value": "1"}, {"name": "FEATURE_FLAGS", "value": "a=false"}, {"name": "NODE_ENV", "value": "staging"}]}],
        content_type="application/json-patch+json")


def test_the_kube_kinds_are_restored_exactly_one_patch_per_object_and_a_second_restore_changes_nothing(server):
    client = KubeConfig(server.kube())
    snapshot = take(client, NAMED)
    assert snapshot["secrets"] == {"ofm-social-os-secrets": {"TIKTOK_API_KEY": "sk-THEN"}}
    assert snapshot["env"] == {"ofm-social-os-api/api": ENV[1:]}
    change_everything(server)

    appliers = kube_appliers.appliers(client, NS, snapshot)
    plan = make_plan(appliers, snapshot)
    assert [(change.key, change.action) for change in plan.kind("env").changes] == [
        ("api/NODE_ENV", CHANGE), ("api/TIKTOK_API_KEY", ADD), ("api/DEBUG", REMOVE)]
    assert "sk-THEN" not in json.dumps([plan.render(True), plan.diff()]) and "sk-NOW" not in json.dumps([plan.render(True), plan.diff()])
    server.patches.clear()
    report = restore(plan, appliers)
    assert report.restored_kinds == ["configmaps", "secrets", "env"] and len(server.patches) == 3
    assert {kind: applier.round_trips for kind, applier in appliers.items()} == {"configmaps": 2, "secrets": 2, "env": 2}
    assert server.read("v1", "ConfigMap", NS, "ofm-social-os-config")["data"] == {"LOG_LEVEL": "info", "WEBHOOK_URL_TIKTOK": "https://hooks.example/tiktok"}
    assert server.read("v1", "Secret", NS, "ofm-social-os-secrets")["data"] == {"TIKTOK_API_KEY": "c2stVEhFTg=="}
    env = server.read("apps/v1", "Deployment", NS, "ofm-social-os-api")["spec"]["template"]["spec"]["containers"][0]["env"]
    # the flags kind owns FEATURE_FLAGS: left as it was, where it was (index 1)
    assert env == [ENV[1], {"name": "FEATURE_FLAGS", "value": "a=false"}, ENV[2]]

    again_appliers = kube_appliers.appliers(client, NS, snapshot)
    again = restore(make_plan(again_appliers, snapshot), again_appliers)
    assert not again.changed and len(server.patches) == 3


def test_an_env_reorder_is_restored():
    server = StoreClient()
    server.create("apps/v1", "Deployment", "default", deployment("web", [{"name": "A", "value": "1"}, {"name": "B", "value": "$(A)"}]))
    client = KubeConfig(server.kube())
    applier = kube_appliers.EnvApplier(client, "default", ["web/api"])
    wanted = {"web/api": [{"name": "B", "value": "$(A)"}, {"name": "A", "value": "1"}]}
    plan = make_plan({"env": applier}, {"env": wanted})
    assert [(change.key, change.action) for change in plan.kind("env").changes if change.changed] == [(ORDER_KEY, CHANGE)]
    restore(plan, {"env": applier})
    assert server.read("apps/v1", "Deployment", "default", "web")["spec"]["template"]["spec"]["containers"][0]["env"] == wanted["web/api"]


def test_a_missing_object_or_container_stops_the_plan_naming_it(server):
    client = KubeConfig(server.kube())
    with pytest.raises(NotFoundError, match='ConfigMap ofm-production/gone failed: HTTP 404: configmaps "gone" not found'):
        make_plan(kube_appliers.appliers(client, NS, {"configmaps": {"gone": {}}}), {"configmaps": {"gone": {}}})
    with pytest.raises(NotFoundError, match="has no container 'web'"):
        make_plan(kube_appliers.appliers(client, NS, {"env": {"ofm-social-os-api/web": []}}), {"env": {"ofm-social-os-api/web": []}})
    with pytest.raises(InputError, match="'ofm-social-os-api' is not <deployment>/<container>"):
        kube_appliers.appliers(client, NS, {"env": {"ofm-social-os-api": []}})


def test_a_refused_patch_fails_the_kind_with_the_objects_written_before_it(server):
    server.create("v1", "ConfigMap", NS, {"metadata": {"name": "second"}, "data": {"K": "1"}})
    client = KubeConfig(server.kube())
    sections = {"configmaps": {"ofm-social-os-config": {"LOG_LEVEL": "warn"}, "second": {"K": "2"}}}
    appliers = kube_appliers.appliers(client, NS, sections)
    plan = make_plan(appliers, sections)
    original = appliers["configmaps"].apply

    def apply_then_forbid(changes: Sequence[Change]) -> None:
        original(changes)
        server.faults["patch"] = [api_exception(403, 'configmaps "second" is forbidden')]  # the RBAC rule is gone for the next object

    appliers["configmaps"].apply = apply_then_forbid  # type: ignore[method-assign]
    report = restore(plan, appliers)
    result = report.result("configmaps")
    assert result.status == FAILED and result.restored == ("ofm-social-os-config",) and result.not_restored == ("second",)
    assert result.error["type"] == "AuthorizationError" and 'configmaps \\"second\\" is forbidden' in json.dumps(result.error)
    assert server.read("v1", "ConfigMap", NS, "second")["data"] == {"K": "1"}


def test_rollouts_restart_what_reads_a_restored_object_at_start_and_wait_for_a_new_template(server):
    client = KubeConfig(server.kube())
    envs = {name: client.read_env(NS, name) for name in ("ofm-social-os-api", "worker")}
    needed = kube_appliers.rollouts(envs, {"configmaps": ["ofm-social-os-config"], "secrets": ["ofm-social-os-secrets"]})
    assert [(rollout.deployment, rollout.action) for rollout in needed] == [("ofm-social-os-api", "restart"), ("worker", "live")]
    assert needed[0].reason == "its pods read ConfigMap ofm-social-os-config, Secret ofm-social-os-secrets when they start"
    assert "refreshes in place" in needed[1].reason
    assert [rollout.action for rollout in kube_appliers.rollouts(envs, {"env": ["ofm-social-os-api"], "configmaps": ["ofm-social-os-config"]})] == ["wait"]
    assert kube_appliers.rollouts(envs, {"configmaps": ["unrelated"]}) == []

    clock = [0.0]

    def sleep(seconds: float) -> None:
        clock[0] += seconds
        obj = server.read("apps/v1", "Deployment", NS, "ofm-social-os-api")
        server.write("apps/v1", "Deployment", NS, "ofm-social-os-api", {"status": {
            "observedGeneration": obj["metadata"]["generation"], "replicas": 1, "updatedReplicas": 1, "availableReplicas": 1}}, subresource="status")

    waiting = KubeConfig(server.kube(), clock=lambda: clock[0], sleep=sleep)
    done = kube_appliers.roll(waiting, NS, needed, timeout=10, interval=1, now=datetime(2026, 12, 4, 7, 39, tzinfo=timezone.utc))
    assert done[0]["restarted_at"] == "2026-12-04T07:39:00Z" and done[0]["ready"] == "1 of 1 replicas updated and available"
    assert "ready" not in done[1] and "restarted_at" not in done[1]
    template = server.read("apps/v1", "Deployment", NS, "ofm-social-os-api")["spec"]["template"]
    assert template["metadata"]["annotations"] == {RESTARTED_AT: "2026-12-04T07:39:00Z"}
    assert "annotations" not in server.read("apps/v1", "Deployment", NS, "worker")["spec"]["template"]["metadata"]


# --- the restore's progress in the run journal (resume.py): a run killed between two kinds and the run that finishes it ---

INCIDENT = "INC-5150"


class Killed(Exception):
    """The run dies between two kinds."""


def opened(tmp_path, run_id):
    journal = RunJournal(journal_path(str(tmp_path), INCIDENT, "config"), INCIDENT, "config")
    journal.open_run(run_id=run_id, operator="alice", started=None)
    return {"path": journal.path, "run_id": run_id, "incident_id": INCIDENT, "procedure": "config"}


def test_a_restore_killed_between_two_kinds_is_finished_by_the_next_run_without_a_kind_twice(tmp_path):
    appliers = systems()
    first = RestoreProgress.of(opened(tmp_path, "run-1"), "cfg-1", check_mode=False)

    def dies_after_secrets(kind, status, targets):
        first.kind(kind, status, targets)
        if kind == "secrets" and status == "done":
            raise Killed()

    with pytest.raises(Killed):
        restore(make_plan(appliers, SNAPSHOT), appliers, progress=dies_after_secrets)
    assert appliers["rate_limits"].state != SNAPSHOT["rate_limits"], "killed before the last kind"

    second = RestoreProgress.of(opened(tmp_path, "run-2"), "cfg-1", check_mode=False)
    report = restore(make_plan(appliers, SNAPSHOT), appliers, progress=second.kind)
    assert [(result.kind, result.status) for result in report.results] == [
        ("flags", UNCHANGED), ("configmaps", UNCHANGED), ("secrets", UNCHANGED), ("rate_limits", RESTORED)]
    assert appliers["configmaps"].applied == ["one", "two"], "each target written once"
    annotated = second.annotate(report.as_dict())
    assert [entry["reason"] for entry in annotated["kinds"]][:3] == ["restored by run run-1"] * 3
    assert second.summary() == {"runs": ["run-1"], "kinds": ["flags", "configmaps", "secrets"], "interrupted": [], "rollouts_owed": True}
    # The Deployments reading run 1's ConfigMaps and Secrets still need their restart: this run owes it.
    owed = second.owed_targets({"configmaps": [], "secrets": [], "env": [], "flags": []})
    assert owed == {"configmaps": ["one", "two"], "secrets": ["app"], "env": [], "flags": ["cache"]}
    second.rollouts_done([{"deployment": "ofm-social-os-api", "action": "restart"}])
    third = RestoreProgress.of(opened(tmp_path, "run-3"), "cfg-1", check_mode=False)
    assert third.owed_targets({"configmaps": [], "secrets": [], "env": [], "flags": []})["configmaps"] == []


def test_a_kind_left_started_owes_the_rollouts_of_every_target_it_planned(tmp_path):
    first = RestoreProgress.of(opened(tmp_path, "run-1"), "cfg-1", check_mode=False)
    first.kind("configmaps", "started", ["one", "two"])
    second = RestoreProgress.of(opened(tmp_path, "run-2"), "cfg-1", check_mode=False)
    assert second.summary()["interrupted"] == ["configmaps"]
    assert second.owed_targets({"configmaps": ["two"], "secrets": []})["configmaps"] == ["two", "one"]
    report = {"kinds": [{"kind": "configmaps", "status": "unchanged", "reason": None}]}
    assert second.annotate(report)["kinds"][0]["reason"] == "being restored when it stopped by run run-1"


def test_another_snapshots_progress_is_not_this_ones_and_check_mode_writes_nothing(tmp_path):
    first = RestoreProgress.of(opened(tmp_path, "run-1"), "cfg-OLD", check_mode=False)
    first.kind("configmaps", "done", ["one"])
    checking = RestoreProgress.of(opened(tmp_path, "run-2"), "cfg-NEW", check_mode=True)
    assert checking.restored_before() == {}
    before = (tmp_path / INCIDENT / "journal-config.json").read_text()
    checking.kind("secrets", "done", ["app"])
    assert (tmp_path / INCIDENT / "journal-config.json").read_text() == before
    assert RestoreProgress.of(None, "cfg-NEW", check_mode=False) is None


def test_a_journal_that_cannot_be_written_is_a_warning_not_a_failure(tmp_path):
    option = opened(tmp_path, "run-1")
    progress = RestoreProgress.of(option, "cfg-1", check_mode=False)
    opened(tmp_path, "run-2")  # another run took the incident over: run-1 may write nothing more
    progress.kind("configmaps", "done", ["one"])
    assert progress.warnings and "took the incident over" in progress.warnings[0]
    steps = json.loads((tmp_path / INCIDENT / "journal-config.json").read_text())["steps"]
    assert "restore:configmaps" not in steps
