# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Validation category ``schema_version``: the highest value of the migrations table's column against the expected version."""

from __future__ import annotations

from typing import Optional

from ansible_collections.ofm.rollback.plugins.module_utils.postgres.connection import psycopg
from ansible_collections.ofm.rollback.plugins.module_utils.postgres.validate.context import Context
from ansible_collections.ofm.rollback.plugins.module_utils.postgres.validate.results import Outcome, Skip

CATEGORY = "schema_version"


def run(ctx: Context) -> None:
    ctx.check(CATEGORY, "schema_version", lambda: check_schema_version(ctx))


def check_schema_version(ctx: Context) -> Outcome:
    options = ctx.options
    if options.expected_version is None:
        raise Skip("no expected version given (schema_version.expected)")
    table = ".".join(options.schema_table)
    query = psycopg.sql.SQL("SELECT max({column})::text FROM {table}").format(
        column=psycopg.sql.Identifier(options.schema_column), table=psycopg.sql.Identifier(*options.schema_table))
    found = ctx.execute("sandbox", query).fetchone()[0]
    outcome = judge_schema_version(found, options.expected_version, f"{table}.{options.schema_column}")
    outcome.measured.update(table=table, column=options.schema_column)
    return outcome


def judge_schema_version(found: Optional[str], expected: str, where: str) -> Outcome:
    measured = {"version": found, "expected": expected}
    if found is None:
        return Outcome("failed", f"{where} holds no version", measured)
    if found != expected:
        return Outcome("failed", f"schema version is {found}, expected {expected}", measured)
    return Outcome("ok", f"schema version is {found}", measured)
