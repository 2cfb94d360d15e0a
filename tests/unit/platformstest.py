# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The platforms stand-in (lab/services/platforms.py) seeded as the lab seeds it, for the platform unit tests."""
from __future__ import annotations

import contextlib
import json
import time
from typing import Any, Iterator

from unithelpers import http_call, serving

from lab.components.platforms import META_APP_ID, TIKTOK_CLIENT_KEY, seed
from lab.config import Credentials
from lab.services.platforms import PlatformsApp


class Stand:
    """A running stand-in: its URL, its seed (secrets included) and the module options of each platform."""

    def __init__(self, url: str, seeded: dict[str, Any]) -> None:
        self.url = url
        self.seed = seeded
        self.meta_secret = seeded["meta"]["app_secret"]
        self.tiktok_secret = seeded["tiktok"]["client_secret"]
        self.instagram_token = next(iter(seeded["tokens"]["meta"]))
        self.tiktok_token = next(iter(seeded["tokens"]["tiktok"]))

    def options(self, platform: str, **extra: Any) -> dict[str, Any]:
        app_id, secret = (META_APP_ID, self.meta_secret) if platform == "meta" else (TIKTOK_CLIENT_KEY, self.tiktok_secret)
        return {"platform": platform, "api_url": self.url, "app_id": app_id, "app_secret": secret, "validate_certs": True, "ca_path": None,
                "timeout": 5.0, "retries": 1, **extra}

    def secrets(self) -> list[str]:
        return [self.meta_secret, self.tiktok_secret, self.instagram_token, self.tiktok_token, f"{META_APP_ID}|{self.meta_secret}"]

    def leaks(self, *values: Any) -> list[str]:
        text = json.dumps(values, default=str)
        return [secret for secret in self.secrets() if secret in text]

    def state(self) -> dict[str, Any]:
        return http_call(f"{self.url}/__lab/state")[1]

    def writes(self) -> list[dict[str, Any]]:
        return [entry for entry in http_call(f"{self.url}/__lab/requests")[1]["requests"] if entry["method"] != "GET"]

    def fault(self, **fault: Any) -> None:
        http_call(f"{self.url}/__lab/faults", "PUT", fault)

    def token(self, platform: str, token: str, **fields: Any) -> None:
        http_call(f"{self.url}/__lab/tokens", "PUT", {"platform": platform, "token": token, **fields})


def lab_seed() -> dict[str, Any]:
    return seed(Credentials.generate(), time.time())


@contextlib.contextmanager
def stand_in() -> Iterator[Stand]:
    seeded = lab_seed()
    with serving(PlatformsApp(seeded).handler()) as url:
        yield Stand(url, seeded)
