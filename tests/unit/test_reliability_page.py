"""scripts/reliability_page.py: one row per marked test, the observed outcome from the results, and a check that fails when
the page's rows and the tests' markers differ."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SPEC = importlib.util.spec_from_file_location("reliability_page", ROOT / "scripts" / "reliability_page.py")
page_module = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(page_module)

FAULT = {"kind": "fault", "procedure": "emergency", "case": "ops API | stopped", "expected": "fell back", "test": "tests/integration/t.py::a"}
LEASE = {"kind": "lease", "procedure": "planned", "case": "held", "expected": "refused", "test": "tests/integration/t.py::b"}


def lines(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def test_rows_take_the_observed_outcome_and_say_when_none_was_recorded(tmp_path):
    results = page_module.load(lines(tmp_path / "r.jsonl", [dict(FAULT, observed="fell back to Argo", outcome="passed")]))
    text = page_module.render(page_module.merged(page_module.load(lines(tmp_path / "i.jsonl", [FAULT, LEASE])), results))
    assert "| emergency | ops API \\| stopped | fell back | fell back to Argo | `integration/t.py::a` |" in text
    assert f"| planned | held | refused | {page_module.NOT_RECORDED} | `integration/t.py::b` |" in text
    assert "| [Faults](#faults) | 1 | 1 | 0 |" in text and "| [One rollback at a time](#one-rollback-at-a-time) | 1 | 0 | 1 |" in text


def test_a_failed_test_is_shown_in_bold(tmp_path):
    results = {FAULT["test"]: dict(FAULT, observed="FAILED", outcome="failed")}
    text = page_module.render(page_module.merged({FAULT["test"]: FAULT}, results))
    assert "| **FAILED** |" in text


def test_the_check_sees_a_test_added_removed_or_changed(tmp_path):
    committed = page_module.render(page_module.merged({FAULT["test"]: FAULT}, {}))
    assert page_module.page_rows(committed) == page_module.page_rows(page_module.render(page_module.merged({FAULT["test"]: FAULT}, {})))
    added = page_module.render(page_module.merged({FAULT["test"]: FAULT, LEASE["test"]: LEASE}, {}))
    changed = page_module.render(page_module.merged({FAULT["test"]: dict(FAULT, expected="failed clearly")}, {}))
    assert page_module.page_rows(added) - page_module.page_rows(committed)
    assert page_module.page_rows(changed) != page_module.page_rows(committed)
    observed_only = page_module.render(page_module.merged({FAULT["test"]: FAULT}, {FAULT["test"]: dict(FAULT, observed="x", outcome="passed")}))
    assert page_module.page_rows(observed_only) == page_module.page_rows(committed), "the observed column is not compared"
