# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Weights and states of many HAProxy servers at once, waits for drains, and whether a reload keeps them.

Reading is one ``show servers state`` (every backend's servers in one answer). Writing is ``set server <b>/<s> weight <w>``
and ``set server <b>/<s> state ready|drain|maint`` for every server that differs, all on one connection, ``;``-separated
(``HaproxyRuntimeClient.commands``), in an order that never adds load first: servers leaving the traffic (drain, maint)
first, then the weights, then the servers coming back (ready). Names, weights and states are checked, and every named
backend and server is read, before a write is sent.

The state of a server is what ``set server state`` sets, read from ``srv_admin_state``, the bit field of HAProxy 2.6's
``enum srv_admin``: 0x01 forced maintenance, 0x02 maintenance inherited from a tracked server, 0x04 configured
(``disabled``; stays after ``ready`` clears 0x01 and means nothing alone), 0x08 forced drain, 0x10 inherited drain,
0x20 maintenance because its address could not be resolved, 0x40 maintenance because its FQDN was changed. ``maint``
when a maintenance bit (0x01, 0x02, 0x20, 0x40) is set, else ``drain`` when a drain bit is, else ``ready``.
``srv_op_state`` (0 stopped, 1 starting, 2 running, 3 stopping: the health checks' verdict) is reported, never written.

Reloads: HAProxy keeps weights and states set at run time only until it reloads or restarts, unless the reload brings
them back from a state file. The runtime API cannot tell (``show info`` of HAProxy 2.6 has no field for it), so
``reload_check`` reads the configuration file (or directory of ``*.cfg``, as ``haproxy -f`` does) and checks, per backend:
the ``global`` section has ``server-state-file``, and the backend, or the ``defaults`` section it uses (named with
``from``, else the last one before it), has ``load-server-state-from-file global`` or ``local``. Even then the reload
procedure itself must write ``show servers state`` to that file just before reloading; HAProxy does not.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Optional, Sequence

from ansible_collections.ofm.rollback.plugins.module_utils.errors import (
    DataError,
    DeadlineExceeded,
    InputError,
    NotFoundError,
    OfmRollbackError,
)
from ansible_collections.ofm.rollback.plugins.module_utils.haproxy import (
    MAX_WEIGHT,
    SYSTEM,
    HaproxyRuntimeClient,
    check_name,
    check_weight,
)
from ansible_collections.ofm.rollback.plugins.module_utils.polling import Poller, Polled

READY, DRAIN, MAINT = "ready", "drain", "maint"
STATES = (READY, DRAIN, MAINT)
OPERATIONAL = {"0": "stopped", "1": "starting", "2": "running", "3": "stopping"}
ADMIN_FLAGS = ((0x01, "forced maint"), (0x02, "inherited maint"), (0x04, "configured disabled"), (0x08, "forced drain"),
               (0x10, "inherited drain"), (0x20, "resolution maint"), (0x40, "fqdn maint"))
MAINT_BITS = 0x01 | 0x02 | 0x20 | 0x40
DRAIN_BITS = 0x08 | 0x10
SERVERS_OPTION = "servers"


@dataclass(frozen=True)
class Server:
    """One server as ``show servers state`` shows it."""

    backend: str
    name: str
    weight: int
    initial_weight: int
    state: str
    operational: str
    admin_flags: tuple[str, ...] = ()

    def settings(self) -> dict[str, Any]:
        """What a snapshot holds and ``haproxy_server`` sets: ``{weight, state}``."""
        return {"weight": self.weight, "state": self.state}

    def as_dict(self) -> dict[str, Any]:
        return {"backend": self.backend, "server": self.name, "weight": self.weight, "initial_weight": self.initial_weight,
                "state": self.state, "operational": self.operational, "admin_flags": list(self.admin_flags)}


def server_from_row(row: Mapping[str, str], target: str) -> Server:
    """A ``Server`` from a row of ``show servers state``."""
    try:
        admin = int(row["srv_admin_state"])
        server = Server(row["be_name"], row["srv_name"], int(row["srv_uweight"]), int(row["srv_iweight"]), state_of(admin),
                        OPERATIONAL.get(row["srv_op_state"], f"unknown ({row['srv_op_state']})"),
                        tuple(name for bit, name in ADMIN_FLAGS if admin & bit))
    except (KeyError, ValueError) as exc:
        raise DataError(f"a server line of 'show servers state' lacks or garbles {exc}", system=SYSTEM, target=target,
                        operation="command 'show servers state'", details={"row": dict(row)}) from exc
    return server


def state_of(admin: int) -> str:
    """``maint``, ``drain`` or ``ready`` from ``srv_admin_state`` (see the module's docstring)."""
    if admin & MAINT_BITS:
        return MAINT
    return DRAIN if admin & DRAIN_BITS else READY


def check_state(state: Any, option: Optional[str] = None) -> str:
    """``state`` if ``set server state`` accepts it, else an ``InputError``."""
    if state not in STATES:
        raise InputError(f"HAProxy server state {state!r} is not valid", system=SYSTEM, option=option, accepted=STATES)
    return state


@dataclass(frozen=True)
class Wanted:
    """What one server should be; ``None`` leaves that setting as it is."""

    backend: str
    server: str
    weight: Optional[int] = None
    state: Optional[str] = None

    @property
    def key(self) -> tuple[str, str]:
        return self.backend, self.server


def wanted_servers(items: Sequence[Mapping[str, Any]], option: str = SERVERS_OPTION) -> list[Wanted]:
    """The ``servers`` option checked: names, weights 0 to 256, states, at least one setting each, no server twice."""
    if not items:
        raise InputError("no server given", system=SYSTEM, option=option, accepted="a list of {backend, server, weight, state}")
    wanted: list[Wanted] = []
    for index, item in enumerate(items):
        where = f"{option}[{index}]"
        entry = Wanted(check_name("backend", item.get("backend"), f"{where}.backend"), check_name("server", item.get("server"), f"{where}.server"),
                       None if item.get("weight") is None else check_weight(item["weight"], f"{where}.weight"),
                       None if item.get("state") is None else check_state(item["state"], f"{where}.state"))
        if entry.weight is None and entry.state is None:
            raise InputError(f"{entry.backend}/{entry.server} has neither a weight nor a state", system=SYSTEM, option=where,
                             accepted=f"weight (0 to {MAX_WEIGHT}), state ({', '.join(STATES)}), or both")
        if any(other.key == entry.key for other in wanted):
            raise InputError(f"{entry.backend}/{entry.server} is given twice", system=SYSTEM, option=where, accepted="each server once")
        wanted.append(entry)
    return wanted


@dataclass(frozen=True)
class ServerChange:
    """One server: as it is (``before``) and the weight and state it should have."""

    before: Server
    weight: int
    state: str

    @property
    def changed(self) -> bool:
        return self.before.settings() != self.after()

    def after(self) -> dict[str, Any]:
        return {"weight": self.weight, "state": self.state}

    def commands(self) -> list[tuple[int, str]]:
        """``(order, command)``: states that take traffic away first (0), weights (1), states that bring it back last (2)."""
        ref = f"{self.before.backend}/{self.before.name}"
        found = []
        if self.state != self.before.state:
            found.append((2 if self.state == READY else 0, f"set server {ref} state {self.state}"))
        if self.weight != self.before.weight:
            found.append((1, f"set server {ref} weight {self.weight}"))
        return found


def ordered_commands(changes: Iterable[ServerChange]) -> list[str]:
    """The commands of ``changes`` in the order that never adds load first (``ServerChange.commands``)."""
    found = [command for change in changes for command in change.commands()]
    return [command for _order, command in sorted(found, key=lambda pair: pair[0])]


def sections(servers: Iterable[Server]) -> dict[str, dict[str, dict[str, Any]]]:
    """``{backend: {server: {weight, state}}}``: the snapshot's shape."""
    found: dict[str, dict[str, dict[str, Any]]] = {}
    for server in servers:
        found.setdefault(server.backend, {})[server.name] = server.settings()
    return found


class HaproxyServers:
    """The servers of one HAProxy, read and written in batches through its runtime API."""

    def __init__(self, client: HaproxyRuntimeClient) -> None:
        self.client = client

    def read(self, backends: Optional[Sequence[str]] = None, option: str = "backends") -> dict[str, dict[str, Server]]:
        """``{backend: {server: Server}}`` of ``backends`` (every backend when None), from one ``show servers state``."""
        names = [check_name("backend", name, option) for name in backends] if backends is not None else None
        return self._chosen(self.client.show_servers_state(), names, option)

    def read_with_sessions(self, backends: Optional[Sequence[str]] = None, option: str = "backends") -> tuple[dict[str, dict[str, Server]], dict[str, int]]:
        """``read`` and the current sessions of every server (``backend/server``), both on one connection."""
        names = [check_name("backend", name, option) for name in backends] if backends is not None else None
        commands = ["show servers state", "show stat -1 4 -1"]
        state, stat = self.client.commands(commands)
        found = self._chosen(self.client.servers_state_rows(commands[0], state), names, option)
        counts = self._stat_sessions(commands[1], stat)
        return found, {f"{backend}/{name}": counts.get((backend, name), 0) for backend, servers in found.items() for name in servers}

    def _chosen(self, rows: list[dict[str, str]], names: Optional[list[str]], option: str) -> dict[str, dict[str, Server]]:
        found: dict[str, dict[str, Server]] = {}
        for row in rows:
            server = server_from_row(row, self.client.target)
            found.setdefault(server.backend, {})[server.name] = server
        if names is None:
            return found
        missing = [name for name in names if name not in found]
        if missing:
            raise NotFoundError(f"no backend with servers named {', '.join(missing)}; backends: {', '.join(sorted(found)) or 'none'}",
                                system=SYSTEM, operation="command 'show servers state'", target=self.client.target,
                                hint=f"Check the option '{option}' against the backends of haproxy.cfg.")
        return {name: found[name] for name in names}

    def plan(self, wanted: Sequence[Wanted]) -> list[ServerChange]:
        """Read every server of ``wanted`` (a missing backend or server is a ``NotFoundError`` naming all of them) and what changes."""
        current = self.read()
        missing = [f"{entry.backend}/{entry.server}" for entry in wanted if entry.server not in current.get(entry.backend, {})]
        if missing:
            raise NotFoundError(f"no server {', '.join(missing)}; backends: {', '.join(sorted(current)) or 'none'}", system=SYSTEM,
                                operation="command 'show servers state'", target=self.client.target,
                                hint=f"Check the option '{SERVERS_OPTION}' against 'show servers state'. Nothing was changed.")
        changes = []
        for entry in wanted:
            before = current[entry.backend][entry.server]
            changes.append(ServerChange(before, before.weight if entry.weight is None else entry.weight,
                                        before.state if entry.state is None else entry.state))
        return changes

    def write(self, commands: Sequence[str]) -> None:
        """Send ``commands`` (one connection); the first refusal as an error whose details list every refused command."""
        answers = self.client.commands(commands)
        refused = [{"command": command, "answer": answer} for command, answer in zip(commands, answers) if answer]
        if refused:
            error = self.client.refused(refused[0]["command"], refused[0]["answer"])
            error.details.update(refused=refused, sent=len(commands))
            raise error

    def sessions(self, keys: Iterable[tuple[str, str]]) -> dict[str, int]:
        """The current sessions (``scur`` of ``show stat``) of each ``backend/server`` of ``keys``, one ``show stat`` per backend."""
        keys = list(keys)
        backends = list(dict.fromkeys(backend for backend, _server in keys))
        if not backends:
            return {}
        commands = [f"show stat {backend} 4 -1" for backend in backends]
        counts: dict[tuple[str, str], int] = {}
        for command, answer in zip(commands, self.client.commands(commands)):
            counts.update(self._stat_sessions(command, answer))
        return {f"{backend}/{server}": counts.get((backend, server), 0) for backend, server in keys}

    def _stat_sessions(self, command: str, answer: str) -> dict[tuple[str, str], int]:
        lines = [line for line in answer.splitlines() if line.strip()]
        if not lines or not lines[0].startswith("# pxname,"):
            raise self.client.refused(command, answer)
        fields = lines[0][2:].split(",")
        counts = {}
        for line in lines[1:]:
            row = dict(zip(fields, line.split(",")))
            counts[(row.get("pxname", ""), row.get("svname", ""))] = int(row.get("scur") or 0)
        return counts

    # pylint: disable-next=too-many-arguments
    def wait_drained(self, keys: Sequence[tuple[str, str]], *, timeout: float, interval: float,
                     clock: Optional[Callable[[], float]] = None, sleep: Optional[Callable[[float], None]] = None) -> Polled[dict[str, int]]:
        """Poll the sessions of ``keys`` until every one is 0; a ``DeadlineExceeded`` with the last counts at ``timeout``."""
        extra = {name: value for name, value in (("clock", clock), ("sleep", sleep)) if value is not None}
        poller = Poller(timeout=timeout, interval=interval, **extra)

        def timed_out(counts: dict[str, int], polls: int, elapsed: float) -> DeadlineExceeded:
            busy = {name: count for name, count in counts.items() if count}
            return DeadlineExceeded(f"{len(busy)} servers still had sessions after {elapsed:.1f}s and {polls} reads: "
                                    f"{', '.join(f'{name} {count}' for name, count in busy.items())}", system=SYSTEM,
                                    operation="wait for drain", target=self.client.target, timeout=timeout, last_state=counts,
                                    details={"sessions": counts})

        return poller.until(lambda: self.sessions(keys), lambda counts: not any(counts.values()), timed_out)


def drained_keys(changes: Iterable[ServerChange]) -> list[tuple[str, str]]:
    """The servers a drain wait watches: those that should be in drain or maint, or at weight 0."""
    return [(change.before.backend, change.before.name) for change in changes if change.state != READY or change.weight == 0]


SERVERS_SPEC: dict[str, dict[str, Any]] = {
    "servers": {"type": "list", "elements": "dict", "required": True, "options": {
        "backend": {"type": "str", "required": True},
        "server": {"type": "str", "required": True},
        "weight": {"type": "int"},
        "state": {"type": "str", "choices": list(STATES)},
    }},
    "wait_drained": {"type": "bool", "default": False},
    "wait_timeout": {"type": "float", "default": 300.0},
    "wait_interval": {"type": "float", "default": 1.0},
    "config_file": {"type": "path"},
}


def set_servers(params: Mapping[str, Any], check_mode: bool) -> tuple[dict[str, Any], Optional[DeadlineExceeded]]:
    """``haproxy_server``: read the servers, write what differs (nothing in check mode), read them back, wait for drains.

    The result: ``changed``, ``servers`` (as they are after), ``commands`` (sent, or in check mode the ones that would be),
    ``diff``, ``drained``, ``reload`` (``ReloadCheck``), ``warnings``, ``round_trips`` and ``msg``; with the drain wait's
    ``DeadlineExceeded`` when it ran out (the result then says what was written). Other errors are raised: nothing was
    written, except for a write that failed half-way, whose ``details`` say which servers are as asked (``done``) and which
    not (``not_done``).
    """
    wanted = wanted_servers(params["servers"])
    for option in ("wait_timeout", "wait_interval"):
        if params[option] <= 0:
            raise InputError(f"{option} must be above 0 seconds, got {params[option]:g}", system=SYSTEM, option=option, accepted="seconds above 0")
    reload = reload_check(params.get("config_file"), list(dict.fromkeys(entry.backend for entry in wanted)))
    client = HaproxyRuntimeClient.from_params(params)
    servers = HaproxyServers(client)
    changes = servers.plan(wanted)
    commands = ordered_commands(changes)
    after = {(change.before.backend, change.before.name): change.before for change in changes}
    if commands and not check_mode:
        after = _written(servers, changes, commands)
    result: dict[str, Any] = {
        "changed": bool(commands), "commands": commands, "round_trips": client.round_trips, "drained": None,
        "servers": [after[(change.before.backend, change.before.name)].as_dict() if not check_mode else
                    {**change.before.as_dict(), **change.after()} for change in changes],
        "diff": {"before": sections(change.before for change in changes), "after": _after_sections(changes)},
        "reload": reload.as_dict(),
    }
    warning = reload.warning() if commands else None
    result["warnings"] = [warning] if warning else []
    verb = "would send" if check_mode else "sent"
    result["msg"] = (f"{sum(change.changed for change in changes)} of {len(changes)} servers changed; {verb} {len(commands)} commands"
                     if commands else f"all {len(changes)} servers already as asked")
    keys = drained_keys(changes)
    timed_out = None
    if params["wait_drained"] and keys and not check_mode:
        try:
            polled = servers.wait_drained(keys, timeout=params["wait_timeout"], interval=params["wait_interval"])
            result["drained"] = {"sessions": polled.value, "polls": polled.polls, "waited_seconds": round(polled.elapsed, 3)}
        except DeadlineExceeded as exc:
            result["drained"] = {"sessions": exc.last_state, "polls": None, "waited_seconds": params["wait_timeout"]}
            timed_out = exc
    result["round_trips"] = client.round_trips
    return result, timed_out


INFO_SPEC: dict[str, dict[str, Any]] = {
    "backends": {"type": "list", "elements": "str"},
    "config_file": {"type": "path"},
}


def servers_info(params: Mapping[str, Any]) -> dict[str, Any]:
    """``haproxy_server_info``: the servers of ``backends`` (all when not set) on one connection: ``backends`` (the snapshot kind's shape),
    ``servers`` (``haproxy_server``'s option: restores them as they are now) and ``details`` (with sessions and flags)."""
    client = HaproxyRuntimeClient.from_params(params)
    found, counts = HaproxyServers(client).read_with_sessions(params.get("backends"))
    every = [server for named in found.values() for server in named.values()]
    return {"changed": False, "backends": sections(every),
            "servers": [{"backend": server.backend, "server": server.name, **server.settings()} for server in every],
            "details": [{**server.as_dict(), "sessions": counts[f"{server.backend}/{server.name}"]} for server in every],
            "reload": reload_check(params.get("config_file"), list(found)).as_dict(), "round_trips": client.round_trips,
            "msg": f"{len(every)} servers in {len(found)} backends"}


def _after_sections(changes: Sequence[ServerChange]) -> dict[str, dict[str, dict[str, Any]]]:
    found: dict[str, dict[str, dict[str, Any]]] = {}
    for change in changes:
        found.setdefault(change.before.backend, {})[change.before.name] = change.after()
    return found


def _written(servers: HaproxyServers, changes: Sequence[ServerChange], commands: Sequence[str]) -> dict[tuple[str, str], Server]:
    """Write ``commands``, read the servers back and check each is as asked; a failure's details hold the commands and which
    servers are as asked (``done``) and which not (``not_done``)."""
    try:
        servers.write(commands)
        now = servers.read(list(dict.fromkeys(change.before.backend for change in changes)))
    except OfmRollbackError as exc:
        exc.details.update(_progress(servers, changes), commands=list(commands))
        raise
    off = [f"{change.before.backend}/{change.before.name} is {now[change.before.backend][change.before.name].settings()}"
           for change in changes if now[change.before.backend][change.before.name].settings() != change.after()]
    if off:
        raise DataError(f"HAProxy took the commands, but {'; '.join(off)}", system=SYSTEM, operation="read back", target=servers.client.target,
                        details={"commands": list(commands), **_progress(servers, changes)},
                        hint="A server that tracks another inherits its maint or drain state; change the tracked server instead.")
    return {(backend, name): server for backend, found in now.items() for name, server in found.items()}


def _progress(servers: HaproxyServers, changes: Sequence[ServerChange]) -> dict[str, Any]:
    """Which servers are as asked after a failed write: ``done`` and ``not_done`` (``unknown`` when they cannot be read)."""
    try:
        now = servers.read()
    except Exception:  # pylint: disable=broad-exception-caught
        return {"done": "unknown", "not_done": "unknown"}
    done = [f"{change.before.backend}/{change.before.name}" for change in changes
            if now.get(change.before.backend, {}).get(change.before.name) is not None
            and now[change.before.backend][change.before.name].settings() == change.after()]
    return {"done": done, "not_done": [f"{change.before.backend}/{change.before.name}" for change in changes
                                       if f"{change.before.backend}/{change.before.name}" not in done]}


# --- does a reload keep the runtime state? ------------------------------------------------------------

SECTIONS = ("global", "defaults", "frontend", "backend", "listen", "peers", "resolvers", "userlist", "mailers", "program",
            "http-errors", "ring", "cache", "fcgi-app")
LOADS = ("global", "local")


@dataclass(frozen=True)
class ReloadCheck:
    """Whether a reload brings the runtime weights and states of ``backends`` back (``keeps_state``; None: not checked)."""

    checked: bool
    keeps_state: Optional[bool]
    reason: str
    state_file: Optional[str] = None
    backends: dict[str, bool] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"checked": self.checked, "keeps_state": self.keeps_state, "reason": self.reason, "state_file": self.state_file,
                "backends": dict(self.backends)}

    def warning(self) -> Optional[str]:
        """The warning for a run that changed runtime state, or None when a reload keeps it."""
        if self.keeps_state:
            return None
        return (f"HAProxy forgets weights and states set at run time when it reloads or restarts: {self.reason}. Set "
                "server-state-file (global) and load-server-state-from-file (defaults or backend) and write 'show servers state' "
                "to that file before each reload, or put the weights into haproxy.cfg.")


@dataclass
class _Section:
    kind: str
    name: str
    settings: dict[str, str] = field(default_factory=dict)
    parent: Optional[str] = None


def reload_check(config: Optional[str], backends: Sequence[str], option: str = "config_file") -> ReloadCheck:
    """Read the HAProxy configuration ``config`` (a file, or a directory of ``*.cfg``) and judge ``backends`` (see the docstring)."""
    if not config:
        return ReloadCheck(False, None, f"not checked (set {option} to the haproxy.cfg HAProxy runs with)")
    parsed = _parse_config(_config_text(config, option))
    state_file = next((section.settings.get("server-state-file") for section in parsed if section.kind == "global"), None)
    loads = {backend: _loads_state(parsed, backend) for backend in backends}
    if not state_file:
        return ReloadCheck(True, False, f"{config} has no server-state-file in its global section", None, {name: False for name in loads})
    base = next((section.settings.get("server-state-base") for section in parsed if section.kind == "global"), None)
    path = os.path.join(base, state_file) if base and not state_file.startswith("/") else state_file
    without = [name for name, loaded in loads.items() if not loaded]
    if without:
        return ReloadCheck(True, False, f"the backends {', '.join(without)} of {config} do not load-server-state-from-file", path, loads)
    return ReloadCheck(True, True, f"{config} loads the state of every backend from {path} at start", path, loads)


def _config_text(config: str, option: str) -> str:
    path = Path(config)
    try:
        files = sorted(path.glob("*.cfg")) if path.is_dir() else [path]
        return "\n".join(item.read_text(errors="replace") for item in files)
    except OSError as exc:
        raise InputError(f"cannot read {config}: {exc.strerror or exc}", system=SYSTEM, option=option,
                         accepted="the path of the haproxy.cfg file (or directory of *.cfg files) HAProxy runs with") from exc


def _parse_config(text: str) -> list[_Section]:
    parsed: list[_Section] = []
    for raw in text.splitlines():
        words = raw.split("#", 1)[0].split()
        if not words:
            continue
        if words[0] in SECTIONS:
            name = words[1] if len(words) > 1 and words[1] != "from" else ""
            parent = words[words.index("from") + 1] if "from" in words[:-1] else None
            parsed.append(_Section(words[0], name, parent=parent))
        elif parsed and len(words) > 1:
            parsed[-1].settings[words[0]] = words[1]
    return parsed


def _loads_state(parsed: list[_Section], backend: str) -> bool:
    defaults: Optional[_Section] = None
    for section in parsed:
        if section.kind == "defaults":
            defaults = section
        elif section.kind in ("backend", "listen") and section.name == backend:
            if section.parent:
                defaults = next((item for item in parsed if item.kind == "defaults" and item.name == section.parent), None)
            mode = section.settings.get("load-server-state-from-file") or (defaults.settings.get("load-server-state-from-file") if defaults else None)
            return mode in LOADS
    return False
