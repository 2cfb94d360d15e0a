"""The ingress-nginx stand-in: HAProxy's canary weight follows the canary Ingress of the Kubernetes API test server."""
from __future__ import annotations

from lab.components.base import PythonService, lab_json
from lab.config import LabConfig


class IngressController(PythonService):
    name = "ingress-nginx"
    module = "ingress_controller"
    ports = ("ingress_controller",)
    description = "ingress-nginx stand-in: sets HAProxy's canary weight from the canary Ingress (0 when the canary Deployment has 0 replicas)"
    stand_in = "the ingress-nginx controller (no cluster here); it reads Kubernetes and moves HAProxy's weights"

    def service_args(self, cfg: LabConfig) -> list[str]:
        return [
            "--port", str(cfg.ports["ingress_controller"]),
            "--kube-url", cfg.url("kube_apiserver"), "--kube-ca", str(cfg.ca_file),
            "--haproxy-socket", str(cfg.path("run", "haproxy.sock")),
        ]

    def reset(self, cfg: LabConfig) -> None:
        lab_json(cfg, "ingress_controller", "/__lab/sync", "POST", timeout=10)
