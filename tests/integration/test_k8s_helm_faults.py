"""Kubernetes faults under the rollbacks, injected for real on a Kubernetes API test server of each test's own
(lab.services.kube_apiserver, started here; no shared lab): a watch expired with 410 Gone, and helm rollback failing.

Where the rollbacks watch: the collection's own waits (k8s_rollout_undo, argo_rollout, config_restore) read the object
again by GET at each poll and never watch; helm v4's --wait watches the rolled-back resources (a streaming list, then a
watch), helm v3's --wait polls by GET. So a 410 on a watch reaches the rollbacks through helm v4 (helm_rollback, the
planned procedure's helm method).
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Optional

import pytest
from helmtest import Helm, helm_binary, rendered
from kubelab import KubeServer, deployment_ready, free_port, kube_apiserver, kubeconfig_with_token, listening
from kubernetes import config as kube_config
from kubernetes.dynamic import DynamicClient
from labtest import AnsibleRun, lab_call, run_module

from lab.config import REPO_ROOT
from lab.tls import ca_file, write_service_cert

DEPLOYMENTS = "/apis/apps/v1/namespaces/default/deployments"
DEPLOYER_TOKEN = "ci-deployer-token-5c0ffee1"
# A deploy account that may do everything helm does except patch Deployments: its rollback's write of the Deployment is
# refused by the server's RBAC (403 Forbidden), after the ConfigMap was already rolled back.
DEPLOYER_RULES = {DEPLOYER_TOKEN: {"user": "ci-deployer", "rules": [
    {"verbs": ["*"], "apiGroups": [""], "resources": ["*"]},
    {"verbs": ["get", "list", "watch", "create", "update", "delete"], "apiGroups": ["apps"], "resources": ["*"]},
]}}


def tls_arguments(tmp_path: Path) -> list[str]:
    """The test server's arguments for HTTPS with a CA of this test's: helm (client-go) sends a bearer token over HTTPS only."""
    cert, key = write_service_cert(tmp_path / "tls")
    return ["--tls-cert", str(cert), "--tls-key", str(key), "--ca-file", str(ca_file(tmp_path / "tls"))]


def connect(kubeconfig: Path) -> KubeServer:
    return KubeServer(kubeconfig, DynamicClient(kube_config.new_client_from_config(str(kubeconfig))))


def helm_on(major: str, kubeconfig: Path, tmp_path: Path) -> Helm:
    return Helm(helm_binary(major), connect(kubeconfig), tmp_path / "helm-home")


def rollback(helm: Helm, kubeconfig: Optional[Path] = None, **options: Any) -> AnsibleRun:
    """ofm.rollback.helm_rollback of release ``web`` (with ``kubeconfig``, else the admin's)."""
    args = {"binary_path": str(helm.binary), "kubeconfig": str(kubeconfig or helm.kubeconfig), "namespace": helm.namespace,
            "release": "web", "timeout": 20, **options}
    return run_module("helm_rollback", args, helm.home.parent, env={"HELM_CACHE_HOME": str(helm.home / "cache"),
                                                                    "HELM_CONFIG_HOME": str(helm.home / "config"),
                                                                    "HELM_DATA_HOME": str(helm.home / "data")})


def released(helm: Helm) -> None:
    """Release ``web``: revision 1 (message hello), revision 2 (message two) deployed."""
    helm.install("web")
    helm.upgrade("web", "message=two")


def history(helm: Helm) -> list[tuple[int, str, str]]:
    return [(entry["revision"], entry["status"], entry["description"]) for entry in helm.history("web")]


def faults(url: str) -> list[dict[str, Any]]:
    return lab_call(f"{url}/__lab/faults")["faults"]


# --- 1. a watch answered 410 Gone ("too old resource version")

@pytest.mark.reliability("fault", procedure="planned", case="Kubernetes API answers 410 Gone on a watch (helm v4 --wait)",
                         expected="helm watches again and the rollback succeeds")
@pytest.mark.parametrize("in_stream", [False, True], ids=["http-status", "error-event"])
def test_helm_v4_wait_watches_again_after_410_gone_and_the_rollback_succeeds(tmp_path: Path, in_stream: bool, reliability):
    with kube_apiserver(tmp_path) as (url, kubeconfig):
        helm = helm_on("v4", kubeconfig, tmp_path)
        released(helm)
        lab_call(f"{url}/__lab/faults", "PUT", {"status": 410, "verbs": ["watch"], "count": 2, "in_stream": in_stream})

        run = rollback(helm, target="1")

        assert not run.failed, run.output
        assert faults(url) == [], "helm's watches did not get the two 410 answers"
        assert run.result["changed"] is True and run.result["history_after"][-1]["status"] == "deployed"
        assert history(helm)[-1] == (3, "deployed", "Rollback to 1")
        assert rendered(helm, "web")[0] == "hello"
        helm.kube.wait_for(deployment_ready(helm.kube, "web-api"), "web-api ready")
    form = "as the ERROR event of the stream" if in_stream else "as the HTTP status"
    reliability.observed(f"helm v4's first two watches answered 410 {form}; helm watched again, the rollback to revision 1 "
                         "succeeded as revision 3, deployed")


def test_helm_v3_wait_and_the_collections_own_wait_do_not_watch(tmp_path: Path):
    """helm v3's --wait and k8s_rollout_undo's wait read by GET: an armed 410 on every watch is never sent, and both succeed."""
    with kube_apiserver(tmp_path) as (url, kubeconfig):
        helm = helm_on("v3", kubeconfig, tmp_path)
        released(helm)
        lab_call(f"{url}/__lab/faults", "PUT", {"status": 410, "verbs": ["watch"], "count": 1000, "in_stream": True})

        run = rollback(helm, target="1")
        undo = run_module("k8s_rollout_undo", {"kubeconfig": str(kubeconfig), "namespace": "default", "name": "web-api",
                                               "wait_sleep": 0.2, "wait_timeout": 30}, tmp_path)

        assert not run.failed, run.output
        assert not undo.failed, undo.output
        assert undo.result["changed"] is True and undo.result["objects"][0]["status"].endswith("replicas updated and available")
        assert [fault["count"] for fault in faults(url)] == [1000]


@pytest.mark.reliability("fault", procedure="planned", case="Kubernetes API answers 410 Gone on every watch (helm v4 --wait)",
                         expected="failed clearly naming helm's error, re-run finishes the rollback once")
def test_helm_v4_wait_that_can_never_watch_fails_clearly_and_a_rerun_finishes_once(tmp_path: Path, reliability):
    with kube_apiserver(tmp_path) as (url, kubeconfig):
        helm = helm_on("v4", kubeconfig, tmp_path)
        released(helm)
        lab_call(f"{url}/__lab/faults", "PUT", {"status": 410, "verbs": ["watch"], "paths": [DEPLOYMENTS], "in_stream": True})

        failed = rollback(helm, target="1", timeout=4)

        assert failed.failed
        assert failed.result["error"]["type"] == "DeadlineExceeded"
        assert "status: Unknown" in failed.result["msg"] and "context deadline exceeded" in failed.result["msg"]
        assert "could not read the resources' status" in failed.result["msg"]
        after = [(entry["revision"], entry["status"]) for entry in failed.result["history_after"]]
        assert after == [(1, "superseded"), (2, "deployed"), (3, "failed")] == [entry[:2] for entry in history(helm)]
        assert failed.result["release_state"].startswith('revision 3 is failed: Release "web" failed:')
        assert "run again with target: 1" in failed.result["msg"]

        lab_call(f"{url}/__lab/faults", "DELETE")
        rerun = rollback(helm)  # target last_deployed: the revision the failed rollback went to, not revision 2 it left
        again = rollback(helm)

        assert not rerun.failed, rerun.output
        assert (rerun.result["changed"], rerun.result["target_revision"]["revision"]) == (True, 1)
        assert (again.failed, again.result["changed"]) == (False, False)
        assert [entry[:2] for entry in history(helm)][2:] == [(3, "failed"), (4, "deployed")]
        assert history(helm)[-1][2] == "Rollback to 1"
        assert rendered(helm, "web")[0] == "hello"
    reliability.observed("helm v4 timed out reading status Unknown; the module failed with DeadlineExceeded naming helm's error, "
                         "reported revision 3 failed; after the fault a re-run with last_deployed rolled back to revision 1 once "
                         "(revision 4), a third run changed nothing")


# --- 2. helm itself failing

@pytest.mark.reliability("fault", procedure="planned", case="Kubernetes API refuses helm rollback's write (RBAC 403)",
                         expected="failed clearly naming helm's error, release state reported, re-run finishes once")
@pytest.mark.parametrize("major", ["v3", "v4"])
def test_helm_rollback_refused_by_rbac_fails_clearly_and_a_rerun_finishes_it_once(tmp_path: Path, major: str, reliability):
    rules = tmp_path / "rbac.json"
    rules.write_text(json.dumps(DEPLOYER_RULES))
    with kube_apiserver(tmp_path, "--rbac-file", str(rules), "--rbac-enforce", *tls_arguments(tmp_path)) as (_url, kubeconfig):
        helm = helm_on(major, kubeconfig, tmp_path)
        released(helm)
        deployer = Path(kubeconfig_with_token(kubeconfig, DEPLOYER_TOKEN, tmp_path / "deployer"))

        refused = rollback(helm, deployer, target="1")

        assert refused.failed and refused.result["changed"] is True
        assert refused.result["error"]["type"] == "AuthorizationError"
        assert 'is forbidden: User "ci-deployer" cannot patch resource "deployments"' in refused.result["msg"]
        after = [(entry["revision"], entry["status"]) for entry in refused.result["history_after"]]
        assert after == [(1, "superseded"), (2, "superseded"), (3, "failed")] == [entry[:2] for entry in history(helm)]
        assert refused.result["release_state"].startswith('revision 3 is failed: Rollback "web" failed:')
        assert "run again with target: 1" in refused.result["msg"]
        message, _image = rendered(helm, "web")
        env = helm.kube.get("apps/v1", "Deployment", "web-api")["spec"]["template"]["spec"]["containers"][0]["env"]
        assert (message, env) == ("hello", [{"name": "MESSAGE", "value": "two"}])  # half done: the ConfigMap only

        rerun = rollback(helm)  # the admin's kubeconfig (the rights granted); target last_deployed
        again = rollback(helm)

        assert not rerun.failed, rerun.output
        assert (rerun.result["changed"], rerun.result["target_revision"]["revision"]) == (True, 1)
        assert (again.failed, again.result["changed"]) == (False, False)
        assert [entry[:2] for entry in history(helm)] == [(1, "superseded"), (2, "superseded"), (3, "failed"), (4, "deployed")]
        env = helm.kube.get("apps/v1", "Deployment", "web-api")["spec"]["template"]["spec"]["containers"][0]["env"]
        assert (rendered(helm, "web")[0], env) == ("hello", [{"name": "MESSAGE", "value": "hello"}])
    reliability.observed(f"helm {major} rollback refused 403 on the Deployment after the ConfigMap was rolled back; the module "
                         "failed with AuthorizationError naming helm's error and reported revision 3 failed; with the rights a "
                         "re-run with last_deployed rolled back to revision 1 once (revision 4), a third run changed nothing")


@contextmanager
def stoppable_apiserver(tmp_path: Path) -> Iterator["ApiServer"]:
    server = ApiServer(tmp_path, free_port())
    server.start()
    try:
        yield server
    finally:
        server.stop()


class ApiServer:
    """The test server on one port, keeping its objects in a state file across a stop and a start (as etcd keeps them)."""

    def __init__(self, tmp_path: Path, port: int) -> None:
        self.port = port
        self.kubeconfig = tmp_path / "kubeconfig"
        self.state_file = tmp_path / "apiserver-state.json"
        self.log = tmp_path / "apiserver.log"
        self.process: Optional[subprocess.Popen] = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        with open(self.log, "ab") as output:
            self.process = subprocess.Popen(  # pylint: disable=consider-using-with
                [sys.executable, "-m", "lab.services.kube_apiserver", "--port", str(self.port), "--kubeconfig", str(self.kubeconfig),
                 "--state-file", str(self.state_file), "--tick", "0.1"], cwd=REPO_ROOT, stdout=output, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 15
        while not listening(self.port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the Kubernetes API test server did not start: {self.log.read_text()}")
            time.sleep(0.1)

    def stop(self) -> None:
        """SIGTERM: the server saves its objects and exits; requests it is still answering are cut off."""
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=10)
        self.process = None


@pytest.mark.reliability("fault", procedure="planned", case="Kubernetes API server stops during helm rollback",
                         expected="failed clearly, release left pending-rollback, re-run with recover_pending finishes once")
@pytest.mark.parametrize("major", ["v3", "v4"])
def test_api_server_stopping_during_helm_rollback_fails_clearly_and_a_rerun_finishes_it_once(tmp_path: Path, major: str, reliability):
    with stoppable_apiserver(tmp_path) as server:
        helm = helm_on(major, server.kubeconfig, tmp_path)
        released(helm)
        # hold helm's write of the Deployment, so that the server stops while helm is in the middle of the rollback
        lab_call(f"{server.url}/__lab/faults", "PUT", {"latency_ms": 60000, "verbs": ["patch"], "paths": [DEPLOYMENTS], "count": 1})
        runs: list[AnsibleRun] = []
        worker = threading.Thread(target=lambda: runs.append(rollback(helm, target="1")))
        worker.start()
        helm.kube.wait_for(lambda: faults(server.url) == [], "helm's patch of the Deployment held", timeout=30)
        server.stop()
        worker.join(timeout=60)
        failed = runs[0]

        assert failed.failed and failed.result["changed"] is True
        assert failed.result["error"]["type"] == "UnavailableError", failed.result["msg"]
        assert "web-api" in failed.result["msg"]
        assert failed.result["history_after"] is None
        assert failed.result["release_state"].startswith("unknown: helm history failed too:")
        assert "recover_pending: true if helm history then shows it pending" in failed.result["msg"]

        server.start()
        assert [entry[:2] for entry in history(helm)] == [(1, "superseded"), (2, "deployed"), (3, "pending-rollback")]
        refused = rollback(helm, target="1")
        assert refused.failed and refused.result["error"]["type"] == "ConflictError"
        assert "revision 3 is pending-rollback" in refused.result["msg"]

        recovered = rollback(helm, target="1", recover_pending=True)
        again = rollback(helm, target="1", recover_pending=True)

        assert not recovered.failed, recovered.output
        assert recovered.result["changed"] is True and "recovering from pending-rollback revision 3" in recovered.result["msg"]
        assert (again.failed, again.result["changed"]) == (False, False)
        assert [entry[:2] for entry in history(helm)][2:] == [(3, "pending-rollback"), (4, "deployed")]
        assert history(helm)[-1][2] == "Rollback to 1"
        assert rendered(helm, "web")[0] == "hello"
    reliability.observed(f"the API server stopped while helm {major} patched the Deployment; the module failed with "
                         "UnavailableError naming helm's error, history unknown; after a restart the release was pending-rollback, "
                         "a re-run refused it, with recover_pending it rolled back to revision 1 once (revision 4), then changed nothing")
