# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The appliers (``plan.Applier``) of the Kubernetes kinds, over ``module_utils.kube_config``, and the rollouts a restore needs.

- ``configmaps`` / ``secrets``: section ``{name: {key: value}}``; target = the object, one merge patch each;
- ``env``: section ``{"<deployment>/<container>": [env entries]}`` without the variables another kind owns (``keep``,
  ``FEATURE_FLAGS`` by default: the flags kind restores it); target = the Deployment, key = ``<container>/<variable>``, one
  JSON patch per Deployment for all its containers. The entries' order counts (``ordered``).

Pods read env variables (and ``subPath`` mounts) when they start: after a ConfigMap or Secret they read that way was
restored, the Deployment must be restarted (``rollouts`` and ``roll``); a Deployment whose env was restored rolls by itself
(its template changed) and is waited for; mounted volumes are refreshed in place by the kubelet.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping, Optional, Sequence, TypeVar

from ansible_collections.ofm.rollback.plugins.module_utils.config.plan import ORDER_KEY, REMOVE, Change
from ansible_collections.ofm.rollback.plugins.module_utils.errors import InputError
from ansible_collections.ofm.rollback.plugins.module_utils.kube import SYSTEM
from ansible_collections.ofm.rollback.plugins.module_utils.kube_config import DataObject, DeploymentEnv, KubeConfig, merged_env, pod_template_env

T = TypeVar("T")
OBJECT_KINDS = {"configmaps": "ConfigMap", "secrets": "Secret"}
FLAGS_VARIABLE = "FEATURE_FLAGS"


class _Counted:
    """Counts the requests its calls make on the shared ``KubeConfig`` client in its own ``round_trips``."""

    def __init__(self, client: KubeConfig) -> None:
        self.client = client
        self.round_trips = 0

    def _count(self, function: Callable[[], T]) -> T:
        before = self.client.round_trips
        try:
            return function()
        finally:
            self.round_trips += self.client.round_trips - before


class DataApplier(_Counted):
    """The ConfigMaps (``kind="configmaps"``) or Secrets (``kind="secrets"``, values masked in plans) ``names`` of a namespace."""

    ordered = False

    def __init__(self, client: KubeConfig, namespace: str, kind: str, names: Sequence[str]) -> None:
        if kind not in OBJECT_KINDS:
            raise InputError(f"'{kind}' is not a kind of data objects", option="kind", accepted=sorted(OBJECT_KINDS), system=SYSTEM)
        super().__init__(client)
        self.kind = kind
        self.object_kind = OBJECT_KINDS[kind]
        self.secret = kind == "secrets"
        self.namespace = namespace
        self.names = list(names)
        self._objects: dict[str, DataObject] = {}

    def read(self) -> dict[str, dict[str, str]]:
        """The values of every object now (one GET each); ``NotFoundError`` naming a missing one."""
        for name in self.names:
            self._objects[name] = self._count(lambda name=name: self.client.read_data(self.object_kind, self.namespace, name))
        return {name: dict(self._objects[name].values) for name in self.names}

    def apply(self, changes: Sequence[Change]) -> None:
        """Make one object's values exactly the changes' wanted ones, in one patch conditional on the object as read."""
        target = changes[0].target
        if target not in self._objects:
            self._objects[target] = self._count(lambda: self.client.read_data(self.object_kind, self.namespace, target))
        wanted = {change.key: change.after for change in changes if change.action != REMOVE}
        self._objects[target] = self._count(lambda: self.client.replace_data(self._objects[target], wanted))


def split_target(target: str, option: str = "env") -> tuple[str, str]:
    """``<deployment>/<container>`` as its two names; an ``InputError`` naming ``option`` otherwise."""
    deployment, _slash, container = target.partition("/")
    if not deployment or not container or "/" in container:
        raise InputError(f"'{target}' is not <deployment>/<container>", option=option, accepted="<deployment>/<container>, such as ofm-social-os-api/api",
                         system=SYSTEM)
    return deployment, container


class EnvApplier(_Counted):
    """The pod-template env of containers ``targets`` (``<deployment>/<container>``), without the variables in ``keep``."""

    kind = "env"
    secret = False
    ordered = True

    def __init__(self, client: KubeConfig, namespace: str, targets: Sequence[str], keep: Sequence[str] = (FLAGS_VARIABLE,)) -> None:
        super().__init__(client)
        self.namespace = namespace
        self.targets = [split_target(target) for target in targets]
        self.keep = tuple(keep)
        self.deployments: dict[str, DeploymentEnv] = {}

    def _read_deployment(self, name: str) -> DeploymentEnv:
        self.deployments[name] = self._count(lambda: self.client.read_env(self.namespace, name))
        return self.deployments[name]

    def read(self) -> dict[str, list[dict[str, Any]]]:
        """Each container's env entries now, without ``keep`` (one GET per Deployment); ``NotFoundError`` naming a missing
        Deployment or container."""
        for deployment in dict.fromkeys(name for name, _container in self.targets):
            self._read_deployment(deployment)
        return {f"{deployment}/{container}": [dict(entry) for entry in self.deployments[deployment].container(container).env
                                              if entry.get("name") not in self.keep]
                for deployment, container in self.targets}

    def entries(self, section: Mapping[str, Sequence[Mapping[str, Any]]]) -> dict[str, dict[str, Any]]:
        """``{deployment: {"<container>/<variable>": entry}}``, containers in name order so both sides list keys alike."""
        result: dict[str, dict[str, Any]] = {}
        for target in sorted(section, key=split_target):
            deployment, container = split_target(target)
            keys = result.setdefault(deployment, {})
            for entry in section[target]:
                if entry.get("name") not in self.keep:
                    keys[f"{container}/{entry.get('name')}"] = dict(entry)
        return result

    def written(self, name: str, obj: Mapping[str, Any]) -> None:
        """Another kind wrote Deployment ``name`` (``obj``, as the API server answered the write, such as the flags kind's
        ``FEATURE_FLAGS`` patch): this applier's write is then conditional on that state, not on the one it read."""
        if name in self.deployments:
            self.deployments[name] = pod_template_env(obj)

    def apply(self, changes: Sequence[Change]) -> None:
        """Make the env of one Deployment's containers exactly the changes' wanted entries (in their order), the ``keep``
        variables left as they are, in one JSON patch conditional on the Deployment's generation as read."""
        deployment = changes[0].target
        current = self.deployments.get(deployment) or self._read_deployment(deployment)
        wanted: dict[str, list[dict[str, Any]]] = {}
        for change in changes:
            if change.key == ORDER_KEY:
                continue
            container = change.key.partition("/")[0]
            entries = wanted.setdefault(container, [])
            if change.action != REMOVE:
                entries.append(dict(change.after))
        full = {container: merged_env(current.container(container).env, entries, self.keep) for container, entries in wanted.items()}
        self._count(lambda: self.client.replace_env(current, full))
        self.deployments.pop(deployment, None)


def appliers(client: KubeConfig, namespace: str, sections: Mapping[str, Any], keep: Sequence[str] = (FLAGS_VARIABLE,)) -> dict[str, Any]:
    """The appliers of the Kubernetes kinds among ``sections`` (a snapshot's sections), for the objects each section names."""
    found: dict[str, Any] = {}
    for kind in OBJECT_KINDS:
        if kind in sections:
            found[kind] = DataApplier(client, namespace, kind, list(sections[kind]))
    if "env" in sections:
        found["env"] = EnvApplier(client, namespace, list(sections["env"]), keep)
    return found


# --- rollouts ------------------------------------------------------------------------------------

RESTART, WAIT, LIVE = "restart", "wait", "live"


@dataclass(frozen=True)
class Rollout:
    """What a Deployment needs after a restore: ``restart`` (its pods read a restored object at start), ``wait`` (its env was
    restored, so it rolls by itself) or ``live`` (it mounts the restored objects as volumes, refreshed in place)."""

    deployment: str
    action: str
    reason: str

    def as_dict(self) -> dict[str, str]:
        return {"deployment": self.deployment, "action": self.action, "reason": self.reason}


def rollouts(envs: Mapping[str, DeploymentEnv], restored: Mapping[str, Sequence[str]]) -> list[Rollout]:
    """The rollouts of the Deployments ``envs`` (their env as read) after a restore that wrote ``restored``
    (``{"configmaps": [names], "secrets": [names], "env": [deployments]}``, as ``RestoreReport.restored_targets`` gives)."""
    needed = []
    for name, env in envs.items():
        if name in (restored.get("env") or ()):
            needed.append(Rollout(name, WAIT, "its pod template's env was restored, so it rolls out by itself"))
            continue
        at_start, live = [], []
        for kind, object_kind in OBJECT_KINDS.items():
            for restored_name in restored.get(kind) or ():
                how = env.references.of(object_kind).get(restored_name, set())
                if "env" in how:
                    at_start.append(f"{object_kind} {restored_name}")
                elif "volume" in how:
                    live.append(f"{object_kind} {restored_name}")
        if at_start:
            needed.append(Rollout(name, RESTART, f"its pods read {', '.join(at_start)} when they start"))
        elif live:
            needed.append(Rollout(name, LIVE, f"its pods mount {', '.join(live)} as files, which the kubelet refreshes in place "
                                              "(within about a minute); no restart"))
    return needed


def roll(client: KubeConfig, namespace: str, needed: Sequence[Rollout], timeout: float, interval: float = 2.0,
         now: Optional[Any] = None) -> list[dict[str, Any]]:
    """Restart the Deployments that need it (all restarts first), then wait for every restarted or re-templated one."""
    done = []
    for rollout in needed:
        entry: dict[str, Any] = rollout.as_dict()
        if rollout.action == RESTART:
            entry["restarted_at"] = client.restart(namespace, rollout.deployment, now=now)
        done.append(entry)
    for entry in done:
        if entry["action"] in (RESTART, WAIT):
            entry["ready"] = client.wait_rollout(namespace, entry["deployment"], timeout, interval).message
    return done
