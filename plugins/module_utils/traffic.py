# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where the traffic goes now: the split the router is configured with, and the split Prometheus measures.

* ``configured``: the stable and canary weights of a ``Router``. ``HaproxyRouter`` reads them from
  HAProxy's runtime API; any object with a ``configured()`` method fits (an nginx canary ingress's
  ``canary-weight`` annotation, an Argo Rollout's ``status.canary.weights``).
* ``measured``: each version's share of the requests over a short window, from
  ``sum by (<version_label>) (rate(<metric>{<selector>}[<window>]))``. No data is ``unknown``, never 0 %.
* ``wait_until_stable`` polls, with a monotonic deadline, until the canary's configured weight is 0
  and its measured share is at most ``max_canary_share``.
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass, replace
from typing import Any, Callable, Mapping, Optional, Protocol

from ansible_collections.ofm.rollback.plugins.module_utils.argspec import PROMETHEUS_SPEC
from ansible_collections.ofm.rollback.plugins.module_utils.durations import format_duration, parse_duration
from ansible_collections.ofm.rollback.plugins.module_utils.errors import DataError, DeadlineExceeded, InputError, NotFoundError
from ansible_collections.ofm.rollback.plugins.module_utils.haproxy import SYSTEM as HAPROXY_SYSTEM
from ansible_collections.ofm.rollback.plugins.module_utils.haproxy import HaproxyRuntimeClient, check_name
from ansible_collections.ofm.rollback.plugins.module_utils.polling import Poller, read_once
from ansible_collections.ofm.rollback.plugins.module_utils.prometheus import PrometheusClient, Series

STABLE, CANARY = "stable", "canary"
WAIT_FOR = ("none", "all_on_stable")
SHARE_DIGITS = 6

HAPROXY_ROUTER_SPEC: dict[str, dict[str, Any]] = {
    "haproxy_runtime_api": {"type": "str"},
    "haproxy_backend": {"type": "str", "default": "ofm_api"},
    "stable_server": {"type": "str", "default": "stable"},
    "canary_server": {"type": "str", "default": "canary"},
    "haproxy_timeout": {"type": "float", "default": 5.0},
}

TRAFFIC_MEASURE_SPEC: dict[str, dict[str, Any]] = {
    "measure_window": {"type": "str", "default": "30s"},
    "version_label": {"type": "str", "default": "version"},
    "request_metric": {"type": "str", "default": "http_requests_total"},
    "selector": {"type": "str", "default": ""},
}

OPTIONAL_PROMETHEUS_SPEC: dict[str, dict[str, Any]] = {
    **PROMETHEUS_SPEC,
    "prometheus_url": {**PROMETHEUS_SPEC["prometheus_url"], "required": False},
}

_LABEL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_METRIC_NAME = re.compile(r"^[A-Za-z_:][A-Za-z0-9_:]*$")
_MATCHER = r"\s*[A-Za-z_][A-Za-z0-9_]*\s*(?:=~|!~|!=|=)\s*\"(?:[^\"\\]|\\.)*\"\s*"
_MATCHERS = re.compile(rf"^{_MATCHER}(?:,{_MATCHER})*$")


@dataclass(frozen=True)
class ConfiguredSplit:
    """The weights a router gives the stable and the canary version."""

    stable_weight: int
    canary_weight: int
    source: str

    @property
    def canary_percent(self) -> Optional[float]:
        total = self.stable_weight + self.canary_weight
        return round(100.0 * self.canary_weight / total, 2) if total else None

    @property
    def all_on_stable(self) -> bool:
        return self.canary_weight == 0 and self.stable_weight > 0

    def as_dict(self) -> dict[str, Any]:
        return {"stable_weight": self.stable_weight, "canary_weight": self.canary_weight, "canary_percent": self.canary_percent,
                "source": self.source}


@dataclass(frozen=True)
class MeasuredSplit:
    """Each version's share of the requests over ``window``; the shares are ``None`` when Prometheus cannot tell."""

    window: str
    query: str
    stable_share: Optional[float] = None
    canary_share: Optional[float] = None
    requests_per_second: Optional[float] = None
    unknown_reason: Optional[str] = None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class TrafficSplit:
    """One reading of the traffic split; either part is ``None`` when its source is not configured."""

    configured: Optional[ConfiguredSplit]
    measured: Optional[MeasuredSplit]

    def all_on_stable(self, max_canary_share: float = 0.0) -> Optional[bool]:
        """True when every source shows the canary without traffic; False when one shows traffic; else None (unknown)."""
        verdicts: list[Optional[bool]] = []
        if self.configured is not None:
            verdicts.append(self.configured.all_on_stable)
        if self.measured is not None:
            share = self.measured.canary_share
            verdicts.append(None if share is None else share <= max_canary_share)
        if False in verdicts:
            return False
        if None in verdicts or not verdicts:
            return None
        return True

    def canary_carries_traffic(self) -> Optional[bool]:
        """Whether the canary still gets traffic: the router decides; without a router the measured share; None when unknown.

        The measured share lags the router by the measuring window, so once a router says the canary has no weight,
        the canary is done with even while requests of the last seconds still show in Prometheus.
        """
        if self.configured is not None:
            return not self.configured.all_on_stable
        if self.measured is not None and self.measured.canary_share is not None:
            return self.measured.canary_share > 0
        return None

    def summary(self) -> dict[str, Any]:
        """The weights (and, without a router, the measured shares) in a flat dict, for diffs."""
        if self.configured is not None:
            return {"stable_weight": self.configured.stable_weight, "canary_weight": self.configured.canary_weight}
        if self.measured is not None and self.measured.canary_share is not None:
            return {"stable_share": self.measured.stable_share, "canary_share": self.measured.canary_share}
        return {}

    def describe(self) -> str:
        parts = []
        if self.configured is not None:
            parts.append(f"canary weight {self.configured.canary_weight}, stable weight {self.configured.stable_weight}")
        if self.measured is not None:
            share = self.measured.canary_share
            parts.append(f"measured canary share unknown ({self.measured.unknown_reason})" if share is None
                         else f"measured canary share {share:.2%} over {self.measured.window}")
        return "; ".join(parts) or "no traffic source configured"

    def as_dict(self) -> dict[str, Any]:
        return {"configured": self.configured.as_dict() if self.configured else None,
                "measured": self.measured.as_dict() if self.measured else None}


class Router(Protocol):
    """Anything that knows the weights it routes by."""

    def configured(self) -> ConfiguredSplit:
        ...


class HaproxyRouter:
    """The weights of a stable and a canary server in one HAProxy backend, from ``show servers state``."""

    def __init__(self, client: HaproxyRuntimeClient, backend: str, stable_server: str, canary_server: str) -> None:
        self.client = client
        self.backend = check_name("backend", backend, "haproxy_backend")
        self.stable_server = check_name("server", stable_server, "stable_server")
        self.canary_server = check_name("server", canary_server, "canary_server")

    def configured(self) -> ConfiguredSplit:
        rows = {row.get("srv_name"): row for row in self.client.show_servers_state(self.backend)}
        missing = [name for name in (self.stable_server, self.canary_server) if name not in rows]
        if missing:
            raise NotFoundError(f"backend {self.backend} has no server {' or '.join(missing)}; its servers: {', '.join(sorted(rows)) or 'none'}",
                                system=HAPROXY_SYSTEM, operation=f"command 'show servers state {self.backend}'", target=self.client.target,
                                hint="Set stable_server and canary_server to the server names of the backend.")
        return ConfiguredSplit(self._weight(rows[self.stable_server]), self._weight(rows[self.canary_server]),
                               f"HAProxy backend {self.backend} at {self.client.target}")

    def _weight(self, row: Mapping[str, str]) -> int:
        weight = row.get("srv_uweight", "")
        if not weight.isdigit():
            raise DataError(f"server {row.get('srv_name')} has weight {weight!r}, not a number", system=HAPROXY_SYSTEM,
                            operation=f"command 'show servers state {self.backend}'", target=self.client.target)
        return int(weight)


class TrafficMeter:
    """Each version's share of the request rate, measured by Prometheus."""

    # pylint: disable-next=too-many-arguments
    def __init__(self, prometheus: PrometheusClient, *, window: float = 30.0, version_label: str = "version",
                 metric: str = "http_requests_total", selector: str = "", stable_version: str = STABLE,
                 canary_version: str = CANARY) -> None:
        self.prometheus = prometheus
        self.window = format_duration(window)
        self.version_label = version_label
        self.stable_version = stable_version
        self.canary_version = canary_version
        matchers = f"{{{selector.strip()}}}" if selector.strip() else ""
        self.query = f"sum by ({version_label}) (rate({metric}{matchers}[{self.window}]))"

    def measure(self) -> MeasuredSplit:
        rates = self._rates(self.prometheus.query(self.query))
        total = sum(rates.values())
        unknown = self._unknown_reason(rates, total)
        if unknown:
            return MeasuredSplit(self.window, self.query, unknown_reason=unknown)
        return MeasuredSplit(self.window, self.query,
                             stable_share=round(rates.get(self.stable_version, 0.0) / total, SHARE_DIGITS),
                             canary_share=round(rates.get(self.canary_version, 0.0) / total, SHARE_DIGITS),
                             requests_per_second=round(total, 3))

    def _rates(self, series: list[Series]) -> dict[str, float]:
        rates: dict[str, float] = {}
        for item in series:
            value = item.samples[0][1] if item.samples else math.nan
            if math.isfinite(value):
                version = item.labels.get(self.version_label, "")
                rates[version] = rates.get(version, 0.0) + value
        return rates

    def _unknown_reason(self, rates: dict[str, float], total: float) -> Optional[str]:
        if not rates:
            return f"Prometheus has no samples for the query in the last {self.window}"
        if total <= 0:
            return f"no requests in the last {self.window}"
        if self.stable_version not in rates and self.canary_version not in rates:
            found = ", ".join(sorted(f"{self.version_label}={version!r}" for version in rates))
            return f"no series has {self.version_label}={self.stable_version!r} or {self.canary_version!r} (found {found})"
        return None


class TrafficReader:
    """Reads the configured and the measured split from whichever sources are given (possibly none)."""

    def __init__(self, router: Optional[Router] = None, meter: Optional[TrafficMeter] = None) -> None:
        self.router = router
        self.meter = meter

    @property
    def has_source(self) -> bool:
        return self.router is not None or self.meter is not None

    @property
    def requests(self) -> list[dict[str, Any]]:
        """The HTTP attempts made to Prometheus so far."""
        return self.meter.prometheus.http.requests if self.meter else []

    def read(self) -> TrafficSplit:
        return TrafficSplit(self.router.configured() if self.router else None, self.meter.measure() if self.meter else None)


WAIT_SPEC: dict[str, dict[str, Any]] = {
    "wait_for": {"type": "str", "choices": list(WAIT_FOR), "default": "none"},
    "wait_timeout": {"type": "float", "default": 300.0},
    "wait_interval": {"type": "float", "default": 2.0},
    "max_canary_share": {"type": "float", "default": 0.0},
}


@dataclass(frozen=True)
class WaitOptions:
    """Validated ``WAIT_SPEC`` options (seconds, and a share from 0 to 1)."""

    wait_for: str
    timeout: float
    interval: float
    max_canary_share: float


def wait_options(params: Mapping[str, Any]) -> WaitOptions:
    """``WaitOptions`` from ``WAIT_SPEC`` options, each checked."""
    for option in ("wait_timeout", "wait_interval"):
        if params[option] <= 0:
            raise InputError(f"{option} must be more than 0 seconds, got {params[option]:g}", option=option, accepted="a number of seconds above 0")
    if not 0 <= params["max_canary_share"] <= 1:
        raise InputError(f"max_canary_share must be a fraction, got {params['max_canary_share']:g}", option="max_canary_share",
                         accepted="a number from 0 (no canary request at all) to 1")
    return WaitOptions(params["wait_for"], params["wait_timeout"], params["wait_interval"], params["max_canary_share"])


@dataclass(frozen=True)
class StableWait:
    """The last reading of a wait, its verdict, how long the wait took and how many readings it made."""

    split: TrafficSplit
    all_on_stable: Optional[bool]
    waited_seconds: float
    polls: int

    def as_dict(self) -> dict[str, Any]:
        return {**self.split.as_dict(), "all_on_stable": self.all_on_stable, "waited_seconds": self.waited_seconds, "polls": self.polls}

    def message(self) -> str:
        verdicts = {True: "All traffic is on stable", False: "The canary carries traffic", None: "Unknown whether the canary carries traffic"}
        return f"{verdicts[self.all_on_stable]}: {self.split.describe()}."


def read_split(reader: TrafficReader, max_canary_share: float = 0.0) -> StableWait:
    """One reading, judged like a wait's (the check-mode twin of ``wait_until_stable``: no wait, no deadline)."""
    def read() -> StableWait:
        split = reader.read()
        return StableWait(split, split.all_on_stable(max_canary_share), 0.0, 1)

    return read_once(read, lambda reading: bool(reading.all_on_stable)).value


# pylint: disable-next=too-many-arguments
def wait_until_stable(reader: TrafficReader, *, max_canary_share: float = 0.0, timeout: float = 300.0, interval: float = 2.0,
                      clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> StableWait:
    """Read every ``interval`` until the canary's weight is 0 and its measured share at most ``max_canary_share``.

    An unknown measured share does not count as 0. Raises ``DeadlineExceeded`` (``last_state``: a ``StableWait``)
    when ``timeout`` runs out first.
    """
    readings: list[StableWait] = []

    def read() -> StableWait:
        split = reader.read()
        reading = StableWait(split, split.all_on_stable(max_canary_share), 0.0, len(readings) + 1)
        readings.append(reading)
        return reading

    def timed_out(reading: StableWait, polls: int, elapsed: float) -> Exception:
        split = reading.split
        return DeadlineExceeded(
            f"the canary still had traffic after {polls} reading(s) in {timeout:g}s: {split.describe()}",
            system="traffic split", operation="wait until all traffic is on stable", target=_sources(reader, split),
            timeout=timeout, last_state=replace(reading, waited_seconds=round(elapsed, 3)),
            hint="Check that the rollback reached the router (configured weights), and raise wait_timeout when the measured "
                 "share still includes requests from before the rollback.")

    polled = Poller(timeout=timeout, interval=interval, clock=clock, sleep=sleep).until(read, lambda reading: reading.all_on_stable, timed_out)
    return replace(polled.value, waited_seconds=round(polled.elapsed, 3))


def _sources(reader: TrafficReader, split: TrafficSplit) -> str:
    names = [split.configured.source] if split.configured else []
    if reader.meter is not None:
        names.append(f"Prometheus at {reader.meter.prometheus.http.redact(reader.meter.prometheus.http.base_url)}")
    return " and ".join(names)


def haproxy_router(params: Mapping[str, Any]) -> Optional[HaproxyRouter]:
    """A ``HaproxyRouter`` from ``HAPROXY_ROUTER_SPEC`` options, or None when ``haproxy_runtime_api`` is not set."""
    if not params.get("haproxy_runtime_api"):
        return None
    return HaproxyRouter(HaproxyRuntimeClient.from_params(params), params["haproxy_backend"], params["stable_server"], params["canary_server"])


def traffic_meter(params: Mapping[str, Any], prometheus: PrometheusClient) -> TrafficMeter:
    """A ``TrafficMeter`` on ``prometheus`` from ``TRAFFIC_MEASURE_SPEC`` options, validated."""
    _check_pattern(params["version_label"], _LABEL_NAME, "version_label", "a Prometheus label name such as version")
    _check_pattern(params["request_metric"], _METRIC_NAME, "request_metric", "a Prometheus metric name such as http_requests_total")
    if params["selector"].strip():
        _check_pattern(params["selector"], _MATCHERS, "selector", 'label matchers without braces, such as namespace="ofm-production"')
    return TrafficMeter(prometheus, window=parse_duration(params["measure_window"], "measure_window"),
                        version_label=params["version_label"], metric=params["request_metric"], selector=params["selector"])


def traffic_reader(params: Mapping[str, Any]) -> TrafficReader:
    """A ``TrafficReader`` from the HAProxy router, measurement and (optional) Prometheus options."""
    router = haproxy_router(params)
    meter = traffic_meter(params, PrometheusClient.from_params(params)) if params.get("prometheus_url") else None
    return TrafficReader(router, meter)


def _check_pattern(value: str, pattern: re.Pattern[str], option: str, accepted: str) -> None:
    if not pattern.match(value or ""):
        raise InputError(f"{value!r} is not valid", option=option, accepted=accepted)
