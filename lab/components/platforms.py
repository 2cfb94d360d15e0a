"""Meta (Instagram) and TikTok: a **stand-in** (lab/services/platforms.py) with the platforms' request and response shapes.

The seed is the OFM app of each platform as the lab's Kubernetes configuration describes it: the webhook callback URLs are
``WEBHOOK_URL_META`` and ``WEBHOOK_URL_TIKTOK`` of ConfigMap ofm-social-os-config (lab/services/kube/seed.py), the Meta app
secret is ``META_APP_SECRET`` and the TikTok client secret ``TIKTOK_API_KEY`` of Secret ofm-social-os-secrets, and OFM's
stored Instagram token is ``INSTAGRAM_API_KEY`` of that Secret; OFM's stored TikTok user token is the credentials file's
``tiktok_access_token``. ``lab reset`` puts the seed back. The seed reaches the process through its environment.
"""
from __future__ import annotations

import json
import time

from lab.components.base import PythonService, lab_json
from lab.config import Credentials, LabConfig
from lab.services.kube.seed import CONFIG
from lab.services.platforms import META_VERSION, SEED_VARIABLE

META_APP_ID = "1000000000000001"
TIKTOK_CLIENT_KEY = "awofmlab00000001"
# Lists in sorted order: the collection compares them as sets and writes them sorted, so a restore gives back the seed exactly.
META_SCOPES = ["instagram_basic", "instagram_content_publish", "instagram_manage_comments", "pages_read_engagement", "pages_show_list"]
META_WEBHOOK_FIELDS = ["comments", "mentions", "story_insights"]
TIKTOK_SCOPES = ["user.info.basic", "video.publish", "video.upload"]
META_REDIRECT_URIS = ["https://app.ofm.social/oauth/instagram/callback"]
TOKEN_DAYS = 60


def seed(credentials: Credentials, now: float) -> dict:
    """The OFM app of each platform and OFM's stored tokens."""
    platform_keys = credentials.ofm_api_secrets
    expires = int(now) + TOKEN_DAYS * 86400
    return {
        "meta": {"app_id": META_APP_ID, "app_secret": platform_keys["META_APP_SECRET"],
                 "subscriptions": [{"object": "instagram", "callback_url": CONFIG["WEBHOOK_URL_META"], "active": True,
                                    "fields": [{"name": name, "version": META_VERSION} for name in META_WEBHOOK_FIELDS]}],
                 "settings": {"redirect_uris": list(META_REDIRECT_URIS), "scopes": list(META_SCOPES)}},
        "tiktok": {"client_key": TIKTOK_CLIENT_KEY, "client_secret": platform_keys["TIKTOK_API_KEY"],
                   "settings": {"redirect_uris": ["https://app.ofm.social/oauth/tiktok/callback"], "scopes": list(TIKTOK_SCOPES),
                                "webhook_url": CONFIG["WEBHOOK_URL_TIKTOK"]}},
        "tokens": {"meta": {platform_keys["INSTAGRAM_API_KEY"]: {"scopes": list(META_SCOPES), "expires_at": expires, "issued_at": int(now)}},
                   "tiktok": {credentials.tiktok_access_token: {"scopes": list(TIKTOK_SCOPES), "expires_at": expires, "open_id": "ofm-lab-open-id"}}},
    }


class Platforms(PythonService):
    name = "platforms"
    module = "platforms"
    ports = ("platforms",)
    stand_in = "Meta Graph API and TikTok Open API (webhook subscriptions, OAuth app settings, token checks)"
    description = "Meta (Instagram) and TikTok stand-in: the OFM app's webhook subscriptions, OAuth settings and tokens"

    def service_args(self, cfg: LabConfig) -> list[str]:
        return ["--port", str(cfg.ports["platforms"])]

    def env(self, cfg: LabConfig) -> dict[str, str]:
        return {SEED_VARIABLE: json.dumps(seed(cfg.credentials(), time.time()))}

    def reset(self, cfg: LabConfig) -> None:
        lab_json(cfg, "platforms", "/__lab/reset", "POST", {})
