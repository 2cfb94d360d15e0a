# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Recovery targets of a point-in-time restore: a time, an LSN, a restore point, a transaction id or the latest state, parsed and
checked before anything starts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Optional

from ansible_collections.ofm.rollback.plugins.module_utils.errors import (
    InputError,
)

SYSTEM = "PostgreSQL PITR"
TARGET_TYPES = ("time", "lsn", "name", "xid", "latest")
_LSN = re.compile(r"^([0-9A-Fa-f]{1,8})/([0-9A-Fa-f]{1,8})$")
_MAX_XID = 2 ** 63 - 1
_MAX_RESTORE_POINT = 63


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class Target:
    """A recovery target: ``kind`` is one of TARGET_TYPES; ``value`` is what PostgreSQL is given."""

    kind: str
    value: Optional[str] = None
    inclusive: bool = True
    time: Optional[datetime] = None
    lsn: Optional[int] = None
    assumed_utc: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {"type": self.kind, "value": self.value, "inclusive": self.inclusive, "assumed_utc": self.assumed_utc}

    def identity(self) -> dict[str, Any]:
        """What makes two targets the same restore (however the time was written)."""
        return {"type": self.kind, "value": self.value, "inclusive": self.inclusive}

    def describe(self) -> str:
        if self.kind == "latest":
            return "the latest archived state"
        edge = "" if self.kind == "name" or self.inclusive else " (exclusive)"
        return f"{self.kind} {self.value}{edge}"


def parse_lsn(text: str, option: str = "target") -> int:
    match = _LSN.match(text.strip())
    if not match:
        raise InputError(f"'{text}' is not an LSN", option=option, accepted="an LSN such as 0/3000060 (two hexadecimal numbers of up to 8 digits)")
    return (int(match.group(1), 16) << 32) + int(match.group(2), 16)


def format_lsn(lsn: int) -> str:
    return f"{lsn >> 32:X}/{lsn & 0xFFFFFFFF:X}"


def parse_time(text: str, option: str = "target") -> tuple[datetime, bool]:
    """A timestamp and whether it had no offset (then it is taken as UTC)."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InputError(f"'{text}' is not a timestamp", option=option,
                         accepted="a time such as '2025-11-28 03:00:00', '2025-11-28T03:00:00+01:00' or '2025-11-28 03:00:00.5Z' "
                                  "(without an offset it is taken as UTC)") from None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc), True
    return moment.astimezone(timezone.utc), False


def format_time(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f+00")


def parse_target(kind: str, value: Optional[str], inclusive: bool = True) -> Target:
    """The target ``kind``/``value`` options as a ``Target``, or an InputError naming the option."""
    if kind not in TARGET_TYPES:
        raise InputError(f"unknown target type '{kind}'", option="target_type", accepted=TARGET_TYPES)
    if kind == "latest":
        if value:
            raise InputError("target must not be set with target_type=latest", option="target", accepted="no value")
        return Target("latest")
    if value is None or not str(value).strip():
        raise InputError(f"target_type={kind} needs a target", option="target", accepted=_ACCEPTED[kind])
    text = str(value).strip()
    if kind == "time":
        moment, assumed_utc = parse_time(text)
        return Target("time", format_time(moment), inclusive, time=moment, assumed_utc=assumed_utc)
    if kind == "lsn":
        lsn = parse_lsn(text)
        return Target("lsn", format_lsn(lsn), inclusive, lsn=lsn)
    if kind == "xid":
        if not text.isdigit() or not 3 <= int(text) <= _MAX_XID:
            raise InputError(f"'{text}' is not a transaction id", option="target", accepted=_ACCEPTED["xid"])
        return Target("xid", str(int(text)), inclusive)
    if len(text.encode()) > _MAX_RESTORE_POINT:
        raise InputError(f"restore point name '{text}' is longer than {_MAX_RESTORE_POINT} bytes", option="target", accepted=_ACCEPTED["name"])
    return Target("name", text, True)


_ACCEPTED = {
    "time": "a time such as '2025-11-28 03:00:00' (UTC) or '2025-11-28T03:00:00+01:00'",
    "lsn": "an LSN such as 0/3000060",
    "xid": "a transaction id: a whole number of 3 or more (txid_current() or xmin of a row)",
    "name": f"the name given to pg_create_restore_point(), at most {_MAX_RESTORE_POINT} bytes",
}
