# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Point-in-time recovery of an AWS RDS for PostgreSQL instance into a new instance (the sandbox), through boto3.

``RdsPitr`` takes a boto3 RDS client (or anything with the same methods), checks the target against the source's
restore window, calls ``restore_db_instance_to_point_in_time``, waits for the new instance, and removes only the
instances it tagged as its own.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Any, Callable, Optional

from ansible_collections.ofm.rollback.plugins.module_utils.errors import ConflictError, InputError, NotFoundError, OfmRollbackError
from ansible_collections.ofm.rollback.plugins.module_utils.postgres.targets import Target

try:
    import boto3
except ImportError:  # reported by the module with missing_required_lib("boto3")
    boto3 = None

SYSTEM = "AWS RDS"
MANAGED_TAG = "ofm-pitr-managed"
TARGET_TAG = "ofm-pitr-target"
SOURCE_TAG = "ofm-pitr-source"


def rds_client(region: Optional[str]) -> Any:
    return boto3.client("rds", region_name=region)


def _error_code(exc: Exception) -> str:
    response = getattr(exc, "response", None) or {}
    return str((response.get("Error") or {}).get("Code", ""))


def _utc(moment: Any) -> Optional[datetime]:
    if moment is None:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


class RdsPitr:
    """One source instance restored into one target instance."""

    def __init__(self, client: Any, source: str, target_instance: str, *, options: Optional[dict[str, Any]] = None,
                 clock: Callable[[], float] = time.monotonic, now: Callable[[], datetime] = lambda: datetime.now(timezone.utc)) -> None:
        self.client = client
        self.source = source
        self.target_instance = target_instance
        self.options = options or {}
        self.clock = clock
        self.now = now
        self.requests: list[dict[str, Any]] = []

    def _call(self, operation: str, target: str, **kwargs: Any) -> Any:
        self.requests.append({"operation": operation, **{key: _shown(value) for key, value in kwargs.items()}})
        try:
            return getattr(self.client, operation)(**kwargs)
        except Exception as exc:  # pylint: disable=broad-except  # botocore's ClientError and connection errors
            code = _error_code(exc)
            if "NotFound" in code:
                raise NotFoundError(f"{code}: {exc}", system=SYSTEM, operation=operation, target=target,
                                    hint="Check the instance identifier and the region.") from exc
            if code in ("DBInstanceAlreadyExists", "DBInstanceAlreadyExistsFault"):
                raise ConflictError(str(exc), system=SYSTEM, operation=operation, target=target) from exc
            raise OfmRollbackError(str(exc), system=SYSTEM, operation=operation, target=target,
                                   hint="Check the AWS credentials, region and the IAM permissions for RDS.") from exc

    def instance(self, identifier: str) -> Optional[dict[str, Any]]:
        try:
            found = self._call("describe_db_instances", identifier, DBInstanceIdentifier=identifier)
        except NotFoundError:
            return None
        instances = found.get("DBInstances") or []
        return instances[0] if instances else None

    def restore_window(self) -> tuple[Optional[datetime], Optional[datetime]]:
        """The earliest and latest restorable times of the source."""
        source = self.instance(self.source)
        if source is None:
            raise NotFoundError("the source instance does not exist", system=SYSTEM, operation="describe_db_instances", target=self.source,
                                hint="Check rds.source_instance and the region.")
        backups = self._call("describe_db_instance_automated_backups", self.source, DBInstanceIdentifier=self.source)
        windows = [item.get("RestoreWindow") or {} for item in backups.get("DBInstanceAutomatedBackups") or []]
        earliest = min((_utc(window["EarliestTime"]) for window in windows if window.get("EarliestTime")), default=None)
        return earliest, _utc(source.get("LatestRestorableTime"))

    def check(self, target: Target) -> tuple[Optional[datetime], Optional[datetime]]:
        if target.kind not in ("time", "latest"):
            raise InputError(f"RDS restores to a time or the latest restorable time, not to a {target.kind}", option="target_type",
                             accepted=["time", "latest"])
        earliest, latest = self.restore_window()
        if target.time is not None:
            if target.time > self.now():
                raise InputError(f"target time {target.time.isoformat()} is in the future", option="target", accepted="a time in the past",
                                 operation="target check")
            if earliest is None or target.time < earliest:
                raise InputError(f"target time {target.time.isoformat()} is before the earliest restorable time {earliest}", option="target",
                                 accepted=f"a time from {earliest} on", operation="target check")
            if latest is None or target.time > latest:
                newest = latest.isoformat() if latest else "unknown"
                raise InputError(f"target time {target.time.isoformat()} is after the latest restorable time: its transaction logs are not "
                                 f"uploaded yet; the newest restorable moment is {newest} (LatestRestorableTime)", option="target",
                                 accepted=f"a time up to {newest}", operation="target check",
                                 hint="RDS uploads transaction logs every 5 minutes: wait until LatestRestorableTime passes the target, "
                                      "or choose a time up to the newest restorable moment. (RDS restores any time up to it, "
                                      "idle stretches included.)")
        return earliest, latest

    def restore_request(self, target: Target) -> dict[str, Any]:
        request: dict[str, Any] = {"SourceDBInstanceIdentifier": self.source, "TargetDBInstanceIdentifier": self.target_instance,
                                   "PubliclyAccessible": False, "DeletionProtection": False,
                                   "Tags": [{"Key": MANAGED_TAG, "Value": "true"}, {"Key": SOURCE_TAG, "Value": self.source},
                                            {"Key": TARGET_TAG, "Value": target.value or "latest"}]}
        if target.time is not None:
            request["RestoreTime"] = target.time
        else:
            request["UseLatestRestorableTime"] = True
        for option, key in (("instance_class", "DBInstanceClass"), ("db_subnet_group", "DBSubnetGroupName"),
                            ("vpc_security_group_ids", "VpcSecurityGroupIds"), ("port", "Port"), ("db_parameter_group", "DBParameterGroupName")):
            if self.options.get(option):
                request[key] = self.options[option]
        return request

    def ensure(self, target: Target, check_mode: bool, wait: bool = True, timeout: float = 3600) -> dict[str, Any]:
        started = self.clock()
        existing = self.instance(self.target_instance)
        if existing is not None:
            return self._existing(existing, target)
        earliest, latest = self.check(target)
        request = self.restore_request(target)
        base = {"target": target.as_dict(), "backup": {"source_instance": self.source, "earliest_restorable_time": _shown(earliest),
                                                       "latest_restorable_time": _shown(latest)},
                "plan": {"restore_db_instance_to_point_in_time": _shown(request)}}
        if check_mode:
            return {**base, "changed": True, "msg": f"would restore {self.source} into a new instance {self.target_instance} to {target.describe()}"}
        self._call("restore_db_instance_to_point_in_time", self.target_instance, **request)
        restored = self.clock()
        if wait:
            delay = 30
            self.client.get_waiter("db_instance_available").wait(
                DBInstanceIdentifier=self.target_instance, WaiterConfig={"Delay": delay, "MaxAttempts": max(1, int(timeout // delay))})
        finished = self.clock()
        instance = self.instance(self.target_instance) or {}
        return {**base, "changed": True, "sandbox": _connection(instance, self.target_instance),
                "reached": {"time": _shown(target.time or latest), "lsn": None},
                "timings": {"restore_seconds": round(restored - started, 3), "replay_seconds": round(finished - restored, 3),
                            "total_seconds": round(finished - started, 3)},
                "msg": f"restored {self.source} into {self.target_instance} to {target.describe()}"
                       + ("" if wait else "; not waiting for the instance to become available")}

    def _existing(self, instance: dict[str, Any], target: Target) -> dict[str, Any]:
        tags = {tag["Key"]: tag["Value"] for tag in instance.get("TagList") or []}
        if tags.get(MANAGED_TAG) != "true" or tags.get(SOURCE_TAG) != self.source or tags.get(TARGET_TAG) != (target.value or "latest"):
            raise ConflictError(f"instance {self.target_instance} exists and is not a restore of {self.source} to {target.describe()} "
                                f"made by this module", system=SYSTEM, operation="sandbox check", target=self.target_instance,
                                hint="Choose another rds.target_instance, or remove that one (state: absent) if this module made it.")
        return {"changed": False, "target": target.as_dict(), "sandbox": _connection(instance, self.target_instance),
                "msg": f"instance {self.target_instance} already holds {target.describe()}"}

    def remove(self, check_mode: bool, wait: bool = True) -> dict[str, Any]:
        instance = self.instance(self.target_instance)
        if instance is None:
            return {"changed": False, "msg": f"no instance {self.target_instance}"}
        tags = {tag["Key"]: tag["Value"] for tag in instance.get("TagList") or []}
        if tags.get(MANAGED_TAG) != "true":
            raise ConflictError(f"instance {self.target_instance} was not created by this module (no tag {MANAGED_TAG}=true)", system=SYSTEM,
                                operation="sandbox removal", target=self.target_instance,
                                hint="The module only deletes instances it created.")
        if not check_mode:
            self._call("delete_db_instance", self.target_instance, DBInstanceIdentifier=self.target_instance, SkipFinalSnapshot=True,
                       DeleteAutomatedBackups=True)
            if wait:
                self.client.get_waiter("db_instance_deleted").wait(DBInstanceIdentifier=self.target_instance)
        return {"changed": True, "msg": f"instance {self.target_instance} {'would be' if check_mode else 'was'} deleted",
                "removed": {"instance": self.target_instance, "target": tags.get(TARGET_TAG)}}


def _connection(instance: dict[str, Any], identifier: str) -> dict[str, Any]:
    endpoint = instance.get("Endpoint") or {}
    return {"instance": identifier, "host": endpoint.get("Address"), "port": endpoint.get("Port"), "status": instance.get("DBInstanceStatus"),
            "user": instance.get("MasterUsername"), "database": instance.get("DBName")}


def _shown(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {key: _shown(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_shown(item) for item in value]
    return value
