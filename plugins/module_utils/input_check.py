# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The formats and ranges of a procedure's inputs, checked before anything changes (``ofm.rollback.input_check``).

A role's argument spec gives each variable a type and its accepted values; it cannot say that a duration must be longer
than zero, that an incident id is ``INC-<digits>``, that a sandbox name must not be a path or that an operator's name is one
line. Each input here is a variable's name (as the person sets it), its value and a rule; every input is checked and every
bad one is reported, naming the variable and what it accepts, with the value shown as Python would print it (a newline as
``\\n``), so that nothing a person typed can forge a line of the output.
"""

from __future__ import annotations

import datetime
import math
import re
from typing import Any, Callable, Mapping, Optional

from ansible_collections.ofm.rollback.plugins.module_utils.durations import DURATION_HELP, _duration_seconds
from ansible_collections.ofm.rollback.plugins.module_utils.errors import InputError
from ansible_collections.ofm.rollback.plugins.module_utils.zoned_time import load_zone, zoned

INCIDENT_ID = re.compile(r"^INC-[0-9]+$")
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")
# A Kubernetes object name (RFC 1123 subdomain): what goes into the API's URL paths.
K8S_NAME = re.compile(r"^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
K8S_NAME_HELP = "a Kubernetes name: lowercase letters, digits, '-' and '.', starting and ending with a letter or digit"
CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]")
LINE_MAX = 200

RULES = ("incident_id", "duration", "duration_or_zero", "integer", "number", "time", "timezone", "name", "k8s_name", "line",
         "choice")


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _range_text(minimum: Optional[float], maximum: Optional[float]) -> str:
    if minimum is not None and maximum is not None:
        return f"from {minimum:g} to {maximum:g}"
    if minimum is not None:
        return f"of {minimum:g} or more"
    return f"of {maximum:g} or less" if maximum is not None else ""


def _number(value: Any, name: str, item: Mapping[str, Any], whole: bool) -> float:
    kind = "an integer" if whole else "a number"
    accepted = f"{kind} {_range_text(item.get('minimum'), item.get('maximum'))}".strip()
    number: Optional[float] = None
    if not isinstance(value, bool):
        try:
            number = float(value) if not isinstance(value, str) else float(value.strip())
        except (TypeError, ValueError):
            number = None
    if number is None or not math.isfinite(number) or (whole and number != int(number)):
        raise InputError(f"{value!r} is not {kind}", option=name, accepted=accepted)
    if item.get("minimum") is not None and number < item["minimum"] or item.get("maximum") is not None and number > item["maximum"]:
        raise InputError(f"{value!r} is out of range", option=name, accepted=accepted)
    return number


def _duration(value: Any, name: str, zero: bool) -> None:
    seconds = _duration_seconds(value)
    accepted = DURATION_HELP + (" (0 for none)" if zero else ", longer than zero")
    if seconds is None:
        raise InputError(f"{value!r} is not a duration", option=name, accepted=accepted)
    if seconds < 0 or (seconds == 0 and not zero):
        raise InputError(f"{value!r} is not longer than zero", option=name, accepted=accepted)


def _pattern(pattern: re.Pattern[str], accepted: str, what: str) -> Callable[[Any, str, Mapping[str, Any]], None]:
    def check(value: Any, name: str, _item: Mapping[str, Any]) -> None:
        text = value if isinstance(value, str) else None
        if text is None or not pattern.match(text):
            looks_like_path = isinstance(value, str) and (value.startswith(("/", "~", "./", "../")) or "/../" in value or value.endswith("/.."))
            reason = f"{value!r} is a path, not {what}" if looks_like_path else f"{value!r} is not {what}"
            raise InputError(reason, option=name, accepted=accepted)
    return check


def _line(value: Any, name: str, _item: Mapping[str, Any]) -> None:
    accepted = f"one line of text without control characters, at most {LINE_MAX} characters"
    if not isinstance(value, str) or CONTROL.search(value) or len(value) > LINE_MAX:
        raise InputError(f"{value!r} is not one line of text", option=name, accepted=accepted)


def _choice(value: Any, name: str, item: Mapping[str, Any]) -> None:
    choices = [str(choice) for choice in item.get("choices") or []]
    if str(value) not in choices:
        raise InputError(f"{value!r} is not one of the accepted values", option=name, accepted=choices)


def _time(value: Any, name: str, item: Mapping[str, Any]) -> None:
    zoned(str(value), item.get("timezone") or "UTC", option=name, zone_option=item.get("timezone_name") or "timezone")


CHECKS: dict[str, Callable[[Any, str, Mapping[str, Any]], Any]] = {
    "incident_id": _pattern(INCIDENT_ID, "INC-<digits>, such as INC-1234", "an incident id"),
    "duration": lambda value, name, _item: _duration(value, name, zero=False),
    "duration_or_zero": lambda value, name, _item: _duration(value, name, zero=True),
    "integer": lambda value, name, item: _number(value, name, item, whole=True),
    "number": lambda value, name, item: _number(value, name, item, whole=False),
    "time": _time,
    "timezone": lambda value, name, _item: load_zone(str(value), option=name),
    "name": _pattern(NAME, "a name of letters, digits, '.', '_' and '-' (at most 63), starting with a letter or digit", "a name"),
    "k8s_name": _pattern(K8S_NAME, K8S_NAME_HELP, "a Kubernetes name"),
    "line": _line,
    "choice": _choice,
}


def check_inputs(inputs: list[Mapping[str, Any]]) -> list[InputError]:
    """Every input's problem, in order (an empty list when all are good). An input with ``optional`` may be empty."""
    problems: dict[tuple[Any, str], InputError] = {}
    for item in inputs:
        value = item.get("value")
        if _empty(value) and item.get("optional"):
            continue
        try:
            CHECKS[item["rule"]](value, item["name"], item)
        except InputError as exc:
            problems.setdefault((exc.option, exc.reason), exc)  # a zone given for a time is reported once
    return list(problems.values())


def refusal(problems: list[InputError], procedure: str) -> str:
    """One message for every problem: each names its variable and what it accepts."""
    count = f"1 input of the {procedure} is" if len(problems) == 1 else f"{len(problems)} inputs of the {procedure} are"
    details = " ".join(f"{exc.option}: {exc.reason}. {exc.hint}" for exc in problems)
    return f"Refused, nothing was changed: {count} not accepted. {details}"


def stray_words_refusal(words: Any) -> str:
    """The refusal of a run whose extra vars hold stray words: a ``-e key=value`` split at its spaces sets the variable to its
    first word and puts the rest in the extra var ``_raw_params``, which nothing reads."""
    text = str(words)
    return ("Refused, nothing was run: the extra vars hold the stray words '" + text + "'. Ansible splits a -e key=value option at "
            "its spaces, so the variable before these words got only its first word and these were set aside (in _raw_params). "
            "Quote the value inside the option, -e \"<variable>='<its first word> " + text + "'\", or give JSON, "
            "-e '{\"<variable>\": \"<its first word> " + text + "\"}'; for example -e \"rollback_reason='api 2.4.0 doubles the DB "
            "load'\". (When several -e options had stray words, Ansible kept only the last one's.)")


def open_incident(given: Mapping[str, Any], now: Optional[datetime.datetime] = None) -> dict[str, Any]:
    """The incident of a run: the id given (checked by the inputs' rule ``incident_id``), else one generated from the UTC time;
    the operator, trimmed; and when the run started (epoch and ISO 8601 in UTC).

    In an AWX/Tower job (``awx_job_id`` given) the operator is the job's user alone: a schedule's or an API launch's extra
    vars cannot name someone else (``operator``, the ``rollback_operator`` given, is ignored), and a job without a user (a
    scheduled launch) has none, which the admin rule refuses."""
    moment = now or datetime.datetime.now(datetime.timezone.utc)
    given_id = str(given.get("id") or "").strip()
    job_id = str(given.get("awx_job_id") or "").strip()
    if job_id:
        operator = str(given.get("awx_user_name") or "").strip()
        launch_type = str(given.get("awx_launch_type") or "").strip() or "launch type unknown"
        launched_by = f"AWX job {job_id} ({launch_type})"
    else:
        operator, launched_by = str(given.get("operator") or "").strip(), ""
    return {"id": given_id or "INC-" + moment.strftime("%Y%m%d%H%M%S"), "id_generated": not given_id,
            "operator": operator, "launched_by": launched_by, "started_at": moment.timestamp(),
            "started_iso": moment.strftime("%Y-%m-%dT%H:%M:%SZ")}


def incident_line(incident: Mapping[str, Any]) -> str:
    """What the run says of its incident: a generated id is announced, so that a re-run can name it."""
    if incident["id_generated"]:
        return f"No rollback_incident_id given: this rollback is incident {incident['id']}."
    return f"Incident {incident['id']}."
