# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The snapshot kind ``alb``: the ``ForwardConfig`` target-group weights of an Application Load Balancer's listeners and rules.

The section is ``{"listener <port> default" | "listener <port> rule <priority>": {target group name: weight}}``. A restore
writes each listener or rule that differs with ONE ``modify_listener``/``modify_rule`` call of its whole action list
(``alb.AlbClient.write``): the target groups of the snapshot with its weights, exactly. Before anything is written, every
listener and rule the snapshot holds must still forward and every target group it names must exist (``entries`` of the
snapshot's section raises otherwise). The connection is the actions' top-level AWS options (``AWS_SPEC``).
"""

from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence

from ansible_collections.ofm.rollback.plugins.module_utils.alb import SYSTEM, AlbClient, Forward, check_weights
from ansible_collections.ofm.rollback.plugins.module_utils.config.external import ExternalKind
from ansible_collections.ofm.rollback.plugins.module_utils.config.plan import REMOVE, Change
from ansible_collections.ofm.rollback.plugins.module_utils.errors import DataError, NotFoundError

NAME = "alb"
OPTIONS: dict[str, dict[str, Any]] = {
    "load_balancer": {"type": "str", "required": True},
    "listener_port": {"type": "int"},
    "timeout": {"type": "float", "default": 30.0},
}


class AlbApplier:
    """The ``Applier`` (``plan.py``) of the kind ``alb``."""

    kind = NAME

    def __init__(self, client: AlbClient, port: Optional[int] = None) -> None:
        self.client = client
        self.port = port
        self.current: Optional[dict[str, Forward]] = None
        self._read: Optional[dict[str, Any]] = None

    @property
    def round_trips(self) -> int:
        return self.client.round_trips

    def read(self) -> dict[str, Any]:
        self.current = {forward.key: forward for forward in self.client.read(self.port)}
        self._read = {key: dict(forward.weights) for key, forward in self.current.items()}
        return self._read

    def entries(self, section: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
        """The section checked (weights 0..999); for a snapshot's section after a ``read``, its listeners and rules must still
        forward and its target groups exist."""
        entries = {str(key): _weights(key, weights) for key, weights in (section or {}).items()}
        if self.current is not None and section is not self._read:
            missing = [key for key in entries if key not in self.current]
            if missing:
                raise NotFoundError(f"the snapshot holds listeners or rules that no longer forward: {', '.join(missing)}", system=SYSTEM,
                                    operation="restore plan", target=self.client.target, hint="Nothing was changed.")
            self.client.arns([name for weights in entries.values() for name in weights], NAME)
        return entries

    def apply(self, changes: Sequence[Change]) -> None:
        """One ``modify_listener``/``modify_rule`` call with the snapshot's target groups and weights."""
        key = changes[0].target
        forward = (self.current or {}).get(key)
        if forward is None:
            raise NotFoundError(f"{key} was not read", system=SYSTEM, operation="restore", target=f"{self.client.target} {key}")
        self.client.write(forward, {change.key: change.after for change in changes if change.action != REMOVE}, NAME)


def _weights(key: Any, weights: Any) -> dict[str, int]:
    if not isinstance(weights, Mapping):
        raise DataError(f"the snapshot's {key} is not a mapping of target group to weight", system=SYSTEM, operation="snapshot check",
                        target=str(key))
    return check_weights(weights, f"alb.{key}")


def build(params: Mapping[str, Any]) -> AlbApplier:
    settings = params.get(NAME) or {}
    return AlbApplier(AlbClient.from_params(params, settings.get("load_balancer") or "", settings.get("timeout")), settings.get("listener_port"))


def scope(params: Mapping[str, Any]) -> str:
    """Where the load balancer is: the endpoint (or region) and its name."""
    settings = params.get(NAME) or {}
    where = params.get("aws_endpoint_url") or params.get("aws_region") or "default region"
    return f"aws {where} load balancer {settings.get('load_balancer')}"


KIND = ExternalKind(name=NAME, options=OPTIONS, build=build, scope=scope, systems=("aws",),
                    description="ALB forward target-group weights")
