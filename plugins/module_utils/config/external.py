# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The external systems a configuration snapshot can hold besides the configuration itself: DNS, load balancers, the CDN and
the platforms' app settings.

Each is an ``ExternalKind``: its snapshot kind, the settings the actions ``config_snapshot`` and ``config_restore`` take for
it (one dict option named like the kind), how to build its ``Applier`` (``plan.py``) from the action's options, and where
it is (the snapshot's ``scope`` entry, compared at restore so a snapshot of one zone or load balancer is never restored
onto another). The workflow treats every registered kind alike; a kind's own module file (``dns/kind.py`` and the like)
holds its descriptor. The option's documentation is in the doc fragment ``ofm.rollback.config_external`` (a unit test
keeps it in step with ``options``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping


@dataclass(frozen=True)
class ExternalKind:
    """One external kind of the snapshot (see the module's docstring)."""

    name: str
    options: dict[str, dict[str, Any]]
    build: Callable[[Mapping[str, Any]], Any]
    scope: Callable[[Mapping[str, Any]], str]
    systems: tuple[str, ...] = ()
    description: str = ""

    def option_spec(self) -> dict[str, Any]:
        """The action's dict option for this kind."""
        return {"type": "dict", "options": self.options}
