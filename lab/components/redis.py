"""Redis (Debian ``redis-server``): OFM's feature-flag cache (``feature_flags:<name>``, TTL 300 s) and queues."""
from __future__ import annotations

import os
import shutil
from typing import Optional

from lab import flags
from lab.components.base import Component
from lab.config import HOST, LabConfig

REDIS_CONF = """\
bind {host}
port {port}
protected-mode yes
requirepass {password}
dir {data}
save ""
appendonly no
daemonize no
logfile ""
databases 4
"""


def client(cfg: LabConfig):
    """A redis-py client for the lab's Redis (the lab's Python has redis, a requirement of the collection)."""
    import redis  # pylint: disable=import-outside-toplevel
    return redis.Redis(host=HOST, port=cfg.ports["redis"], password=cfg.credentials().redis_password, socket_timeout=5,
                       decode_responses=True)


def seed_flags(cfg: LabConfig) -> None:
    """The flag cache as the lab starts it: every lab flag cached with the full TTL, no other feature_flags:* key."""
    conn = client(cfg)
    pipe = conn.pipeline(transaction=True)
    for key in conn.scan_iter(match=flags.KEY_PREFIX + "*", count=1000):
        pipe.delete(key)
    for name, enabled in flags.FLAGS.items():
        pipe.set(flags.KEY_PREFIX + name, "true" if enabled else "false", ex=flags.ttl_seconds())
    pipe.execute()


def set_flag(cfg: LabConfig, name: str, enabled: bool) -> None:
    """Cache one flag as the application does after reading it: SET with the TTL."""
    client(cfg).set(flags.KEY_PREFIX + name, "true" if enabled else "false", ex=flags.ttl_seconds())


class Redis(Component):
    name = "redis"
    ports = ("redis",)
    description = "Redis: the feature-flag cache feature_flags:<name> (TTL 300 s) over the API Deployment's FEATURE_FLAGS"

    def available(self) -> Optional[str]:
        return None if shutil.which("redis-server") else "redis-server is not installed (apt-get install redis-server)"

    def conf_file(self, cfg: LabConfig):
        return cfg.path("etc", "redis.conf")

    def prepare(self, cfg: LabConfig) -> None:
        data = cfg.path("data", "redis")
        data.mkdir(parents=True, exist_ok=True)
        cfg.path("etc").mkdir(parents=True, exist_ok=True)
        conf = self.conf_file(cfg)
        # The password lives in this file (0600), never on the command line.
        descriptor = os.open(conf, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(REDIS_CONF.format(host=HOST, port=cfg.ports["redis"], password=cfg.credentials().redis_password, data=data))

    def argv(self, cfg: LabConfig) -> list[str]:
        return [shutil.which("redis-server") or "redis-server", str(self.conf_file(cfg))]

    def started(self, cfg: LabConfig) -> None:
        seed_flags(cfg)

    def reset(self, cfg: LabConfig) -> None:
        seed_flags(cfg)

    def endpoints(self, cfg: LabConfig) -> dict[str, str]:
        return {"redis": f"redis://{HOST}:{cfg.ports['redis']}/0"}
