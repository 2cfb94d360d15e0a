"""Slack-compatible receiver and Statuspage stand-ins: ``lab.services.comms`` of one kind each."""
from __future__ import annotations

from lab.components.base import PythonService, lab_json
from lab.config import Credentials, LabConfig

KINDS = {
    "slack": ("Slack stand-in (incoming webhooks + Web API chat.postMessage)", "Slack (a SaaS; no network here)"),
    "statuspage": ("Statuspage API v1 stand-in", "Atlassian Statuspage (a SaaS; no network here)"),
}


class Comms(PythonService):
    """The stand-in of ``kind``, named and ported after it, recording to ``data/<kind>.jsonl``."""

    module = "comms"

    def __init__(self, kind: str):
        self.name = kind
        self.ports = (kind,)
        self.description, self.stand_in = KINDS[kind]

    def service_args(self, cfg: LabConfig) -> list[str]:
        return ["--port", str(cfg.ports[self.name]), "--kind", self.name,
                "--store", str(cfg.path("data", f"{self.name}.jsonl")), "--token", self.credential(cfg.credentials())]

    def credential(self, credentials: Credentials) -> str:
        """The bot token or API key the stand-in accepts."""
        return credentials.slack_bot_token if self.name == "slack" else credentials.statuspage_api_key

    def reset(self, cfg: LabConfig) -> None:
        lab_json(cfg, self.name, "/__lab/messages", "DELETE")
        lab_json(cfg, self.name, "/__lab/faults", "DELETE")
