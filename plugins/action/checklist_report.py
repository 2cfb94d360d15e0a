# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of ofm.rollback.checklist_report: judges the checklist on the controller (there is no module to run)."""

from __future__ import annotations

import importlib
from typing import Any

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.plugins.action import ActionBase

from ansible_collections.ofm.rollback.plugins.plugin_utils import checklist, checklist_export

ARGUMENT_SPEC: dict[str, dict[str, Any]] = {
    "procedure": {"type": "str", "required": True, "choices": ["emergency", "planned", "database", "config", "external", "validation", "comms", "report"]},
    "results": {"type": "dict", "default": {}},
    "only": {"type": "list", "elements": "str"},
    "fail_on_failed": {"type": "bool", "default": False},
    "junit": {"type": "path"},
    "markdown": {"type": "path"},
    "title": {"type": "str"},
}


def rules_module(procedure: str) -> Any:
    return importlib.import_module(f"ansible_collections.ofm.rollback.plugins.plugin_utils.checklist_rules_{procedure}")


def report(procedure: str, results: dict[str, Any], only: Any = None, check_mode: bool = False) -> dict[str, Any]:
    """The judged lines, their counts, the failed titles and the printed summary."""
    rules = rules_module(procedure)
    results = {**results, "check_mode": check_mode}
    judged = checklist.judge(checklist.load(), procedure, rules.RULES, results, only)
    # The outcome and the texts a procedure's summary prints besides the lines, when every line was judged.
    whole = only is None
    by_id = {line["id"]: line for line in judged}
    outcome = rules.outcome(results, by_id) if whole and hasattr(rules, "outcome") else None
    texts = rules.texts(results, by_id) if whole and hasattr(rules, "texts") else {}
    return {"lines": judged, "outcome": outcome, "texts": texts, "counts": checklist.counts(judged), "summary": checklist.render(judged),
            "failed_lines": [line["title"] for line in judged if line["status"] == "failed"],
            "manual_steps": [{"item": line["title"], "step": line["instruction"], "why": line["evidence"]}
                             for line in judged if line["owned"] and line["status"] == "manual"]}


class ActionModule(ActionBase):
    """ofm.rollback.checklist_report."""

    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp: Any = None, task_vars: Any = None) -> dict[str, Any]:
        result = super().run(tmp, task_vars)
        validated = ArgumentSpecValidator(ARGUMENT_SPEC).validate(self._task.args)
        if validated.error_messages:
            return {**result, "failed": True, "changed": False, "msg": "; ".join(validated.error_messages)}
        params = validated.validated_parameters
        try:
            judged = report(params["procedure"], params["results"], params["only"], bool(self._task.check_mode or self._play_context.check_mode))
        except ValueError as exc:
            return {**result, "failed": True, "changed": False, "msg": str(exc)}
        try:
            judged["files"] = write_files(params, judged)
        except (OSError, ImportError) as exc:
            return {**result, **judged, "failed": True, "changed": False, "msg": f"could not write the report files: {exc}"}
        failed = params["fail_on_failed"] and bool(judged["failed_lines"])
        counts = judged["counts"]
        msg = (f"{len(judged['failed_lines'])} checklist line(s) failed: {', '.join(judged['failed_lines'])}" if judged["failed_lines"]
               else ", ".join(f"{counts[status]} {status}" for status in checklist.STATUSES if counts[status] or status in ("ok", "manual")))
        return {**result, **judged, "changed": False, "failed": failed, "msg": msg}


def write_files(params: dict[str, Any], judged: dict[str, Any]) -> dict[str, str]:
    """The JUnit and Markdown files asked for (also in check mode: they report on the run, they change no system)."""
    title = params["title"] or f"ofm.rollback {params['procedure']} checklist"
    files = {}
    if params["junit"]:
        if not checklist_export.HAS_JUNITPARSER:
            raise ImportError("the junit option needs the Python library junitparser on the controller (pip install junitparser)")
        files["junit"] = checklist_export.write_junit(params["junit"], judged["lines"], title)
    if params["markdown"]:
        text = checklist_export.markdown(judged["lines"], title, judged["counts"], judged.get("outcome"))
        files["markdown"] = checklist_export.write_text(params["markdown"], text)
    return files
