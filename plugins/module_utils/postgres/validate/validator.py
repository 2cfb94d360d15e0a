# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Validation of a restored PostgreSQL sandbox: the checklist's five "Database Rollback Validation" items, one module of
this package each (schema_version, data_integrity, application_compatibility, performance, backup_status).

``options.check_options`` turns the module's parameters into ``ValidateOptions`` (or an ``InputError`` naming the option)
before any query runs. ``Validator.run`` then runs every check and never stops at the first failure: each check ends
``ok``, ``failed`` or ``skipped`` (with the reason), with a detail, measured values and its duration. The source database
is only ever read (its sessions are read-only); the sandbox is written only by ``CREATE EXTENSION amcheck`` when allowed.
"""

from __future__ import annotations

from typing import Any, Optional

from ansible_collections.ofm.rollback.plugins.module_utils.postgres.validate import (
    application_compatibility,
    backup_status,
    data_integrity,
    performance,
    schema_version,
)
from ansible_collections.ofm.rollback.plugins.module_utils.postgres.validate.context import Context
from ansible_collections.ofm.rollback.plugins.module_utils.postgres.validate.results import CheckResult, passed, summarize, utc_now

# In the order they run, which is CATEGORIES' order.
CATEGORY_MODULES = (schema_version, data_integrity, application_compatibility, performance, backup_status)


class Validator(Context):
    """Runs every selected check against the sandbox (and the source, read-only, and the application role)."""

    started_at: Optional[str] = None
    finished_at: Optional[str] = None

    def run(self) -> list[CheckResult]:
        self.started_at = utc_now()
        try:
            for category in CATEGORY_MODULES:
                category.run(self)
        finally:
            self.close()
            self.finished_at = utc_now()
        return self.checks

    def result(self) -> dict[str, Any]:
        """The module's result fields."""
        return {"checks": [check.as_dict() for check in self.checks], "summary": summarize(self.checks), "passed": passed(self.checks),
                "failed_checks": [check.name for check in self.checks if check.status == "failed"], "queries": self.queries,
                "commands": [record.as_dict() for record in self.runner.records], "started_at": self.started_at,
                "finished_at": self.finished_at}
