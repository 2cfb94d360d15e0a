# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""AWX's rules for a survey spec and for the answers given to it, as its API applies them (awx/api/views: the survey_spec
endpoint; awx/main/models/mixins: the launch-time validation), written from their documentation and behaviour for the
tests of extensions/awx. A spec AWX would refuse, or an answer it would refuse at launch, is reported here."""
from __future__ import annotations

from typing import Any, Mapping

TYPES: dict[str, tuple[type, ...]] = {
    "text": (str,), "textarea": (str,), "password": (str,), "multiplechoice": (str,), "multiselect": (str, list),
    "integer": (int,), "float": (float, int),
}


def choices_of(question: Mapping[str, Any]) -> list[str]:
    choices = question.get("choices", [])
    if isinstance(choices, str):
        return [line for line in choices.splitlines() if line.strip()]
    return list(choices)


def spec_errors(survey: Mapping[str, Any]) -> list[str]:
    """Why AWX's API would refuse ``survey`` (an empty list when it accepts it)."""
    errors = []
    for field, kind in (("name", str), ("description", str), ("spec", list)):
        if not isinstance(survey.get(field), kind):
            errors.append(f"field {field!r} missing or not a {kind.__name__}")
    spec = survey.get("spec")
    if not isinstance(spec, list) or not spec:
        return errors + ["'spec' holds no question"]
    seen: set[str] = set()
    for index, question in enumerate(spec):
        where = f"question {index} ({question.get('variable', '?') if isinstance(question, dict) else '?'})"
        if not isinstance(question, dict):
            errors.append(f"{where} is not an object")
            continue
        for field, kind in (("type", str), ("question_name", str), ("variable", str), ("required", bool)):
            if not isinstance(question.get(field), kind):
                errors.append(f"{where}: {field!r} missing or not a {kind.__name__}")
        variable = question.get("variable")
        if variable in seen:
            errors.append(f"{where}: variable {variable!r} twice")
        seen.add(variable)
        qtype = question.get("type")
        if qtype not in TYPES:
            errors.append(f"{where}: type {qtype!r} is not one of {sorted(TYPES)}")
            continue
        default = question.get("default", "")
        if default != "" and (not isinstance(default, TYPES[qtype]) or isinstance(default, bool)):
            errors.append(f"{where}: default {default!r} is not of type {qtype}")
        for limit in ("min", "max"):
            if question.get(limit) is not None and (not isinstance(question[limit], int) or isinstance(question[limit], bool)):
                errors.append(f"{where}: {limit} must be an integer")
        if qtype in ("multiplechoice", "multiselect"):
            if "choices" not in question:
                errors.append(f"{where}: a {qtype} question needs choices")
                continue
            defaults = default.splitlines() if isinstance(default, str) else list(default)
            if qtype == "multiplechoice" and len(defaults) > 1:
                errors.append(f"{where}: a multiplechoice question has one default")
            if any(item not in choices_of(question) for item in defaults):
                errors.append(f"{where}: default {default!r} is not one of the choices")
    return errors


def answer_errors(survey: Mapping[str, Any], answers: Mapping[str, Any]) -> list[str]:
    """Why AWX would refuse to launch with ``answers`` (required answers, lengths, ranges, choices)."""
    errors = []
    for question in survey["spec"]:
        variable, qtype = question["variable"], question["type"]
        if variable not in answers:
            if question["required"] and question.get("default", "") == "":
                errors.append(f"{variable}: required")
            continue
        value = answers[variable]
        low, high = question.get("min"), question.get("max")
        if qtype in ("text", "textarea", "password"):
            if not isinstance(value, str):
                errors.append(f"{variable}: {value!r} is not text")
            elif (low is not None and len(value) < low and (value or question["required"])) or (high is not None and len(value) > high):
                errors.append(f"{variable}: {len(value)} characters, not within {low}-{high}")
        elif qtype in ("integer", "float"):
            kinds = (int,) if qtype == "integer" else (int, float)
            if not isinstance(value, kinds) or isinstance(value, bool):
                errors.append(f"{variable}: {value!r} is not {qtype}")
            elif (low is not None and value < low) or (high is not None and value > high):
                errors.append(f"{variable}: {value} not within {low}-{high}")
        elif qtype == "multiplechoice" and value not in choices_of(question):
            errors.append(f"{variable}: {value!r} is not one of {choices_of(question)}")
        elif qtype == "multiselect" and any(item not in choices_of(question) for item in value):
            errors.append(f"{variable}: {value!r} holds a value that is not a choice")
    return errors


def defaults_of(survey: Mapping[str, Any]) -> dict[str, Any]:
    """The extra vars AWX passes when every question keeps its default (an empty default of a question that is not required
    is not passed)."""
    return {question["variable"]: question["default"] for question in survey["spec"]
            if question.get("default", "") != "" or question["required"]}
