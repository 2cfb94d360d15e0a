# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Validation category ``performance``: each query run several times in rolled-back transactions, its median (or
slowest) time against its latency budget."""

from __future__ import annotations

import statistics
from typing import Sequence

from ansible_collections.ofm.rollback.plugins.module_utils.postgres.validate.context import Context
from ansible_collections.ofm.rollback.plugins.module_utils.postgres.validate.options import NamedQuery
from ansible_collections.ofm.rollback.plugins.module_utils.postgres.validate.results import Outcome, Skip, ms

CATEGORY = "performance"


def run(ctx: Context) -> None:
    if not ctx.options.performance:
        ctx.check(CATEGORY, "performance", no_performance_queries)
    for query in ctx.options.performance:
        ctx.check(CATEGORY, f"latency:{query.name}", lambda query=query: check_latency(ctx, query))


def no_performance_queries() -> Outcome:
    raise Skip("no queries with a latency budget given (performance.queries)")


def check_latency(ctx: Context, query: NamedQuery) -> Outcome:
    timings = []
    for _run in range(query.runs):
        start = ctx.clock()
        ctx.rolled_back("sandbox", query.query)
        timings.append(ctx.clock() - start)
    outcome = judge_latency(query, timings)
    outcome.measured["query"] = query.query
    return outcome


def judge_latency(query: NamedQuery, timings: Sequence[float]) -> Outcome:
    p50, worst = statistics.median(timings), max(timings)
    measured = {"runs": len(timings), "p50": round(p50, 6), "max": round(worst, 6), "min": round(min(timings), 6),
                "budget": query.budget, "statistic": query.statistic, "timings": [round(value, 6) for value in timings]}
    judged = p50 if query.statistic == "p50" else worst
    text = f"{query.statistic} {ms(judged)} over {len(timings)} runs (p50 {ms(p50)}, max {ms(worst)}), budget {ms(query.budget)}"
    return Outcome("failed" if judged > query.budget else "ok", text, measured)
