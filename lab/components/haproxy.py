"""HAProxy (Debian package): splits the lab's traffic between stable and canary by weight.

It reaches the two OFM API servers over HTTPS and verifies their certificate (the lab's services certificate, for
``localhost``) against the lab CA, health checks included; its Prometheus exporter is HTTPS too. The application frontend
(``haproxy``) stays plain HTTP: it stands for the in-cluster Service the load generator and the validation runners call
(README, "TLS in the lab"); ``haproxy_tls`` is the public edge with the certificates of lab/tls.py by SNI.
"""
from __future__ import annotations

import shutil

from ansible_collections.ofm.rollback.plugins.module_utils.haproxy import HaproxyRuntimeClient

from lab.components.base import Component
from lab.config import HOST, LabConfig
from lab.tls import write_lab_pki

BACKEND = "ofm_api"

CONFIG = """\
# Written by `lab up`; edits are lost on the next start.
global
    maxconn 4096
    stats socket {socket} mode 600 level admin
    stats socket ipv4@{host}:{admin} level admin
    stats timeout 30s

defaults
    mode http
    log global
    timeout connect 2s
    timeout client 90s
    timeout server 90s
    option http-keep-alive

frontend ofm_api_front
    bind {host}:{front}
    default_backend {backend}

# The lab's certificates by SNI (lab/tls.py): valid for api.ofm.social, expired, and another host's.
frontend ofm_api_tls
    bind {host}:{tls} ssl crt-list {crt_list}
    default_backend {backend}

# The OFM API servers speak HTTPS with the lab's services certificate (its names: localhost, 127.0.0.1).
backend {backend}
    balance roundrobin
    option httpchk GET /health
    default-server ssl verify required ca-file {ca_file} verifyhost localhost
    server stable {host}:{stable} weight {stable_weight} check inter 1s
    server canary {host}:{canary} weight {canary_weight} check inter 1s

frontend stats
    bind {host}:{stats} ssl crt {service_cert}
    http-request use-service prometheus-exporter if {{ path /metrics }}
    stats enable
    stats uri /stats
"""


class HAProxy(Component):
    name = "haproxy"
    ports = ("haproxy", "haproxy_admin", "haproxy_stats", "haproxy_tls")
    description = ("HAProxy: weighted stable/canary routing, runtime API at admin level, a TLS frontend with the lab CA's "
                   "valid, expired and wrong-host certificates by SNI")

    def available(self):
        return None if shutil.which("haproxy") else "haproxy is not installed (apt-get install haproxy)"

    def config_file(self, cfg: LabConfig):
        return cfg.path("etc", "haproxy.cfg")

    def prepare(self, cfg: LabConfig) -> None:
        path = self.config_file(cfg)
        path.parent.mkdir(parents=True, exist_ok=True)
        cfg.path("run").mkdir(parents=True, exist_ok=True)
        crt_list = write_lab_pki(cfg.path("tls"))
        path.write_text(CONFIG.format(
            tls=cfg.ports["haproxy_tls"], crt_list=crt_list, ca_file=cfg.ca_file, service_cert=cfg.service_cert()[0],
            host=HOST, socket=cfg.path("run", "haproxy.sock"), admin=cfg.ports["haproxy_admin"],
            front=cfg.ports["haproxy"], stats=cfg.ports["haproxy_stats"], backend=BACKEND,
            stable=cfg.ports["ofm_api_stable"], canary=cfg.ports["ofm_api_canary"],
            stable_weight=100 - cfg.canary_weight, canary_weight=cfg.canary_weight,
        ))

    def argv(self, cfg: LabConfig) -> list[str]:
        return [shutil.which("haproxy") or "haproxy", "-db", "-f", str(self.config_file(cfg))]

    def reset(self, cfg: LabConfig) -> None:
        client = runtime(cfg)
        client.set_weight(BACKEND, "stable", 100 - cfg.canary_weight)
        client.set_weight(BACKEND, "canary", cfg.canary_weight)

    def endpoints(self, cfg: LabConfig) -> dict[str, str]:
        found = super().endpoints(cfg)
        found["runtime_socket"] = str(cfg.path("run", "haproxy.sock"))
        found["tls_ca"] = str(cfg.path("tls", "ca.pem"))
        return found


def runtime(cfg: LabConfig) -> HaproxyRuntimeClient:
    """The collection's client of HAProxy's runtime API, on the lab's TCP admin socket."""
    return HaproxyRuntimeClient(f"{HOST}:{cfg.ports['haproxy_admin']}", timeout=3)


def weights(cfg: LabConfig) -> dict[str, int]:
    """Current weights of the stable and canary servers, from the runtime API."""
    client = runtime(cfg)
    return {server: client.get_weight(BACKEND, server).current for server in ("stable", "canary")}
