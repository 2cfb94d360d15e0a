"""Label and field selectors as ``kubectl`` and the client libraries send them in list and watch queries."""
from __future__ import annotations

import re
from typing import Any, Callable, Optional

from lab.services.kube.errors import bad_request

Matcher = Callable[[dict[str, Any]], bool]
_SET_TERM = re.compile(r"^\s*([A-Za-z0-9./_-]+)\s+(in|notin)\s+\(([^)]*)\)\s*$")
_EQUALITY_TERM = re.compile(r"^\s*([A-Za-z0-9./_-]+)\s*(==|=|!=)\s*([A-Za-z0-9._-]*)\s*$")
_EXISTS_TERM = re.compile(r"^\s*(!?)\s*([A-Za-z0-9./_-]+)\s*$")
FIELDS = {"metadata.name": ("metadata", "name"), "metadata.namespace": ("metadata", "namespace")}


def _split_terms(selector: str) -> list[str]:
    """Split on commas that are not inside a ``(...)`` value set."""
    terms, depth, current = [], 0, ""
    for char in selector:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            terms.append(current)
            current = ""
        else:
            current += char
    terms.append(current)
    return [term for term in terms if term.strip()]


def _label_term(term: str) -> Matcher:
    match = _SET_TERM.match(term)
    if match:
        key, operator, raw_values = match.groups()
        values = {value.strip() for value in raw_values.split(",") if value.strip()}
        if operator == "in":
            return lambda labels: labels.get(key) in values
        return lambda labels: labels.get(key) not in values
    match = _EQUALITY_TERM.match(term)
    if match:
        key, operator, value = match.groups()
        if operator == "!=":
            return lambda labels: labels.get(key) != value
        return lambda labels: labels.get(key) == value
    match = _EXISTS_TERM.match(term)
    if match:
        negated, key = match.groups()
        return (lambda labels: key not in labels) if negated else (lambda labels: key in labels)
    raise bad_request(f"unable to parse requirement: {term.strip()!r} is not a valid label selector term")


def label_selector(selector: Optional[str]) -> Matcher:
    """A predicate over an object for a ``labelSelector`` query value (empty: everything)."""
    matchers = [_label_term(term) for term in _split_terms(selector or "")]

    def matches(obj: dict[str, Any]) -> bool:
        labels = (obj.get("metadata") or {}).get("labels") or {}
        return all(matcher(labels) for matcher in matchers)

    return matches


def _field_term(term: str) -> Matcher:
    match = _EQUALITY_TERM.match(term)
    if not match or match.group(1) not in FIELDS:
        raise bad_request(f'"{term.strip()}" is not a known field selector: only "metadata.name", "metadata.namespace"')
    name, operator, value = match.groups()
    section, key = FIELDS[name]

    def matches(obj: dict[str, Any]) -> bool:
        actual = (obj.get(section) or {}).get(key, "")
        return (actual != value) if operator == "!=" else (actual == value)

    return matches


def field_selector(selector: Optional[str]) -> Matcher:
    matchers = [_field_term(term) for term in _split_terms(selector or "")]
    return lambda obj: all(matcher(obj) for matcher in matchers)


def selector_from_label_selector(spec: Optional[dict[str, Any]]) -> Matcher:
    """A predicate for a ``spec.selector`` object (matchLabels and matchExpressions); empty selects nothing."""
    if not spec:
        return lambda obj: False
    terms = [f"{key}={value}" for key, value in (spec.get("matchLabels") or {}).items()]
    for expression in spec.get("matchExpressions") or []:
        key, operator, values = expression.get("key"), expression.get("operator"), expression.get("values") or []
        terms.append({"In": f"{key} in ({','.join(values)})", "NotIn": f"{key} notin ({','.join(values)})",
                      "Exists": key, "DoesNotExist": f"!{key}"}.get(operator, ""))
    return label_selector(",".join(terms))


def selector_string(spec: Optional[dict[str, Any]]) -> str:
    """The ``status.selector`` text of a scale subresource, e.g. ``app=web``."""
    return ",".join(f"{key}={value}" for key, value in sorted(((spec or {}).get("matchLabels") or {}).items()))
