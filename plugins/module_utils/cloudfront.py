# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""AWS CloudFront through boto3 (``aws.py``): a distribution's config and ETag, a restore of it with ``If-Match``, invalidations.

A distribution is found by its Id, one of its aliases (CNAMEs) or its comment, in that order; a comment that several
distributions share is refused. ``update_distribution`` replaces the whole config, so a change is always the config read
with some top-level fields set: a field's value is merged into the current one (nested objects key by key, lists and
scalars replaced; ``Quantity`` follows ``Items``), so a partial value such as ``{"Enabled": false}`` or a whole config read
before both work, and a second run changes nothing.

ETag semantics (the same for the modules and the snapshot kind ``cdn``):

- the ``If-Match`` of the write is the ETag read when the change was planned, never one read just before the write. Right
  before the write the config is read once more; when it (or its ETag) differs from the planned one, someone else edited
  the distribution in between and the write is refused with a ``ConflictError`` whose ``details.diff`` shows what they
  changed. CloudFront refuses a write whose ``If-Match`` is stale (``PreconditionFailed``, also a ``ConflictError``) for an
  edit in the instant between that read and the write;
- ``expected_etag`` (optional): the ETag the change being undone left (recorded with that change or its snapshot). When the
  distribution's ETag is another one, it was edited since, and the restore is refused, with the diff of what the restore
  would overwrite, unless ``force`` is set.
"""

from __future__ import annotations

import copy
import uuid
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional, Sequence

from ansible_collections.ofm.rollback.plugins.module_utils.aws import call, client_from_params
from ansible_collections.ofm.rollback.plugins.module_utils.diffs import field_diff
from ansible_collections.ofm.rollback.plugins.module_utils.errors import (ConflictError, DataError, DeadlineExceeded, InputError,
                                                                          NotFoundError)
from ansible_collections.ofm.rollback.plugins.module_utils.polling import Poller

SYSTEM = "AWS CloudFront"
REGION = "us-east-1"
DEFAULT_TIMEOUT = 30.0
DEFAULT_WAIT_TIMEOUT = 600.0
WAIT_INTERVAL = 5.0
# The fields of a DistributionConfig (API version 2020-05-31) a task may set; CallerReference is fixed at creation.
CONFIG_FIELDS = ("Aliases", "DefaultRootObject", "Origins", "OriginGroups", "DefaultCacheBehavior", "CacheBehaviors", "CustomErrorResponses",
                 "Comment", "Logging", "PriceClass", "Enabled", "ViewerCertificate", "Restrictions", "WebACLId", "HttpVersion",
                 "IsIPV6Enabled", "ContinuousDeploymentPolicyId", "Staging")
FIXED_FIELDS = ("CallerReference",)


@dataclass(frozen=True)
class Distribution:
    """A distribution's config as read, with the ETag it was read with."""

    id: str
    etag: str
    config: dict[str, Any] = field(repr=False)


def merged(current: Any, wanted: Any) -> Any:
    """``wanted`` laid over ``current``: objects key by key, anything else replaced; ``Quantity`` set from ``Items``."""
    if isinstance(current, Mapping) and isinstance(wanted, Mapping):
        result = {key: copy.deepcopy(value) for key, value in current.items()}
        for key, value in wanted.items():
            result[key] = merged(current.get(key), value)
        if isinstance(result.get("Items"), list) and "Quantity" in result:
            result["Quantity"] = len(result["Items"])
        return result
    return copy.deepcopy(wanted)


def check_fields(fields: Any, option: str) -> dict[str, Any]:
    """The config fields a task sets, checked before anything is sent."""
    if not isinstance(fields, Mapping):
        raise InputError(f"{option} must be a mapping of DistributionConfig fields", option=option, accepted=CONFIG_FIELDS, system=SYSTEM)
    unknown = sorted(set(fields) - set(CONFIG_FIELDS) - set(FIXED_FIELDS))
    if unknown:
        raise InputError(f"{option} has fields CloudFront's DistributionConfig does not: {', '.join(unknown)}", option=option,
                         accepted=CONFIG_FIELDS, system=SYSTEM)
    return dict(fields)


def check_paths(paths: Any, option: str) -> list[str]:
    """Invalidation paths: each starts with ``/``; ``*`` only at the end."""
    if not isinstance(paths, Sequence) or isinstance(paths, str) or not paths:
        raise InputError(f"{option} must be a non-empty list of paths", option=option, accepted="paths such as /index.html or /api/*",
                         system=SYSTEM)
    bad = [str(path) for path in paths if not isinstance(path, str) or not path.startswith("/") or "*" in path[:-1]]
    if bad:
        raise InputError(f"{option} has paths CloudFront refuses: {', '.join(bad)}", option=option,
                         accepted="paths that start with / and have * only at the end, such as /api/*", system=SYSTEM)
    return list(dict.fromkeys(paths))


class CloudFrontClient:
    """One boto3 CloudFront client; ``calls`` lists the writes sent, ``round_trips`` every request."""

    def __init__(self, client: Any, target: str = "") -> None:
        self.client = client
        self.target = target or "cloudfront"
        self.calls: list[dict[str, Any]] = []
        self.round_trips = 0

    @classmethod
    def from_params(cls, params: Mapping[str, Any], timeout: Optional[float] = None) -> "CloudFrontClient":
        if timeout is not None and timeout <= 0:
            raise InputError(f"timeout is {timeout}", option="timeout", accepted="a number of seconds above 0", system=SYSTEM)
        where = params.get("aws_endpoint_url") or "cloudfront.amazonaws.com"
        return cls(client_from_params("cloudfront", params, region=REGION, read_timeout=timeout), where)

    def _call(self, operation: str, target: str, **kwargs: Any) -> Any:
        self.round_trips += 1
        return call(getattr(self.client, operation), operation=operation, target=f"{self.target} {target}", system=SYSTEM, **kwargs)

    def find(self, selector: str) -> str:
        """The Id of the distribution with Id, alias or comment ``selector``."""
        if not isinstance(selector, str) or not selector.strip():
            raise InputError("the distribution is empty", option="distribution", accepted="a distribution Id, alias or comment", system=SYSTEM)
        summaries: list[dict[str, Any]] = []
        marker = None
        while True:
            page = self._call("list_distributions", "distributions", **({"Marker": marker} if marker else {}))["DistributionList"]
            summaries.extend(page.get("Items") or [])
            marker = page.get("NextMarker")
            if not page.get("IsTruncated") or not marker:
                break
        for matches in ([item for item in summaries if item["Id"] == selector],
                        [item for item in summaries if selector in ((item.get("Aliases") or {}).get("Items") or [])],
                        [item for item in summaries if item.get("Comment") == selector]):
            if len(matches) > 1:
                raise InputError(f"{len(matches)} distributions match {selector!r}: {', '.join(item['Id'] for item in matches)}",
                                 option="distribution", accepted="one of those Ids", system=SYSTEM)
            if matches:
                return matches[0]["Id"]
        raise NotFoundError(f"no distribution has the Id, alias or comment {selector!r}", system=SYSTEM, operation="find distribution",
                            target=self.target, hint=f"Distributions: {', '.join(_label(item) for item in summaries) or 'none'}.")

    def get(self, distribution_id: str) -> Distribution:
        answer = self._call("get_distribution_config", distribution_id, Id=distribution_id)
        if "DistributionConfig" not in answer or not answer.get("ETag"):
            raise DataError("the answer has no DistributionConfig or ETag", system=SYSTEM, operation="get_distribution_config",
                            target=f"{self.target} {distribution_id}")
        return Distribution(distribution_id, answer["ETag"], answer["DistributionConfig"])

    def read(self, selector: str) -> Distribution:
        return self.get(self.find(selector))

    def update(self, planned: Distribution, config: Mapping[str, Any]) -> str:
        """Write ``config`` with ``If-Match`` the planned ETag, after a read that confirms nobody edited it since; the new ETag."""
        now = self.get(planned.id)
        if now.etag != planned.etag or now.config != planned.config:
            raise ConflictError(f"the distribution was edited since the restore was planned (ETag {planned.etag} then, {now.etag} now)",
                                system=SYSTEM, operation="update_distribution", target=f"{self.target} {planned.id}",
                                details={"diff": field_diff(planned.config, now.config), "planned_etag": planned.etag, "etag": now.etag},
                                hint="Nothing was written. Look at the diff, then plan the restore again.")
        self.calls.append({"call": "update_distribution", "id": planned.id, "if_match": planned.etag,
                           "fields": sorted(field_diff(planned.config, config)["after"])})
        answer = self._call("update_distribution", planned.id, Id=planned.id, IfMatch=planned.etag, DistributionConfig=dict(config))
        return str(answer.get("ETag") or "")

    def invalidate(self, distribution_id: str, paths: Sequence[str], reference: Optional[str] = None) -> dict[str, Any]:
        reference = reference or f"ofm-rollback-{uuid.uuid4()}"
        self.calls.append({"call": "create_invalidation", "id": distribution_id, "paths": list(paths), "caller_reference": reference})
        answer = self._call("create_invalidation", distribution_id, DistributionId=distribution_id,
                            InvalidationBatch={"Paths": {"Quantity": len(paths), "Items": list(paths)}, "CallerReference": reference})
        return _invalidation(answer["Invalidation"])

    def invalidation(self, distribution_id: str, invalidation_id: str) -> dict[str, Any]:
        return _invalidation(self._call("get_invalidation", f"{distribution_id} invalidation {invalidation_id}", DistributionId=distribution_id,
                                        Id=invalidation_id)["Invalidation"])

    def wait_invalidation(self, distribution_id: str, invalidation_id: str, timeout: float, poller: Optional[Poller] = None) -> dict[str, Any]:
        """Poll the invalidation until it is ``Completed``; a ``DeadlineExceeded`` after ``timeout`` seconds."""
        poller = poller or Poller(timeout=timeout, interval=min(WAIT_INTERVAL, max(timeout / 10, 0.2)))

        def timed_out(value: dict[str, Any], polls: int, elapsed: float) -> Exception:
            return DeadlineExceeded(f"invalidation {invalidation_id} is still {value['status']} after {elapsed:.0f} s ({polls} reads)",
                                    timeout=timeout, last_state=value, system=SYSTEM, operation="wait for invalidation",
                                    target=f"{self.target} {distribution_id}")

        return poller.until(lambda: self.invalidation(distribution_id, invalidation_id), completed, timed_out).value


def completed(invalidation: Mapping[str, Any]) -> bool:
    return str(invalidation.get("status", "")).lower() == "completed"


def _invalidation(raw: Mapping[str, Any]) -> dict[str, Any]:
    batch = raw.get("InvalidationBatch") or {}
    return {"id": raw.get("Id"), "status": raw.get("Status"), "paths": list((batch.get("Paths") or {}).get("Items") or []),
            "caller_reference": batch.get("CallerReference")}


def _label(item: Mapping[str, Any]) -> str:
    aliases = (item.get("Aliases") or {}).get("Items") or []
    return f"{item['Id']} ({', '.join([*aliases, repr(item.get('Comment') or '')])})"


@dataclass
class ConfigChange:
    """What ``set_config`` did (or would do in check mode)."""

    distribution: Distribution
    wanted: dict[str, Any]
    etag: str
    invalidation: Optional[dict[str, Any]] = None
    changed: bool = False

    def result(self, calls: list[dict[str, Any]]) -> dict[str, Any]:
        diff = field_diff(self.distribution.config, self.wanted)
        return {"changed": self.changed, "id": self.distribution.id, "etag": self.etag, "previous_etag": self.distribution.etag,
                "config": self.wanted, "changed_fields": sorted(diff["after"]), "diff": diff, "invalidation": self.invalidation, "calls": calls}


def refuse_edited_since(distribution: Distribution, wanted: Mapping[str, Any], expected_etag: Optional[str], force: bool) -> None:
    """A ``ConflictError`` with the diff when ``expected_etag`` is set, not the distribution's ETag, and ``force`` is off."""
    if not expected_etag or expected_etag == distribution.etag or force:
        return
    raise ConflictError(f"the distribution was edited since the change being undone: its ETag is {distribution.etag}, not {expected_etag}",
                        system=SYSTEM, operation="restore check", target=distribution.id,
                        details={"diff": field_diff(distribution.config, dict(wanted)), "etag": distribution.etag, "expected_etag": expected_etag},
                        hint="Nothing was written. The diff shows what the restore would overwrite; set force to restore anyway.")


# pylint: disable-next=too-many-arguments
def set_config(client: CloudFrontClient, selector: str, fields: Optional[Mapping[str, Any]], *, expected_etag: Optional[str] = None,
               force: bool = False, invalidate_paths: Optional[Sequence[str]] = None, wait_timeout: float = DEFAULT_WAIT_TIMEOUT,
               check_mode: bool = False) -> ConfigChange:
    """Set ``fields`` of the distribution (nothing but a read when None), then invalidate ``invalidate_paths`` and wait."""
    wanted_fields = check_fields(fields or {}, "config")
    paths = check_paths(invalidate_paths, "invalidate_paths") if invalidate_paths else []
    if wait_timeout <= 0:
        raise InputError(f"wait_timeout is {wait_timeout}", option="wait_timeout", accepted="a number of seconds above 0", system=SYSTEM)
    distribution = client.read(selector)
    wanted = merged(distribution.config, wanted_fields)
    if wanted.get("CallerReference") != distribution.config.get("CallerReference"):
        raise InputError("config.CallerReference differs from the distribution's: CloudFront fixes it at creation", option="config.CallerReference",
                         accepted=[distribution.config.get("CallerReference")], system=SYSTEM)
    change = ConfigChange(distribution, wanted, distribution.etag, changed=wanted != distribution.config)
    if not change.changed:
        return change
    refuse_edited_since(distribution, wanted, expected_etag, force)
    if check_mode:
        return change
    change.etag = client.update(distribution, wanted)
    if paths:
        created = client.invalidate(distribution.id, paths)
        change.invalidation = client.wait_invalidation(distribution.id, created["id"], wait_timeout)
    return change


# pylint: disable-next=too-many-arguments
def invalidate(client: CloudFrontClient, selector: str, paths: Any, *, caller_reference: Optional[str] = None, wait: bool = True,
               wait_timeout: float = DEFAULT_WAIT_TIMEOUT, check_mode: bool = False) -> dict[str, Any]:
    """Create an invalidation of ``paths`` on the distribution (found by Id, alias or comment) and wait until it is Completed."""
    checked = check_paths(paths, "paths")
    if wait_timeout <= 0:
        raise InputError(f"wait_timeout is {wait_timeout}", option="wait_timeout", accepted="a number of seconds above 0", system=SYSTEM)
    distribution_id = client.find(selector)
    if check_mode:
        return {"changed": True, "id": distribution_id, "invalidation": {"id": None, "status": "not created (check mode)", "paths": checked,
                                                                         "caller_reference": caller_reference}}
    created = client.invalidate(distribution_id, checked, caller_reference)
    done = client.wait_invalidation(distribution_id, created["id"], wait_timeout) if wait and not completed(created) else created
    return {"changed": True, "id": distribution_id, "invalidation": done}
