# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A time a person typed, read in the time zone they meant, and shown in that zone and in UTC.

The rule: a time with an offset (``+01:00``, ``-0500``, ``Z``) is taken as given; a time without one is a wall-clock time
of ``zone`` (an IANA name such as ``America/New_York``; the DR script passes the zone of the shell it runs in, ``TZ`` else
the system's). A wall-clock time that the zone skips (the hour the clocks go forward) or shows twice (the hour they go
back) is refused, with both instants it could mean, so that nobody restores the wrong moment. ``shell_zone`` finds the
zone of a shell the way the C library does.

``scripts/zoned_time.py`` runs it from a shell (scripts/dr-restore-sandbox.sh uses it).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Mapping, Optional

try:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError
except ImportError:  # Python < 3.9: no time zone database
    ZoneInfo = None
    ZoneInfoNotFoundError = Exception

from ansible_collections.ofm.rollback.plugins.module_utils.errors import InputError

INSTANT_HELP = ("ISO 8601 with an offset ('2026-03-01T10:00:00+01:00'), epoch seconds, or a local time without offset "
                "(the shell's zone)")
FORMATS = "a time such as '2026-12-03 12:28:39' (in the zone given), '2026-12-03T12:28:39-05:00' or '2026-12-03 17:28:39Z'"
ZONES = "an IANA time zone name such as UTC, Europe/Berlin or America/New_York"


@dataclass(frozen=True)
class ZonedTime:
    """One instant: as typed, in its zone (or its own offset), and in UTC."""

    given: str
    local: datetime
    zone: Optional[str]

    @property
    def offset_given(self) -> bool:
        return self.zone is None

    @property
    def utc(self) -> datetime:
        return self.local.astimezone(timezone.utc)

    @property
    def offset(self) -> str:
        return _offset(self.local)

    def display(self) -> str:
        """``2026-12-03 12:28:39 America/New_York (-05:00) = 2026-12-03 17:28:39 UTC``."""
        where = f" {self.zone} ({self.offset})" if self.zone else f"{self.offset} (offset given)"
        return f"{_wall(self.local)}{where} = {_wall(self.utc)} UTC"

    def as_dict(self) -> dict[str, Any]:
        return {"given": self.given, "zone": self.zone, "offset": self.offset, "offset_given": self.offset_given,
                "local": self.local.isoformat(), "utc": self.utc.isoformat(), "display": self.display()}


def _wall(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f" if moment.microsecond else "%Y-%m-%d %H:%M:%S")


def _offset(moment: datetime) -> str:
    delta = moment.utcoffset() or timedelta(0)
    sign = "-" if delta < timedelta(0) else "+"
    minutes = abs(int(delta.total_seconds())) // 60
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def load_zone(name: str, option: str = "timezone") -> Any:
    """The tz database zone ``name`` (``:Name`` as TZ allows; empty means UTC), or an InputError naming ``option``."""
    name = (name or "").strip().lstrip(":") or "UTC"
    if ZoneInfo is None:
        raise InputError("this Python has no time zone support (zoneinfo, Python 3.9+)", option=option, accepted=ZONES)
    if name.startswith("/") or ".." in name:
        raise InputError(f"'{name}' is a path, not a time zone name", option=option, accepted=ZONES)
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise InputError(f"'{name}' is not a time zone of the tz database", option=option,
                         accepted=f"{ZONES}, or give the time with an offset") from None


def zoned(text: str, zone_name: str = "UTC", option: str = "target", zone_option: str = "timezone") -> ZonedTime:
    """``text`` as an instant: with an offset as given; without one, a wall-clock time in ``zone_name``."""
    given = str(text).strip()
    try:
        parsed = datetime.fromisoformat(given[:-1] + "+00:00" if given.endswith(("Z", "z")) else given)
    except ValueError:
        raise InputError(f"'{given}' is not a time", option=option, accepted=FORMATS) from None
    if parsed.tzinfo is not None:
        return ZonedTime(given, parsed, None)
    name = (zone_name or "").strip().lstrip(":") or "UTC"
    zone = load_zone(name, zone_option)
    first, second = parsed.replace(tzinfo=zone, fold=0), parsed.replace(tzinfo=zone, fold=1)
    if first.utcoffset() == second.utcoffset():
        return ZonedTime(given, first, name)
    earlier, later = sorted((first, second), key=lambda moment: moment.astimezone(timezone.utc))
    exists = first.astimezone(timezone.utc).astimezone(zone).replace(tzinfo=None) == parsed
    candidates = (f"{_wall(earlier)}{_offset(earlier)} = {_wall(earlier.astimezone(timezone.utc))} UTC, or "
                  f"{_wall(later)}{_offset(later)} = {_wall(later.astimezone(timezone.utc))} UTC")
    if exists:
        reason = f"'{given}' is ambiguous in {name}: the clocks went back and showed it twice, at {candidates}"
    else:
        reason = (f"'{given}' does not exist in {name}: the clocks went forward over it; read with the offset before or after "
                  f"the change it would be {candidates}")
    raise InputError(reason, option=option, accepted="the same time with its offset, e.g. " + f"'{_wall(parsed)}{_offset(earlier)}'")


def instant(value: Any, option: str) -> datetime:
    """An option's time as an aware datetime: epoch seconds (a number or its digits), ISO 8601 with an offset (kept), or a
    local time without offset, read in the zone of the shell (``shell_zone``)."""
    if isinstance(value, bool) or value is None or (isinstance(value, str) and not value.strip()):
        raise InputError(f"{value!r} is not a time", option=option, accepted=INSTANT_HELP)
    if isinstance(value, (int, float)):
        seconds = float(value)
    else:
        try:
            seconds = float(str(value).strip())
        except ValueError:
            return zoned(str(value), shell_zone(), option=option, zone_option=option).local
    if not math.isfinite(seconds):
        raise InputError(f"{value!r} is not a time", option=option, accepted=INSTANT_HELP)
    return datetime.fromtimestamp(seconds, timezone.utc)


def shell_zone(environ: Optional[Mapping[str, str]] = None, localtime: Path = Path("/etc/localtime"),
               timezone_file: Path = Path("/etc/timezone")) -> str:
    """The zone of a shell, as the C library finds it: ``TZ`` when set (empty: UTC), else the zone /etc/localtime links to,
    else /etc/timezone, else UTC."""
    environ = os.environ if environ is None else environ
    if "TZ" in environ:
        return environ["TZ"].strip().lstrip(":") or "UTC"
    try:
        target = os.path.realpath(localtime)
    except OSError:
        target = ""
    if "/zoneinfo/" in target and os.path.exists(target):
        return target.split("/zoneinfo/", 1)[1].replace("posix/", "", 1)
    try:
        name = timezone_file.read_text().strip()
    except OSError:
        name = ""
    return name or "UTC"
