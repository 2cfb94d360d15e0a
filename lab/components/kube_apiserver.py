"""The Kubernetes API test server (stand-in for the control plane)."""
from __future__ import annotations

import json
from pathlib import Path

from lab.components.base import PythonService, http_json
from lab.config import LabConfig
from lab.services.kube import seed


class KubeApiServer(PythonService):
    name = "kube-apiserver"
    module = "kube_apiserver"
    ports = ("kube_apiserver",)
    description = ("Kubernetes API test server (discovery, CRUD, patches, watch, Deployment/StatefulSet/DaemonSet/Argo Rollout controllers), "
                   "seeded with namespace ofm-production: the Rollout at canary weight 10, the canary Ingress and Deployments")
    stand_in = "a Kubernetes control plane (none can run here); KUBECONFIG=<state>/kubeconfig for kubectl, helm and the kubernetes client"

    # The lab's kubeconfig has no bearer token (the cluster admin): the server listens on loopback over plain HTTP, and
    # kubectl sends no token over plain HTTP. The identities kube_sre and kube_viewer of the lab's credentials are RBAC users
    # whose bearer tokens SelfSubjectAccessReviews answer for: kube_sre may do exactly what the emergency fallback does in
    # namespace ofm-production (patch the Rollout and its status, patch the canary Ingress, scale the canary Deployment, and
    # the reads), kube_viewer may only read.

    def service_args(self, cfg: LabConfig) -> list[str]:
        return [
            "--port", str(cfg.ports["kube_apiserver"]),
            "--kubeconfig", str(cfg.path("kubeconfig")),
            "--state-file", str(cfg.path("data", "kube-objects.json")),
            "--rbac-file", str(self.rbac_file(cfg)),
            "--seed-ofm",
        ]

    @staticmethod
    def rbac_file(cfg: LabConfig) -> Path:
        return cfg.path("data", "kube-rbac.json")

    def prepare(self, cfg: LabConfig) -> None:
        identities = cfg.credentials().identities
        read = {"verbs": ["get", "list", "watch"], "apiGroups": ["*"], "resources": ["*"]}
        fallback = [read, {"verbs": ["patch"], "apiGroups": ["argoproj.io"], "resources": ["rollouts", "rollouts/status"],
                           "namespaces": [seed.NAMESPACE]},
                    {"verbs": ["patch"], "apiGroups": ["networking.k8s.io"], "resources": ["ingresses"], "namespaces": [seed.NAMESPACE]},
                    {"verbs": ["patch", "update"], "apiGroups": ["apps"], "resources": ["deployments/scale"], "namespaces": [seed.NAMESPACE]}]
        users = {identities["kube_sre"].token: {"user": "kube-sre", "rules": fallback},
                 identities["kube_viewer"].token: {"user": "kube-viewer", "rules": [read]}}
        path = self.rbac_file(cfg)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(users))
        path.chmod(0o600)

    def reset(self, cfg: LabConfig) -> None:
        http_json(f"{cfg.url('kube_apiserver')}/__lab/faults", "DELETE")
        http_json(f"{cfg.url('kube_apiserver')}/__lab/broken-images", "PUT", {"images": []})
        http_json(f"{cfg.url('kube_apiserver')}/__lab/seed", "POST", timeout=30)
