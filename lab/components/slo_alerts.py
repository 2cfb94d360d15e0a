"""The SLO alert rules of the lab Prometheus: multi-window, multi-burn-rate alerts of the five SLOs (Google SRE workbook,
"Alerting on SLOs", recommendation 6).

Each SLO is written as the ratio of bad events and its error budget (1 - objective). The burn rate over a window is
``bad ratio / budget``; ``OfmErrorBudgetBurn`` fires per SLO and version with

* ``severity="page"``:   burn > 14.4 over 1h and 5m, or burn > 6 over 6h and 30m;
* ``severity="ticket"``: burn > 3 over 1d and 2h, or burn > 1 over 3d and 6h.

The lab shrinks every window by ``alert_window_scale`` (``OFM_LAB_ALERT_WINDOW_SCALE``, default 360: 1h is 10s, 6h is 1m,
3d is 12m), never below 5 s (rate() needs a few 1 s scrapes), so a bad canary pages within seconds and, once its traffic is
back on stable, every alert's short window empties within a minute (the validation's "no alert firing" can be waited for). The recording rules
keep the workbook's window names (``ofm:slo_burn_rate:1h``) whatever the scale.
"""
from __future__ import annotations

from lab.config import LabConfig

SERVICE = "ofm-social-os"
ALERT = "OfmErrorBudgetBurn"
MIN_WINDOW_SECONDS = 5

# slo -> (bad-event ratio by version over {w}, error budget). Objectives as the SLO definitions of the collection
# (plugins/module_utils/slo.py): p95 <= 10 s is "at most 5 % of requests slower than 10 s".
SLOS = {
    "p95_latency": (
        '1 - sum by (version) (rate(http_request_duration_seconds_bucket{{le="10.0"}}[{w}]))'
        " / sum by (version) (rate(http_request_duration_seconds_count[{w}]))", 0.05),
    "error_rate": (
        'sum by (version) (rate(http_requests_total{{status=~"5.."}}[{w}])) / sum by (version) (rate(http_requests_total[{w}]))',
        0.01),
    "success_rate": (
        '1 - sum by (version) (rate(publish_requests_total{{result="success"}}[{w}]))'
        " / sum by (version) (rate(publish_requests_total[{w}]))", 0.05),
    "webhook_signature_verification": (
        "1 - sum by (version) (rate(webhook_signature_verified_total[{w}])) / sum by (version) (rate(webhook_signature_total[{w}]))",
        0.001),
    "db_connection_failures": (
        'sum by (version) (rate(db_connection_attempts_total{{result="failure"}}[{w}]))'
        " / sum by (version) (rate(db_connection_attempts_total[{w}]))", 0.05),
}

WINDOW_SECONDS = {"5m": 300, "30m": 1800, "1h": 3600, "2h": 7200, "6h": 21600, "1d": 86400, "3d": 259200}
# severity -> (long window, short window, burn-rate factor) pairs; each alert fires when either pair burns.
SEVERITIES = {
    "page": (("1h", "5m", 14.4), ("6h", "30m", 6)),
    "ticket": (("1d", "2h", 3), ("3d", "6h", 1)),
}
# Rule groups: (name, evaluation interval, windows recorded, alerts); the long windows are costlier, so evaluated less often.
GROUPS = (("ofm-slo-burn-fast", "1s", ("5m", "30m", "1h", "6h"), ("page",)),
          ("ofm-slo-burn-slow", "5s", ("2h", "1d", "3d"), ("ticket",)))


def scaled(window: str, scale: float) -> str:
    """The lab's length of the workbook window ``window``: divided by ``scale``, at least MIN_WINDOW_SECONDS."""
    return f"{max(MIN_WINDOW_SECONDS, int(round(WINDOW_SECONDS[window] / scale)))}s"


def burn_rate_record(window: str) -> str:
    return f"ofm:slo_burn_rate:{window}"


def alert_rule(severity: str, scale: float) -> dict:
    pairs = SEVERITIES[severity]
    condition = " or ".join(f"({burn_rate_record(long)} > {factor:g} and {burn_rate_record(short)} > {factor:g})"
                            for long, short, factor in pairs)
    described = "; ".join(f"burn rate > {factor:g} over {long} ({scaled(long, scale)} in the lab) and {short} "
                          f"({scaled(short, scale)})" for long, short, factor in pairs)
    return {
        "alert": ALERT,
        "expr": condition,
        "labels": {"severity": severity, "service": SERVICE},
        "annotations": {
            "summary": "{{ $labels.slo }} of the {{ $labels.version }} version burns its error budget " + f"({severity})",
            "description": described + "; burn rate now {{ $value | printf \"%.1f\" }}",
        },
    }


def alert_rules(cfg: LabConfig) -> dict:
    """The rule file: the burn rates by slo and version of every window, and the page and ticket alerts."""
    groups = []
    for name, interval, windows, severities in GROUPS:
        rules: list[dict] = []
        for window in windows:
            lab_window = scaled(window, cfg.alert_window_scale)
            for slo, (bad_ratio, budget) in SLOS.items():
                rules.append({"record": burn_rate_record(window), "expr": f"({bad_ratio.format(w=lab_window)}) / {budget:g}",
                              "labels": {"slo": slo}})
        rules += [alert_rule(severity, cfg.alert_window_scale) for severity in severities]
        groups.append({"name": name, "interval": interval, "rules": rules})
    return {"groups": groups}
