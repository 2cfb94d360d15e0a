"""Stand-in for the ingress-nginx controller: moves HAProxy's canary weight when Kubernetes changes it.

In production, ingress-nginx sends the share of requests named by the canary Ingress's
``nginx.ingress.kubernetes.io/canary-weight`` annotation to the canary Service, and none once the canary
Deployment has no pods. No ingress controller can run on a lab machine (there is no cluster), and the lab's router
is the real HAProxy, so this stand-in polls the Kubernetes API test server for the canary Ingress and the canary
Deployment and sets HAProxy's weights through its runtime API, with the ops API stand-in's code (``CanaryOps``).

The ops API stand-in moves HAProxy's weights itself (it plays the whole production path ops API -> Argo ->
ingress-nginx), so this stand-in applies a weight only when the Kubernetes objects change it, as a controller acts on
watch events, instead of overwriting HAProxy on every pass. ``POST /__lab/sync`` applies the current weight now
(``lab reset``); ``GET /__lab/state`` shows what was applied last.
"""
from __future__ import annotations

import argparse
import sys
import threading
from typing import Any, Optional

from ansible_collections.ofm.rollback.plugins.module_utils.errors import OfmRollbackError
from ansible_collections.ofm.rollback.plugins.module_utils.haproxy import HaproxyRuntimeClient

from lab.services.common import FaultInjector, KubeReader, KubeReadError, iso_now
from lab.services.httpbase import Request, Response, Router, base_parser, make_handler, serve, tls_context
from lab.services.ops_api import CanaryOps

CANARY_ANNOTATION = "nginx.ingress.kubernetes.io/canary"
WEIGHT_ANNOTATION = "nginx.ingress.kubernetes.io/canary-weight"


class IngressSync:
    """Desired canary weight from Kubernetes -> HAProxy, applied when it changes."""

    def __init__(self, kube: KubeReader, canary: CanaryOps, namespace: str, ingress: str, deployment: str):  # pylint: disable=too-many-arguments
        self.kube = kube
        self.canary = canary
        self.ingress_path = f"/apis/networking.k8s.io/v1/namespaces/{namespace}/ingresses/{ingress}"
        self.deployment_path = f"/apis/apps/v1/namespaces/{namespace}/deployments/{deployment}"
        self.applied: Optional[int] = None
        self.history: list[dict[str, Any]] = []
        self.last_error: Optional[str] = None
        self._lock = threading.Lock()

    def desired(self) -> Optional[int]:
        """The canary weight Kubernetes asks for: the annotation, 0 when the canary Deployment has no replicas; None when unknown."""
        ingress = self.kube.get(self.ingress_path)
        annotations = ((ingress or {}).get("metadata") or {}).get("annotations") or {}
        if annotations.get(CANARY_ANNOTATION) != "true":
            return None
        try:
            weight = max(0, min(100, int(annotations.get(WEIGHT_ANNOTATION, "0"))))
        except ValueError:
            return None
        deployment = self.kube.get(self.deployment_path)
        if deployment is not None and (deployment.get("spec") or {}).get("replicas", 1) == 0:
            return 0
        return weight

    def sync(self, force: bool = False) -> Optional[int]:
        """One pass: apply the desired weight when it changed (or always, with ``force``); returns it."""
        with self._lock:
            try:
                desired = self.desired()
                if desired is not None and (force or desired != self.applied):
                    previous = self.canary.set_canary(desired)
                    self.applied = desired
                    self.history = (self.history + [{"time": iso_now(), "canary_weight": desired, "previous": previous}])[-50:]
                self.last_error = None
                return desired
            except (KubeReadError, OfmRollbackError) as exc:
                self.last_error = str(exc)
                return None

    def run(self, interval: float, stopping: threading.Event) -> None:
        while not stopping.wait(interval):
            self.sync()

    def state(self) -> dict[str, Any]:
        return {"applied_canary_weight": self.applied, "last_error": self.last_error, "history": self.history}


def handler(sync: IngressSync) -> type:
    faults = FaultInjector()
    router = Router()
    router.add("GET", "/health", lambda _request: Response(200, {"ok": True, "service": "ingress-nginx-stand-in"}))
    router.add("GET", "/__lab/state", lambda _request: Response(200, sync.state()))

    def force_sync(_request: Request) -> Response:
        desired = sync.sync(force=True)
        return Response(200 if desired is not None else 503, sync.state())

    router.add("POST", "/__lab/sync", force_sync)
    return make_handler(router, "ingress-nginx-lab", faults.intercept)


def parse_args(argv: Optional[list[str]] = None) -> argparse.Namespace:
    parser = base_parser("Lab stand-in for ingress-nginx: sets HAProxy's canary weight from the canary Ingress of the Kubernetes API test server.")
    parser.add_argument("--kube-url", required=True, help="base URL of the Kubernetes API test server")
    parser.add_argument("--kube-ca", help="the CA bundle that verifies an https --kube-url")
    parser.add_argument("--namespace", default="ofm-production")
    parser.add_argument("--ingress", default="ofm-social-os-api-canary", help="the canary Ingress")
    parser.add_argument("--deployment", default="ofm-social-os-api-canary", help="the canary Deployment")
    parser.add_argument("--haproxy-socket", required=True, help="HAProxy stats socket: a UNIX socket path or host:port")
    parser.add_argument("--backend", default="ofm_api")
    parser.add_argument("--stable-server", default="stable")
    parser.add_argument("--canary-server", default="canary")
    parser.add_argument("--interval", type=float, default=0.3, help="seconds between two readings of Kubernetes")
    return parser.parse_args(argv)


def build(args: argparse.Namespace) -> IngressSync:
    canary = CanaryOps(HaproxyRuntimeClient(args.haproxy_socket), args.backend, args.stable_server, args.canary_server, [100])
    return IngressSync(KubeReader(args.kube_url, ca_file=args.kube_ca), canary, args.namespace, args.ingress, args.deployment)


def main(argv: Optional[list[str]] = None) -> int:
    args = parse_args(argv)
    sync = build(args)
    stopping = threading.Event()
    worker = threading.Thread(target=sync.run, args=(args.interval, stopping), name="ingress-sync", daemon=True)
    worker.start()
    serve(args.host, args.port, handler(sync), stopping.set, tls=tls_context(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
