"""The Kubernetes API test server (stand-in for the control plane)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

from lab.components import helm_release
from lab.components.ofm_api import app_log_file
from lab.components.base import PythonService, lab_json
from lab.config import Identity, LabConfig
from lab.process import LabError
from lab.services.common import KubeReadError, kube_request
from lab.services.kube import seed


# The rules of the lab's RBAC users (lab/services/kube/rbac.py): the SRE may send exactly the requests of the emergency
# fallback (ofm.rollback.k8s_access_info's preset emergency_fallback), in its namespace only; the viewer may read anything.
FALLBACK_RULES = (
    {"verbs": ["get", "patch"], "apiGroups": ["argoproj.io"], "resources": ["rollouts"]},
    {"verbs": ["patch"], "apiGroups": ["argoproj.io"], "resources": ["rollouts/status"]},
    {"verbs": ["list"], "apiGroups": ["apps"], "resources": ["replicasets"]},
    {"verbs": ["get"], "apiGroups": ["apps"], "resources": ["deployments"]},
    {"verbs": ["patch"], "apiGroups": ["apps"], "resources": ["deployments/scale"]},
    {"verbs": ["get", "patch"], "apiGroups": ["networking.k8s.io"], "resources": ["ingresses"]},
)
SRE_RULES = [{**rule, "namespaces": [seed.NAMESPACE]} for rule in FALLBACK_RULES]
VIEWER_RULES = [{"verbs": ["get", "list", "watch"], "apiGroups": ["*"], "resources": ["*"]}]


def rbac_users(identities: dict[str, Identity]) -> dict[str, dict[str, object]]:
    """The server's --rbac-file: the bearer token of each lab RBAC identity -> its user name and rules."""
    return {identities["kube_sre"].token: {"user": "kube-sre", "rules": SRE_RULES},
            identities["kube_viewer"].token: {"user": "kube-viewer", "rules": VIEWER_RULES}}


def kube_call(cfg: LabConfig, method: str, path: str, body: Any = None, content_type: str = "application/json") -> Optional[Any]:
    """One request to the lab's Kubernetes API test server as the cluster admin (no token); the answer, None for a 404."""
    try:
        return kube_request(cfg.url("kube_apiserver"), method, path, body, content_type, timeout=30, ca_file=str(cfg.ca_file))
    except KubeReadError as exc:
        raise LabError(f"Kubernetes API test server at {cfg.url('kube_apiserver')}: {exc}; is the lab up? (lab status)") from exc


class KubeApiServer(PythonService):
    """The Kubernetes API test server, with the lab's RBAC users.

    The lab's kubeconfig has no bearer token, and such requests are the cluster admin: the server listens on loopback over
    HTTPS with the lab's services certificate, and the kubeconfig trusts the lab CA (``certificate-authority``). Two
    identities of the lab's credentials (``credentials.json`` in the state directory, ``lab info``) are RBAC users by their
    bearer tokens (file ``data/kube-rbac.json``), for SelfSubjectAccessReviews (``kubectl auth can-i``,
    ofm.rollback.k8s_access_info) and SelfSubjectReviews (``kubectl auth whoami``):

    - ``kube_sre`` (user ``kube-sre``): exactly the requests of the emergency fallback, in namespace ofm-production - get and
      patch the Rollout, patch its ``status``, list the ReplicaSets, get the canary Deployment and patch its ``scale``, get
      and patch the canary Ingress (``SRE_RULES``);
    - ``kube_viewer`` (user ``kube-viewer``): get, list and watch anything (``VIEWER_RULES``).

    The rules answer the reviews only: the lab server does not refuse these users' other requests (its ``--rbac-enforce``
    would), as the emergency playbook reads more than the fallback's objects with the same kubeconfig.
    """

    name = "kube-apiserver"
    module = "kube_apiserver"
    ports = ("kube_apiserver",)
    description = ("Kubernetes API test server (discovery, CRUD, patches, watch, Deployment/StatefulSet/DaemonSet/Argo Rollout controllers), "
                   "seeded with namespace ofm-production: the Rollout at canary weight 10, the canary Ingress and Deployments, the API "
                   "Deployment at its bad release (revision 2 over 1), the API's ConfigMap, Secret and container env")
    stand_in = "a Kubernetes control plane (none can run here); KUBECONFIG=<state>/kubeconfig for kubectl, helm and the kubernetes client"

    def service_args(self, cfg: LabConfig) -> list[str]:
        return [
            "--port", str(cfg.ports["kube_apiserver"]),
            "--kubeconfig", str(cfg.path("kubeconfig")),
            "--state-file", str(cfg.path("data", "kube-objects.json")),
            "--rbac-file", str(self.rbac_file(cfg)),
            "--seed-ofm",
            "--ca-file", str(cfg.ca_file),
            # The pods' log subresource answers the real OFM API's application log of their version.
            *[argument for version in ("stable", "canary") for argument in ("--pod-log", f"{version}={app_log_file(cfg, version)}")],
        ]

    @staticmethod
    def rbac_file(cfg: LabConfig) -> Path:
        return cfg.path("data", "kube-rbac.json")

    def env(self, cfg: LabConfig) -> dict[str, str]:
        # The values of the seeded Secret ofm-social-os-secrets (lab/services/kube/seed.py): environment, not argv.
        return {"OFM_LAB_OFM_SECRETS": json.dumps(cfg.credentials().ofm_api_secrets)}

    def prepare(self, cfg: LabConfig) -> None:
        users = rbac_users(cfg.credentials().identities)
        path = self.rbac_file(cfg)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(users))
        path.chmod(0o600)

    def started(self, cfg: LabConfig) -> None:
        print(f"  {'':<18} {helm_release.ensure(cfg)}")

    @staticmethod
    def seed_config(cfg: LabConfig) -> None:
        """The API's ConfigMap, Secret and container env back as seeded, nothing else touched."""
        kube_call(cfg, "POST", "/__lab/seed", {"scope": "config"})

    def reset(self, cfg: LabConfig) -> None:
        lab_json(cfg, "kube_apiserver", "/__lab/faults", "DELETE")
        lab_json(cfg, "kube_apiserver", "/__lab/broken-images", "PUT", {"images": []})
        lab_json(cfg, "kube_apiserver", "/__lab/seed", "POST", timeout=30)
        helm_release.ensure(cfg)
