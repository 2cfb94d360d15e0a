"""playbooks/planned-rollback.yml end to end: the real ansible-playbook against the Kubernetes API test server, the real
helm (v3), the real Docker registry and the lab's Slack stand-in.

One test server and one registry serve the whole module; each test works on workloads of its own names.
"""
from __future__ import annotations

import itertools
import json
import re
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterator

import pytest
from helmtest import BROKEN_IMAGE, Helm, helm_binary, rendered
from kubelab import KubeServer, deployment_ready, kube_apiserver
from kubernetes import config as kube_config
from kubernetes.dynamic import DynamicClient
from labtest import run_playbook, stand_in_messages
from registrytest import docker_registry, push_image

# Reads or changes the lab's shared state: runs in file order in the one pytest process of such modules (scripts/test.sh).
pytestmark = pytest.mark.shared_lab

PLAYBOOK = "planned-rollback.yml"
ALWAYS = {"days": ["all"], "start": "00:00", "end": "24:00", "timezone": "UTC"}
DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: NAME}
spec:
  replicas: 2
  selector: {matchLabels: {app: NAME}}
  template:
    metadata: {labels: {app: NAME}}
    spec: {containers: [{name: api, image: "ofm/api:1"}]}
"""
ROLLOUT = """
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {name: NAME}
spec:
  replicas: 3
  selector: {matchLabels: {app: NAME}}
  strategy: {canary: {canaryService: NAME-canary, stableService: NAME-stable, steps: [{setWeight: 20}, {pause: {}}]}}
  template:
    metadata: {labels: {app: NAME}}
    spec: {containers: [{name: api, image: "ofm/api:1"}]}
"""
_incidents = itertools.count(int(time.time()) % 10**8 * 100)  # unique across runs: the Slack stand-in keeps old messages


@pytest.fixture(scope="module", name="kube")
def fixture_kube(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubeServer]:
    with kube_apiserver(tmp_path_factory.mktemp("kube"), "--broken-image", BROKEN_IMAGE) as (_url, kubeconfig):
        yield KubeServer(kubeconfig, DynamicClient(kube_config.new_client_from_config(str(kubeconfig))))


@pytest.fixture(scope="module", name="registry")
def fixture_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with docker_registry(tmp_path_factory.mktemp("registry")) as url:
        push_image(url, "ofm/api:1")
        yield url


def image(kube: KubeServer, name: str) -> str:
    return kube.get("apps/v1", "Deployment", name)["spec"]["template"]["spec"]["containers"][0]["image"]


def deployment_at_2(kube: KubeServer, name: str) -> None:
    """A Deployment whose revision 1 runs ofm/api:1 and revision 2, the current one, ofm/api:2."""
    kube.apply(DEPLOYMENT.replace("NAME", name))
    kube.wait_for(deployment_ready(kube, name), f"{name} ready")
    kube.patch("apps/v1", "Deployment", name, {"spec": {"template": {"spec": {"containers": [{"name": "api", "image": "ofm/api:2"}]}}}},
               content_type="application/strategic-merge-patch+json")
    kube.wait_for(lambda: image(kube, name) == "ofm/api:2" and deployment_ready(kube, name)(), f"{name} on ofm/api:2")


def planned(tmp_path: Path, kube: KubeServer, **extra: Any):
    incident = f"INC-{next(_incidents)}"
    extra_vars = {"rollback_incident_id": incident, "rollback_reason": "api 2 doubles the DB load", "planned_rollback_window": ALWAYS,
                  "ofm_kubeconfig": str(kube.kubeconfig), "ofm_namespace": "default", **extra}
    run = run_playbook(PLAYBOOK, extra_vars=extra_vars, audit_log=tmp_path / "audit.jsonl", timeout=240)
    run.incident = incident  # type: ignore[attr-defined]
    run.text = " ".join(run.stdout.split())  # type: ignore[attr-defined]  # the YAML callback wraps long lines
    return run


def slack_about(lab, incident: str) -> list[str]:
    return [json.dumps(message) for message in stand_in_messages(lab.url("slack")) if incident in json.dumps(message)]


def recap_changed(stdout: str) -> int:
    match = re.search(r"localhost\s+:\s+ok=\d+\s+changed=(\d+)", stdout)
    assert match, stdout[-3000:]
    return int(match.group(1))


def weekday(days: int) -> str:
    return (datetime.now(timezone.utc) + timedelta(days=days)).strftime("%a").lower()


def test_outside_the_window_stops_before_any_change(lab, kube, tmp_path):
    deployment_at_2(kube, "closed")
    window = {"days": [weekday(2)], "start": "00:00", "end": "24:00", "timezone": "UTC"}
    run = planned(tmp_path, kube, planned_rollback_method="kubectl", k8s_rollback_name="closed", planned_rollback_window=window)
    assert run.returncode != 0
    assert "Outside the change window" in run.text and "rollback_override_window=true" in run.text
    assert re.search(r"\[FAILED\] Change Window: now .* \(outside; opens ", run.text)
    # Everything after the stop is MANUAL, with why: the run stopped at the change window.
    assert "[MANUAL] Initiate Rollback: Initiate the rollback through the Internal Operations interface. (not done: the run stopped earlier" in run.text
    assert image(kube, "closed") == "ofm/api:2"
    assert slack_about(lab, run.incident) == []

    refused = planned(tmp_path, kube, planned_rollback_method="kubectl", k8s_rollback_name="closed", planned_rollback_window=window,
                      rollback_override_window=True)
    assert refused.returncode != 0
    assert "no rollback_override_reason was given" in refused.text
    assert image(kube, "closed") == "ofm/api:2"


def test_missing_reason_is_refused(lab, kube, tmp_path):
    deployment_at_2(kube, "noreason")
    run = planned(tmp_path, kube, planned_rollback_method="kubectl", k8s_rollback_name="noreason", rollback_reason="")
    assert run.returncode != 0
    assert "Set rollback_reason" in run.text and "Nothing was changed" in run.text
    assert image(kube, "noreason") == "ofm/api:2"
    assert slack_about(lab, run.incident) == []


def test_kubectl_path_then_a_second_run_changes_nothing_and_a_failing_smoke_test_fails_it(lab, kube, registry, tmp_path):
    deployment_at_2(kube, "web")
    smoke = [{"name": "ops API health", "url": f"{lab.url('ops_api')}/health", "body_regex": "ofm-internal-ops"}]
    options = {"planned_rollback_method": "kubectl", "k8s_rollback_name": "web", "rollback_to_image": "ofm/api:1",
               "k8s_rollback_wait_sleep": 1, "planned_rollback_registry_url": registry, "planned_rollback_smoke_tests": smoke,
               "planned_rollback_test_command": "python3 -c \"print('suite: 12 passed')\"", "planned_rollback_key_personnel": ["alice"]}
    first = planned(tmp_path, kube, **options)
    assert first.returncode == 0, first.stdout[-4000:]
    assert image(kube, "web") == "ofm/api:1"
    assert "Deployment default/web: revision 2 -> 1 (ofm/api:2 -> ofm/api:1)" in first.text
    assert re.search(r"\[ok\s*\] Backup Verification: target revision 1 of Deployment web exists; in the registry: ofm/api:1",
                     first.text)
    assert re.search(r"\[ok\s*\] Smoke Tests: 1 of 1 passed", first.text)
    assert "| suite: 12 passed" in first.text
    assert "[MANUAL] Team Availability: Confirm that the key personnel are available for the whole change: alice." in first.text
    assert "helm rollback ofm-social-os -n ofm-production: not needed: method kubectl rolled back instead" in first.text
    # The sections the planned procedure borders are printed too, as MANUAL, so no checklist line is left out.
    assert "[MANUAL] Feature Flags · Environment Variables · API Keys · Rate Limits · Webhook URLs" in first.text
    assert "[MANUAL] DNS Records · Load Balancer · SSL Certificates · CDN Configuration" in first.text
    messages = slack_about(lab, first.incident)
    assert len(messages) == 2 and "planned rollback starting" in messages[0] and "api 2 doubles the DB load" in messages[0]
    assert "rolled back and validated" in messages[1]

    # The second run has nothing to roll back (changed=0); a failing smoke test still fails it, named in the summary.
    smoke.append({"name": "checkout page", "url": f"{lab.url('ops_api')}/no-such-page", "status": 200})
    second = planned(tmp_path, kube, **options)
    assert second.returncode != 0
    assert recap_changed(second.stdout) == 0
    assert "Validation failed: Smoke Tests: 1 of 2 passed; FAILED: checkout page: HTTP 404 (expected 200)" in second.text
    assert re.search(r"\[FAILED\] Smoke Tests: 1 of 2 passed; FAILED: checkout page: HTTP 404 \(expected 200\)", second.text)
    assert "Changed: nothing" in second.text and "to revision 3 (already there)" in second.text
    assert image(kube, "web") == "ofm/api:1"


def test_missing_target_revision_fails_before_any_change(lab, kube, tmp_path):
    deployment_at_2(kube, "norev")
    run = planned(tmp_path, kube, planned_rollback_method="kubectl", k8s_rollback_name="norev", rollback_to_revision=9)
    assert run.returncode != 0
    assert "has no revision 9: its history holds 1 ofm/api:1; 2 ofm/api:2. Nothing was changed." in run.text, run.text[-3000:]
    assert image(kube, "norev") == "ofm/api:2"
    assert slack_about(lab, run.incident) == []


def test_image_missing_in_the_registry_fails_before_any_change(lab, kube, registry, tmp_path):
    kube.apply(DEPLOYMENT.replace("NAME", "unpushed").replace("ofm/api:1", "ofm/api:0"))
    kube.wait_for(deployment_ready(kube, "unpushed"), "unpushed ready")
    kube.patch("apps/v1", "Deployment", "unpushed", {"spec": {"template": {"spec": {"containers": [{"name": "api", "image": "ofm/api:2"}]}}}},
               content_type="application/strategic-merge-patch+json")
    kube.wait_for(lambda: deployment_ready(kube, "unpushed")() and image(kube, "unpushed") == "ofm/api:2", "unpushed on ofm/api:2")
    run = planned(tmp_path, kube, planned_rollback_method="kubectl", k8s_rollback_name="unpushed", planned_rollback_registry_url=registry)
    assert run.returncode != 0
    assert f"The stable version is not available: ofm/api:0 not found in the registry {registry}" in run.text
    assert image(kube, "unpushed") == "ofm/api:2"


def test_helm_path_rolls_back_to_the_target_revision(lab, kube, tmp_path):
    helm = Helm(helm_binary("v3"), kube, tmp_path / "helm-home")
    helm.install("shop")
    helm.upgrade("shop", "message=two")
    options = {"planned_rollback_method": "helm", "ofm_helm_release": "shop", "ofm_helm_binary": str(helm.binary),
               "rollback_to_revision": 1, "planned_rollback_health_name": "shop-api", "helm_rollback_timeout": 60}
    first = planned(tmp_path, kube, **options)
    assert first.returncode == 0, first.stdout[-4000:]
    assert rendered(helm, "shop")[0] == "hello"
    assert [(entry["revision"], entry["status"]) for entry in helm.history("shop")] == [(1, "superseded"), (2, "superseded"), (3, "deployed")]
    assert "Helm release default/shop: revision 2 -> revision 3 (rollback to 1, ofm-mini-0.1.0)" in first.text
    assert re.search(r"\[ok\s*\] helm history ofm-social-os -n ofm-production: default/shop: revision 3 deployed: Rollback to 1", first.text)
    assert "[MANUAL] Backup Verification: Confirm that the target" in first.text


def test_helm_target_revision_missing_fails_before_any_change(lab, kube, tmp_path):
    helm = Helm(helm_binary("v3"), kube, tmp_path / "helm-home")
    helm.install("lone")
    run = planned(tmp_path, kube, planned_rollback_method="helm", ofm_helm_release="lone", ofm_helm_binary=str(helm.binary), rollback_to_revision=4)
    assert run.returncode != 0
    assert "revision 4 is not in the history (revisions: 1)" in run.text
    assert len(helm.history("lone")) == 1
    assert slack_about(lab, run.incident) == []


def rollout_phase(kube: KubeServer, name: str) -> str:
    return (kube.get("argoproj.io/v1alpha1", "Rollout", name).get("status") or {}).get("phase", "")


def test_argo_path_aborts_undoes_and_waits_for_healthy_then_nothing_to_do(lab, kube, registry, tmp_path):
    kube.apply(ROLLOUT.replace("NAME", "api"))
    kube.wait_for(lambda: rollout_phase(kube, "api") == "Healthy", "api healthy")
    kube.patch("argoproj.io/v1alpha1", "Rollout", "api", [{"op": "replace", "path": "/spec/template/spec/containers/0/image", "value": "ofm/api:2"}],
               content_type="application/json-patch+json")
    kube.wait_for(lambda: rollout_phase(kube, "api") == "Paused", "api paused at its canary step")
    options = {"planned_rollback_method": "argo", "ofm_rollout_name": "api", "argo_rollback_wait_sleep": 1, "planned_rollback_registry_url": registry}
    first = planned(tmp_path, kube, **options)
    assert first.returncode == 0, first.stdout[-4000:]
    rollout = kube.get("argoproj.io/v1alpha1", "Rollout", "api")
    assert rollout["status"]["phase"] == "Healthy" and rollout["spec"]["template"]["spec"]["containers"][0]["image"] == "ofm/api:1"
    assert "Rollout default/api: aborted at canary weight 20" in first.text
    assert "Rollout default/api: undone to revision 1 (ofm/api:2 -> ofm/api:1), Healthy" in first.text
    assert re.search(r"\[ok\s*\] Monitor Progress: argo_rollout waited for Healthy: Healthy", first.text)

    second = planned(tmp_path, kube, **options)
    assert second.returncode == 0, second.stdout[-4000:]
    assert recap_changed(second.stdout) == 0
    assert "Rollout api already runs its stable version" in second.text
