# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The systems a configuration snapshot or restore talks to: one client per system, built from the actions' options when
first needed; the external kinds' appliers (``kinds.EXTERNAL``); where each kind is (the snapshot's ``scope``); the store;
and the requests each system was sent (``round_trips``)."""

from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence

from ansible_collections.ofm.rollback.plugins.module_utils import flags as codec
from ansible_collections.ofm.rollback.plugins.module_utils.config.external import ExternalKind
from ansible_collections.ofm.rollback.plugins.module_utils.config.kinds import EXTERNAL
from ansible_collections.ofm.rollback.plugins.module_utils.config.snapshot import DirectoryStore, KubeSecretStore, SnapshotStore
from ansible_collections.ofm.rollback.plugins.module_utils.errors import InputError
from ansible_collections.ofm.rollback.plugins.module_utils.kube_config import KubeConfig
from ansible_collections.ofm.rollback.plugins.module_utils.postgres.connection import Connection, connection_from_params
from ansible_collections.ofm.rollback.plugins.module_utils.postgres.rate_limits import DEFAULT_KEY, DEFAULT_TABLE, RateLimitTable
from ansible_collections.ofm.rollback.plugins.module_utils.unleash import UnleashClient

SYSTEM = "ofm.rollback config"
KUBE_KINDS = ("flags", "configmaps", "secrets", "env")
DEFAULT_SNAPSHOT_DIR = "~/.ofm-rollback/snapshots"
DEFAULT_STORE_PREFIX = "ofm-config-snapshot"


class Systems:
    """One client per system, built from the options when first needed, and the requests each made."""

    def __init__(self, params: Mapping[str, Any]) -> None:
        self.params = params
        self._kube: Optional[KubeConfig] = None
        self._cache: Optional[codec.RedisFlagCache] = None
        self._unleash: dict[tuple[str, str], UnleashClient] = {}
        self._tables: list[RateLimitTable] = []
        self._external: list[tuple[ExternalKind, Any]] = []

    @property
    def kube(self) -> KubeConfig:
        if self._kube is None:
            self._kube = KubeConfig.from_params(self.params)
        return self._kube

    @property
    def cache(self) -> codec.RedisFlagCache:
        if self._cache is None:
            self._cache = codec.RedisFlagCache.from_params(self.params)
        return self._cache

    def unleash(self, project: Optional[str] = None, environment: Optional[str] = None) -> UnleashClient:
        key = (project or self.params.get("unleash_project") or "default", environment or self.params.get("unleash_environment") or "production")
        if key not in self._unleash:
            self._unleash[key] = UnleashClient.from_params({**self.params, "unleash_project": key[0], "unleash_environment": key[1]})
        return self._unleash[key]

    def connection(self) -> Connection:
        found = connection_from_params(self.params.get("database"), "database")
        if found is None:
            raise InputError("the rate_limits kind needs the database connection", option="database", system=SYSTEM,
                             accepted="a dict with host, port, database, user and password")
        return found

    def table(self, name: Optional[str] = None, key: Optional[str] = None) -> RateLimitTable:
        table = RateLimitTable(self.connection(), name or self.params.get("rate_limits_table") or DEFAULT_TABLE, key or DEFAULT_KEY)
        self._tables.append(table)
        return table

    def kube_server(self) -> str:
        configuration = getattr(getattr(self.kube.kube.client, "client", None), "configuration", None)
        return str(getattr(configuration, "host", "") or "").rstrip("/")

    def external(self, name: str) -> Any:
        """A new applier of the external kind ``name``, built from the kind's option (``params[name]``) and the shared ones."""
        kind = EXTERNAL[name]
        applier = kind.build(self.params)
        self._external.append((kind, applier))
        return applier

    def round_trips(self) -> dict[str, int]:
        """Requests made so far per system: the configuration's systems always, an external kind's once it was used."""
        trips = {"kubernetes": self._kube.round_trips if self._kube else 0, "redis": self._cache.round_trips if self._cache else 0,
                 "unleash": sum(len(client.http.requests) for client in self._unleash.values()),
                 "postgres": sum(table.round_trips for table in self._tables)}
        for kind, applier in self._external:
            name = kind.systems[0] if kind.systems else kind.name
            trips[name] = trips.get(name, 0) + int(getattr(applier, "round_trips", 0) or 0)
        return trips

    def close(self) -> None:
        if self._cache is not None:
            self._cache.close()
        for _kind, applier in self._external:
            closing = getattr(applier, "close", None)
            if callable(closing):
                closing()

    def scope(self, kinds: Sequence[str]) -> dict[str, Any]:
        """Where the ``kinds`` are: the Kubernetes API server and namespace, the Redis, the Unleash and the database used."""
        scope: dict[str, Any] = {}
        if any(kind in KUBE_KINDS for kind in kinds):
            scope.update(kube_server=self.kube_server(), namespace=self.params["namespace"])
        if "flags" in kinds:
            scope["redis"] = str(codec.parse_redis_url(self.params.get("redis_url")))
        if "unleash" in kinds:
            scope["unleash"] = str(self.params.get("unleash_url") or "").rstrip("/")
        if "rate_limits" in kinds:
            connection = self.connection()
            scope["database"] = f"{connection.host}:{connection.port}/{connection.database}"
        for name in kinds:
            if name in EXTERNAL and self.params.get(name) is not None:
                scope[name] = EXTERNAL[name].scope(self.params)
        return scope

    def store(self) -> SnapshotStore:
        if self.params.get("store") == "kubernetes":
            return KubeSecretStore(self.kube, self.params.get("store_namespace") or self.params["namespace"],
                                   self.params.get("store_prefix") or DEFAULT_STORE_PREFIX)
        return DirectoryStore(self.params.get("snapshot_dir") or DEFAULT_SNAPSHOT_DIR)
