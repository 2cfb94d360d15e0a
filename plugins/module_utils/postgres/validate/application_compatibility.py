# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Validation category ``application_compatibility``: the application role connects with its own credentials and runs
the smoke queries, each in a transaction that is rolled back."""

from __future__ import annotations

from ansible_collections.ofm.rollback.plugins.module_utils.postgres.validate.context import Context
from ansible_collections.ofm.rollback.plugins.module_utils.postgres.validate.options import NamedQuery
from ansible_collections.ofm.rollback.plugins.module_utils.postgres.validate.results import CheckResult, Outcome, Skip, ms, rows_text

CATEGORY = "application_compatibility"


def run(ctx: Context) -> None:
    connect = ctx.check(CATEGORY, "app_connect", lambda: check_app_connect(ctx))
    for query in ctx.options.smoke_queries:
        ctx.check(CATEGORY, f"smoke:{query.name}", lambda query=query: check_smoke(ctx, query, connect))


def check_app_connect(ctx: Context) -> Outcome:
    app = ctx.options.app
    if app is None:
        raise Skip("no application role given (app)")
    start = ctx.clock()
    ctx.session("app")
    seconds = ctx.clock() - start
    user, version = ctx.execute("app", "SELECT current_user, current_setting('server_version')").fetchone()
    return Outcome("ok", f"connected to {app.target} as {user} in {ms(seconds)}",
                   {"user": user, "server_version": version, "connect_seconds": round(seconds, 6)})


def check_smoke(ctx: Context, query: NamedQuery, connect: CheckResult) -> Outcome:
    if connect.status != "ok":
        raise Skip(f"not run: app_connect is {connect.status}")
    rows = ctx.rolled_back("app", query.query)
    return Outcome("ok", f"{rows_text(len(rows))} as {ctx.options.app.user}", {"rows": len(rows), "query": query.query})
