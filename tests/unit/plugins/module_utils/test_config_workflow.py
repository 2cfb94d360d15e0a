# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""config_snapshot and config_restore as their actions run them (module_utils.config.workflow): Kubernetes over the test
server's store, a real redis-server, a fake Unleash, Secret values sealed with a real vault secret. Snapshot -> change ->
restore, check mode, refusals before any change, a restore failing half-way, the previous Helm revision, the documentation."""
from __future__ import annotations

import base64
import copy
import json
from pathlib import Path
from typing import Any

import pytest
import redis
from ansible.parsing.dataloader import DataLoader
from ansible.parsing.vault import VaultSecret
from kubefake import StoreClient
from unithelpers import UNLEASH_TOKEN, FakeUnleash, Reply, doc_options, documented_options, mismatches

from ansible_collections.ofm.rollback.plugins.doc_fragments import aws as aws_fragment, config_external, config_rollback, kube
from ansible_collections.ofm.rollback.plugins.doc_fragments import redis as redis_fragment, unleash as unleash_fragment
from ansible_collections.ofm.rollback.plugins.module_utils.aws import AWS_SPEC
from ansible_collections.ofm.rollback.plugins.module_utils.config import kinds, release, systems, workflow
from ansible_collections.ofm.rollback.plugins.module_utils.config.snapshot import Snapshot
from ansible_collections.ofm.rollback.plugins.module_utils.errors import InputError
from ansible_collections.ofm.rollback.plugins.module_utils.kube_config import KubeConfig
from ansible_collections.ofm.rollback.plugins.modules import config_restore, config_snapshot
from ansible_collections.ofm.rollback.plugins.plugin_utils.vault import opener, sealer

NS = "ofm-production"
API, CANARY = "ofm-social-os-api", "ofm-social-os-api-canary"
KEY_THEN, KEY_NOW = "sk-tiktok-THEN-0a1b2c3d4e", "sk-tiktok-NOW-9f8e7d6c5b"
FLAGS = "platform_tiktok=true,publish_v2=false"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def deployment(name: str) -> dict[str, Any]:
    container = {"name": "api", "image": "api:1", "envFrom": [{"configMapRef": {"name": "ofm-social-os-config"}}], "env": [
        {"name": "NODE_ENV", "value": "production"}, {"name": "FEATURE_FLAGS", "value": FLAGS},
        {"name": "TIKTOK_API_KEY", "valueFrom": {"secretKeyRef": {"name": "ofm-social-os-secrets", "key": "TIKTOK_API_KEY"}}}]}
    return {"metadata": {"name": name}, "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}},
                                                 "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [container]}}}}


@pytest.fixture(name="server")
def fixture_server(monkeypatch: pytest.MonkeyPatch) -> StoreClient:
    """The OFM objects on the test server's store; the workflow's Kubernetes client is built over it."""
    server = StoreClient()
    server.create("v1", "Namespace", "", {"metadata": {"name": NS}})
    server.create("v1", "ConfigMap", NS, {"metadata": {"name": "ofm-social-os-config"},
                                          "data": {"LOG_LEVEL": "info", "WEBHOOK_URL_TIKTOK": "https://hooks.ofm.social/tiktok"}})
    server.create("v1", "Secret", NS, {"metadata": {"name": "ofm-social-os-secrets"}, "data": {"TIKTOK_API_KEY": b64(KEY_THEN)}})
    for name in (API, CANARY):
        server.create("apps/v1", "Deployment", NS, deployment(name))
    monkeypatch.setattr(systems.KubeConfig, "from_params", classmethod(lambda _cls, _params: KubeConfig(server.kube())))
    return server


@pytest.fixture(name="cache")
def fixture_cache(redis_server) -> redis.Redis:
    client = redis.Redis(port=redis_server.port, password=redis_server.password, decode_responses=True)
    client.set("feature_flags:platform_tiktok", "true", px=280_000)
    client.set("feature_flags:publish_v2", "false", px=290_000)
    return client


def loader(password: str = "unit-vault-password") -> DataLoader:
    found = DataLoader()
    found.set_vault_secrets([("default", VaultSecret(password.encode()))])
    return found


def params(spec: dict[str, Any], redis_server, unleash: FakeUnleash, tmp_path: Path, **options: Any) -> dict[str, Any]:
    """The options as the action validates them (defaults filled in)."""
    args = {"redis_url": redis_server.url, "redis_password": redis_server.password, "unleash_url": unleash.url, "unleash_token": UNLEASH_TOKEN,
            "snapshot_dir": str(tmp_path / "snapshots"), **options}
    found, _no_log, error = workflow.validated(spec, args)
    assert error is None, error
    return found


def snapshot_now(redis_server, unleash, tmp_path, **options: Any) -> dict[str, Any]:
    taken = workflow.take_snapshot(params(config_snapshot.ARGUMENT_SPEC, redis_server, unleash, tmp_path, **options), seal=sealer(loader()),
                                   taken_by="ci", check_mode=False)
    assert not taken.get("failed"), taken
    return taken


def restore_now(redis_server, unleash, tmp_path, *, password: str = "unit-vault-password", check_mode: bool = False, diff: bool = False,
                **options: Any) -> dict[str, Any]:
    return workflow.restore_config(params(config_restore.ARGUMENT_SPEC, redis_server, unleash, tmp_path, **options),
                                   open_secret=opener(loader(password)), check_mode=check_mode, diff=diff)


def state(server: StoreClient, cache: redis.Redis, unleash: FakeUnleash) -> dict[str, Any]:
    objects = {f"{kind}/{name}": server.read(api, kind, NS, name) for api, kind, name in (
        ("v1", "ConfigMap", "ofm-social-os-config"), ("v1", "Secret", "ofm-social-os-secrets"), ("apps/v1", "Deployment", API),
        ("apps/v1", "Deployment", CANARY))}
    return {"objects": objects, "cache": {key: cache.get(key) for key in sorted(cache.scan_iter("feature_flags:*"))},
            "unleash": copy.deepcopy(unleash.projects)}


def change_everything(server: StoreClient, cache: redis.Redis, unleash: FakeUnleash) -> None:
    server.write("v1", "ConfigMap", NS, "ofm-social-os-config", {"data": {"LOG_LEVEL": "debug", "WEBHOOK_URL_TIKTOK": "https://evil.example/hook"}})
    server.write("v1", "Secret", NS, "ofm-social-os-secrets", {"data": {"TIKTOK_API_KEY": b64(KEY_NOW)}})
    patch = [{"op": "replace", "path": "/spec/template/spec/containers/0/env/0/value", "value": "staging"},
             {"op": "replace", "path": "/spec/template/spec/containers/0/env/1/value", "value": "publish_v2=true"}]
    server.write("apps/v1", "Deployment", NS, API, patch, content_type="application/json-patch+json")
    cache.set("feature_flags:publish_v2", "true", px=300_000)
    unleash.projects["default"]["new_composer"]["production"] = False


def test_snapshot_change_restore_gives_every_value_back_and_a_second_restore_changes_nothing(server, cache, redis_server, unleash, tmp_path):
    taken = snapshot_now(redis_server, unleash, tmp_path, change_id="deploy-2.4.0")
    assert taken["changed"] is True and taken["skipped_kinds"] == ["rate_limits: database not set"]
    assert taken["snapshot"]["kinds"] == {"flags": 6, "unleash": 3, "configmaps": 2, "secrets": 1, "env": 4}
    stored = Path(taken["snapshot"]["location"]).read_text()
    assert KEY_THEN not in stored and "$ANSIBLE_VAULT;1.1;AES256" in stored and json.loads(stored)["change_id"] == "deploy-2.4.0"
    before = state(server, cache, unleash)
    change_everything(server, cache, unleash)

    restored = restore_now(redis_server, unleash, tmp_path, snapshot_id=taken["snapshot"]["id"], rollout="none", diff=True)
    assert not restored.get("failed"), restored
    assert restored["changed"] is True and restored["verified"] == dict.fromkeys(["flags", "unleash", "configmaps", "secrets", "env"], True)
    assert restored["report"]["restored"] == ["flags", "unleash", "configmaps", "secrets", "env"]
    assert restored["changes"]["secrets"] == [{"target": "ofm-social-os-secrets", "key": "TIKTOK_API_KEY", "action": "change", "value": "<changed>"}]
    assert restored["diff"]["after"]["secrets"] == {"ofm-social-os-secrets": {"TIKTOK_API_KEY": "<changed>"}}
    # the API's template was restored (it rolls by itself); the canary reads the restored ConfigMap and Secret when it starts
    assert [(entry["deployment"], entry["action"], entry["done"]) for entry in restored["rollouts"]] == [(API, "wait", False), (CANARY, "restart", False)]
    assert KEY_THEN not in json.dumps(restored) and KEY_NOW not in json.dumps(restored)
    after = state(server, cache, unleash)
    assert after["cache"] == before["cache"] and after["unleash"] == before["unleash"]
    assert after["objects"]["ConfigMap/ofm-social-os-config"]["data"] == before["objects"]["ConfigMap/ofm-social-os-config"]["data"]
    assert after["objects"]["Secret/ofm-social-os-secrets"]["data"] == {"TIKTOK_API_KEY": b64(KEY_THEN)}
    assert after["objects"][f"Deployment/{API}"]["spec"]["template"] == before["objects"][f"Deployment/{API}"]["spec"]["template"]

    again = restore_now(redis_server, unleash, tmp_path, snapshot_id=taken["snapshot"]["id"])
    assert not again.get("failed") and again["changed"] is False and again["rollouts"] == [] and again["changes"]["flags"] == []


def test_check_mode_writes_nothing_anywhere_and_says_what_would_change(server, cache, redis_server, unleash, tmp_path):
    taken = snapshot_now(redis_server, unleash, tmp_path)
    change_everything(server, cache, unleash)
    changed, ttls = state(server, cache, unleash), {key: cache.pttl(key) for key in cache.scan_iter("feature_flags:*")}
    server.patches.clear()
    unleash.received.clear()
    planned = restore_now(redis_server, unleash, tmp_path, latest=True, check_mode=True)
    assert planned["changed"] is True and planned["report"]["check_mode"] is True and not planned.get("failed")
    assert set(planned["report"]["not_restored"]) == {"flags", "unleash", "configmaps", "secrets", "env"}
    assert {entry["status"] for entry in planned["report"]["kinds"]} == {"planned"} and planned["snapshot"]["id"] == taken["snapshot"]["id"]
    assert state(server, cache, unleash) == changed and server.patches == [] and unleash.writes() == []
    assert all(cache.pttl(key) <= ttl for key, ttl in ttls.items())
    unchecked = workflow.take_snapshot(params(config_snapshot.ARGUMENT_SPEC, redis_server, unleash, tmp_path), seal=sealer(loader()),
                                       taken_by="ci", check_mode=True)
    assert unchecked["changed"] is False and unchecked["snapshot"]["location"] is None
    assert len(list((tmp_path / "snapshots").iterdir())) == 1


def test_tampered_wrong_vault_and_other_namespace_are_refused_before_any_change(server, cache, redis_server, unleash, tmp_path):
    taken = snapshot_now(redis_server, unleash, tmp_path)
    change_everything(server, cache, unleash)
    changed = state(server, cache, unleash)
    path = Path(taken["snapshot"]["location"])
    tampered = tmp_path / "tampered.json"
    tampered.write_text(path.read_text().replace('"LOG_LEVEL": "info"', '"LOG_LEVEL": "trace"'))

    refusals = {
        "tampered": restore_now(redis_server, unleash, tmp_path, snapshot_path=str(tampered)),
        "vault": restore_now(redis_server, unleash, tmp_path, snapshot_id=taken["snapshot"]["id"], password="not-the-vault-password"),
        "namespace": restore_now(redis_server, unleash, tmp_path, snapshot_id=taken["snapshot"]["id"], namespace="ofm-staging"),
        "unknown": restore_now(redis_server, unleash, tmp_path, snapshot_id="cfg-20200101T000000Z-abcdef"),
    }
    for name, refused in refusals.items():
        assert refused["failed"] is True and refused["changed"] is False and refused["msg"].endswith("Nothing was changed."), name
    assert "content hash does not match" in refusals["tampered"]["msg"] and refusals["tampered"]["error"]["option"] == "snapshot_path"
    assert refusals["vault"]["error"]["system"] == "Ansible Vault" and "secrets/ofm-social-os-secrets/TIKTOK_API_KEY" in refusals["vault"]["msg"]
    assert "the snapshot's is 'ofm-production', this restore's is 'ofm-staging'" in refusals["namespace"]["msg"]
    assert refusals["unknown"]["error"]["type"] == "NotFoundError" and taken["snapshot"]["id"] in refusals["unknown"]["msg"]
    assert state(server, cache, unleash) == changed

    server.create("v1", "Namespace", "", {"metadata": {"name": "ofm-staging"}})
    server.create("v1", "ConfigMap", "ofm-staging", {"metadata": {"name": "ofm-social-os-config"}, "data": {"LOG_LEVEL": "debug"}})
    forced = restore_now(redis_server, unleash, tmp_path, snapshot_id=taken["snapshot"]["id"], namespace="ofm-staging", force_scope=True,
                         rollout="none", kinds=["configmaps"])
    assert not forced.get("failed") and forced["report"]["restored"] == ["configmaps"]
    assert forced["warnings"] == [f"force_scope: restoring although snapshot {taken['snapshot']['id']} was taken elsewhere (namespace: the "
                                  "snapshot's is 'ofm-production', this restore's is 'ofm-staging')"]
    assert server.read("v1", "ConfigMap", "ofm-staging", "ofm-social-os-config")["data"]["LOG_LEVEL"] == "info"


def test_a_restore_failing_half_way_says_what_was_restored_and_a_rerun_finishes(server, cache, redis_server, unleash, tmp_path):
    taken = snapshot_now(redis_server, unleash, tmp_path)
    change_everything(server, cache, unleash)
    answer, refusals = unleash.answer, [Reply(403, {"name": "NoAccessError", "message": "You need permission UPDATE_FEATURE_ENVIRONMENT"})]
    unleash.answer = lambda request: refusals.pop() if request.method == "POST" and refusals else answer(request)  # the write refused
    failed = restore_now(redis_server, unleash, tmp_path, snapshot_id=taken["snapshot"]["id"], rollout="none")
    assert failed["failed"] is True and failed["changed"] is True and failed["report"]["failed"] == "unleash"
    assert failed["report"]["restored"] == ["flags"] and failed["report"]["not_restored"] == ["unleash", "configmaps", "secrets", "env"]
    assert "Run the restore again to finish" in failed["msg"] and failed["verified"]["flags"] is True and failed["verified"]["configmaps"] is False
    assert cache.get("feature_flags:publish_v2") == "false" and unleash.state("new_composer") is False

    rerun = restore_now(redis_server, unleash, tmp_path, snapshot_id=taken["snapshot"]["id"], rollout="none")
    assert not rerun.get("failed") and {item["kind"]: item["status"] for item in rerun["report"]["kinds"]} == {
        "flags": "unchanged", "unleash": "restored", "configmaps": "restored", "secrets": "restored", "env": "restored"}
    assert set(rerun["verified"].values()) == {True} and unleash.state("new_composer") is True


def test_a_kind_named_without_its_system_names_the_option_and_unnamed_ones_are_skipped(server, redis_server, unleash, tmp_path):
    args = params(config_snapshot.ARGUMENT_SPEC, redis_server, unleash, tmp_path, kinds=["configmaps", "rate_limits"])
    refused = workflow.take_snapshot(args, seal=sealer(loader()), taken_by="ci", check_mode=False)
    assert refused["failed"] is True and refused["error"]["option"] == "database" and "No snapshot was written" in refused["msg"]
    no_vault = workflow.take_snapshot(params(config_snapshot.ARGUMENT_SPEC, redis_server, unleash, tmp_path, kinds=["secrets"]), seal=None,
                                      taken_by="ci", check_mode=False)
    assert no_vault["failed"] is True and no_vault["error"]["option"] == "vault_id"
    kinds, skipped = workflow.choose_kinds({"redis_url": None, "unleash_url": None, "database": None}, vault=False)
    assert kinds == ["configmaps", "env"] and [reason.split(":")[0] for reason in skipped] == ["flags", "unleash", "secrets", "rate_limits"]


@pytest.mark.parametrize("options", [{}, {"latest": True, "snapshot_id": "cfg-20200101T000000Z-abcdef"}])
def test_exactly_one_source_of_the_values_is_named(server, redis_server, unleash, tmp_path, options):
    refused = restore_now(redis_server, unleash, tmp_path, **options)
    assert refused["failed"] is True and refused["error"]["accepted"] == ["snapshot_id", "snapshot_path", "latest", "from_release"]


def test_a_secret_value_in_an_error_is_masked_in_the_result(server, redis_server, unleash, tmp_path):
    taken = snapshot_now(redis_server, unleash, tmp_path)
    unleash.script(Reply(500, {"message": f"echoing {KEY_THEN}"}), *[Reply(500, {"message": f"echoing {KEY_THEN}"})] * 5)
    unleash.projects["default"]["new_composer"]["production"] = False
    server.write("v1", "Secret", NS, "ofm-social-os-secrets", {"data": {"TIKTOK_API_KEY": b64(KEY_NOW)}})
    result = restore_now(redis_server, unleash, tmp_path, snapshot_id=taken["snapshot"]["id"])
    assert result["failed"] is True and KEY_THEN not in json.dumps(result) and "********" in json.dumps(result)


MANIFEST = f"""
---
apiVersion: v1
kind: ConfigMap
metadata: {{name: ofm-social-os-config}}
data: {{LOG_LEVEL: warn}}
---
apiVersion: v1
kind: Secret
metadata: {{name: ofm-social-os-secrets}}
data: {{TIKTOK_API_KEY: {b64(KEY_THEN)}}}
stringData: {{META_APP_SECRET: meta-then}}
---
apiVersion: v1
kind: ConfigMap
metadata: {{name: elsewhere, namespace: other}}
data: {{A: b}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: {API}}}
spec:
  template:
    spec:
      containers:
      - name: api
        env: [{{name: FEATURE_FLAGS, value: "a=true"}}, {{name: NODE_ENV, value: production}}]
"""


def test_the_previous_helm_revision_gives_configmaps_secrets_and_env_and_says_what_it_cannot():
    found = release.helm_sections(MANIFEST, release="ofm-social-os", revision=5, namespace=NS, deployments=[API, CANARY], container="api",
                                  kinds=["flags", "configmaps", "secrets", "env"])
    assert found.id == "helm:ofm-social-os@5" and found.source == "helm"
    assert found.sections == {"configmaps": {"ofm-social-os-config": {"LOG_LEVEL": "warn"}},
                              "secrets": {"ofm-social-os-secrets": {"TIKTOK_API_KEY": KEY_THEN, "META_APP_SECRET": "meta-then"}},
                              "env": {f"{API}/api": [{"name": "NODE_ENV", "value": "production"}]}}
    assert [(item["kind"], item["target"]) for item in found.not_restorable] == [("env", f"{CANARY}/api"), ("flags", None)]
    named = release.helm_sections(MANIFEST, release="r", revision=1, namespace=NS, deployments=[], container="api", kinds=["configmaps"],
                                  configmaps=["missing"])
    assert named.sections == {} and named.not_restorable[0]["reason"] == "revision 1 of release r has no ConfigMap missing"
    helm_options = {"from_release": "helm", "helm_binary_path": "/no/such/helm", "release": "r", "release_revision": None, "namespace": NS,
                    "deployments": [API], "container": "api", "kinds": None, "configmaps": None, "secrets": None}
    with pytest.raises(InputError, match="helm_binary_path"):
        workflow.release_source(helm_options, workflow.Systems(helm_options), workflow.Masker())


def test_a_snapshot_document_of_the_store_loads_and_holds_only_sealed_secrets(server, redis_server, unleash, tmp_path):
    taken = snapshot_now(redis_server, unleash, tmp_path, kinds=["secrets"])
    snapshot = Snapshot.load(Path(taken["snapshot"]["location"]).read_text())
    assert snapshot.kinds["secrets"]["ofm-social-os-secrets"]["TIKTOK_API_KEY"].startswith("$ANSIBLE_VAULT;1.1;AES256\n")
    assert snapshot.scope == {"kube_server": "", "namespace": NS}


@pytest.mark.parametrize("module", [config_snapshot, config_restore])
def test_the_documentation_matches_the_argument_spec(module):
    fragments = (kube, redis_fragment, unleash_fragment, config_rollback, aws_fragment, config_external)
    assert mismatches(module.ARGUMENT_SPEC, documented_options(module, *fragments)) == []
    assert mismatches(workflow.CONFIG_SPEC, doc_options(config_rollback.ModuleDocFragment.DOCUMENTATION)) == []
    external = {name: spec for name, spec in kinds.EXTERNAL_SPEC.items() if name not in AWS_SPEC}
    documented = doc_options(config_external.ModuleDocFragment.DOCUMENTATION)
    assert mismatches(external, documented) == []
    for name, kind in kinds.EXTERNAL.items():
        assert mismatches(kind.options, documented[name]["suboptions"]) == [], name


def test_rollouts_follow_rollout_and_live_reload_and_a_flags_restore_waits_or_restarts(server):
    pod = {"containers": [{"name": "api", "image": "api:1"}], "volumes": [{"name": "s", "secret": {"secretName": "ofm-social-os-secrets"}}]}
    server.create("apps/v1", "Deployment", NS, {"metadata": {"name": "worker"}, "spec": {
        "replicas": 1, "selector": {"matchLabels": {"app": "w"}}, "template": {"metadata": {"labels": {"app": "w"}}, "spec": pod}}})
    client = KubeConfig(server.kube())
    envs = {name: client.read_env(NS, name) for name in (API, CANARY, "worker")}
    written = {"configmaps": [], "secrets": ["ofm-social-os-secrets"], "env": [], "flags": [API]}

    def actions(**options: Any) -> dict[str, str]:
        return {rollout.deployment: rollout.action for rollout in workflow.needed_rollouts({"rollout": "auto", **options}, envs, written)}
    # the API's FEATURE_FLAGS was restored before the Secret it reads at start: restarted; the worker mounts the Secret: live
    assert actions() == {API: "restart", CANARY: "restart", "worker": "live"}
    assert actions(live_reload=True) == {API: "live", CANARY: "live", "worker": "live"}
    assert actions(rollout="restart") == {API: "restart", CANARY: "restart", "worker": "restart"}
    written["secrets"] = []
    assert actions() == {API: "wait"}
