"""openshift_route and the snapshot kind routes against the lab's Kubernetes test server (the seeded Route ofm-api in
ofm-production, 90/10), and against a real OpenShift cluster when one is configured (kubelab: OFM_TEST_KUBECONFIG or
KUBECONFIG; skipped otherwise, and where the cluster serves no Routes).

Not shared_lab: every test puts the Route's spec back as it found it (other tests run in parallel in the same lab).
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any, Iterator

import pytest
from external_lb import closed_port, hanging_listener, lab_with
from kubelab import KubeServer, require_api
from kubernetes import config as kube_config
from kubernetes.dynamic import DynamicClient
from labtest import AnsibleRun, run_module, run_play

from lab.config import LabConfig
from lab.services.kube import seed

API = "route.openshift.io/v1"
NS, ROUTE = seed.NAMESPACE, seed.ROUTE
STABLE, CANARY = seed.STABLE, seed.CANARY


@pytest.fixture(scope="module", name="lab_kube")
def fixture_lab_kube() -> LabConfig:
    return lab_with("kube-apiserver")


@pytest.fixture(name="routes")
def fixture_routes(lab_kube: LabConfig) -> Iterator[Any]:
    """The Route resource of the lab's test server; the Route ofm-api's spec is put back as it was after the test."""
    kubeconfig = lab_kube.path("kubeconfig")
    resource = DynamicClient(kube_config.new_client_from_config(str(kubeconfig))).resources.get(api_version=API, kind="Route")
    before = resource.get(name=ROUTE, namespace=NS).to_dict()["spec"]
    yield resource
    resource.patch(body={"spec": {"to": before["to"], "alternateBackends": before.get("alternateBackends") or []}}, name=ROUTE, namespace=NS,
                   content_type="application/merge-patch+json")


def route_now(routes: Any) -> dict[str, Any]:
    return routes.get(name=ROUTE, namespace=NS).to_dict()


def backends(obj: dict[str, Any]) -> list[tuple[str, int]]:
    spec = obj["spec"]
    return [(entry["name"], entry["weight"]) for entry in [spec["to"]] + (spec.get("alternateBackends") or [])]


def module(lab: LabConfig, tmp_path: Path, *, check: bool = False, diff: bool = False, **args: Any) -> AnsibleRun:
    options = {"kubeconfig": str(lab.path("kubeconfig")), "namespace": NS, "name": ROUTE, **args}
    return run_module("openshift_route", options, tmp_path, check=check, diff=diff)


def test_weights_change_show_a_diff_and_a_second_run_changes_nothing(lab_kube, routes, tmp_path):
    assert backends(route_now(routes)) == [(STABLE, 90), (CANARY, 10)]

    run = module(lab_kube, tmp_path, diff=True, weights={STABLE: 100, CANARY: 0})

    assert not run.failed and run.result["changed"] is True, run.output
    assert backends(route_now(routes)) == [(STABLE, 100), (CANARY, 0)]
    assert "--- before" in run.output and re.search(r'^\+\s+"weight": 100,?$', run.output, re.M), run.output
    assert re.search(r'^-\s+"weight": 10,?$', run.output, re.M)
    version = route_now(routes)["metadata"]["resourceVersion"]

    again = module(lab_kube, tmp_path, weights={STABLE: 100, CANARY: 0})
    assert not again.failed and again.result["changed"] is False and again.result["patches"] == []
    assert route_now(routes)["metadata"]["resourceVersion"] == version, "the second run wrote nothing"


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed on this machine")
def test_kubectl_sees_what_the_module_wrote_and_the_server_refuses_what_openshift_refuses(lab_kube, routes, tmp_path):
    """kubectl as the referee of the test server's Routes: discovery, the weights written, OpenShift's weight validation."""
    env = {**os.environ, "KUBECONFIG": str(lab_kube.path("kubeconfig"))}

    def kubectl(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["kubectl", "-n", NS, *args], env=env, capture_output=True, text=True, timeout=60, check=False)

    assert "route.openshift.io/v1" in kubectl("api-resources", "--api-group=route.openshift.io").stdout
    assert not module(lab_kube, tmp_path, weights={CANARY: 0}).failed
    shown = json.loads(kubectl("get", "route", ROUTE, "-o", "json").stdout)
    assert backends(shown) == [(STABLE, 90), (CANARY, 0)]
    refused = kubectl("patch", "route", ROUTE, "--type", "merge", "-p", '{"spec": {"to": {"weight": 300}}}')
    assert refused.returncode != 0 and "weight must be an integer between 0 and 256" in refused.stderr
    assert backends(route_now(routes)) == [(STABLE, 90), (CANARY, 0)]


def test_check_mode_sends_nothing(lab_kube, routes, tmp_path):
    version = route_now(routes)["metadata"]["resourceVersion"]
    run = module(lab_kube, tmp_path, check=True, backends=[{"service": CANARY, "weight": 256}])
    assert not run.failed and run.result["changed"] is True and run.result["current"] == [{"service": CANARY, "weight": 256}]
    assert route_now(routes)["metadata"]["resourceVersion"] == version and backends(route_now(routes)) == [(STABLE, 90), (CANARY, 10)]


@pytest.mark.parametrize("args, option", [({"weights": {CANARY: 257}}, f"weights.{CANARY}"), ({"weights": {"ofm-social-os-api-v3": 5}}, "weights"),
                                          ({"backends": [{"service": f"svc-{i}", "weight": 1} for i in range(5)]}, "backends")])
def test_bad_input_is_a_clear_error_and_changes_nothing(lab_kube, routes, tmp_path, args, option):
    version = route_now(routes)["metadata"]["resourceVersion"]
    run = module(lab_kube, tmp_path, **args)
    assert run.failed and run.result["error"]["option"] == option and run.result["changed"] is False
    assert route_now(routes)["metadata"]["resourceVersion"] == version


def test_a_missing_route_is_not_found(lab_kube, tmp_path):
    run = module(lab_kube, tmp_path, name="ofm-nope", weights={STABLE: 1})
    assert run.failed and run.result["error"]["type"] == "NotFoundError" and "ofm-nope" in run.result["msg"]


def test_an_unreachable_api_server_is_a_clear_error(tmp_path):
    run = run_module("openshift_route", {"host": f"http://127.0.0.1:{closed_port()}", "namespace": NS, "name": ROUTE, "timeout": 2}, tmp_path)
    assert run.failed and run.result["error"]["type"] == "UnavailableError" and "cannot connect" in run.result["msg"]


def test_a_server_that_never_answers_is_a_clear_error_within_the_timeout(tmp_path):
    with hanging_listener() as address:
        started = time.monotonic()
        run = run_module("openshift_route", {"host": f"http://{address}", "namespace": NS, "name": ROUTE, "timeout": 1}, tmp_path)
        elapsed = time.monotonic() - started
    assert run.failed and run.result["error"]["type"] == "UnavailableError" and "no answer in time" in run.result["msg"], run.output
    assert elapsed < 60


def test_config_snapshot_and_restore_of_the_routes_kind(lab_kube, routes, tmp_path):
    """snapshot -> change -> restore -> equal; the second restore changes nothing; a check-mode restore writes nothing."""
    common = {"kubeconfig": str(lab_kube.path("kubeconfig")), "namespace": NS, "kinds": ["routes"], "snapshot_dir": str(tmp_path / "snapshots"),
              "routes": {"namespace": NS, "names": [ROUTE]}}
    taken = run_play([{"name": "Snapshot", "ofm.rollback.config_snapshot": common, "register": "snap"}], tmp_path)
    assert not taken.failed, taken.output
    seeded = route_now(routes)["spec"]
    routes.patch(body={"spec": {"to": {"kind": "Service", "name": CANARY, "weight": 100}, "alternateBackends": [
        {"kind": "Service", "name": STABLE, "weight": 0}]}}, name=ROUTE, namespace=NS, content_type="application/merge-patch+json")
    changed_version = route_now(routes)["metadata"]["resourceVersion"]

    restore = {"name": "Restore", "ofm.rollback.config_restore": {**common, "latest": True}, "register": "restored"}
    checked = run_play([restore], tmp_path, options=["--check"])
    assert not checked.failed and checked.result["restored"]["changed"] is True, checked.output
    assert route_now(routes)["metadata"]["resourceVersion"] == changed_version

    done = run_play([restore], tmp_path, diff=True)
    assert not done.failed and done.result["restored"]["changed"] is True, done.output
    assert route_now(routes)["spec"] == seeded
    assert done.result["restored"]["round_trips"]["kubernetes"] >= 2

    again = run_play([restore], tmp_path)
    assert not again.failed and again.result["restored"]["changed"] is False, again.output


# --- a real cluster (OpenShift) when configured, and a test server of the test's own --------------------------------------

ROUTE_MANIFEST = {"apiVersion": API, "kind": "Route", "metadata": {"name": "ofm-test-route"},
                  "spec": {"to": {"kind": "Service", "name": "ofm-test-a", "weight": 80}, "alternateBackends": [
                      {"kind": "Service", "name": "ofm-test-b", "weight": 20}]}}


def test_route_weights_and_restore_on_each_target(kube: KubeServer, tmp_path):
    """On the test server and, when OFM_TEST_KUBECONFIG or KUBECONFIG is set, on that cluster (OpenShift: it must serve
    route.openshift.io/v1; the Route is created in the test's own namespace)."""
    require_api(kube, API, "Route", "OpenShift (route.openshift.io/v1)")
    kube.resource(API, "Route").create(body=ROUTE_MANIFEST, namespace=kube.namespace)
    try:
        options = {**kube.connection, "name": "ofm-test-route"}
        run = run_module("openshift_route", {**options, "weights": {"ofm-test-b": 0}}, tmp_path)
        assert not run.failed and run.result["changed"], run.output
        assert backends(kube.get(API, "Route", "ofm-test-route")) == [("ofm-test-a", 80), ("ofm-test-b", 0)]
        back = run_module("openshift_route", {**options, "backends": [{"service": "ofm-test-a", "weight": 80}, {"service": "ofm-test-b", "weight": 20}]},
                          tmp_path)
        assert not back.failed and back.result["changed"] and backends(kube.get(API, "Route", "ofm-test-route")) == [("ofm-test-a", 80), ("ofm-test-b", 20)]
        assert run_module("openshift_route", {**options, "weights": {"ofm-test-b": 20}}, tmp_path).result["changed"] is False
    finally:
        kube.resource(API, "Route").delete(name="ofm-test-route", namespace=kube.namespace)
