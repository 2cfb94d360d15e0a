# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The snapshot kind ``cdn``: CloudFront distribution configs, each with the ETag it was read with.

The section is ``{distribution (as named in the option: Id, alias or comment): {"id": ..., "etag": ..., "config":
{DistributionConfig}}}``; the entries a restore compares are the config's top-level fields. A restore writes each
distribution that differs with ONE ``update_distribution`` whose ``If-Match`` is the ETag read when the restore was planned
(``cloudfront.py``: a distribution edited between the plan and the write is refused with the diff), then, with
``invalidate_paths``, creates one invalidation and waits until it is Completed. The snapshot's own ETag is kept for the
record (and for ``cloudfront_distribution``'s ``expected_etag``): after any change CloudFront gives a new one, so it cannot
be the ``If-Match`` of a restore. The connection is the actions' top-level AWS options (``AWS_SPEC``).
"""

from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence

from ansible_collections.ofm.rollback.plugins.module_utils.cloudfront import (DEFAULT_TIMEOUT, DEFAULT_WAIT_TIMEOUT, SYSTEM, CloudFrontClient,
                                                                              Distribution, check_paths)
from ansible_collections.ofm.rollback.plugins.module_utils.config.external import ExternalKind
from ansible_collections.ofm.rollback.plugins.module_utils.config.plan import REMOVE, Change
from ansible_collections.ofm.rollback.plugins.module_utils.errors import DataError, InputError, NotFoundError

NAME = "cdn"
OPTIONS: dict[str, dict[str, Any]] = {
    "distributions": {"type": "list", "elements": "str", "required": True},
    "invalidate_paths": {"type": "list", "elements": "str"},
    "wait_timeout": {"type": "float", "default": DEFAULT_WAIT_TIMEOUT},
    "timeout": {"type": "float", "default": DEFAULT_TIMEOUT},
}


class CdnApplier:
    """The ``Applier`` (``plan.py``) of the kind ``cdn``."""

    kind = NAME

    def __init__(self, client: CloudFrontClient, distributions: Sequence[str], invalidate_paths: Sequence[str] = (),
                 wait_timeout: float = DEFAULT_WAIT_TIMEOUT) -> None:
        if not distributions:
            raise InputError("no distributions", option="cdn.distributions", accepted="Ids, aliases or comments of distributions", system=SYSTEM)
        if wait_timeout <= 0:
            raise InputError(f"wait_timeout is {wait_timeout}", option="cdn.wait_timeout", accepted="a number of seconds above 0", system=SYSTEM)
        self.client = client
        self.distributions = list(dict.fromkeys(distributions))
        self.invalidate_paths = check_paths(invalidate_paths, "cdn.invalidate_paths") if invalidate_paths else []
        self.wait_timeout = wait_timeout
        self.planned: dict[str, Distribution] = {}
        self.invalidations: list[dict[str, Any]] = []

    @property
    def round_trips(self) -> int:
        return self.client.round_trips

    def read(self) -> dict[str, Any]:
        self.planned = {name: self.client.read(name) for name in self.distributions}
        return {name: {"id": found.id, "etag": found.etag, "config": found.config} for name, found in self.planned.items()}

    @staticmethod
    def entries(section: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
        """Each distribution's config fields."""
        entries = {}
        for name, held in (section or {}).items():
            if not isinstance(held, Mapping) or not isinstance(held.get("config"), Mapping):
                raise DataError(f"the snapshot's cdn entry {name!r} has no config", system=SYSTEM, operation="snapshot check", target=str(name))
            entries[str(name)] = dict(held["config"])
        return entries

    def apply(self, changes: Sequence[Change]) -> None:
        """One ``update_distribution`` with the snapshot's config (If-Match: the ETag of the plan), then the invalidation and its wait."""
        name = changes[0].target
        planned = self.planned.get(name)
        if planned is None:
            raise NotFoundError(f"distribution {name} was not read", system=SYSTEM, operation="restore", target=name)
        self.client.update(planned, {change.key: change.after for change in changes if change.action != REMOVE})
        if self.invalidate_paths:
            created = self.client.invalidate(planned.id, self.invalidate_paths)
            self.invalidations.append(self.client.wait_invalidation(planned.id, created["id"], self.wait_timeout))


def build(params: Mapping[str, Any]) -> CdnApplier:
    settings = params.get(NAME) or {}
    client = CloudFrontClient.from_params(params, settings.get("timeout"))
    return CdnApplier(client, settings.get("distributions") or [], settings.get("invalidate_paths") or [],
                      _number(settings.get("wait_timeout"), DEFAULT_WAIT_TIMEOUT))


def _number(value: Optional[float], default: float) -> float:
    return default if value is None else float(value)


def scope(params: Mapping[str, Any]) -> str:
    """Where the distributions are: the endpoint and their names."""
    settings = params.get(NAME) or {}
    where = params.get("aws_endpoint_url") or "cloudfront.amazonaws.com"
    return f"aws {where} cloudfront {', '.join(settings.get('distributions') or [])}"


KIND = ExternalKind(name=NAME, options=OPTIONS, build=build, scope=scope, systems=("aws",),
                    description="CloudFront distribution configs (with their ETags)")
