# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The snapshot kind ``haproxy``: the weights and states of the servers of an HAProxy's backends.

The section is ``{backend: {server: {"weight": int, "state": "ready" | "drain" | "maint"}}}``, read with one
``show servers state``. A restore (``plan.make_plan`` + ``plan.restore``) writes each backend that differs on one
connection (its ``set server`` commands ``;``-separated, ``haproxy_servers.ordered_commands``). Two rules of its own:

- every backend and server the snapshot holds must exist when the restore plans: ``entries`` of a snapshot section,
  called by ``make_plan`` after ``read``, raises a ``NotFoundError`` naming all that are missing, so nothing is written;
- a server the snapshot does not hold (added since) took no traffic then, so it is put in ``maint`` (its weight kept):
  ``absent`` is ``{"state": "maint"}`` and equals any server in maint, so such a server in maint is unchanged.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence

from ansible_collections.ofm.rollback.plugins.module_utils.config.external import ExternalKind
from ansible_collections.ofm.rollback.plugins.module_utils.config.plan import ADD, Change
from ansible_collections.ofm.rollback.plugins.module_utils.errors import DataError, NotFoundError
from ansible_collections.ofm.rollback.plugins.module_utils.haproxy import SYSTEM, HaproxyRuntimeClient, check_weight
from ansible_collections.ofm.rollback.plugins.module_utils.haproxy_servers import (
    MAINT,
    HaproxyServers,
    Server,
    ServerChange,
    check_state,
    ordered_commands,
    sections,
)

NAME = "haproxy"
OPTIONS: dict[str, dict[str, Any]] = {
    "runtime_api": {"type": "str", "required": True},
    "backends": {"type": "list", "elements": "str"},
    "timeout": {"type": "float", "default": 5.0},
}


class MaintOnly(dict):
    """``{"state": "maint"}``, equal to any server settings in maint: what a server the snapshot does not hold must be."""

    def __init__(self) -> None:
        super().__init__(state=MAINT)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Mapping) and other.get("state") == MAINT

    def __ne__(self, other: object) -> bool:
        return not self == other

    __hash__ = None  # type: ignore[assignment]


class HaproxyApplier:
    """The ``Applier`` (``plan.py``) of the kind ``haproxy``."""

    kind = NAME
    absent = MaintOnly()

    def __init__(self, servers: HaproxyServers, backends: Optional[Sequence[str]] = None) -> None:
        self.servers = servers
        self.backends = list(backends) if backends else None
        self.current: Optional[dict[str, dict[str, Server]]] = None
        self._read: Optional[dict[str, Any]] = None

    @property
    def round_trips(self) -> int:
        return self.servers.client.round_trips

    def read(self) -> dict[str, Any]:
        self.current = self.servers.read(self.backends)
        self._read = sections(server for named in self.current.values() for server in named.values())
        return self._read

    def entries(self, section: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
        """The section itself; for a snapshot's section after a ``read``, every backend and server it names must exist now."""
        if self.current is not None and section is not self._read:
            missing = [f"{backend}/{server}" for backend, named in section.items() for server in named
                       if server not in self.current.get(backend, {})]
            if missing:
                raise NotFoundError(f"the snapshot holds servers HAProxy no longer has: {', '.join(missing)}", system=SYSTEM,
                                    operation="restore plan", target=self.servers.client.target,
                                    hint="Add them back to haproxy.cfg (or restore the other backends with the option backends). Nothing was changed.")
        return {backend: {server: dict(values) for server, values in named.items()} for backend, named in (section or {}).items()}

    def apply(self, changes: Sequence[Change]) -> None:
        """One connection for the backend's changed servers."""
        backend = changes[0].target
        now = self.current.get(backend, {}) if self.current is not None else {}
        wanted = []
        for change in changes:
            if change.action == ADD or change.key not in now:
                raise NotFoundError(f"backend {backend} has no server {change.key}", system=SYSTEM, operation="restore",
                                    target=self.servers.client.target)
            if change.changed:
                wanted.append(self._server_change(now[change.key], change.after))
        commands = ordered_commands(wanted)
        if commands:
            self.servers.write(commands)

    def _server_change(self, before: Server, after: Any) -> ServerChange:
        where = f"{NAME} section {before.backend}/{before.name}"
        if not isinstance(after, Mapping):
            raise DataError(f"server {before.backend}/{before.name} of the snapshot is {after!r}, not a dict of weight and state",
                            system=SYSTEM, operation="restore", target=self.servers.client.target)
        return ServerChange(before, check_weight(after.get("weight", before.weight), where), check_state(after.get("state", before.state), where))


def build(params: Mapping[str, Any]) -> HaproxyApplier:
    """The applier from the action's ``haproxy`` option."""
    options = params[NAME]
    client = HaproxyRuntimeClient(options["runtime_api"], timeout=options.get("timeout") or 5.0)
    return HaproxyApplier(HaproxyServers(client), options.get("backends"))


def scope(params: Mapping[str, Any]) -> str:
    """``haproxy <address>``: the HAProxy a snapshot was taken from."""
    return f"haproxy {HaproxyRuntimeClient(params[NAME]['runtime_api']).target}"


KIND = ExternalKind(name=NAME, options=OPTIONS, build=build, scope=scope, systems=("haproxy",),
                    description="HAProxy server weights and states (runtime API)")
