"""The OFM API stand-in's feature flags, read the way the real application reads them.

A flag is read from Redis (``feature_flags:<name>``, the cache); on a miss, from the ``FEATURE_FLAGS`` environment value of
container ``api`` of the stand-in's own Deployment on the Kubernetes API test server (the source of truth), and the key is
SET again with the cache's TTL. ``FlagReader.run`` refreshes every flag once a ``interval`` (1 s), so what the API acts on is
at most that old. When Redis or Kubernetes cannot be read the API goes on with the last flags it knew, and says so once in
its log (and again once it can read them again).
"""
from __future__ import annotations

import sys
import threading
from typing import Callable, Iterable, Optional, Protocol

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from lab import flags
from lab.services.common import KubeReader, KubeReadError

TRUE_VALUES = ("true", "1", "on", "yes")


class FlagSourceError(Exception):
    """Redis or Kubernetes could not be read or written."""


class FlagCache(Protocol):
    """Where flags are cached: values by key, written back with a TTL."""

    def get_many(self, keys: list[str]) -> list[Optional[str]]:
        """The value of each key, None for a missing one."""

    def set_many(self, values: dict[str, str], ttl_seconds: int) -> None:
        """SET each key to its value with the TTL."""


class FlagSource(Protocol):
    """The flags' source of truth."""

    def read(self) -> dict[str, bool]:
        """Every flag the source names, by name."""


class RedisFlagCache:
    """The flag cache in Redis (redis-py): one MGET to read, one pipeline to write back."""

    def __init__(self, host: str, port: int, password: Optional[str], timeout: float = 0.5):
        # No retries: the next refresh, a second later, is the retry.
        self._conn = redis.Redis(host=host, port=port, password=password or None, socket_timeout=timeout,
                                 socket_connect_timeout=timeout, retry=Retry(NoBackoff(), 0), decode_responses=True)
        self.where = f"Redis {host}:{port}"

    def get_many(self, keys: list[str]) -> list[Optional[str]]:
        try:
            return list(self._conn.mget(keys))
        except (redis.RedisError, OSError) as exc:
            raise FlagSourceError(f"{self.where}: MGET {' '.join(keys)}: {exc}") from exc

    def set_many(self, values: dict[str, str], ttl_seconds: int) -> None:
        pipe = self._conn.pipeline(transaction=False)
        for key, value in values.items():
            pipe.set(key, value, ex=ttl_seconds)
        try:
            pipe.execute()
        except (redis.RedisError, OSError) as exc:
            raise FlagSourceError(f"{self.where}: SET {' '.join(values)}: {exc}") from exc


class DeploymentFlags:
    """``FEATURE_FLAGS`` of a container of a Deployment, read from the Kubernetes API test server."""

    def __init__(self, kube: KubeReader, namespace: str, deployment: str,  # pylint: disable=too-many-arguments
                 container: str = "api", variable: str = "FEATURE_FLAGS"):
        self.kube = kube
        self.path = f"/apis/apps/v1/namespaces/{namespace}/deployments/{deployment}"
        self.where = f"Deployment {namespace}/{deployment} container {container} env {variable}"
        self.container = container
        self.variable = variable

    def read(self) -> dict[str, bool]:
        try:
            deployment = self.kube.get(self.path)
        except KubeReadError as exc:
            raise FlagSourceError(f"{self.where}: {exc}") from exc
        if deployment is None:
            raise FlagSourceError(f"{self.where}: the Deployment does not exist")
        containers = ((deployment.get("spec") or {}).get("template") or {}).get("spec", {}).get("containers") or []
        for container in containers:
            if container.get("name") == self.container:
                for entry in container.get("env") or []:
                    if entry.get("name") == self.variable:
                        return flags.parse(entry.get("value") or "")
                return {}
        raise FlagSourceError(f"{self.where}: the Deployment has no container {self.container}")


class FlagReader:
    """The flags an API process acts on: ``current`` (no I/O), kept fresh by ``refresh``."""

    def __init__(self, names: Iterable[str], cache: FlagCache, source: FlagSource, ttl_seconds: int,  # pylint: disable=too-many-arguments
                 log: Optional[Callable[[str], None]] = None):
        self.names = list(names)
        self.cache = cache
        self.source = source
        self.ttl_seconds = ttl_seconds
        self._log = log or (lambda line: sys.stderr.write(line + "\n"))
        self._lock = threading.Lock()
        # Before anything was read every flag is off, as the application's defaults are.
        self._flags = {name: False for name in self.names}
        self._problems: dict[str, str] = {}

    @property
    def current(self) -> dict[str, bool]:
        """The last flags read."""
        with self._lock:
            return dict(self._flags)

    @property
    def problems(self) -> dict[str, str]:
        """What could not be read at the last refresh: ``redis``/``kubernetes`` -> the error."""
        with self._lock:
            return dict(self._problems)

    def enabled(self, name: str) -> bool:
        return self.current.get(name, False)

    def refresh(self) -> dict[str, bool]:
        """Read every flag: Redis, then the Deployment for the keys Redis misses (which are cached again)."""
        keys = [flags.KEY_PREFIX + name for name in self.names]
        known = self.current
        try:
            values = self.cache.get_many(keys)
        except FlagSourceError as exc:
            self._problem("redis", exc)
            return known
        # The systems read in this pass -> what went wrong (None: nothing).
        problems: dict[str, Optional[Exception]] = {"redis": None}
        missed = [name for name, value in zip(self.names, values) if value is None]
        known.update({name: value.strip().lower() in TRUE_VALUES for name, value in zip(self.names, values) if value is not None})
        if missed:
            problems["kubernetes"] = None
            try:
                source = self.source.read()
            except FlagSourceError as exc:
                problems["kubernetes"] = exc
            else:
                known.update({name: source.get(name, False) for name in missed})
                found = {flags.KEY_PREFIX + name: "true" if source[name] else "false" for name in missed if name in source}
                try:
                    if found:
                        self.cache.set_many(found, self.ttl_seconds)
                except FlagSourceError as exc:
                    problems["redis"] = exc
        with self._lock:
            self._flags = known
        for system, problem in problems.items():
            if problem:
                self._problem(system, problem)
            else:
                self._solved(system)
        return dict(known)

    def run(self, interval: float, stopping: threading.Event) -> None:
        """Refresh now, then every ``interval`` seconds until ``stopping`` is set."""
        while True:
            self.refresh()
            if stopping.wait(interval):
                return

    def _problem(self, system: str, exc: Exception) -> None:
        with self._lock:
            new = self._problems.get(system) != str(exc)
            self._problems[system] = str(exc)
        if new:
            self._log(f"feature flags: cannot read {system} ({exc}); serving with the last known flags {self._rendered()}")

    def _solved(self, system: str) -> None:
        with self._lock:
            solved = self._problems.pop(system, None) is not None
        if solved:
            self._log(f"feature flags: {system} readable again; flags now {self._rendered()}")

    def _rendered(self) -> str:
        return flags.render(self.current)
