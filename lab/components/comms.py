"""Slack-compatible receiver and Statuspage stand-ins."""
from __future__ import annotations

from lab.components.base import PythonService, http_json
from lab.config import LabConfig


class Slack(PythonService):
    name = "slack"
    module = "comms"
    ports = ("slack",)
    description = "Slack stand-in (incoming webhooks + Web API chat.postMessage)"
    stand_in = "Slack (a SaaS; no network here)"

    def service_args(self, cfg: LabConfig) -> list[str]:
        return ["--port", str(cfg.ports["slack"]), "--kind", "slack",
                "--store", str(cfg.path("data", "slack.jsonl")), "--token", cfg.credentials().slack_bot_token]

    def reset(self, cfg: LabConfig) -> None:
        http_json(f"{cfg.url('slack')}/__lab/messages", "DELETE")
        http_json(f"{cfg.url('slack')}/__lab/faults", "DELETE")


class StatusPage(PythonService):
    name = "statuspage"
    module = "comms"
    ports = ("statuspage",)
    description = "Statuspage API v1 stand-in"
    stand_in = "Atlassian Statuspage (a SaaS; no network here)"

    def service_args(self, cfg: LabConfig) -> list[str]:
        return ["--port", str(cfg.ports["statuspage"]), "--kind", "statuspage",
                "--store", str(cfg.path("data", "statuspage.jsonl")), "--token", cfg.credentials().statuspage_api_key]

    def reset(self, cfg: LabConfig) -> None:
        http_json(f"{cfg.url('statuspage')}/__lab/messages", "DELETE")
        http_json(f"{cfg.url('statuspage')}/__lab/faults", "DELETE")
