"""The Kubernetes API test server (stand-in for the control plane)."""
from __future__ import annotations

from lab.components.base import PythonService, http_json
from lab.config import LabConfig


class KubeApiServer(PythonService):
    name = "kube-apiserver"
    module = "kube_apiserver"
    ports = ("kube_apiserver",)
    description = ("Kubernetes API test server (discovery, CRUD, patches, watch, Deployment/StatefulSet/DaemonSet/Argo Rollout controllers), "
                   "seeded with namespace ofm-production: the Rollout at canary weight 10, the canary Ingress and Deployments")
    stand_in = "a Kubernetes control plane (none can run here); KUBECONFIG=<state>/kubeconfig for kubectl, helm and the kubernetes client"

    # No bearer token: the server listens on loopback over plain HTTP, and kubectl sends no token over plain HTTP.

    def service_args(self, cfg: LabConfig) -> list[str]:
        return [
            "--port", str(cfg.ports["kube_apiserver"]),
            "--kubeconfig", str(cfg.path("kubeconfig")),
            "--state-file", str(cfg.path("data", "kube-objects.json")),
            "--seed-ofm",
        ]

    def reset(self, cfg: LabConfig) -> None:
        http_json(f"{cfg.url('kube_apiserver')}/__lab/faults", "DELETE")
        http_json(f"{cfg.url('kube_apiserver')}/__lab/broken-images", "PUT", {"images": []})
        http_json(f"{cfg.url('kube_apiserver')}/__lab/seed", "POST", timeout=30)
