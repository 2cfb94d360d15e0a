# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The external kinds the configuration snapshot holds (``external.ExternalKind``), by name, and the options they add to the
actions ``config_snapshot`` and ``config_restore`` (doc fragment ``ofm.rollback.config_external``, with ``ofm.rollback.aws``).

A kind is registered here by importing its descriptor; its name must also be in ``snapshot.EXTERNAL_KINDS``, the order in
which a restore writes them (DNS first: a name must point at the right place before the traffic moves; then the load
balancers, the CDN in front of them, and the platforms' settings last).
"""

from __future__ import annotations

from typing import Any

from ansible_collections.ofm.rollback.plugins.module_utils.alb_kind import KIND as ALB_KIND
from ansible_collections.ofm.rollback.plugins.module_utils.aws import AWS_SPEC
from ansible_collections.ofm.rollback.plugins.module_utils.cloudfront_kind import KIND as CDN_KIND
from ansible_collections.ofm.rollback.plugins.module_utils.config.external import ExternalKind
from ansible_collections.ofm.rollback.plugins.module_utils.config.snapshot import EXTERNAL_KINDS
from ansible_collections.ofm.rollback.plugins.module_utils.dns.kind import KIND as DNS_KIND
from ansible_collections.ofm.rollback.plugins.module_utils.haproxy_kind import KIND as HAPROXY_KIND
from ansible_collections.ofm.rollback.plugins.module_utils.openshift_route_kind import KIND as ROUTES_KIND
from ansible_collections.ofm.rollback.plugins.module_utils.platforms.kind import KIND as PLATFORM_APPS_KIND

REGISTERED: tuple[ExternalKind, ...] = (DNS_KIND, HAPROXY_KIND, ROUTES_KIND, ALB_KIND, CDN_KIND, PLATFORM_APPS_KIND)

EXTERNAL: dict[str, ExternalKind] = {kind.name: kind for kind in sorted(REGISTERED, key=lambda kind: EXTERNAL_KINDS.index(kind.name))}

# The options both actions add for the external kinds: one dict option per kind, and the AWS options the AWS kinds share.
EXTERNAL_SPEC: dict[str, dict[str, Any]] = {**AWS_SPEC, **{name: kind.option_spec() for name, kind in EXTERNAL.items()}}
