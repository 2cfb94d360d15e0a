"""Alertmanager (Debian ``prometheus-alertmanager``): receives the lab Prometheus's SLO burn-rate alerts and the alerts that
``lab alert fire`` posts through its API v2.

Its default receiver is a null receiver (the lab has no pager): what fired is read back from Alertmanager's own API, as
the collection's ``alertmanager_alerts_info`` does. The paging SLO alerts (``OfmErrorBudgetBurn``, severity ``page``) go
to a webhook receiver as well, ``http://127.0.0.1:<port eda>/alerts``: the Event-Driven Ansible rulebook's Alertmanager
source listens there when it runs (extensions/eda; without it Alertmanager logs a failed delivery and retries).
Clustering is off (no gossip port), so labs side by side do not meet. Its API is HTTPS with the lab's services
certificate (``--web.config.file``).
Alerts posted by ``lab alert fire`` carry the label ``origin="lab"``; ``lab alert clear`` and ``lab reset`` resolve every
active one of them (re-posted with ``endsAt`` now), and leave the alerts Prometheus sends alone (they resolve when the
canary is good again and the burn-rate windows have drained).
"""
from __future__ import annotations

import json
import shutil
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime, timedelta, timezone
from typing import Any, Optional

import yaml

from lab.components.base import Component, lab_json, web_config
from lab.config import HOST, LabConfig
from lab.tls import client_context

SERVICE = "ofm-social-os"
ORIGIN_LABEL = ("origin", "lab")
BINARY = "prometheus-alertmanager"


def config(cfg: LabConfig) -> dict[str, Any]:
    """The Alertmanager configuration: group per alert, SLO and version, deliver at once; the paging SLO alerts to the
    rulebook's webhook, everything else to the null receiver."""
    return {
        "global": {"resolve_timeout": "5m"},
        "route": {"receiver": "lab-null", "group_by": ["alertname", "slo", "version"], "group_wait": "1s", "group_interval": "5s",
                  "repeat_interval": "1h",
                  "routes": [{"receiver": "lab-eda", "matchers": ['alertname="OfmErrorBudgetBurn"', 'severity="page"']}]},
        "receivers": [{"name": "lab-null"},
                      {"name": "lab-eda", "webhook_configs": [{"url": f"http://{HOST}:{cfg.ports['eda']}/alerts", "send_resolved": True}]}],
    }


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _stamp(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def api(cfg: LabConfig, method: str, path: str, body: Any = None) -> Any:
    """One request to the lab Alertmanager's API v2; its parsed answer. Raises RuntimeError when it does not answer."""
    request = urllib.request.Request(f"{cfg.url('alertmanager')}/api/v2/{path}", method=method,
                                     data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=5, context=client_context(cfg.ca_file)) as response:  # nosec - loopback lab URL
            payload = response.read()
    except urllib.error.HTTPError as exc:
        raise RuntimeError(f"Alertmanager answered {method} /api/v2/{path} with HTTP {exc.code}: "
                           f"{exc.read().decode(errors='replace')[:300]}") from exc
    except OSError as exc:
        raise RuntimeError(f"Alertmanager at {cfg.url('alertmanager')} does not answer ({exc}); is the lab up? (lab status)") from exc
    return json.loads(payload) if payload.strip() else None


def fire(cfg: LabConfig, name: str, labels: dict[str, str], duration: timedelta = timedelta(hours=1),
         summary: Optional[str] = None) -> dict[str, Any]:
    """Post the alert ``name`` (labels service=ofm-social-os, severity=page unless given, origin=lab), active for ``duration``."""
    all_labels = {"severity": "page", **labels, "alertname": name, "service": labels.get("service", SERVICE),
                  ORIGIN_LABEL[0]: ORIGIN_LABEL[1]}
    now = _now()
    alert = {"labels": all_labels, "annotations": {"summary": summary or f"{name} posted by `lab alert fire`"},
             "startsAt": _stamp(now), "endsAt": _stamp(now + duration), "generatorURL": "http://lab.invalid/lab-alert-fire"}
    api(cfg, "POST", "alerts", [alert])
    return alert


def posted(cfg: LabConfig) -> list[dict[str, Any]]:
    """The active alerts ``lab alert fire`` posted (silenced and inhibited ones included)."""
    matcher = f'{ORIGIN_LABEL[0]}="{ORIGIN_LABEL[1]}"'
    return api(cfg, "GET", "alerts?" + urllib.parse.urlencode({"filter": matcher, "active": "true"})) or []


def clear(cfg: LabConfig) -> list[str]:
    """Resolve every active lab-posted alert (endsAt now); the names resolved."""
    alerts = posted(cfg)
    if not alerts:
        return []
    now = _stamp(_now())
    api(cfg, "POST", "alerts", [{"labels": alert["labels"], "annotations": alert.get("annotations") or {},
                                 "startsAt": alert["startsAt"], "endsAt": now} for alert in alerts])
    return sorted(alert["labels"].get("alertname", "?") for alert in alerts)


class Alertmanager(Component):
    name = "alertmanager"
    ports = ("alertmanager",)
    description = "Alertmanager: the SLO burn-rate alerts of the lab Prometheus and `lab alert fire`; the paging ones to the EDA webhook"

    def available(self) -> Optional[str]:
        return None if shutil.which(BINARY) else f"{BINARY} is not installed (apt-get install prometheus-alertmanager)"

    def prepare(self, cfg: LabConfig) -> None:
        cfg.path("etc").mkdir(parents=True, exist_ok=True)
        cfg.path("data", "alertmanager").mkdir(parents=True, exist_ok=True)
        cfg.path("etc", "alertmanager.yml").write_text(yaml.safe_dump(config(cfg), sort_keys=False))
        cfg.path("etc", "alertmanager-web.yml").write_text(yaml.safe_dump(web_config(cfg), sort_keys=False))

    def argv(self, cfg: LabConfig) -> list[str]:
        return [
            shutil.which(BINARY) or BINARY,
            f"--config.file={cfg.path('etc', 'alertmanager.yml')}",
            f"--storage.path={cfg.path('data', 'alertmanager')}",
            f"--web.listen-address={HOST}:{cfg.ports['alertmanager']}",
            "--cluster.listen-address=",
            "--data.retention=12h",
            f"--web.config.file={cfg.path('etc', 'alertmanager-web.yml')}",
        ]

    def ready(self, cfg: LabConfig) -> bool:
        return lab_json(cfg, "alertmanager", "/-/ready") is not None

    def reset(self, cfg: LabConfig) -> None:
        try:
            clear(cfg)
        except RuntimeError:
            pass
