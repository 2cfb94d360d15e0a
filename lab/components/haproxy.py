"""HAProxy (Debian package): splits the lab's traffic between stable and canary by weight."""
from __future__ import annotations

import shutil
import socket

from lab.components.base import Component
from lab.config import HOST, LabConfig

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

backend {backend}
    balance roundrobin
    option httpchk GET /health
    server stable {host}:{stable} weight {stable_weight} check inter 1s
    server canary {host}:{canary} weight {canary_weight} check inter 1s

frontend stats
    bind {host}:{stats}
    http-request use-service prometheus-exporter if {{ path /metrics }}
    stats enable
    stats uri /stats
"""


class HAProxy(Component):
    name = "haproxy"
    ports = ("haproxy", "haproxy_admin", "haproxy_stats")
    description = "HAProxy: weighted stable/canary routing, runtime API at admin level"

    def available(self):
        return None if shutil.which("haproxy") else "haproxy is not installed (apt-get install haproxy)"

    def config_file(self, cfg: LabConfig):
        return cfg.path("etc", "haproxy.cfg")

    def prepare(self, cfg: LabConfig) -> None:
        path = self.config_file(cfg)
        path.parent.mkdir(parents=True, exist_ok=True)
        cfg.path("run").mkdir(parents=True, exist_ok=True)
        path.write_text(CONFIG.format(
            host=HOST, socket=cfg.path("run", "haproxy.sock"), admin=cfg.ports["haproxy_admin"],
            front=cfg.ports["haproxy"], stats=cfg.ports["haproxy_stats"], backend=BACKEND,
            stable=cfg.ports["ofm_api_stable"], canary=cfg.ports["ofm_api_canary"],
            stable_weight=100 - cfg.canary_weight, canary_weight=cfg.canary_weight,
        ))

    def argv(self, cfg: LabConfig) -> list[str]:
        return [shutil.which("haproxy") or "haproxy", "-db", "-f", str(self.config_file(cfg))]

    def reset(self, cfg: LabConfig) -> None:
        runtime_command(cfg, f"set server {BACKEND}/stable weight {100 - cfg.canary_weight}")
        runtime_command(cfg, f"set server {BACKEND}/canary weight {cfg.canary_weight}")

    def endpoints(self, cfg: LabConfig) -> dict[str, str]:
        found = super().endpoints(cfg)
        found["runtime_socket"] = str(cfg.path("run", "haproxy.sock"))
        return found


def runtime_command(cfg: LabConfig, command: str) -> str:
    """Send one command to HAProxy's runtime API over its TCP admin socket."""
    with socket.create_connection((HOST, cfg.ports["haproxy_admin"]), timeout=3) as conn:
        conn.sendall(command.encode() + b"\n")
        chunks = []
        while True:
            chunk = conn.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    return b"".join(chunks).decode()


def weights(cfg: LabConfig) -> dict[str, int]:
    """Current weights of the stable and canary servers, from the runtime API."""
    found = {}
    for server in ("stable", "canary"):
        answer = runtime_command(cfg, f"get weight {BACKEND}/{server}")
        found[server] = int(answer.split()[0])
    return found
