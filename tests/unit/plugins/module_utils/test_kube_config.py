# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""kube_config: ConfigMap/Secret data read and exact replace in one conditional patch, Deployment env read and replace,
rollout restart and wait, the requests counted, and the errors, against the test server's object store (kubefake)."""
from __future__ import annotations

import base64
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from kubefake import StoreClient, api_exception, refused_connection

from ansible_collections.ofm.rollback.plugins.module_utils.errors import (
    AuthorizationError, ConflictError, DeadlineExceeded, InputError, NotFoundError, RolloutFailed, UnavailableError)
from ansible_collections.ofm.rollback.plugins.module_utils.kube_config import (
    BINARY_MARKER, MARKER, RESTARTED_AT, TEXT_MARKER, KubeConfig, decode_value, encode_value, merged_env, restart_stamp)

NS = "default"


def b64(value: str | bytes) -> str:
    return base64.b64encode(value if isinstance(value, bytes) else value.encode()).decode()


@pytest.fixture(name="server")
def fixture_server() -> StoreClient:
    server = StoreClient()
    server.create("v1", "ConfigMap", NS, {"metadata": {"name": "app-config"}, "data": {"LOG_LEVEL": "info", "WEBHOOK_URL": "https://a"},
                                          "binaryData": {"logo.png": b64(b"\x89PNG\x00")}})
    server.create("v1", "Secret", NS, {"metadata": {"name": "app-secrets"},
                                       "data": {"API_KEY": b64("k-123"), "CERT": b64(b"\xff\xfe\x00"), "ODD": b64(MARKER + "x")}})
    server.create("apps/v1", "Deployment", NS, DEPLOYMENT)
    return server


DEPLOYMENT: dict[str, Any] = {
    "metadata": {"name": "api"},
    "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "api"}}, "template": {
        "metadata": {"labels": {"app": "api"}},
        "spec": {
            "initContainers": [{"name": "migrate", "image": "api:1", "envFrom": [{"secretRef": {"name": "db-secret"}}]}],
            "containers": [
                {"name": "sidecar", "image": "proxy:1", "volumeMounts": [{"name": "certs", "mountPath": "/certs"},
                                                                         {"name": "single", "mountPath": "/etc/x", "subPath": "x"}]},
                {"name": "api", "image": "api:1", "envFrom": [{"configMapRef": {"name": "app-config"}}],
                 "env": [{"name": "FEATURE_FLAGS", "value": "a=true"},
                         {"name": "API_KEY", "valueFrom": {"secretKeyRef": {"name": "app-secrets", "key": "API_KEY"}}},
                         {"name": "NODE_ENV", "value": "production"}]}],
            "volumes": [{"name": "certs", "secret": {"secretName": "tls"}}, {"name": "single", "configMap": {"name": "files"}},
                        {"name": "mixed", "projected": {"sources": [{"configMap": {"name": "extra"}}]}}]}}}}


def client(server: StoreClient, **kwargs: Any) -> KubeConfig:
    return KubeConfig(server.kube(), **kwargs)


# --- values


@pytest.mark.parametrize("raw, binary, text", [
    ("info", False, "info"), (b"k-123", False, "k-123"), (b"\xff\xfe", False, BINARY_MARKER + "//4="),
    (b"plain", True, BINARY_MARKER + "cGxhaW4="), (MARKER + "x", False, TEXT_MARKER + MARKER + "x"), ("", False, "")])
def test_values_have_one_text_form_that_decodes_back(raw, binary, text):
    assert encode_value(raw, binary) == text
    assert decode_value(text) == (raw if isinstance(raw, bytes) else raw.encode())


@pytest.mark.parametrize("bad", [BINARY_MARKER + "not base64!", MARKER + "other:x"])
def test_a_marked_value_that_is_not_valid_is_refused_naming_the_key(bad):
    with pytest.raises(InputError, match="the value of 'CERT' starts with"):
        decode_value(bad, "CERT")


# --- ConfigMaps and Secrets


def test_a_secret_is_read_decoded_with_binary_values_marked_in_one_request(server):
    kube = client(server)
    secret = kube.read_secret(NS, "app-secrets")
    assert secret.values == {"API_KEY": "k-123", "CERT": BINARY_MARKER + b64(b"\xff\xfe\x00"), "ODD": TEXT_MARKER + MARKER + "x"}
    assert secret.resource_version == server.read("v1", "Secret", NS, "app-secrets")["metadata"]["resourceVersion"]
    assert kube.round_trips == 1


def test_a_configmap_is_read_with_its_binary_data_marked(server):
    assert client(server).read_configmap(NS, "app-config").values == {
        "LOG_LEVEL": "info", "WEBHOOK_URL": "https://a", "logo.png": BINARY_MARKER + b64(b"\x89PNG\x00")}


def test_replacing_a_secret_makes_its_data_exactly_the_wanted_values_in_one_conditional_patch(server):
    kube = client(server)
    secret = kube.read_secret(NS, "app-secrets")
    wanted = {"API_KEY": "k-456", "NEW": "n-1", "ODD": TEXT_MARKER + MARKER + "x"}
    answer = kube.replace_data(secret, wanted)
    assert kube.round_trips == 2 and len(server.patches) == 1
    content_type, body = server.patches[0]
    assert content_type == "application/merge-patch+json"
    assert body == {"metadata": {"resourceVersion": secret.resource_version}, "data": {"API_KEY": b64("k-456"), "NEW": b64("n-1"), "CERT": None}}
    assert server.read("v1", "Secret", NS, "app-secrets")["data"] == {"API_KEY": b64("k-456"), "NEW": b64("n-1"), "ODD": b64(MARKER + "x")}
    assert answer.values == wanted and answer.resource_version != secret.resource_version
    assert kube.replace_data(answer, wanted) is answer and kube.round_trips == 2  # nothing to change: no request


def test_a_binary_secret_value_is_written_as_its_bytes(server):
    kube = client(server)
    kube.replace_data(kube.read_secret(NS, "app-secrets"), {"CERT": BINARY_MARKER + b64(b"\x00\x01")})
    assert server.read("v1", "Secret", NS, "app-secrets")["data"] == {"CERT": b64(b"\x00\x01")}


def test_a_configmap_key_moves_between_data_and_binary_data_and_absent_keys_go(server):
    kube = client(server)
    config = kube.read_configmap(NS, "app-config")
    kube.replace_data(config, {"LOG_LEVEL": BINARY_MARKER + b64(b"\xff"), "logo.png": "now text", "ESCAPED": TEXT_MARKER + MARKER + "y"})
    stored = server.read("v1", "ConfigMap", NS, "app-config")
    assert stored["data"] == {"logo.png": "now text", "ESCAPED": MARKER + "y"}
    assert stored["binaryData"] == {"LOG_LEVEL": b64(b"\xff")}
    assert kube.read_configmap(NS, "app-config").values == {"LOG_LEVEL": BINARY_MARKER + b64(b"\xff"), "logo.png": "now text",
                                                            "ESCAPED": TEXT_MARKER + MARKER + "y"}


def test_a_write_landing_after_the_read_refuses_the_replace_and_is_kept(server):
    kube = client(server)
    config = kube.read_configmap(NS, "app-config")
    server.write("v1", "ConfigMap", NS, "app-config", {"data": {"LOG_LEVEL": "debug"}})
    with pytest.raises(ConflictError) as caught:
        kube.replace_data(config, {"LOG_LEVEL": "warn"})
    assert "ConfigMap default/app-config was changed since it was read" in str(caught.value) and "nothing was written" in str(caught.value)
    assert server.read("v1", "ConfigMap", NS, "app-config")["data"]["LOG_LEVEL"] == "debug"


def test_a_dry_run_replace_changes_nothing(server):
    kube = client(server)
    before = server.read("v1", "Secret", NS, "app-secrets")
    kube.replace_data(kube.read_secret(NS, "app-secrets"), {"API_KEY": "x"}, dry_run=True)
    assert server.read("v1", "Secret", NS, "app-secrets") == before


# --- Deployment env


def test_the_env_of_each_container_and_what_the_template_references(server):
    env = client(server).read_env(NS, "api")
    assert [(name, container.index) for name, container in env.containers.items()] == [("sidecar", 0), ("api", 1)]
    assert [entry["name"] for entry in env.container("api").env] == ["FEATURE_FLAGS", "API_KEY", "NODE_ENV"]
    assert env.container("api").env_from == [{"configMapRef": {"name": "app-config"}}]
    assert env.references.as_dict() == {"configmaps": {"app-config": ["env"], "extra": ["volume"], "files": ["env"]},
                                        "secrets": {"app-secrets": ["env"], "db-secret": ["env"], "tls": ["volume"]}}
    assert env.generation == 1
    with pytest.raises(NotFoundError, match=r"has no container 'web'; its containers are \['api', 'sidecar'\]"):
        env.container("web")


def test_merged_env_keeps_the_variables_another_kind_owns_where_they_were():
    current = [{"name": "A", "value": "1"}, {"name": "FEATURE_FLAGS", "value": "x=true"}, {"name": "B", "value": "2"}]
    wanted = [{"name": "B", "value": "3"}, {"name": "FEATURE_FLAGS", "value": "ignored"}, {"name": "C", "value": "4"}]
    assert merged_env(current, wanted, ["FEATURE_FLAGS"]) == [{"name": "B", "value": "3"}, {"name": "FEATURE_FLAGS", "value": "x=true"},
                                                              {"name": "C", "value": "4"}]


def test_replacing_env_writes_the_exact_list_in_one_json_patch_conditional_on_the_generation(server):
    kube = client(server)
    env = kube.read_env(NS, "api")
    wanted = [{"name": "NODE_ENV", "value": "staging"}, {"name": "FEATURE_FLAGS", "value": "a=true"}]
    assert kube.replace_env(env, {"api": wanted, "sidecar": [{"name": "PROXY", "value": "on"}]}) is True
    assert kube.round_trips == 2 and len(server.patches) == 1
    content_type, body = server.patches[0]
    assert content_type == "application/json-patch+json"
    assert body[0] == {"op": "test", "path": "/metadata/generation", "value": 1}
    assert {"op": "test", "path": "/spec/template/spec/containers/1/name", "value": "api"} in body
    stored = server.read("apps/v1", "Deployment", NS, "api")
    containers = stored["spec"]["template"]["spec"]["containers"]
    assert containers[1]["env"] == wanted and containers[0]["env"] == [{"name": "PROXY", "value": "on"}]
    assert stored["metadata"]["generation"] == 2
    fresh = kube.read_env(NS, "api")
    assert kube.replace_env(fresh, {"api": wanted}) is False and kube.round_trips == 3
    assert kube.replace_env(fresh, {"sidecar": []}) is True
    assert "env" not in server.read("apps/v1", "Deployment", NS, "api")["spec"]["template"]["spec"]["containers"][0]


def test_a_status_write_between_read_and_patch_does_not_refuse_the_env_patch(server):
    kube = client(server)
    env = kube.read_env(NS, "api")
    server.write("apps/v1", "Deployment", NS, "api", {"status": {"replicas": 2}}, subresource="status")
    assert kube.replace_env(env, {"api": []}) is True


def test_a_deploy_between_read_and_patch_refuses_the_env_patch_and_is_kept(server):
    kube = client(server)
    env = kube.read_env(NS, "api")
    server.write("apps/v1", "Deployment", NS, "api", {"spec": {"template": {"spec": {"containers": [{"name": "api", "image": "api:2"}]}}}},
                 content_type="application/strategic-merge-patch+json")
    with pytest.raises(ConflictError, match=r"Deployment default/api was changed since it was read \(generation 1, now 2\)"):
        kube.replace_env(env, {"api": []})
    assert len(server.read("apps/v1", "Deployment", NS, "api")["spec"]["template"]["spec"]["containers"][1]["env"]) == 3


def test_an_invalid_env_is_refused_as_invalid_not_as_a_conflict(server):
    kube = client(server)
    env = kube.read_env(NS, "api")
    server.faults["patch"] = [api_exception(422, 'Deployment.apps "api" is invalid: spec.template.spec.containers[1].env[0].name: Required value')]
    with pytest.raises(InputError) as caught:
        kube.replace_env(env, {"api": [{"value": "no name"}]})
    assert caught.value.status == 422 and "Required value" in str(caught.value)


# --- restart and wait


def test_restart_stamps_the_template_as_kubectl_does_in_utc(server):
    kube = client(server)
    at = datetime(2026, 12, 4, 8, 39, 0, 512, tzinfo=timezone(timedelta(hours=1)))
    assert kube.restart(NS, "api", now=at) == "2026-12-04T07:39:00Z"
    stored = server.read("apps/v1", "Deployment", NS, "api")
    assert stored["spec"]["template"]["metadata"]["annotations"] == {RESTARTED_AT: "2026-12-04T07:39:00Z"}
    assert stored["metadata"]["generation"] == 2 and kube.round_trips == 1
    assert restart_stamp(datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)) == "2026-01-02T03:04:05Z"


def ready_status(generation: int) -> dict[str, Any]:
    return {"status": {"observedGeneration": generation, "replicas": 2, "updatedReplicas": 2, "availableReplicas": 2}}


def test_the_wait_polls_until_the_rollout_is_complete(server):
    clock = [0.0]

    def sleep(seconds: float) -> None:
        clock[0] += seconds
        if clock[0] >= 4:
            server.write("apps/v1", "Deployment", NS, "api", ready_status(2), subresource="status")

    kube = client(server, clock=lambda: clock[0], sleep=sleep)
    kube.restart(NS, "api")
    readiness = kube.wait_rollout(NS, "api", timeout=30, interval=2)
    assert readiness.ready and readiness.message == "2 of 2 replicas updated and available"
    assert kube.round_trips == 1 + 3 and clock[0] == 4


def test_the_wait_fails_at_once_on_a_stuck_rollout_and_at_the_deadline_otherwise(server):
    clock = [0.0]
    kube = client(server, clock=lambda: clock[0], sleep=lambda seconds: clock.__setitem__(0, clock[0] + seconds))
    with pytest.raises(DeadlineExceeded, match="not ready after 5s: waiting for the controller"):
        kube.wait_rollout(NS, "api", timeout=5, interval=2)
    server.write("apps/v1", "Deployment", NS, "api", {"status": {"conditions": [
        {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded", "message": "api has timed out progressing"}]}},
        subresource="status")
    with pytest.raises(RolloutFailed, match="api has timed out progressing"):
        kube.wait_rollout(NS, "api", timeout=5, interval=2)


# --- errors and round trips


def test_a_missing_object_is_not_found_naming_it(server):
    with pytest.raises(NotFoundError) as caught:
        client(server).read_secret(NS, "nope")
    assert str(caught.value).startswith('Kubernetes API: get on Secret default/nope failed: HTTP 404: secrets "nope" not found.')


def test_a_forbidden_read_is_an_authorization_error(server):
    server.faults["get"] = [api_exception(403, 'configmaps "app-config" is forbidden: User "viewer" cannot get resource "configmaps"')]
    with pytest.raises(AuthorizationError, match="cannot get resource"):
        client(server).read_configmap(NS, "app-config")


def test_an_unreachable_server_is_unavailable_after_the_retries_each_counted(server):
    server.faults["get"] = [refused_connection(), refused_connection(), refused_connection()]
    kube = KubeConfig(server.kube(retries=2))
    with pytest.raises(UnavailableError) as caught:
        kube.read_configmap(NS, "app-config")
    assert caught.value.attempts == 3 and kube.round_trips == 3


def test_a_transient_failure_is_retried_and_counted(server):
    server.faults["patch"] = [api_exception(503, "etcdserver: leader changed")]
    kube = KubeConfig(server.kube(retries=1))
    kube.replace_data(kube.read_configmap(NS, "app-config"), {"LOG_LEVEL": "warn"})
    assert kube.round_trips == 3 and server.read("v1", "ConfigMap", NS, "app-config")["data"] == {"LOG_LEVEL": "warn"}


def test_the_snapshot_store_calls_create_list_and_get_secrets(server):
    kube = client(server)
    kube.create_secret(NS, {"metadata": {"name": "snap", "labels": {"team": "sre"}}, "data": {"k": b64("v")}})
    assert [item["metadata"]["name"] for item in kube.list_secrets(NS, "team=sre")] == ["snap"]
    assert kube.get_secret(NS, "snap")["data"] == {"k": b64("v")}
    assert kube.round_trips == 3
