# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A client for the Prometheus HTTP API (``/api/v1/query`` and ``/api/v1/query_range``), and the PromQL helpers: query templates
with ``$selector`` and ``$window`` placeholders, and the checks of label names and matchers."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Optional, TypeVar

from ansible_collections.ofm.rollback.plugins.module_utils.argspec import http_client_kwargs, validated_url
from ansible_collections.ofm.rollback.plugins.module_utils.errors import DataError, InputError
from ansible_collections.ofm.rollback.plugins.module_utils.http import BasicAuth, BearerAuth, ClientAuth, HttpClient

SYSTEM = "Prometheus"
URL_EXAMPLE = "https://prometheus.example.com:9090"
QUERY_PATH = "api/v1/query"
QUERY_RANGE_PATH = "api/v1/query_range"
ERROR_STATUSES = (400, 422)
_T = TypeVar("_T")
# A query template's placeholders; label names and matchers as PromQL accepts them.
PLACEHOLDERS = ("selector", "window")
PLACEHOLDER = re.compile(r"\$([A-Za-z_]\w*)")
LABEL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_MATCHER = r"\s*[A-Za-z_][A-Za-z0-9_]*\s*(?:=~|!~|!=|=)\s*\"(?:[^\"\\]|\\.)*\"\s*"
MATCHERS = re.compile(rf"^{_MATCHER}(?:,{_MATCHER})*,?\s*$")


@dataclass(frozen=True)
class Series:
    """One time series of a result: its labels and ``(unix time, value)`` samples; values may be NaN or +/-Inf."""

    labels: dict[str, str]
    samples: list[tuple[float, float]] = field(default_factory=list)


class PrometheusClient:
    """Instant and range queries; every query is a form POST, which Prometheus treats as read-only."""

    def __init__(self, http: HttpClient) -> None:
        self.http = http

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> "PrometheusClient":
        """A client from the module's ``PROMETHEUS_SPEC`` and ``HTTP_CLIENT_SPEC`` options (``argspec.py``), validated."""
        auth: Optional[ClientAuth] = None
        if params.get("prometheus_token"):
            auth = BearerAuth(params["prometheus_token"])
        elif params.get("prometheus_username"):
            auth = BasicAuth(params["prometheus_username"], params.get("prometheus_password") or "")
        url = validated_url(params["prometheus_url"], "prometheus_url", example=URL_EXAMPLE)
        return cls(HttpClient(url, auth=auth, system=SYSTEM, **http_client_kwargs(params, "prometheus_url")))

    def query(self, expr: str, time: Optional[float] = None) -> list[Series]:
        """Evaluate ``expr`` at ``time`` (default: now); each series holds one sample (scalars have no labels)."""
        form = {"query": expr}
        if time is not None:
            form["time"] = _timestamp(time)
        data = self._post(QUERY_PATH, "query", expr, form)
        return self._parse(QUERY_PATH, "query", expr, lambda: _parse_instant(data))

    def query_range(self, expr: str, start: float, end: float, step: float) -> list[Series]:
        """Evaluate ``expr`` at ``start``, ``start + step``, ... up to ``end`` (unix seconds)."""
        form = {"query": expr, "start": _timestamp(start), "end": _timestamp(end), "step": f"{step:g}"}
        data = self._post(QUERY_RANGE_PATH, "query_range", expr, form)
        return self._parse(QUERY_RANGE_PATH, "query_range", expr, lambda: _parse_matrix(data))

    def _post(self, path: str, operation: str, expr: str, form: dict[str, str]) -> dict[str, Any]:
        response = self.http.request("POST", path, data=form, idempotent=True, expected=(200, *ERROR_STATUSES))
        body = response.body
        if isinstance(body, dict) and body.get("status") == "error":
            raise InputError(self.http.redact(f"Prometheus rejected the query {expr!r}: {body.get('errorType', 'error')}: "
                                              f"{body.get('error', '(no message)')}"),
                             system=SYSTEM, operation=operation, target=response.url, status=response.status,
                             hint="Check the PromQL expression, for example in the Prometheus web UI.",
                             details={"query": expr, "errorType": body.get("errorType")})
        return self._parse(path, operation, expr, lambda: _success_data(body, response.status))

    def _parse(self, path: str, operation: str, expr: str, parse: Callable[[], _T]) -> _T:
        try:
            return parse()
        except _Malformed as exc:
            raise DataError(self.http.redact(f"unexpected answer to {expr!r}: {exc}"), system=SYSTEM, operation=operation,
                            target=self.http.redact(self.http.base_url + path), details={"query": expr}) from exc


class _Malformed(ValueError):
    """The answer does not have the shape of a Prometheus API response."""


def _timestamp(value: float) -> str:
    return f"{value:.3f}"


def _success_data(body: Any, status: int) -> dict[str, Any]:
    if not isinstance(body, dict) or body.get("status") != "success" or not isinstance(body.get("data"), dict):
        raise _Malformed(f"HTTP {status} without status 'success' and a 'data' object")
    return body["data"]


def _parse_matrix(data: dict[str, Any]) -> list[Series]:
    if data.get("resultType") != "matrix":
        raise _Malformed(f"resultType {data.get('resultType')!r}, expected 'matrix'")
    series = []
    for item in _result_list(data):
        if not isinstance(item, dict) or not isinstance(item.get("values"), list):
            raise _Malformed("a matrix element has no 'values' list")
        series.append(Series(dict(item.get("metric") or {}), [_parse_sample(pair) for pair in item["values"]]))
    return series


def _parse_instant(data: dict[str, Any]) -> list[Series]:
    kind = data.get("resultType")
    if kind == "scalar":
        return [Series({}, [_parse_sample(data.get("result"))])]
    if kind != "vector":
        raise _Malformed(f"resultType {kind!r}, expected 'vector' or 'scalar'")
    series = []
    for item in _result_list(data):
        if not isinstance(item, dict):
            raise _Malformed("a vector element is not an object")
        series.append(Series(dict(item.get("metric") or {}), [_parse_sample(item.get("value"))]))
    return series


def _result_list(data: dict[str, Any]) -> list[Any]:
    result = data.get("result")
    if not isinstance(result, list):
        raise _Malformed("'result' is not a list")
    return result


def _parse_sample(pair: Any) -> tuple[float, float]:
    try:
        timestamp, value = pair
        return float(timestamp), float(value)
    except (TypeError, ValueError) as exc:
        raise _Malformed(f'a sample is not [time, "value"]: {pair!r}') from exc


def render_query(template: str, selector: str, window: str) -> str:
    """``template`` with ``$selector`` replaced by label matchers and ``$window`` by a duration.

    An empty selector removes its placeholder together with the comma or braces around it, so
    ``m{a="b",$selector}`` becomes ``m{a="b"}`` and ``m{$selector}`` becomes ``m``.
    """
    text = template
    if not selector:
        text = re.sub(r"\{\s*\$selector\s*\}", "", text)
        text = re.sub(r"\s*,\s*\$selector\b", "", text)
        text = re.sub(r"\$selector\b\s*,\s*", "", text)
    text = re.sub(r"\$selector\b", selector, text)
    return re.sub(r"\$window\b", window, text)
