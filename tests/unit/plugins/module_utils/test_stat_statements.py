# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""pg_stat_info's judgement: per-query deltas over the sample against the cumulative baseline, the pool, bad input."""
from __future__ import annotations

import pytest

from ansible_collections.ofm.rollback.plugins.module_utils.errors import InputError
from ansible_collections.ofm.rollback.plugins.module_utils.postgres.stat_statements import Options, Stat, compare, judge_pool

DB = {"host": "127.0.0.1", "port": 5432, "database": "ofm", "user": "ofm_monitor", "password": "pw-SECRET"}


def options(**params) -> Options:
    return Options.from_params({"database": DB, "sample": "30s", "top": 10, "max_ratio": 3.0, "min_increase": "20ms",
                                "max_pool_use": 0.8, "unavailable_is": "fail", **params})


def test_current_mean_is_the_delta_over_the_sample_and_the_baseline_the_mean_before():
    before = {1: Stat("SELECT recent($1)", 1000, 100.0), 2: Stat("INSERT posts", 100, 50.0)}
    after = {1: Stat("SELECT recent($1)", 1100, 100.0 + 100 * 52.0), 2: Stat("INSERT posts", 110, 55.0)}
    check, top = compare(before, after, options())
    assert check.status == "failed" and check.data["slower"] == ["1"]
    assert (top[0]["calls"], top[0]["mean_ms"], top[0]["baseline_mean_ms"], top[0]["ratio"]) == (100, 52.0, 0.1, 520.0)
    assert (top[1]["calls"], top[1]["mean_ms"], top[1]["baseline_mean_ms"], top[1]["slower"]) == (10, 0.5, 0.5, False)
    assert "SELECT recent($1)" in check.detail and "52.0 ms vs 0.10 ms" in check.detail


@pytest.mark.parametrize("after_mean, expected", [
    (0.35, "ok"),     # 3.5x slower but by 0.25 ms: below min_increase
    (25.0, "failed"),  # 250x and 24.9 ms more
    (0.29, "ok"),     # under max_ratio
])
def test_a_query_fails_only_when_both_the_ratio_and_the_increase_are_exceeded(after_mean, expected):
    before = {7: Stat("q", 50, 5.0)}
    after = {7: Stat("q", 60, 5.0 + 10 * after_mean)}
    assert compare(before, after, options())[0].status == expected
    assert compare(before, after, options(min_increase="0.0001"))[0].status == ("ok" if after_mean < 0.3 else "failed")


def test_new_queries_and_reset_statistics_have_no_baseline_and_are_not_judged():
    before = {1: Stat("old", 500, 50.0)}
    after = {1: Stat("old", 20, 2000.0), 2: Stat("new", 30, 3000.0)}  # 1 was reset during the sample, 2 is new
    check, top = compare(before, after, options())
    assert check.status == "ok" and check.data["judged"] == 0
    assert {row["query"]: (row["calls"], row["baseline_mean_ms"], row["slower"]) for row in top} == {
        "old": (20, None, False), "new": (30, None, False)}


def test_top_keeps_the_most_called_in_the_sample_and_cuts_query_text():
    before = {n: Stat(f"q{n}" + "x" * 300, 10, 10.0) for n in range(5)}
    after = {n: Stat(f"q{n}" + "x" * 300, 10 + n, 10.0 + n) for n in range(5)}
    check, top = compare(before, after, options(top=2))
    assert [row["queryid"] for row in top] == ["4", "3"] and all(len(row["query"]) == 200 for row in top)
    assert "top 2 queries" in check.detail


def test_no_call_during_the_sample_is_unknown():
    same = {1: Stat("q", 10, 1.0)}
    check, top = compare(same, dict(same), options())
    assert (check.status, top) == ("unknown", [])
    assert "no query ran in the database during the 30s sample" == check.detail


def test_pool_fails_at_max_pool_use():
    assert judge_pool(39, 50, 3, 2, 0, 0.8)[0].status == "ok"
    check, pool = judge_pool(40, 50, 3, 30, 4, 0.8)
    assert check.status == "failed" and pool["use"] == 0.8 and check.detail == "40 of 50 connections in use (80%, at most 80%)"


@pytest.mark.parametrize("params, option", [
    ({"sample": "soon"}, "sample"),
    ({"top": 0}, "top"),
    ({"max_ratio": 1.0}, "max_ratio"),
    ({"min_increase": "-5ms"}, "min_increase"),
    ({"max_pool_use": 1.5}, "max_pool_use"),
    ({"database": dict(DB, port=70000)}, "database.port"),
    ({"unavailable_is": "ok"}, "unavailable_is"),
])
def test_bad_options_name_the_option(params, option):
    with pytest.raises(InputError) as raised:
        options(**params)
    assert raised.value.option == option and raised.value.accepted
