"""module_utils.kube_config and the Kubernetes appliers and snapshot store over it, against each Kubernetes target
(kubelab.TARGETS: the API test server, and a real cluster when OFM_TEST_KUBECONFIG or KUBECONFIG names one).

The refusals the test server is set up for (RBAC enforced, a server that went away) run on the test server only.
"""
from __future__ import annotations

import base64
import copy
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

import pytest
from kubelab import KubeServer, deployment_ready, kube_apiserver, kube_target, kubeconfig_with_token

from ansible_collections.ofm.rollback.plugins.module_utils.config import kube_appliers
from ansible_collections.ofm.rollback.plugins.module_utils.config.plan import make_plan, restore
from ansible_collections.ofm.rollback.plugins.module_utils.config.snapshot import KubeSecretStore, Snapshot
from ansible_collections.ofm.rollback.plugins.module_utils.errors import AuthorizationError, ConflictError, NotFoundError, UnavailableError
from ansible_collections.ofm.rollback.plugins.module_utils.kube_config import BINARY_MARKER, RESTARTED_AT, KubeConfig

API_KEY_THEN, API_KEY_NOW = "sk-then-5f1e0c9a77", "sk-now-0b8d2e4c11"


def b64(value: str | bytes) -> str:
    return base64.b64encode(value if isinstance(value, bytes) else value.encode()).decode()


OBJECTS = """
apiVersion: v1
kind: ConfigMap
metadata: {name: ofm-social-os-config}
data: {LOG_LEVEL: info, PUBLISH_TIMEOUT_MS: "30000", WEBHOOK_URL_TIKTOK: "https://hooks.ofm.social/tiktok", WEBHOOK_URL_META: "https://hooks.ofm.social/meta"}
---
apiVersion: v1
kind: Secret
metadata: {name: ofm-social-os-secrets}
type: Opaque
data: {TIKTOK_API_KEY: API_KEY_B64, CERT: "//79AA=="}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: ofm-social-os-api, labels: {app: ofm-social-os-api}}
spec:
  replicas: 1
  selector: {matchLabels: {app: ofm-social-os-api}}
  template:
    metadata: {labels: {app: ofm-social-os-api}}
    spec:
      containers:
      - name: api
        image: "ofm/api:1"
        envFrom: [{configMapRef: {name: ofm-social-os-config}}]
        env:
        - {name: FEATURE_FLAGS, value: "platform_instagram=true,publish_v2=false"}
        - {name: TIKTOK_API_KEY, valueFrom: {secretKeyRef: {name: ofm-social-os-secrets, key: TIKTOK_API_KEY}}}
        - {name: NODE_ENV, value: production}
""".replace("API_KEY_B64", b64(API_KEY_THEN))

NAMED = {"configmaps": {"ofm-social-os-config": {}}, "secrets": {"ofm-social-os-secrets": {}}, "env": {"ofm-social-os-api/api": []}}
DEPLOYMENT = "ofm-social-os-api"


@pytest.fixture(name="ofm")
def fixture_ofm(kube: KubeServer) -> Iterator[KubeServer]:
    """The OFM ConfigMap, Secret and API Deployment (rolled out) in the test's namespace; deleted afterwards with the snapshot
    Secrets (the test server's tests share its ``default`` namespace; a real cluster's namespace goes with the test)."""
    kube.apply(OBJECTS)
    kube.wait_for(deployment_ready(kube, DEPLOYMENT), "the API Deployment ready")
    yield kube
    if not kube.real:
        snapshots = kube.resource("v1", "Secret").get(namespace=kube.namespace, label_selector="app.kubernetes.io/managed-by=ofm.rollback")
        names = [("v1", "Secret", item["metadata"]["name"]) for item in snapshots.to_dict()["items"]]
        for api_version, kind, name in names + [("v1", "ConfigMap", "ofm-social-os-config"), ("v1", "Secret", "ofm-social-os-secrets"),
                                                ("apps/v1", "Deployment", DEPLOYMENT)]:
            kube.resource(api_version, kind).delete(name=name, namespace=kube.namespace)


def connect(kube: KubeServer) -> KubeConfig:
    return KubeConfig.from_params({"kubeconfig": str(kube.kubeconfig)})


def data(kube: KubeServer, kind: str, name: str) -> dict[str, str]:
    return kube.get("v1", kind, name).get("data") or {}


def env_of(kube: KubeServer) -> list[dict[str, Any]]:
    return kube.get("apps/v1", "Deployment", DEPLOYMENT)["spec"]["template"]["spec"]["containers"][0].get("env") or []


def test_configmap_and_secret_data_are_read_and_replaced_exactly_in_one_request_each(ofm: KubeServer):
    client = connect(ofm)
    secret = client.read_secret(ofm.namespace, "ofm-social-os-secrets")
    assert secret.values == {"TIKTOK_API_KEY": API_KEY_THEN, "CERT": BINARY_MARKER + "//79AA=="} and client.round_trips == 1
    client.replace_data(secret, {"TIKTOK_API_KEY": API_KEY_NOW, "META_APP_SECRET": "meta-1"})
    assert client.round_trips == 2
    assert data(ofm, "Secret", "ofm-social-os-secrets") == {"TIKTOK_API_KEY": b64(API_KEY_NOW), "META_APP_SECRET": b64("meta-1")}

    config = client.read_configmap(ofm.namespace, "ofm-social-os-config")
    wanted = {**config.values, "LOG_LEVEL": "debug", "WEBHOOK_URL_TIKTOK": "https://evil.example/hook"}
    del wanted["WEBHOOK_URL_META"]
    answer = client.replace_data(config, wanted)
    assert client.round_trips == 4 and answer.values == wanted and data(ofm, "ConfigMap", "ofm-social-os-config") == wanted
    assert client.replace_data(answer, wanted) is answer and client.round_trips == 4


@pytest.mark.reliability("fault", procedure="config", case="Kubernetes API 409 conflict on replace",
                         expected="refused, the other write kept")
def test_a_write_between_read_and_replace_refuses_the_replace_and_is_kept(ofm: KubeServer):
    client = connect(ofm)
    config = client.read_configmap(ofm.namespace, "ofm-social-os-config")
    ofm.patch("v1", "ConfigMap", "ofm-social-os-config", {"data": {"LOG_LEVEL": "trace"}})
    with pytest.raises(ConflictError) as caught:
        client.replace_data(config, {"LOG_LEVEL": "warn"})
    assert caught.value.status == 409 and "was changed since it was read" in str(caught.value)
    assert data(ofm, "ConfigMap", "ofm-social-os-config")["LOG_LEVEL"] == "trace"
    assert data(ofm, "ConfigMap", "ofm-social-os-config")["WEBHOOK_URL_META"] == "https://hooks.ofm.social/meta"


def test_the_env_is_read_with_its_references_replaced_exactly_and_the_deployment_rolls(ofm: KubeServer):
    client = connect(ofm)
    env = client.read_env(ofm.namespace, DEPLOYMENT)
    assert env.references.as_dict() == {"configmaps": {"ofm-social-os-config": ["env"]}, "secrets": {"ofm-social-os-secrets": ["env"]}}
    assert [entry["name"] for entry in env.container("api").env] == ["FEATURE_FLAGS", "TIKTOK_API_KEY", "NODE_ENV"]
    wanted = [{"name": "NODE_ENV", "value": "staging"}, env.container("api").env[0]]
    assert client.replace_env(env, {"api": wanted}) is True
    assert env_of(ofm) == wanted
    readiness = client.wait_rollout(ofm.namespace, DEPLOYMENT, timeout=ofm.patience, interval=0.2)
    assert readiness.ready

    stale = env
    with pytest.raises(ConflictError, match="was changed since it was read"):
        client.replace_env(stale, {"api": []})
    assert env_of(ofm) == wanted


def test_a_restart_stamps_the_template_and_the_wait_sees_the_new_pods(ofm: KubeServer):
    client = connect(ofm)
    before = ofm.get("apps/v1", "Deployment", DEPLOYMENT)["metadata"]["generation"]
    stamp = client.restart(ofm.namespace, DEPLOYMENT)
    assert datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc) <= datetime.now(timezone.utc)
    obj = ofm.get("apps/v1", "Deployment", DEPLOYMENT)
    assert obj["spec"]["template"]["metadata"]["annotations"][RESTARTED_AT] == stamp and obj["metadata"]["generation"] == before + 1
    readiness = client.wait_rollout(ofm.namespace, DEPLOYMENT, timeout=ofm.patience, interval=0.2)
    assert readiness.ready and ofm.get("apps/v1", "Deployment", DEPLOYMENT)["status"]["observedGeneration"] == before + 1


def change_everything(kube: KubeServer) -> None:
    kube.patch("v1", "ConfigMap", "ofm-social-os-config", {"data": {"LOG_LEVEL": "debug", "WEBHOOK_URL_META": None, "RATE": "fast"}})
    kube.patch("v1", "Secret", "ofm-social-os-secrets", {"data": {"TIKTOK_API_KEY": b64(API_KEY_NOW), "CERT": None}})
    kube.patch("apps/v1", "Deployment", DEPLOYMENT, [{"op": "replace", "path": "/spec/template/spec/containers/0/env", "value": [
        {"name": "DEBUG", "value": "1"}, {"name": "FEATURE_FLAGS", "value": "publish_v2=true"}, {"name": "NODE_ENV", "value": "staging"}]}],
        content_type="application/json-patch+json")


def state(kube: KubeServer) -> dict[str, Any]:
    return {"configmap": kube.get("v1", "ConfigMap", "ofm-social-os-config"), "secret": kube.get("v1", "Secret", "ofm-social-os-secrets"),
            "template": kube.get("apps/v1", "Deployment", DEPLOYMENT)["spec"]["template"]}


def test_snapshot_change_restore_gives_back_every_value_and_a_second_restore_changes_nothing(ofm: KubeServer):
    client = connect(ofm)
    taken = {kind: applier.read() for kind, applier in kube_appliers.appliers(client, ofm.namespace, NAMED).items()}
    values_then = {"configmap": data(ofm, "ConfigMap", "ofm-social-os-config"), "secret": data(ofm, "Secret", "ofm-social-os-secrets")}
    change_everything(ofm)

    checked = state(ofm)
    appliers = kube_appliers.appliers(client, ofm.namespace, taken)
    plan = make_plan(appliers, taken)
    report = restore(plan, appliers, check_mode=True)
    assert report.of("planned") == ["configmaps", "secrets", "env"] and state(ofm) == checked  # check mode: nothing written
    shown = json.dumps([plan.render(True), plan.diff(), report.as_dict()])
    assert API_KEY_THEN not in shown and API_KEY_NOW not in shown

    appliers = kube_appliers.appliers(client, ofm.namespace, taken)
    report = restore(make_plan(appliers, taken), appliers)
    assert report.restored_kinds == ["configmaps", "secrets", "env"] and report.failed is None
    assert {kind: applier.round_trips for kind, applier in appliers.items()} == {"configmaps": 2, "secrets": 2, "env": 2}
    assert data(ofm, "ConfigMap", "ofm-social-os-config") == values_then["configmap"]
    assert data(ofm, "Secret", "ofm-social-os-secrets") == values_then["secret"]
    assert env_of(ofm) == [taken["env"][f"{DEPLOYMENT}/api"][0], {"name": "FEATURE_FLAGS", "value": "publish_v2=true"},
                           taken["env"][f"{DEPLOYMENT}/api"][1]]

    envs = {DEPLOYMENT: client.read_env(ofm.namespace, DEPLOYMENT)}
    needed = kube_appliers.rollouts(envs, {kind: report.restored_targets(kind) for kind in ("configmaps", "secrets", "env")})
    assert [(rollout.deployment, rollout.action) for rollout in needed] == [(DEPLOYMENT, "wait")]
    assert kube_appliers.roll(client, ofm.namespace, needed, timeout=ofm.patience, interval=0.2)[0]["ready"]

    settled = state(ofm)
    again = kube_appliers.appliers(client, ofm.namespace, taken)
    second = restore(make_plan(again, taken), again)
    assert not second.changed and state(ofm) == settled


def test_snapshots_are_shared_through_secrets_of_the_namespace(ofm: KubeServer):
    client = connect(ofm)
    store = KubeSecretStore(client, ofm.namespace)
    taken = Snapshot.create(environment="production", scope={"namespace": ofm.namespace}, taken_by="ci",
                            kinds={"configmaps": {"ofm-social-os-config": {"LOG_LEVEL": "info"}}})
    assert store.save(taken) == f"Secret {ofm.namespace}/ofm-config-snapshot-{taken.id.lower()}"
    other_node = KubeSecretStore(connect(ofm), ofm.namespace)
    assert [entry.id for entry in other_node.list()] == [taken.id]
    assert other_node.get(taken.id).document == taken.document and other_node.latest("production").id == taken.id
    with pytest.raises(ConflictError):
        store.save(taken)


def test_a_missing_object_is_not_found_naming_it(ofm: KubeServer):
    with pytest.raises(NotFoundError) as caught:
        connect(ofm).read_configmap(ofm.namespace, "ofm-social-os-gone")
    assert f"ConfigMap {ofm.namespace}/ofm-social-os-gone" in str(caught.value) and 'configmaps "ofm-social-os-gone" not found' in str(caught.value)


# --- test server only: refusals it is set up for

RULES = {"viewer-token-0123456789": {"user": "viewer", "rules": [{"verbs": ["get", "list"], "apiGroups": ["*"], "resources": ["*"]}]}}


@pytest.mark.reliability("fault", procedure="config", case="Kubernetes API answers 403 on write",
                         expected="authorization error, nothing changed")
def test_a_forbidden_write_is_an_authorization_error_and_changes_nothing(tmp_path: Path):
    rules = tmp_path / "rbac.json"
    rules.write_text(json.dumps(RULES))
    with kube_apiserver(tmp_path, "--rbac-file", str(rules), "--rbac-enforce") as (_url, kubeconfig):
        admin = KubeConfig.from_params({"kubeconfig": str(kubeconfig)})
        admin.create_secret("default", {"metadata": {"name": "app"}, "data": {"K": b64("v")}})
        viewer = KubeConfig.from_params({"kubeconfig": kubeconfig_with_token(kubeconfig, "viewer-token-0123456789", tmp_path / "viewer")})
        secret = viewer.read_secret("default", "app")
        with pytest.raises(AuthorizationError) as caught:
            viewer.replace_data(secret, {"K": "w"})
        assert caught.value.status == 403 and "Secret default/app" in str(caught.value)
        assert admin.read_secret("default", "app").values == {"K": "v"}


def test_a_server_that_went_away_is_unavailable(tmp_path: Path):
    with kube_target("test-server", tmp_path) as server:
        client = connect(server)
        client.kube.retries = 1
        client.kube.retry_sleep = 0
    with pytest.raises(UnavailableError) as caught:
        client.read_configmap("default", "any")
    assert caught.value.attempts == 2 and client.round_trips == 2 and "cannot connect" in caught.value.reason


def test_the_values_survive_a_round_trip_through_the_real_client_unchanged(ofm: KubeServer):
    """Binary Secret values and text that looks like a marker come back byte for byte."""
    client = connect(ofm)
    odd = {"CERT": BINARY_MARKER + b64(b"\x00\xff\x10"), "TEXT": "ofm.rollback:text:ofm.rollback:x", "EMPTY": ""}
    client.replace_data(client.read_secret(ofm.namespace, "ofm-social-os-secrets"), copy.deepcopy(odd))
    assert client.read_secret(ofm.namespace, "ofm-social-os-secrets").values == odd
    assert data(ofm, "Secret", "ofm-social-os-secrets") == {"CERT": b64(b"\x00\xff\x10"), "TEXT": b64("ofm.rollback:x"), "EMPTY": ""}
