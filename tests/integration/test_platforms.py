"""platform_app and platform_token_info through ansible against the lab's platforms stand-in (Meta Graph API and TikTok
Open API shapes), seeded from the lab's ConfigMap and Secret: snapshot -> change -> restore -> equal, a second run changes
nothing, check mode sends nothing, the stored tokens hold the app's scopes, a refused token and a refused app secret fail
clearly, the component's reset puts the seed back, and no app secret or token is ever in the output.

Not shared_lab: only these tests write to the stand-in, and they put the apps back as they were."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pytest
from labtest import credentials, lab_request, run_module, tls

from lab.components.platforms import META_APP_ID, TIKTOK_CLIENT_KEY, Platforms
from lab.config import LabConfig
from lab.services.kube.seed import CONFIG

pytestmark = pytest.mark.usefixtures("lab")
VERIFY = "integration-verify-token-31d9"


class Stand:
    def __init__(self, lab: LabConfig) -> None:
        secrets = credentials(lab)
        self.lab = lab
        self.url = lab.url("platforms")
        platform_keys = secrets["ofm_api_secrets"]
        self.app = {"meta": (META_APP_ID, platform_keys["META_APP_SECRET"]), "tiktok": (TIKTOK_CLIENT_KEY, platform_keys["TIKTOK_API_KEY"])}
        self.tokens = {"meta": platform_keys["INSTAGRAM_API_KEY"], "tiktok": secrets["tiktok_access_token"]}
        self.secrets = [platform_keys["META_APP_SECRET"], platform_keys["TIKTOK_API_KEY"], *self.tokens.values(), VERIFY]

    def args(self, platform: str, **extra: Any) -> dict[str, Any]:
        app_id, secret = self.app[platform]
        return {"platform": platform, "api_url": self.url, "app_id": app_id, "app_secret": secret, "timeout": 10, **tls(self.lab), **extra}

    def state(self) -> dict[str, Any]:
        return lab_request(f"{self.url}/__lab/state")[1]

    def leaked(self, *runs: Any) -> list[str]:
        text = "".join(run.stdout + run.stderr for run in runs)
        return [secret for secret in self.secrets if secret in text]


@pytest.fixture(name="stand")
def fixture_stand(lab: LabConfig, tmp_path: Path) -> Iterator[Stand]:
    """The stand-in's apps, put back as they were after the test (through the modules themselves, checked by its state)."""
    stand = Stand(lab)
    before = stand.state()
    kept = {platform: run_module("platform_app", stand.args(platform), tmp_path).result["settings"] for platform in ("meta", "tiktok")}
    yield stand
    for platform, settings in kept.items():
        run_module("platform_app", stand.args(platform, settings=settings, verify_token=VERIFY), tmp_path)
    assert {key: stand.state()[key] for key in ("meta", "tiktok")} == {key: before[key] for key in ("meta", "tiktok")}


def test_the_apps_match_the_labs_configuration(stand: Stand, tmp_path: Path):
    meta = run_module("platform_app", stand.args("meta"), tmp_path)
    tiktok = run_module("platform_app", stand.args("tiktok"), tmp_path)
    assert meta.result["settings"]["subscriptions"]["instagram"]["callback_url"] == CONFIG["WEBHOOK_URL_META"]
    assert tiktok.result["settings"]["webhook_url"] == CONFIG["WEBHOOK_URL_TIKTOK"]
    assert not stand.leaked(meta, tiktok)


@pytest.mark.parametrize("platform, change", [
    ("meta", {"subscriptions": {"instagram": {"callback_url": "https://hooks-staging.ofm.social/meta", "fields": ["comments"]}},
              "scopes": ["instagram_basic"]}),
    ("tiktok", {"webhook_url": "https://hooks-staging.ofm.social/tiktok", "redirect_uris": ["https://staging.ofm.social/cb"]})])
def test_snapshot_change_restore_equal_then_unchanged_and_check_mode_sends_nothing(stand: Stand, tmp_path: Path, platform: str, change: dict):
    snapshot = run_module("platform_app", stand.args(platform), tmp_path)
    changed = run_module("platform_app", stand.args(platform, settings=change, verify_token=VERIFY), tmp_path)
    assert not changed.failed and changed.result["changed"], changed.stdout
    moved = stand.state()
    checked = run_module("platform_app", stand.args(platform, settings=snapshot.result["settings"], verify_token=VERIFY), tmp_path, check=True,
                         diff=True)
    assert not checked.failed and checked.result["changed"] and checked.result["calls"] == [] and checked.result["planned"]
    assert stand.state() == moved
    restored = run_module("platform_app", stand.args(platform, settings=snapshot.result["settings"], verify_token=VERIFY), tmp_path)
    assert not restored.failed and restored.result["settings"] == snapshot.result["settings"]
    again = run_module("platform_app", stand.args(platform, settings=snapshot.result["settings"], verify_token=VERIFY), tmp_path)
    assert not again.failed and not again.result["changed"] and again.result["calls"] == []
    assert not stand.leaked(snapshot, changed, checked, restored, again)


@pytest.mark.parametrize("platform", ["meta", "tiktok"])
def test_the_stored_tokens_hold_the_apps_scopes_and_a_refused_token_is_listed(stand: Stand, tmp_path: Path, platform: str):
    good = run_module("platform_token_info", stand.args(platform, accounts=[{"name": "ofm", "token": stand.tokens[platform]}]), tmp_path)
    assert not good.failed and good.result["failing"] == [] and good.result["tokens"][0]["days_left"] > 30, good.stdout
    accounts = [{"name": "ofm", "token": stand.tokens[platform]}, {"name": "revoked", "token": "revoked-token-9f9f"}]
    refused = run_module("platform_token_info", stand.args(platform, accounts=accounts), tmp_path)
    assert refused.failed and refused.result["failing"] == ["revoked"] and not refused.result["tokens"][1]["valid"]
    assert not stand.leaked(good, refused) and "revoked-token-9f9f" not in refused.stdout


def test_a_refused_app_secret_fails_before_anything_is_written(stand: Stand, tmp_path: Path):
    before = stand.state()
    refused = run_module("platform_app", stand.args("meta", app_secret="not-the-secret-7e7e", settings={"scopes": []}), tmp_path)
    assert refused.failed and refused.result["error"]["type"] == "AuthenticationError" and "not-the-secret-7e7e" not in refused.stdout
    assert stand.state() == before and not stand.leaked(refused)


def test_the_components_reset_puts_the_seed_back(stand: Stand, tmp_path: Path, lab: LabConfig):
    seeded = stand.state()
    run_module("platform_app", stand.args("tiktok", settings={"webhook_url": "https://elsewhere.example/t"}), tmp_path)
    assert stand.state() != seeded
    Platforms().reset(lab)
    assert stand.state() == seeded
