# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The result contract of the post-rollback validation modules: named checks, each ``ok``, ``failed`` or ``unknown``.

A check is ``unknown`` when its source of truth could not answer (Prometheus, Alertmanager, the ops API or the database down,
no data in the window): it is never counted as ``ok``. A module that validates returns :func:`result` of its checks, so the
procedure's rules (``plugins/plugin_utils/checklist_rules_validation.py``) judge every module the same way:

* ``status``: ``failed`` when any check failed, else ``unknown`` when any is unknown (or there is none), else ``ok``;
* ``checks``: every check with its name, status, one-line detail and data;
* ``failed_checks`` / ``unknown_checks``: the names of those checks (never a key ``failed``: Ansible reads that as the task's
  own failure); ``msg``: one line for a person.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Optional

OK, FAILED, UNKNOWN = "ok", "failed", "unknown"
STATUSES = (OK, FAILED, UNKNOWN)
UNAVAILABLE_IS = ("fail", "unknown")


@dataclass(frozen=True)
class Check:
    """One named check: its status, a one-line detail a person reads, and the numbers behind it."""

    name: str
    status: str
    detail: str
    data: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"check status must be one of {', '.join(STATUSES)}, not {self.status!r}")

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "status": self.status, "detail": self.detail, "data": dict(self.data)}


def overall(checks: Iterable[Check]) -> str:
    """``failed`` over ``unknown`` over ``ok``; no check at all is ``unknown`` (nothing was shown to be fine)."""
    statuses = {check.status for check in checks}
    if FAILED in statuses:
        return FAILED
    if UNKNOWN in statuses or not statuses:
        return UNKNOWN
    return OK


def result(checks: Iterable[Check], subject: str, extra: Optional[Mapping[str, Any]] = None) -> dict[str, Any]:
    """The module result fields for ``checks`` of ``subject`` (e.g. "the application logs")."""
    checks = list(checks)
    status = overall(checks)
    failed = [check.name for check in checks if check.status == FAILED]
    unknown = [check.name for check in checks if check.status == UNKNOWN]
    return {"status": status, "checks": [check.as_dict() for check in checks], "failed_checks": failed, "unknown_checks": unknown,
            "msg": message(checks, subject), **(extra or {})}


def message(checks: list[Check], subject: str) -> str:
    """One line: what failed, what is unknown, or that every check of ``subject`` passed."""
    if not checks:
        return f"{subject}: nothing was checked"
    bad = [check for check in checks if check.status != OK]
    if not bad:
        return f"{subject}: all {len(checks)} check(s) passed" + (f" ({checks[0].detail})" if len(checks) == 1 else "")
    return f"{subject}: " + "; ".join(f"{check.name} {check.status.upper()}: {check.detail}" for check in bad)


def unavailable(name: str, reason: str, data: Optional[Mapping[str, Any]] = None) -> Check:
    """The check a source that could not be asked leaves behind."""
    return Check(name, UNKNOWN, reason, data or {})
