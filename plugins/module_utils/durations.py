# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Durations as people and Prometheus write them (``30s``, ``5m``, ``1h30m``, or a number of seconds), and times as UTC text.

One place for every module that takes a duration option (SLO windows, waits, RTO/RPO targets, validation budgets).
"""

from __future__ import annotations

import math
import re
from datetime import datetime, timezone
from typing import Any, Optional

from ansible_collections.ofm.rollback.plugins.module_utils.errors import InputError

DURATION_HELP = "a Prometheus duration such as 30s, 5m, 1h or 1m30s, or a number of seconds"
_DURATION = re.compile(r"^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$")
_DURATION_UNITS = (365 * 86400.0, 7 * 86400.0, 86400.0, 3600.0, 60.0, 1.0, 0.001)


def isoformat(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def parse_duration(value: Any, option: str) -> float:
    """Seconds in ``value`` (Prometheus syntax such as ``1m30s``, or a number of seconds); must be above 0."""
    seconds = _duration_seconds(value)
    if seconds is None:
        raise InputError(f"{value!r} is not a duration", option=option, accepted=DURATION_HELP)
    if seconds <= 0:
        raise InputError(f"{value!r} is not longer than zero", option=option, accepted=DURATION_HELP)
    return seconds


def _duration_seconds(value: Any) -> Optional[float]:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value) if math.isfinite(value) else None
    text = str(value).strip()
    try:
        number = float(text)
    except ValueError:
        match = _DURATION.match(text)
        if not text or match is None:
            return None
        return sum(int(amount) * unit for amount, unit in zip(match.groups(), _DURATION_UNITS) if amount)
    return number if math.isfinite(number) else None


def format_duration(seconds: float) -> str:
    """``seconds`` in Prometheus syntax: 90 -> ``1m30s``, 0.25 -> ``250ms``."""
    remaining = int(round(seconds * 1000))
    parts = []
    for unit, size in (("d", 86400000), ("h", 3600000), ("m", 60000), ("s", 1000), ("ms", 1)):
        amount, remaining = divmod(remaining, size)
        if amount:
            parts.append(f"{amount}{unit}")
    return "".join(parts) or "0s"
