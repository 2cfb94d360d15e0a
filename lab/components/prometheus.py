"""Prometheus (Debian package): scrapes every second, records the five SLIs by version, and sends the SLO burn-rate alerts
(lab/components/slo_alerts.py) to the lab Alertmanager.

Everything over HTTPS with the lab CA: Prometheus serves its API with the lab's services certificate (``--web.config.file``,
``tls_server_config``), and scrapes the OFM API, HAProxy's exporter and itself, and reaches Alertmanager, verifying theirs.
"""
from __future__ import annotations

import shutil

import yaml

from lab.components.base import Component, lab_json, web_config
from lab.components.slo_alerts import alert_rules
from lab.config import HOST, LabConfig

SLI_RULES = {
    "ofm:sli_latency_p95_seconds": (
        "histogram_quantile(0.95, sum by (version, le) (rate(http_request_duration_seconds_bucket[{w}])))"),
    "ofm:sli_error_ratio": (
        'sum by (version) (rate(http_requests_total{{status=~"5.."}}[{w}]))'
        " / sum by (version) (rate(http_requests_total[{w}]))"),
    "ofm:sli_success_ratio": (
        'sum by (version) (rate(publish_requests_total{{result="success"}}[{w}]))'
        " / sum by (version) (rate(publish_requests_total[{w}]))"),
    "ofm:sli_webhook_verified_ratio": (
        "sum by (version) (rate(webhook_signature_verified_total[{w}]))"
        " / sum by (version) (rate(webhook_signature_total[{w}]))"),
    "ofm:sli_db_connection_failure_ratio": (
        'sum by (version) (rate(db_connection_attempts_total{{result="failure"}}[{w}]))'
        " / sum by (version) (rate(db_connection_attempts_total[{w}]))"),
    "ofm:traffic_share": (
        "sum by (version) (rate(http_requests_total[{w}]))"
        " / ignoring (version) group_left sum(rate(http_requests_total[{w}]))"),
    "ofm:publish_queue_backlog": 'max by (version) (temporal_task_queue_backlog{{task_queue="publish"}})',
}


def scrape_config(cfg: LabConfig) -> dict:
    def target(port_name: str, **labels: str) -> dict:
        return {"targets": [f"{HOST}:{cfg.ports[port_name]}"], "labels": labels}

    # Every target serves the lab's services certificate (127.0.0.1 is among its names).
    tls = {"scheme": "https", "tls_config": {"ca_file": str(cfg.ca_file)}}
    return {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s", "scrape_timeout": "900ms"},
        "rule_files": [str(cfg.path("etc", "prometheus-rules.yml")), str(cfg.path("etc", "prometheus-alerts.yml"))],
        "alerting": {"alertmanagers": [{"api_version": "v2", **tls,
                                        "static_configs": [{"targets": [f"{HOST}:{cfg.ports['alertmanager']}"]}]}]},
        "scrape_configs": [
            {"job_name": "ofm-social-os-api", **tls, "static_configs": [
                target("ofm_api_stable", version="stable", app="ofm-social-os"),
                target("ofm_api_canary", version="canary", app="ofm-social-os"),
            ]},
            {"job_name": "haproxy", **tls, "static_configs": [target("haproxy_stats")]},
            {"job_name": "prometheus", **tls, "static_configs": [target("prometheus")]},
        ],
    }


def recording_rules(cfg: LabConfig) -> dict:
    rules = [{"record": name, "expr": expr.format(w=cfg.sli_window)} for name, expr in SLI_RULES.items()]
    return {"groups": [{"name": "ofm-sli", "interval": "1s", "rules": rules}]}


class Prometheus(Component):
    name = "prometheus"
    ports = ("prometheus",)
    description = "Prometheus: 1 s scrapes, SLI recording rules, SLO burn-rate alerts to Alertmanager"
    start_timeout = 40.0

    def available(self):
        return None if shutil.which("prometheus") else "prometheus is not installed (apt-get install prometheus)"

    def prepare(self, cfg: LabConfig) -> None:
        cfg.path("etc").mkdir(parents=True, exist_ok=True)
        cfg.path("data", "prometheus").mkdir(parents=True, exist_ok=True)
        cfg.path("etc", "prometheus.yml").write_text(yaml.safe_dump(scrape_config(cfg), sort_keys=False))
        cfg.path("etc", "prometheus-rules.yml").write_text(yaml.safe_dump(recording_rules(cfg), sort_keys=False))
        cfg.path("etc", "prometheus-alerts.yml").write_text(yaml.safe_dump(alert_rules(cfg), sort_keys=False, width=1000))
        cfg.path("etc", "prometheus-web.yml").write_text(yaml.safe_dump(web_config(cfg), sort_keys=False))

    def argv(self, cfg: LabConfig) -> list[str]:
        return [
            shutil.which("prometheus") or "prometheus",
            f"--config.file={cfg.path('etc', 'prometheus.yml')}",
            f"--storage.tsdb.path={cfg.path('data', 'prometheus')}",
            "--storage.tsdb.retention.time=12h",
            f"--web.listen-address={HOST}:{cfg.ports['prometheus']}",
            "--web.enable-lifecycle",
            "--web.enable-admin-api",
            f"--web.config.file={cfg.path('etc', 'prometheus-web.yml')}",
        ]

    def ready(self, cfg: LabConfig) -> bool:
        return lab_json(cfg, "prometheus", "/-/ready") is not None
