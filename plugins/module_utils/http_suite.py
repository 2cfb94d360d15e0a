# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The critical-path HTTP suite: cases described in YAML, sent one by one and judged as checks (``checks.Check``).

A case names a request (method, URL relative to the base URL or absolute, headers, a JSON or text body) and what its answer
must be: the status (one or several), JSONPath assertions on the JSON body (RFC 9535, library ``jsonpath-rfc9535``) and a
latency budget. Each case becomes one check: ``ok``, ``failed`` (the first thing that did not hold) or ``unknown`` (the
service could not be asked, or the case was not sent in check mode). ``load_cases`` is also how ``load_test`` reads a suite.

A JSONPath that selects several values asserts on every one of them (``exists`` and ``absent`` on the selection itself).
"""

from __future__ import annotations

import json
import math
import re
import traceback
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional, Sequence
from urllib.parse import urlsplit

from ansible_collections.ofm.rollback.plugins.module_utils import checks
from ansible_collections.ofm.rollback.plugins.module_utils.argspec import http_client_kwargs, validated_url
from ansible_collections.ofm.rollback.plugins.module_utils.durations import format_duration, parse_duration
from ansible_collections.ofm.rollback.plugins.module_utils.errors import DataError, InputError, UnavailableError
from ansible_collections.ofm.rollback.plugins.module_utils.http import HttpClient

try:
    import jsonpath_rfc9535
except ImportError:
    HAS_JSONPATH = False
    JSONPATH_IMPORT_TRACEBACK: Optional[str] = traceback.format_exc()
else:
    HAS_JSONPATH = True
    JSONPATH_IMPORT_TRACEBACK = None

try:
    import yaml
except ImportError:  # PyYAML comes with ansible-core; only a suite_file needs it
    yaml = None

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
SAFE_METHODS = frozenset(("GET", "HEAD", "OPTIONS"))
OPS = ("equals", "not_equals", "exists", "absent", "contains", "matches", "gt", "lt", "length")
NO_VALUE_OPS = frozenset(("exists", "absent"))
CASE_KEYS = ("name", "method", "url", "headers", "json", "body", "status", "assert", "latency_budget")
ASSERT_KEYS = ("path", "op", "value")
ANY_STATUS = range(100, 600)
SHOWN_CHARACTERS = 200
SUBJECT = "the critical-path HTTP suite"


@dataclass(frozen=True)
class Assertion:
    """One JSONPath assertion: ``op`` applied to the values ``path`` selects (``value`` is what they are compared with)."""

    path: str
    op: str
    value: Any
    query: Any = field(compare=False, repr=False)

    def judge(self, document: Any) -> Optional[str]:
        """None when the assertion holds on ``document``, else why not (one line)."""
        values = self.query.find(document).values()
        if self.op == "exists":
            return None if values else f"{self.path} exists: nothing matched"
        if self.op == "absent":
            return f"{self.path} absent: {len(values)} value(s) matched, first {_shown(values[0])}" if values else None
        if not values:
            return f"{self.path} {self.op} {_shown(self.value)}: nothing matched"
        for index, actual in enumerate(values):
            problem = _compare(self.op, actual, self.value)
            if problem:
                where = f" (value {index + 1} of {len(values)})" if len(values) > 1 else ""
                return f"{self.path} {self.op} {_shown(self.value)}: {problem}{where}"
        return None

    def as_dict(self) -> dict[str, Any]:
        shown = {"path": self.path, "op": self.op}
        return shown if self.op in NO_VALUE_OPS else {**shown, "value": self.value}


@dataclass(frozen=True)
class Case:
    """One request of the suite and what its answer must be."""

    name: str
    method: str
    url: str
    headers: Mapping[str, str]
    status: tuple[int, ...]
    assertions: tuple[Assertion, ...]
    latency_budget: Optional[float]
    json: Any = None
    body: Optional[str] = None
    has_json: bool = False


def load_cases(params: Mapping[str, Any], *, base_url_option: str = "base_url") -> list[Case]:
    """The cases of ``params['suite']`` or of the YAML file ``params['suite_file']`` (key ``cases``), validated."""
    if params.get("suite_file"):
        raw, where = _read_suite_file(params["suite_file"]), "suite_file cases"
    else:
        raw, where = params.get("suite"), "suite"
    if not isinstance(raw, list) or not raw:
        raise InputError(f"{where} must be a non-empty list of cases", option=where.split()[0], accepted="a list of case dicts (name, url, ...)")
    cases = [parse_case(entry, f"{where}[{index}]") for index, entry in enumerate(raw)]
    seen: set[str] = set()
    for index, case in enumerate(cases):
        if case.name in seen:
            raise InputError(f"two cases are named {case.name!r}", option=f"{where}[{index}].name", accepted="a name used by one case only")
        seen.add(case.name)
        if not _is_absolute(case.url) and not params.get(base_url_option):
            raise InputError(f"the URL {case.url!r} is relative and {base_url_option} is not set", option=f"{where}[{index}].url",
                             accepted=f"an absolute http(s) URL, or set {base_url_option}")
    return cases


def _read_suite_file(path: str) -> Any:
    if yaml is None:
        raise InputError("PyYAML cannot be imported to read suite_file", option="suite_file", accepted="a suite given inline as suite")
    try:
        with open(path, encoding="utf-8") as handle:
            document = yaml.safe_load(handle)
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}", option="suite_file", accepted="a readable YAML file with a list 'cases'") from exc
    except yaml.YAMLError as exc:
        raise InputError(f"{path} is not valid YAML: {exc}", option="suite_file", accepted="a readable YAML file with a list 'cases'") from exc
    if not isinstance(document, dict) or "cases" not in document:
        raise InputError(f"{path} has no top-level key 'cases'", option="suite_file", accepted="a YAML mapping with a list 'cases'")
    return document["cases"]


def parse_case(entry: Any, where: str) -> Case:
    """One case dict validated; errors name ``where`` (e.g. ``suite[2]``) and the key."""
    if not isinstance(entry, dict):
        raise InputError(f"{where} is a {type(entry).__name__}, not a case", option=where, accepted=f"a dict with keys {', '.join(CASE_KEYS)}")
    unknown = sorted(set(entry) - set(CASE_KEYS))
    if unknown:
        raise InputError(f"{where} has unknown key(s) {', '.join(unknown)}", option=f"{where}.{unknown[0]}", accepted=CASE_KEYS)
    name = entry.get("name")
    if not isinstance(name, str) or not name.strip():
        raise InputError(f"{where} has no name", option=f"{where}.name", accepted="a non-empty string")
    method = str(entry.get("method") or "GET").upper()
    if method not in METHODS:
        raise InputError(f"{where} method {entry.get('method')!r} is not an HTTP method the suite sends", option=f"{where}.method", accepted=METHODS)
    url = entry.get("url")
    if not isinstance(url, str) or not url.strip() or (urlsplit(url).scheme and not _is_absolute(url)):
        raise InputError(f"{where} url {url!r} is not a path or an absolute http(s) URL", option=f"{where}.url",
                         accepted="a path such as /api/posts (relative to base_url) or an absolute http(s) URL")
    if "json" in entry and "body" in entry:
        raise InputError(f"{where} sets both json and body", option=f"{where}.json", accepted="one of json (sent as JSON) or body (text)")
    if "body" in entry and not isinstance(entry["body"], str):
        raise InputError(f"{where} body is a {type(entry['body']).__name__}", option=f"{where}.body", accepted="a string (use json for data)")
    budget = entry.get("latency_budget")
    return Case(name=name, method=method, url=url, headers=_headers(entry.get("headers"), f"{where}.headers"),
                status=_statuses(entry.get("status", 200), f"{where}.status"),
                assertions=tuple(_assertion(item, f"{where}.assert[{index}]") for index, item in enumerate(_list(entry.get("assert"), f"{where}.assert"))),
                latency_budget=None if budget is None else parse_duration(budget, f"{where}.latency_budget"),
                json=entry.get("json"), body=entry.get("body"), has_json="json" in entry)


def checked_headers(value: Any, option: str) -> dict[str, str]:
    """A header dict (names and values as text), else an ``InputError`` naming ``option``."""
    return _headers(value, option)


def _headers(value: Any, option: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(key, str) and key for key in value):
        raise InputError(f"{option} is not a mapping of header names to values", option=option, accepted="a dict such as {Accept: application/json}")
    if any(isinstance(item, (dict, list)) or item is None for item in value.values()):
        raise InputError(f"{option} has a value that is not text", option=option, accepted="header values as strings or numbers")
    return {key: str(item) for key, item in value.items()}


def _list(value: Any, option: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise InputError(f"{option} is a {type(value).__name__}", option=option, accepted="a list of assertions {path, op, value}")
    return value


def _statuses(value: Any, option: str) -> tuple[int, ...]:
    values = value if isinstance(value, list) else [value]
    statuses = []
    for item in values:
        if isinstance(item, str) and item.strip().isdigit():
            item = int(item)
        if isinstance(item, bool) or not isinstance(item, int) or not 100 <= item <= 599:
            raise InputError(f"status {item!r} is not an HTTP status", option=option, accepted="an integer from 100 to 599 or a list of them")
        statuses.append(item)
    if not statuses:
        raise InputError("the status list is empty", option=option, accepted="an integer from 100 to 599 or a list of them")
    return tuple(statuses)


def _assertion(entry: Any, where: str) -> Assertion:
    if not isinstance(entry, dict):
        raise InputError(f"{where} is not a dict", option=where, accepted="a dict with path, op and value")
    unknown = sorted(set(entry) - set(ASSERT_KEYS))
    if unknown:
        raise InputError(f"{where} has unknown key(s) {', '.join(unknown)}", option=f"{where}.{unknown[0]}", accepted=ASSERT_KEYS)
    path, op, value = entry.get("path"), entry.get("op", "exists"), entry.get("value")
    if op not in OPS:
        raise InputError(f"{where} op {op!r} is not an assertion", option=f"{where}.op", accepted=OPS)
    if not isinstance(path, str) or not path.startswith("$"):
        raise InputError(f"{where} path {path!r} is not a JSONPath", option=f"{where}.path", accepted="an RFC 9535 JSONPath starting with $, e.g. $[*].status")
    try:
        query = jsonpath_rfc9535.compile(path)
    except jsonpath_rfc9535.JSONPathError as exc:
        raise InputError(f"{where} path {path!r} does not parse: {exc}", option=f"{where}.path", accepted="an RFC 9535 JSONPath") from exc
    _check_value(op, value, "value" in entry, f"{where}.value")
    return Assertion(path, op, value, query)


def _check_value(op: str, value: Any, given: bool, option: str) -> None:
    if op in NO_VALUE_OPS:
        if given:
            raise InputError(f"op {op} takes no value", option=option, accepted="no value with exists and absent")
        return
    if not given:
        raise InputError(f"op {op} needs a value", option=option, accepted="the value to compare with")
    if op == "matches":
        if not isinstance(value, str):
            raise InputError(f"op matches needs a regular expression, got {value!r}", option=option, accepted="a Python regular expression")
        try:
            re.compile(value)
        except re.error as exc:
            raise InputError(f"{value!r} is not a regular expression: {exc}", option=option, accepted="a Python regular expression") from exc
    if op in ("gt", "lt") and not _is_number(value):
        raise InputError(f"op {op} needs a number, got {value!r}", option=option, accepted="a number")
    if op == "length" and not _valid_length(value):
        raise InputError(f"op length needs a length, got {value!r}", option=option,
                         accepted="an integer of 0 or more (exact), or a dict with min and/or max")


def _valid_length(value: Any) -> bool:
    if isinstance(value, dict):
        return bool(value) and set(value) <= {"min", "max"} and all(_is_count(item) for item in value.values())
    return _is_count(value)


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _same(actual: Any, expected: Any) -> bool:
    """JSON equality: ``true`` is not ``1``, ``1`` is ``1.0``."""
    if isinstance(actual, bool) or isinstance(expected, bool):
        return isinstance(actual, bool) and isinstance(expected, bool) and actual == expected
    if isinstance(actual, list) and isinstance(expected, list):
        return len(actual) == len(expected) and all(_same(a, b) for a, b in zip(actual, expected))
    if isinstance(actual, dict) and isinstance(expected, dict):
        return actual.keys() == expected.keys() and all(_same(actual[key], expected[key]) for key in actual)
    return actual == expected


def _compare(op: str, actual: Any, expected: Any) -> Optional[str]:  # pylint: disable=too-many-return-statements
    """None when ``actual`` passes ``op expected``, else what was found."""
    if op == "equals":
        return None if _same(actual, expected) else f"found {_shown(actual)}"
    if op == "not_equals":
        return f"found {_shown(actual)}" if _same(actual, expected) else None
    if op == "contains":
        if isinstance(actual, str):
            return None if isinstance(expected, str) and expected in actual else f"found {_shown(actual)}"
        if isinstance(actual, list):
            return None if any(_same(item, expected) for item in actual) else f"not in {_shown(actual)}"
        if isinstance(actual, dict):
            return None if expected in actual else f"no key {_shown(expected)} in {_shown(actual)}"
        return f"found {_shown(actual)}, which contains nothing"
    if op == "matches":
        if isinstance(actual, (dict, list)) or actual is None:
            return f"found {_shown(actual)}, not a string"
        text = actual if isinstance(actual, str) else json.dumps(actual)
        return None if re.search(expected, text) else f"found {_shown(actual)}"
    if op in ("gt", "lt"):
        if not _is_number(actual):
            return f"found {_shown(actual)}, not a number"
        holds = actual > expected if op == "gt" else actual < expected
        return None if holds else f"found {_shown(actual)}"
    return _compare_length(actual, expected)


def _compare_length(actual: Any, expected: Any) -> Optional[str]:
    if not isinstance(actual, (str, list, dict)):
        return f"found {_shown(actual)}, which has no length"
    size = len(actual)
    if isinstance(expected, dict):
        low, high = expected.get("min"), expected.get("max")
        holds = (low is None or size >= low) and (high is None or size <= high)
    else:
        holds = size == expected
    return None if holds else f"found length {size}"


def _shown(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= SHOWN_CHARACTERS else text[:SHOWN_CHARACTERS] + "..."


def _is_absolute(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def _origin(client: HttpClient, url: str) -> str:
    parts = urlsplit(url if _is_absolute(url) else client.base_url)
    return f"{parts.scheme}://{parts.netloc}"


class SuiteRunner:
    """Sends the cases with one ``HttpClient`` (its base URL, TLS, timeouts and retries) and judges each answer."""

    def __init__(self, client: HttpClient, *, headers: Optional[Mapping[str, str]] = None,
                 secret_headers: Optional[Mapping[str, str]] = None, unavailable_is: str = "fail", check_mode: bool = False) -> None:
        self.client = client
        self.headers = dict(headers or {})
        self.secret_headers = dict(secret_headers or {})
        self.unavailable_is = unavailable_is
        self.check_mode = check_mode
        client.add_secrets(*self.secret_headers.values())

    def run(self, cases: Sequence[Case]) -> dict[str, Any]:
        """``checks.result`` of the cases plus ``cases`` (each case's details); raises ``UnavailableError`` when
        a service cannot be asked and ``unavailable_is`` is ``fail``."""
        down: dict[str, str] = {}
        judged = [self._run_case(case, down) for case in cases]
        return checks.result([check for check, _details in judged], SUBJECT, {"cases": [details for _check, details in judged]})

    def _run_case(self, case: Case, down: dict[str, str]) -> tuple[checks.Check, dict[str, Any]]:
        details: dict[str, Any] = {"name": case.name, "method": case.method, "url": self.client.redact(case.url),
                                   "expected_status": list(case.status), "status": None, "latency_ms": None,
                                   "latency_budget": None if case.latency_budget is None else format_duration(case.latency_budget),
                                   "assertions": [assertion.as_dict() for assertion in case.assertions], "failed_assertion": None}
        if self.check_mode and case.method not in SAFE_METHODS:
            return self._unknown(case, details, f"{case.method} not sent in check mode")
        origin = _origin(self.client, case.url)
        if origin in down:
            return self._unknown(case, details, f"not sent: {down[origin]}")
        try:
            response = self.client.request(case.method, case.url, headers={**self.headers, **case.headers, **self.secret_headers},
                                           json=case.json if case.has_json else None,
                                           data=case.body.encode() if case.body is not None else None, expected=ANY_STATUS)
        except UnavailableError as exc:
            if self.unavailable_is == "fail":
                raise
            down[origin] = f"{self.client.redact(origin)} did not answer case {case.name!r}"
            return self._unknown(case, details, str(exc))
        except DataError as exc:
            details["status"] = exc.status
            return self._finish(case, details, checks.FAILED, f"HTTP {exc.status}: {exc.reason}")
        details["status"] = response.status
        details["latency_ms"] = round(self.client.requests[-1]["duration"] * 1000, 1)
        return self._judge(case, details, response.body)

    def _judge(self, case: Case, details: dict[str, Any], body: Any) -> tuple[checks.Check, dict[str, Any]]:
        seen = f"HTTP {details['status']} in {details['latency_ms']:g} ms"
        if details["status"] not in case.status:
            return self._finish(case, details, checks.FAILED, f"{seen}, expected {' or '.join(map(str, case.status))}")
        if case.latency_budget is not None and details["latency_ms"] > case.latency_budget * 1000:
            return self._finish(case, details, checks.FAILED, f"{seen}, over the latency budget {format_duration(case.latency_budget)}")
        problem = self._first_failed_assertion(case, body)
        if problem:
            details["failed_assertion"] = self.client.redact(problem)
            return self._finish(case, details, checks.FAILED, f"{seen}; {details['failed_assertion']}")
        return self._finish(case, details, checks.OK, seen + (f", {len(case.assertions)} assertion(s) hold" if case.assertions else ""))

    @staticmethod
    def _first_failed_assertion(case: Case, body: Any) -> Optional[str]:
        if not case.assertions:
            return None
        if isinstance(body, str):
            try:
                body = json.loads(body)
            except ValueError:
                return "the body is not JSON, so no assertion can hold"
        for assertion in case.assertions:
            problem = assertion.judge(body)
            if problem:
                return problem
        return None

    def _unknown(self, case: Case, details: dict[str, Any], reason: str) -> tuple[checks.Check, dict[str, Any]]:
        return self._finish(case, details, checks.UNKNOWN, self.client.redact(reason))

    @staticmethod
    def _finish(case: Case, details: dict[str, Any], status: str, detail: str) -> tuple[checks.Check, dict[str, Any]]:
        details["result"] = status
        details["detail"] = detail
        data = {key: details[key] for key in ("status", "latency_ms", "failed_assertion")}
        return checks.Check(case.name, status, detail, data), details


def run_from_params(params: Mapping[str, Any], check_mode: bool) -> dict[str, Any]:
    """The module's work: validate every option (nothing is sent before), then run the suite."""
    base_url = params.get("base_url")
    if base_url:
        validated_url(base_url, "base_url", example="https://api.ofm.social")
    cases = load_cases(params)
    headers = checked_headers(params.get("headers"), "headers")
    secret_headers = checked_headers(params.get("secret_headers"), "secret_headers")
    first_url = base_url or next(case.url for case in cases)
    client = HttpClient(first_url, system="HTTP suite", secrets=secret_headers.values(), **http_client_kwargs(params, "base_url"))
    runner = SuiteRunner(client, headers=headers, secret_headers=secret_headers, unavailable_is=params["unavailable_is"],
                         check_mode=check_mode)
    return runner.run(cases)
