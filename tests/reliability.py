"""The reliability marker: the rows of docs/reliability.md are the tests that carry it.

    @pytest.mark.reliability("fault", procedure="emergency", case="ops API answers 503", expected="retried, succeeded")
    def test_x(reliability):
        ...
        reliability.observed("retried twice, succeeded")

When OFM_RELIABILITY_RESULTS names a file, each marked test appends one JSON line to it: the marker's fields, what the test
observed (its expected outcome when it passed without saying), and its outcome. scripts/reliability-page builds the page
from those lines, and with --check fails when the committed page differs: the page cannot drift from the tests.
"""
from __future__ import annotations

import json
import os
from typing import Any, Optional

import pytest

KINDS = ("fault", "bad-input", "secret", "tls", "lease", "resume", "anchor")
MARKER = "reliability"


class Observation:
    """What a marked test saw; `observed()` says it in deterministic words (no times, no random ids)."""

    def __init__(self) -> None:
        self.text: Optional[str] = None

    def observed(self, text: str) -> None:
        if not isinstance(text, str) or not text.strip():
            raise ValueError("reliability.observed() needs a non-empty text")
        self.text = " ".join(text.split())


def marker_fields(item: pytest.Item) -> Optional[dict[str, str]]:
    """The reliability marker's fields of a test item, checked; None when the test has none."""
    mark = item.get_closest_marker(MARKER)
    if mark is None:
        return None
    kind = mark.args[0] if mark.args else mark.kwargs.get("kind")
    if kind not in KINDS:
        raise pytest.UsageError(f"{item.nodeid}: reliability marker kind must be one of {', '.join(KINDS)}, got {kind!r}")
    fields = {"kind": kind}
    for key in ("procedure", "case", "expected"):
        value = mark.kwargs.get(key)
        if not isinstance(value, str) or not value.strip():
            raise pytest.UsageError(f"{item.nodeid}: reliability marker needs a non-empty {key}=")
        fields[key] = " ".join(value.split())
    return fields


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "reliability(kind, procedure=, case=, expected=): a row of docs/reliability.md (kinds: " + ", ".join(KINDS) + ")")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    inventory = os.environ.get("OFM_RELIABILITY_INVENTORY")
    rows = []
    for item in items:
        fields = marker_fields(item)  # a malformed marker fails the collection, not the page
        if fields is not None:
            rows.append(dict(fields, test=item.nodeid))
    if inventory:  # every marked test, whether or not it runs: the rows the page must have
        with open(inventory, "a", encoding="utf-8") as handle:
            handle.writelines(json.dumps(row, sort_keys=True) + "\n" for row in rows)


@pytest.fixture
def reliability(request: pytest.FixtureRequest) -> Observation:
    """Say what the test observed: ``reliability.observed("fell back to Argo")``."""
    observation = Observation()
    request.node.stash[_KEY] = observation
    return observation


_KEY = pytest.StashKey[Observation]()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]):  # type: ignore[no-untyped-def]
    outcome = yield
    report = outcome.get_result()
    path = os.environ.get("OFM_RELIABILITY_RESULTS")
    fields = marker_fields(item)
    if not path or fields is None:
        return
    finished = report.when == "call" or (report.when == "setup" and not report.passed)
    if not finished:
        return
    observation = item.stash.get(_KEY, None)
    if report.passed:
        observed = observation.text if observation and observation.text else fields["expected"]
    elif report.skipped:
        observed = "not run (skipped)"
    else:
        observed = "FAILED"
    row = dict(fields, observed=observed, outcome=report.outcome, test=item.nodeid)
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(row, sort_keys=True) + "\n")
