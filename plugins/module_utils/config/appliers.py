# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The appliers (``plan.Applier``) of the kinds ``flags``, ``unleash`` and ``rate_limits``.

- ``flags`` (``FlagsApplier``): OFM's own flags. Section ``{"container", "variable", "source": {deployment: FEATURE_FLAGS
  value}, "cache": {"feature_flags:<name>": {"value", "ttl_ms"}}}``. Targets: each Deployment (keys: its flags, in their
  order; one JSON patch of its ``FEATURE_FLAGS`` env entry, conditional on the value read, as ``feature_flags`` sends it), then
  the Redis cache, target ``CACHE_TARGET`` (keys: the cache keys; one MULTI/EXEC that sets the snapshot's values with the
  snapshot's remaining TTLs and deletes the keys the snapshot did not hold). The source of truth is written before the cache,
  so the restored state holds when a cache key expires. Cache keys compare by value only: a TTL counts down, and a key whose
  value is the snapshot's is left as it is.
- ``unleash`` (``UnleashApplier``): section ``{"project", "environment", "toggles": {name: enabled}}``; one target,
  ``<project>/<environment>``, written with Unleash's bulk on/off endpoint (one request for the toggles to turn off, one for
  those to turn on). A toggle the snapshot does not hold (created after it) is turned off when it is on, and left alone when it
  is off; it is not archived, since archiving cannot be undone by a restore and loses the toggle's strategies. So a second
  restore finds nothing to change. A toggle the snapshot holds that no longer exists stops the restore before anything changes.
- ``rate_limits`` (``RateLimitsApplier``): section ``{"table", "key", "rows": {key: {column: value}}}``; one target, the
  table, restored exactly (rows upserted, extra rows deleted) in one transaction by ``postgres.rate_limits.RateLimitTable``.

Each applier built for a restore gets the snapshot's section (``wanted``): the flags applier writes its exact
``FEATURE_FLAGS`` texts and TTLs, the Unleash applier checks its toggles exist, the rate limits applier its columns.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Optional, Sequence, TypeVar

from ansible_collections.ofm.rollback.plugins.module_utils import flags as codec
from ansible_collections.ofm.rollback.plugins.module_utils.config.plan import ADD, CHANGE, ORDER_KEY, REMOVE, Change
from ansible_collections.ofm.rollback.plugins.module_utils.errors import ConflictError, DataError, InputError, NotFoundError
from ansible_collections.ofm.rollback.plugins.module_utils.feature_flags import CONTAINER, VARIABLE, DeploymentFlags, deployment_flags
from ansible_collections.ofm.rollback.plugins.module_utils.kube import SYSTEM as KUBE_SYSTEM
from ansible_collections.ofm.rollback.plugins.module_utils.kube_config import KubeConfig
from ansible_collections.ofm.rollback.plugins.module_utils.postgres.rate_limits import SYSTEM as POSTGRES, RateLimitTable, diff_rows
from ansible_collections.ofm.rollback.plugins.module_utils.unleash import SYSTEM as UNLEASH, UnleashClient

T = TypeVar("T")
CACHE_TARGET = "(cache)"
UNPARSED = "(FEATURE_FLAGS text)"
DEFAULT_TTL_MS = 300_000
JSON_VALUES = (str, int, float, bool, type(None))


def flag_keys(text: str) -> dict[str, Any]:
    """A ``FEATURE_FLAGS`` value as plan keys: its flags in order, or, when it is not valid, the one key ``UNPARSED`` holding
    the text (a restore then replaces it whole)."""
    try:
        return dict(codec.parse(text))
    except DataError:
        return {UNPARSED: text}


class FlagsApplier:
    """OFM's own flags: ``FEATURE_FLAGS`` of container ``container`` of ``deployments`` (the source of truth) and the Redis cache."""

    kind = "flags"
    secret = False
    ordered = True

    def __init__(self, client: KubeConfig, cache: codec.RedisFlagCache, namespace: str, deployments: Sequence[str],  # pylint: disable=too-many-arguments
                 container: str = CONTAINER, wanted: Optional[Mapping[str, Any]] = None) -> None:
        self.client = client
        self.cache = cache
        self.namespace = namespace
        self.deployments = list(dict.fromkeys(deployments))
        self.container = container
        self.wanted = wanted or {}
        self.kube_round_trips = 0
        self._sources: dict[str, DeploymentFlags] = {}
        # Told each Deployment this applier wrote, as the API server answered: the env applier, which writes the same
        # Deployments after it, makes its own write conditional on that state instead of the one it read before.
        self.written: Optional[Callable[[str, dict[str, Any]], None]] = None

    @property
    def round_trips(self) -> int:
        return self.kube_round_trips + self.cache.round_trips

    def _kube(self, function: Callable[[], T]) -> T:
        before = self.client.round_trips
        try:
            return function()
        finally:
            self.kube_round_trips += self.client.round_trips - before

    def _read_source(self, name: str) -> DeploymentFlags:
        obj = self._kube(lambda: self.client.read_deployment(self.namespace, name))
        self._sources[name] = deployment_flags(obj, self.namespace, name, self.container, strict=False)
        return self._sources[name]

    def read(self) -> dict[str, Any]:
        """Each Deployment's ``FEATURE_FLAGS`` (one GET each) and every cache key with its remaining TTL (a SCAN walk, one pipeline)."""
        sources = {name: self._read_source(name).text for name in self.deployments}
        cache = {key: entry.as_dict() for key, entry in self.cache.read().items()}
        return {"container": self.container, "variable": VARIABLE, "source": sources, "cache": cache}

    def entries(self, section: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
        """``{deployment: {flag: enabled}, CACHE_TARGET: {key: value}}``: the Deployments first, so they are written first."""
        result: dict[str, dict[str, Any]] = {name: flag_keys(text) for name, text in (section.get("source") or {}).items()}
        result[CACHE_TARGET] = {key: entry.get("value") for key, entry in (section.get("cache") or {}).items()}
        return result

    def apply(self, changes: Sequence[Change]) -> None:
        target = changes[0].target
        if target == CACHE_TARGET:
            self._apply_cache(changes)
        else:
            self._apply_source(target, changes)

    def _apply_source(self, name: str, changes: Sequence[Change]) -> None:
        """The Deployment's ``FEATURE_FLAGS`` made the snapshot's text (or the changes' flags rendered) in one JSON patch, on
        condition that the container, the entry and its value are still those read."""
        text = (self.wanted.get("source") or {}).get(name)
        if text is None:
            kept = {change.key: change.after for change in changes if change.key != ORDER_KEY and change.action != REMOVE}
            text = kept[UNPARSED] if UNPARSED in kept else codec.render(kept)
        source = self._sources.get(name) or self._read_source(name)
        try:
            answer = self._kube(lambda: self.client.patch_deployment(self.namespace, name, source.patch(text), operation=f"patch of {VARIABLE}"))
        except (ConflictError, InputError) as exc:
            if exc.status not in (409, 422):
                raise
            fresh = self._read_source(name)
            if (fresh.container_index, fresh.env_index, fresh.text) == (source.container_index, source.env_index, source.text):
                raise
            raise ConflictError(f"{VARIABLE} of {source.label} was changed since it was read; it was not written", system=KUBE_SYSTEM,
                                operation=f"patch of {VARIABLE}", target=source.label, status=exc.status,
                                hint="Run the restore again: it plans from the values as they are then.") from exc
        self._sources.pop(name, None)
        if self.written is not None:
            self.written(name, answer)

    def _apply_cache(self, changes: Sequence[Change]) -> None:
        """Set the changed and added keys with the snapshot's TTLs and delete the removed ones, in one MULTI/EXEC."""
        ttls = {key: entry.get("ttl_ms") for key, entry in (self.wanted.get("cache") or {}).items()}
        writes = {change.key: codec.CacheEntry(change.after, ttls.get(change.key, DEFAULT_TTL_MS)) for change in changes
                  if change.action in (ADD, CHANGE)}
        self.cache.write(writes, [change.key for change in changes if change.action == REMOVE])


class UnleashApplier:
    """The toggles of one Unleash project in one environment (see the module's docstring for toggles the snapshot lacks)."""

    kind = "unleash"
    secret = False
    ordered = False
    absent = False

    def __init__(self, client: UnleashClient, wanted: Optional[Mapping[str, Any]] = None) -> None:
        self.client = client
        self.wanted = wanted or {}

    @property
    def target(self) -> str:
        return f"{self.client.project}/{self.client.environment}"

    @property
    def round_trips(self) -> int:
        return len(self.client.http.requests)

    def read(self) -> dict[str, Any]:
        """Every toggle of the project and whether it is on in the environment (one GET); a toggle the snapshot holds that is
        gone is a ``NotFoundError`` naming it."""
        toggles = self.client.toggles()
        gone = [name for name in (self.wanted.get("toggles") or {}) if name not in toggles]
        if gone:
            raise NotFoundError(f"the snapshot's toggles {gone} no longer exist in {self.client.scope}", system=UNLEASH, operation="read toggles",
                                target=self.client.scope, details={"toggles": gone},
                                hint="Revive them from the Unleash archive (or create them), then run the restore again; or restore "
                                     "without the unleash kind. Nothing was changed.")
        return {"project": self.client.project, "environment": self.client.environment, "toggles": toggles}

    def entries(self, section: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
        return {f"{section.get('project')}/{section.get('environment')}": dict(section.get("toggles") or {})}

    def apply(self, changes: Sequence[Change]) -> None:
        """The toggles to turn off in one bulk request, then those to turn on in another."""
        for enabled in (False, True):
            self.client.set_many([change.key for change in changes if change.changed and change.after is enabled], enabled)


class RateLimitsApplier:
    """The rows of a rate limits table, restored exactly in one transaction."""

    kind = "rate_limits"
    secret = False
    ordered = False

    def __init__(self, table: RateLimitTable, wanted: Optional[Mapping[str, Any]] = None) -> None:
        self.table = table
        self.wanted = wanted or {}
        self._rows: Optional[dict[str, dict[str, Any]]] = None

    @property
    def round_trips(self) -> int:
        return self.table.round_trips

    def read(self) -> dict[str, Any]:
        """Every row (one query); a value that is no JSON scalar, or a snapshot row whose columns differ from the table's, is an
        error before anything changes."""
        rows = self.table.read()
        for key, row in rows.items():
            for column, value in row.items():
                if not isinstance(value, JSON_VALUES):
                    raise DataError(f"row {key!r} of {self.table.table} has a {type(value).__name__} in column {column!r}", system=POSTGRES,
                                    operation="read rate limits", target=self.table.target,
                                    hint="Only text, numbers, booleans and NULL are snapshotted; this table does not suit the rate_limits kind.")
        diff_rows(dict(self.wanted.get("rows") or {}), rows)
        self._rows = rows
        return {"table": self.table.table, "key": self.table.key, "rows": rows}

    def entries(self, section: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
        return {str(section.get("table")): dict(section.get("rows") or {})}

    def apply(self, changes: Sequence[Change]) -> None:
        wanted = {change.key: change.after for change in changes if change.action != REMOVE}
        self.table.restore(wanted, current=self._rows)
        self._rows = wanted
