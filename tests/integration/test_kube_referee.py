"""The Kubernetes API test server, refereed by the real kubectl and the official kubernetes Python client.

Each test module run starts the server on a free port; every assertion is what a real cluster answers.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import urllib.error
import urllib.request
from pathlib import Path
from typing import Iterator

import pytest
from kubelab import STATEFULSET, kube_apiserver

KUBECTL = shutil.which("kubectl")
pytestmark = pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed on this machine")

DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, labels: {app: web}}
spec:
  replicas: 3
  progressDeadlineSeconds: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - {name: web, image: "nginx:1.25", ports: [{containerPort: 80}], env: [{name: MODE, value: a}]}
      - {name: proxy, image: "envoy:1"}
"""
WORKLOADS = STATEFULSET + """---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec: {containers: [{name: agent, image: "agent:1"}]}
---
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {name: ofm-social-os}
spec:
  replicas: 2
  selector: {matchLabels: {app: ofm}}
  strategy: {canary: {steps: [{setWeight: 10}, {pause: {}}]}}
  template:
    metadata: {labels: {app: ofm}}
    spec: {containers: [{name: api, image: "api:1"}]}
"""


class Kubectl:
    def __init__(self, kubeconfig: Path, cache: Path):
        self.env = {**os.environ, "KUBECONFIG": str(kubeconfig), "KUBECACHEDIR": str(cache)}

    def __call__(self, *args: str, stdin: str = "", check: bool = True) -> subprocess.CompletedProcess:
        result = subprocess.run([KUBECTL, *args], input=stdin, capture_output=True, text=True, env=self.env, timeout=120, check=False)
        if check and result.returncode != 0:
            pytest.fail(f"kubectl {' '.join(args)} failed ({result.returncode}): {result.stderr}")
        return result

    def json(self, *args: str) -> dict:
        return json.loads(self(*args, "-o", "json").stdout)


@pytest.fixture(scope="module", name="server")
def fixture_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    with kube_apiserver(tmp_path_factory.mktemp("kube")) as server:
        yield server


@pytest.fixture(scope="module", name="kubectl")
def fixture_kubectl(server: tuple[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Kubectl:
    return Kubectl(server[1], tmp_path_factory.mktemp("kubecache"))


def history(kubectl: Kubectl, target: str) -> list[str]:
    lines = kubectl("rollout", "history", target).stdout.splitlines()
    return [line.split()[0] for line in lines if line[:1].isdigit()]


def images(kubectl: Kubectl, target: str) -> list[str]:
    return [c["image"] for c in kubectl.json("get", target)["spec"]["template"]["spec"]["containers"]]


def test_deployment_apply_patch_and_rollout_history_undo(kubectl: Kubectl):
    assert "deployment.apps/web created" in kubectl("apply", "-f", "-", stdin=DEPLOYMENT).stdout
    assert "deployment.apps/web unchanged" in kubectl("apply", "-f", "-", stdin=DEPLOYMENT).stdout
    assert 'deployment "web" successfully rolled out' in kubectl("rollout", "status", "deploy/web", "--timeout=60s").stdout
    table = kubectl("get", "deploy", "web").stdout.splitlines()
    assert table[0].split() == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"] and table[1].split()[:4] == ["web", "3/3", "3", "3"]

    for image in ("nginx:1.26", "nginx:1.27"):
        kubectl("set", "image", "deploy/web", f"web={image}")
        kubectl("rollout", "status", "deploy/web", "--timeout=60s")
    assert history(kubectl, "deploy/web") == ["1", "2", "3"]
    assert "rolled back" in kubectl("rollout", "undo", "deploy/web").stdout
    kubectl("rollout", "status", "deploy/web", "--timeout=60s")
    assert images(kubectl, "deploy/web") == ["nginx:1.26", "envoy:1"]
    assert history(kubectl, "deploy/web") == ["1", "3", "4"]
    kubectl("rollout", "undo", "deploy/web", "--to-revision=1")
    kubectl("rollout", "status", "deploy/web", "--timeout=60s")
    assert images(kubectl, "deploy/web") == ["nginx:1.25", "envoy:1"]
    assert history(kubectl, "deploy/web") == ["3", "4", "5"]
    assert "skipped rollback" in kubectl("rollout", "undo", "deploy/web", "--to-revision=5").stdout


def test_strategic_merge_and_json_patches(kubectl: Kubectl):
    kubectl("apply", "-f", "-", stdin=DEPLOYMENT.replace("metadata: {name: web,", "metadata: {name: patched,").replace("app: web", "app: patched"))
    kubectl("patch", "deploy", "patched", "-p", '{"spec":{"template":{"spec":{"containers":[{"name":"web","env":[{"name":"MODE","value":"b"}]}]}}}}')
    containers = kubectl.json("get", "deploy/patched")["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in containers] == ["web", "proxy"] and containers[0]["env"] == [{"name": "MODE", "value": "b"}]
    kubectl("patch", "deploy", "patched", "--type=merge", "-p", '{"metadata":{"labels":{"team":"ofm"}}}')
    kubectl("patch", "deploy", "patched", "--type=json", "-p", '[{"op":"replace","path":"/spec/template/spec/containers/0/env/0/value","value":"a"}]')
    patched = kubectl.json("get", "deploy/patched")
    assert patched["metadata"]["labels"] == {"app": "patched", "team": "ofm"}
    assert patched["spec"]["template"]["spec"]["containers"][0]["env"] == [{"name": "MODE", "value": "a"}]
    assert history(kubectl, "deploy/patched") == ["2", "3"]


def test_rollout_status_fails_when_a_broken_image_exceeds_the_deadline(kubectl: Kubectl):
    kubectl("apply", "-f", "-", stdin=DEPLOYMENT.replace("metadata: {name: web,", "metadata: {name: broken,").replace("app: web", "app: broken"))
    kubectl("rollout", "status", "deploy/broken", "--timeout=60s")
    kubectl("set", "image", "deploy/broken", "web=nginx:1.26-broken")
    result = kubectl("rollout", "status", "deploy/broken", "--timeout=60s", check=False)
    assert result.returncode != 0
    assert 'deployment "broken" exceeded its progress deadline' in result.stderr
    progressing = [c for c in kubectl.json("get", "deploy/broken")["status"]["conditions"] if c["type"] == "Progressing"]
    assert progressing[0]["reason"] == "ProgressDeadlineExceeded"


@pytest.mark.parametrize("kind, container, old, new", [("statefulset/db", "db", "postgres:15", "postgres:16"),
                                                       ("daemonset/agent", "agent", "agent:1", "agent:2")])
def test_statefulset_and_daemonset_history_and_undo(kubectl: Kubectl, kind: str, container: str, old: str, new: str):
    kubectl("apply", "-f", "-", stdin=WORKLOADS)
    kubectl("rollout", "status", kind, "--timeout=60s")
    kubectl("set", "image", kind, f"{container}={new}")
    kubectl("rollout", "status", kind, "--timeout=60s")
    assert history(kubectl, kind) == ["1", "2"]
    kubectl("rollout", "undo", kind)
    kubectl("rollout", "status", kind, "--timeout=60s")
    assert images(kubectl, kind) == [old]
    assert history(kubectl, kind) == ["2", "3"]
    status = kubectl.json("get", kind)["status"]
    assert status["observedGeneration"] == 3
    if kind.startswith("statefulset"):
        assert status["currentRevision"] == status["updateRevision"] == f"db-{status['updateRevision'].rsplit('-', 1)[1]}"
    else:
        assert status["updatedNumberScheduled"] == status["numberAvailable"] == status["desiredNumberScheduled"]
        assert "currentRevision" not in status


def test_argo_rollouts_are_listed_and_patched_as_custom_resources(kubectl: Kubectl):
    kubectl("apply", "-f", "-", stdin=WORKLOADS)
    lines = kubectl("get", "rollouts.argoproj.io").stdout.splitlines()
    assert lines[0].split() == ["NAME", "DESIRED", "CURRENT", "UP-TO-DATE", "AVAILABLE", "AGE"] and lines[1].startswith("ofm-social-os")
    refused = kubectl("patch", "rollout", "ofm-social-os", "-p", '{"spec":{"replicas":3}}', check=False)
    assert refused.returncode != 0 and "the body of the request was in an unknown format" in refused.stderr
    kubectl("patch", "rollout", "ofm-social-os", "--type=merge", "-p", '{"spec":{"template":{"spec":{"containers":[{"name":"api","image":"api:2"}]}}}}')
    kubectl("wait", "rollout/ofm-social-os", "--for=jsonpath={.status.phase}=Paused", "--timeout=60s")
    kubectl("patch", "rollout", "ofm-social-os", "--subresource=status", "--type=merge", "-p", '{"status":{"abort":true}}')
    kubectl("wait", "rollout/ofm-social-os", "--for=jsonpath={.status.phase}=Degraded", "--timeout=60s")
    status = kubectl.json("get", "rollout/ofm-social-os")["status"]
    assert status["canary"]["weights"]["canary"]["weight"] == 0 and status["message"].startswith("RolloutAborted")


def test_python_client_lists_patches_and_gets_conflicts(server: tuple[str, Path]):
    from kubernetes import client, config, dynamic  # pylint: disable=import-outside-toplevel
    api_client = config.new_client_from_config(str(server[1]))
    core, apps = client.CoreV1Api(api_client), client.AppsV1Api(api_client)
    core.create_namespace({"metadata": {"name": "ofm-production"}})
    created = core.create_namespaced_config_map("ofm-production", {"metadata": {"name": "flags", "labels": {"tier": "api"}}, "data": {"a": "1"}})
    assert [cm.metadata.name for cm in core.list_namespaced_config_map("ofm-production", label_selector="tier in (api,web)").items] == ["flags"]
    assert core.list_namespaced_config_map("ofm-production", label_selector="tier notin (api)").items == []
    core.patch_namespaced_config_map("flags", "ofm-production", {"data": {"a": "2"}})
    with pytest.raises(client.ApiException) as conflict:
        core.patch_namespaced_config_map("flags", "ofm-production", {"metadata": {"resourceVersion": created.metadata.resource_version}, "data": {"a": "3"}})
    assert conflict.value.status == 409 and json.loads(conflict.value.body)["reason"] == "Conflict"
    with pytest.raises(client.ApiException) as missing:
        apps.read_namespaced_deployment("nope", "ofm-production")
    assert json.loads(missing.value.body)["message"] == 'deployments.apps "nope" not found'
    scaled = apps.patch_namespaced_deployment_scale("web", "default", {"spec": {"replicas": 4}})
    assert scaled.spec.replicas == 4 and apps.read_namespaced_deployment("web", "default").spec.replicas == 4
    dynamic_client = dynamic.DynamicClient(api_client)
    rollouts = dynamic_client.resources.get(api_version="argoproj.io/v1alpha1", kind="Rollout")
    assert [item.metadata.name for item in rollouts.get(namespace="default").items] == ["ofm-social-os"]
    deployments = dynamic_client.resources.get(api_version="apps/v1", kind="Deployment")
    current = deployments.get(name="web", namespace="default")
    stale = current.to_dict()
    deployments.patch(name="web", namespace="default", body={"metadata": {"labels": {"x": "1"}}}, content_type="application/merge-patch+json")
    with pytest.raises(Exception) as stale_update:
        deployments.replace(body=stale, namespace="default")
    assert getattr(stale_update.value, "status", None) == 409


def test_faults_and_watch(server: tuple[str, Path], kubectl: Kubectl):
    url = server[0]
    request = urllib.request.Request(f"{url}/__lab/faults", data=json.dumps({"status": 500, "count": 1, "verbs": ["list"]}).encode(), method="PUT")
    with urllib.request.urlopen(request, timeout=5) as answer:  # nosec - loopback test server
        assert json.load(answer)["faults"][0]["status"] == 500
    failed = kubectl("get", "configmaps", "-n", "ofm-production", check=False)
    assert failed.returncode != 0 and "injected fault" in failed.stderr
    assert "flags" in kubectl("get", "configmaps", "-n", "ofm-production").stdout
    with urllib.request.urlopen(f"{url}/api/v1/namespaces/ofm-production/configmaps?watch=true&timeoutSeconds=1", timeout=10) as stream:  # nosec
        events = [json.loads(line) for line in stream.read().splitlines() if line]
    assert [(event["type"], event["object"]["metadata"]["name"]) for event in events] == [("ADDED", "flags")]


def test_bearer_token_is_required_when_configured(tmp_path: Path):
    from kubernetes import client, config  # pylint: disable=import-outside-toplevel
    token_file = tmp_path / "token"
    token_file.write_text("s3cret-token\n")
    with kube_apiserver(tmp_path, "--token-file", str(token_file)) as (url, kubeconfig):
        assert client.CoreV1Api(config.new_client_from_config(str(kubeconfig))).list_namespace().items
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"{url}/api/v1/namespaces", timeout=5)  # nosec - loopback test server
        assert refused.value.code == 401
