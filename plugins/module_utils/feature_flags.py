# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The emergency kill switch of ``ofm.rollback.feature_flag``: turn flags on or off now, on every place the app reads them.

Two providers behind one interface (``plan`` reads everything and decides; ``apply`` makes the changes in order and keeps
``applied``, so a failure half-way says what was and was not changed):

* ``ofm``, OFM's own flags (``FlagSwitch``): first the source of truth, the ``FEATURE_FLAGS`` env entry of container ``api``
  of each Deployment (one JSON patch each, conditional on the value read), then the Redis cache (one MULTI/EXEC setting
  ``feature_flags:<name>`` with the cache TTL). Changing only Redis would not hold: the app reads its ``FEATURE_FLAGS``
  again when the key's TTL runs out, and the old state comes back.
* ``unleash`` (``UnleashSwitch``): the toggles of one Unleash project, in one environment.

Every flag must exist before anything changes (in a Deployment's ``FEATURE_FLAGS`` or the cache; in the Unleash project),
unless ``create_missing``. A flag already in the wanted state everywhere is left alone, so a second run changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Optional, Sequence

from ansible_collections.ofm.rollback.plugins.module_utils import flags as codec
from ansible_collections.ofm.rollback.plugins.module_utils.errors import (
    ConflictError, DataError, InputError, NotFoundError, OfmRollbackError)
from ansible_collections.ofm.rollback.plugins.module_utils.kube import WORKLOAD_API_VERSION, Kube
from ansible_collections.ofm.rollback.plugins.module_utils.unleash import UnleashClient

PROVIDERS = ("ofm", "unleash")
STATES = ("enabled", "disabled")
DEFAULT_NAMESPACE = "ofm-production"
DEFAULT_DEPLOYMENTS = ("ofm-social-os-api", "ofm-social-os-api-canary")
CONTAINER = "api"
VARIABLE = "FEATURE_FLAGS"
DEFAULT_CACHE_TTL = 300
JSON_PATCH = "application/json-patch+json"
PATCH_TRIES = 3
CACHE_LOCATION = "redis"
TTL_NOTE = ("A flag written only to the Redis cache would come back to its FEATURE_FLAGS state when the key's TTL runs out "
            "(the app then reads its environment again), so the source of truth is changed first.")


@dataclass
class FlagChange:
    """One flag: its state in each place before and after (``None``: not there), and its state in the source of truth before."""

    name: str
    before: dict[str, Optional[bool]]
    after: dict[str, Optional[bool]]
    previous: Optional[bool]

    @property
    def changed(self) -> bool:
        return self.before != self.after

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "changed": self.changed, "previous": self.previous, "before": dict(self.before), "after": dict(self.after)}


@dataclass
class Step:
    """One write of a plan: what it changes, the write, and its check-mode twin (``None``: nothing is sent in check mode)."""

    what: str
    run: Callable[[], Any]
    dry_run: Optional[Callable[[], Any]] = None


@dataclass
class SwitchPlan:
    """What a switch decided: each flag's change, the writes in order, and what the provider reports besides."""

    enabled: bool
    changes: list[FlagChange]
    steps: list[Step]
    report: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return any(change.changed for change in self.changes)


class Switch:
    """What both providers share: run a plan's steps in order, keeping what was applied."""

    source = ""

    def __init__(self) -> None:
        self.applied: list[str] = []
        self.pending: list[str] = []

    def plan(self, names: Sequence[str], enabled: bool, create_missing: bool) -> SwitchPlan:
        raise NotImplementedError

    def apply(self, plan: SwitchPlan, check_mode: bool) -> None:
        """Run the steps in order (their dry runs in check mode); ``applied``/``pending`` say how far it got."""
        self.pending = [step.what for step in plan.steps]
        for step in plan.steps:
            if check_mode:
                if step.dry_run is not None:
                    step.dry_run()
                continue
            step.run()
            self.applied.append(self.pending.pop(0))
        if check_mode:
            self.pending = []

    def progress(self) -> str:
        """What a failure leaves behind, in a sentence."""
        if not self.applied:
            return "Nothing was changed."
        left = f"; not changed: {', '.join(self.pending)}" if self.pending else ""
        return f"Already changed: {', '.join(self.applied)}{left}. Run the task again to finish."

    def close(self) -> None:
        """Release connections."""


def run_switch(switch: Switch, names: Sequence[str], state: str, *, create_missing: bool, check_mode: bool) -> dict[str, Any]:
    """Plan, apply (unless nothing changes) and report: the module's result."""
    enabled = state_enabled(state)
    wanted = checked_names(names)
    plan = switch.plan(wanted, enabled, create_missing)
    switch.apply(plan, check_mode)
    changes = [change.as_dict() for change in plan.changes]
    return {
        "changed": plan.changed,
        "state": state,
        "flags": changes,
        "previous": {change.name: change.previous for change in plan.changes},
        "diff": {"before": {change.name: change.before for change in plan.changes},
                 "after": {change.name: change.after for change in plan.changes}},
        "applied": list(switch.applied),
        "source_of_truth": switch.source,
        "msg": summary(plan, state, check_mode, switch.source),
        "warnings": list(plan.warnings),
        **plan.report,
    }


def failure(switch: Optional[Switch], error: OfmRollbackError) -> dict[str, Any]:
    """``fail_json`` keyword arguments for ``error``, saying what was and was not changed."""
    result = error.to_result()
    applied = list(switch.applied) if switch else []
    result["msg"] = f"{result['msg']} {switch.progress() if switch else 'Nothing was changed.'}"
    result.update(changed=bool(applied), applied=applied, not_applied=list(switch.pending) if switch and applied else [])
    return result


def summary(plan: SwitchPlan, state: str, check_mode: bool, source: str) -> str:
    moved = [change.name for change in plan.changes if change.changed]
    kept = [change.name for change in plan.changes if not change.changed]
    if not moved:
        return f"All {len(kept)} flag(s) already {state} in {source}: nothing to change."
    verb = "would be" if check_mode else "were"
    done = f"{', '.join(moved)} {verb} {state} in {source}"
    return done + (f"; already {state}: {', '.join(kept)}" if kept else "") + "."


def state_enabled(state: str) -> bool:
    if state not in STATES:
        raise InputError(f"{state!r} is not a flag state", option="state", accepted=STATES)
    return state == "enabled"


def checked_names(names: Optional[Sequence[str]]) -> list[str]:
    """The flag names, each checked, without repeats; an ``InputError`` for none at all."""
    if not names:
        raise InputError("no flag is named", option="names", accepted="one or more flag names, such as [publish_v2]")
    return list(dict.fromkeys(codec.check_name(name) for name in names))


def unknown_flags_error(unknown: Sequence[str], known: Sequence[str], where: str) -> InputError:
    return InputError(f"no flag named {', '.join(unknown)} in {where}", option="names", accepted=sorted(known), details={"unknown": list(unknown)},
                      hint=f"Known flags: {', '.join(sorted(known)) or 'none'}. Check the spelling, or set "
                           "create_missing=true to add the flag.")


# --- provider ofm: FEATURE_FLAGS of the Deployments, then the Redis cache ------------------------------------------------

@dataclass
class DeploymentFlags:
    """A Deployment's ``FEATURE_FLAGS`` as read: where the env entry is, its text and its flags."""

    namespace: str
    name: str
    obj: dict[str, Any]
    container_index: int
    env_index: int
    text: str
    flags: dict[str, bool]
    container: str = CONTAINER

    @property
    def location(self) -> str:
        return f"deployment/{self.name}"

    @property
    def label(self) -> str:
        return f"Deployment {self.namespace}/{self.name}"

    @property
    def resource_version(self) -> Optional[str]:
        return (self.obj.get("metadata") or {}).get("resourceVersion")

    @property
    def entry_path(self) -> str:
        return f"/spec/template/spec/containers/{self.container_index}/env/{self.env_index}"

    def patch(self, text: str) -> list[dict[str, Any]]:
        """The JSON patch of the one env entry's value, conditional (``test``) on the container, the entry and the value read."""
        return [{"op": "test", "path": f"/spec/template/spec/containers/{self.container_index}/name", "value": self.container},
                {"op": "test", "path": f"{self.entry_path}/name", "value": VARIABLE},
                {"op": "test", "path": f"{self.entry_path}/value", "value": self.text},
                {"op": "replace", "path": f"{self.entry_path}/value", "value": text}]


def deployment_flags(obj: dict[str, Any], namespace: str, name: str, container: str = CONTAINER, *, strict: bool = True) -> DeploymentFlags:
    """The ``FEATURE_FLAGS`` of container ``container`` (``api``) of a Deployment read from the API server.

    With ``strict=False`` a value that is not a valid ``FEATURE_FLAGS`` is no error: its ``flags`` are then empty and its ``text``
    is what is there (a configuration restore replaces it whole).
    """
    target = f"Deployment {namespace}/{name}"
    containers = (((obj.get("spec") or {}).get("template") or {}).get("spec") or {}).get("containers") or []
    index = next((i for i, found in enumerate(containers) if found.get("name") == container), None)
    if index is None:
        raise NotFoundError(f"{target} has no container {container!r} (it has {[c.get('name') for c in containers]})", system="Kubernetes API",
                            operation=f"read of {VARIABLE}", target=target,
                            hint=f"Check deployments: each must run the OFM API in a container named {container}.")
    env = containers[index].get("env") or []
    at = next((i for i, entry in enumerate(env) if entry.get("name") == VARIABLE), None)
    if at is None:
        raise NotFoundError(f"container {container!r} of {target} has no {VARIABLE} env entry", system="Kubernetes API",
                            operation=f"read of {VARIABLE}", target=target,
                            hint="Check deployments; the flags' source of truth is an inline FEATURE_FLAGS env entry.")
    if env[at].get("valueFrom") is not None:
        raise DataError(f"{VARIABLE} of container {container!r} of {target} comes from valueFrom, not an inline value", system="Kubernetes API",
                        operation=f"read of {VARIABLE}", target=target,
                        hint="This module changes an inline FEATURE_FLAGS value; change the referenced object instead.")
    text = env[at].get("value") or ""
    try:
        flags = codec.parse(text, source=f"{VARIABLE} of {target}")
    except DataError:
        if strict:
            raise
        flags = {}
    return DeploymentFlags(namespace, name, obj, index, at, text, flags, container)


class FlagSwitch(Switch):
    """OFM's own flags: ``FEATURE_FLAGS`` of each Deployment (the source of truth), then the Redis cache."""

    def __init__(self, kube: Kube, cache: codec.RedisFlagCache, *, namespace: str = DEFAULT_NAMESPACE,
                 deployments: Sequence[str] = DEFAULT_DEPLOYMENTS, cache_ttl: int = DEFAULT_CACHE_TTL) -> None:
        super().__init__()
        self.kube = kube
        self.cache = cache
        self.namespace = namespace
        self.deployments = checked_deployments(deployments)
        self.cache_ttl = checked_cache_ttl(cache_ttl)
        self.source = f"{VARIABLE} of container {CONTAINER} of Deployment(s) {', '.join(self.deployments)} (namespace {namespace}) and the Redis cache"

    def read(self, name: str) -> DeploymentFlags:
        try:
            obj = self.kube.get(WORKLOAD_API_VERSION, "Deployment", self.namespace, name)
        except NotFoundError as exc:
            exc.hint = f"Check deployments and namespace: there is no Deployment {name} in {self.namespace}."
            raise
        return deployment_flags(obj, self.namespace, name)

    def plan(self, names: Sequence[str], enabled: bool, create_missing: bool) -> SwitchPlan:
        sources = [self.read(name) for name in self.deployments]
        cached = self.cache.read_keys(self.cache.key(name) for name in names)
        unknown = [name for name in names if self.cache.key(name) not in cached and not any(name in source.flags for source in sources)]
        if unknown and not create_missing:
            known = {flag for source in sources for flag in source.flags}
            raise unknown_flags_error(unknown, sorted(known), f"{VARIABLE} of {', '.join(s.label for s in sources)} nor the Redis cache")
        changes = [self._change(name, enabled, sources, cached.get(self.cache.key(name))) for name in names]
        warnings = [f"{change.name} differed between the Deployments before ({_states(change.before)}); previous shows the first, "
                    "flags[].before each one." for change in changes if len(set(_held(change.before).values())) > 1]
        wanted = {source.name: _wanted(source.flags, names, enabled) for source in sources}
        steps = [self._deployment_step(source, names, enabled) for source in sources if wanted[source.name] != source.flags]
        writes = {self.cache.key(name): codec.CacheEntry(codec.state_text(enabled), self.cache_ttl * 1000) for name in names
                  if codec.cached_state(_value(cached.get(self.cache.key(name)))) is not enabled}
        if writes:
            steps.append(Step(f"Redis cache ({', '.join(sorted(writes))})", lambda: self.cache.write(writes)))
        report = {
            "deployments": [{"name": source.name, "namespace": source.namespace, "changed": wanted[source.name] != source.flags,
                             "before": source.text, "after": codec.render(wanted[source.name])} for source in sources],
            "cache": {"target": self.cache.target, "ttl": self.cache_ttl, "before": {key: entry.as_dict() for key, entry in cached.items()},
                      "written": sorted(writes), "note": TTL_NOTE},
        }
        return SwitchPlan(enabled, changes, steps, report, warnings)

    def _change(self, name: str, enabled: bool, sources: list[DeploymentFlags], entry: Optional[codec.CacheEntry]) -> FlagChange:
        before: dict[str, Optional[bool]] = {source.location: source.flags.get(name) for source in sources}
        before[CACHE_LOCATION] = codec.cached_state(entry.value) if entry else None
        after: dict[str, Optional[bool]] = {location: enabled for location in before}
        holders = [source.flags[name] for source in sources if name in source.flags]
        previous = holders[0] if holders else before[CACHE_LOCATION]
        return FlagChange(name, before, after, previous)

    def _deployment_step(self, source: DeploymentFlags, names: Sequence[str], enabled: bool) -> Step:
        return Step(source.label, lambda: self._patch(source, names, enabled, dry_run=False),
                    lambda: self._patch(source, names, enabled, dry_run=True))

    def _patch(self, source: DeploymentFlags, names: Sequence[str], enabled: bool, *, dry_run: bool) -> None:
        """Patch the env entry; when the server refuses the patch because ``FEATURE_FLAGS`` (or the entry's place) changed since
        read, read it again and decide again, up to ``PATCH_TRIES`` times."""
        for _attempt in range(PATCH_TRIES):
            wanted = _wanted(source.flags, names, enabled)
            if wanted == source.flags:
                return
            try:
                self.kube.patch(WORKLOAD_API_VERSION, "Deployment", source.namespace, source.name, source.patch(codec.render(wanted)),
                                content_type=JSON_PATCH, dry_run=dry_run)
                return
            except (ConflictError, InputError) as exc:
                if exc.status not in (409, 422):
                    raise
                fresh = self.read(source.name)
                if (fresh.container_index, fresh.env_index, fresh.text) == (source.container_index, source.env_index, source.text):
                    raise
                source = fresh
        raise ConflictError(f"{VARIABLE} of {source.label} kept changing: {PATCH_TRIES} patches were refused", system="Kubernetes API",
                            operation=f"patch of {VARIABLE}", target=source.label,
                            hint="Something else keeps writing the Deployment (a deploy in progress?): run the task again.")

    def close(self) -> None:
        self.cache.close()


def checked_deployments(deployments: Sequence[str]) -> list[str]:
    if not deployments:
        raise InputError("no Deployment is named", option="deployments", accepted="one or more Deployment names, such as [ofm-social-os-api]")
    return list(dict.fromkeys(deployments))


def checked_cache_ttl(cache_ttl: Any) -> int:
    if not isinstance(cache_ttl, int) or isinstance(cache_ttl, bool) or cache_ttl <= 0:
        raise InputError(f"cache_ttl must be a whole number of seconds above 0, got {cache_ttl!r}", option="cache_ttl",
                         accepted="seconds above 0, such as 300")
    return cache_ttl


def _held(before: Mapping[str, Optional[bool]]) -> dict[str, bool]:
    """The states of the Deployments that hold the flag, by Deployment name."""
    return {location.split("/", 1)[-1]: state for location, state in before.items() if location != CACHE_LOCATION and state is not None}


def _states(before: Mapping[str, Optional[bool]]) -> str:
    return ", ".join(f"{name}={codec.state_text(state)}" for name, state in _held(before).items())


def _value(entry: Optional[codec.CacheEntry]) -> Optional[str]:
    return entry.value if entry else None


def _wanted(current: Mapping[str, bool], names: Sequence[str], enabled: bool) -> dict[str, bool]:
    """``current`` with each of ``names`` set to ``enabled`` (in its place; appended when absent)."""
    wanted = dict(current)
    for name in names:
        wanted[name] = enabled
    return wanted


# --- provider unleash ------------------------------------------------------------------------------------------------------

class UnleashSwitch(Switch):
    """The toggles of one Unleash project in one environment."""

    def __init__(self, client: UnleashClient) -> None:
        super().__init__()
        self.client = client
        self.location = f"unleash/{client.project}/{client.environment}"
        self.source = f"Unleash ({client.scope})"

    def plan(self, names: Sequence[str], enabled: bool, create_missing: bool) -> SwitchPlan:
        toggles = self.client.toggles()
        unknown = [name for name in names if name not in toggles]
        if unknown and not create_missing:
            raise unknown_flags_error(unknown, list(toggles), f"Unleash {self.client.scope}")
        changes, steps = [], []
        for name in names:
            before = toggles.get(name)
            changes.append(FlagChange(name, {self.location: before}, {self.location: enabled}, before))
            if name not in toggles:
                steps.append(Step(f"Unleash toggle {name} created", lambda name=name: self.client.create(name)))
            if before is not enabled:
                steps.append(Step(f"Unleash toggle {name} {'on' if enabled else 'off'}", lambda name=name: self.client.set_enabled(name, enabled)))
        return SwitchPlan(enabled, changes, steps, {"unleash": {"project": self.client.project, "environment": self.client.environment}})


def switch_from_params(params: Mapping[str, Any]) -> Switch:
    """The switch of ``params['provider']``, its clients built from the module's options."""
    provider = params.get("provider") or "ofm"
    if provider == "unleash":
        return UnleashSwitch(UnleashClient.from_params(params))
    if provider != "ofm":
        raise InputError(f"{provider!r} is not a flag provider", option="provider", accepted=PROVIDERS)
    cache = codec.RedisFlagCache.from_params(params)
    deployments = checked_deployments(params.get("deployments") or [])
    cache_ttl = checked_cache_ttl(params.get("cache_ttl", DEFAULT_CACHE_TTL))
    return FlagSwitch(Kube.from_params(params), cache, namespace=params.get("namespace") or DEFAULT_NAMESPACE, deployments=deployments,
                      cache_ttl=cache_ttl)


def counters(switch: Optional[Switch]) -> dict[str, Any]:
    """Round trips and requests made so far, for the result."""
    if isinstance(switch, FlagSwitch):
        return {"round_trips": {"redis": switch.cache.round_trips}}
    if isinstance(switch, UnleashSwitch):
        return {"requests": switch.client.http.requests, "round_trips": {"unleash": len(switch.client.http.requests)}}
    return {}
