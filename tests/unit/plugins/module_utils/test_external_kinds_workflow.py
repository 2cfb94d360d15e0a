# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The kinds cdn and platform_apps through the actions' workflow (config_snapshot, then config_restore) against moto's server
and the platforms stand-in: a snapshot of those kinds alone holds no secret, a restore puts both back, a second one changes
nothing, and the app secrets and AWS keys are in no result."""
from __future__ import annotations

import json
from typing import Any

import pytest
from ansible.parsing.dataloader import DataLoader
from ansible.parsing.vault import VaultSecret
from cloudfronttest import DISTRIBUTION_ALIAS, KEY, SECRET, config_of, edit, reseed
from kubefake import StoreClient
from platformstest import stand_in
from unithelpers import MOTO_SERVER

from ansible_collections.ofm.rollback.plugins.module_utils.config import systems, workflow
from ansible_collections.ofm.rollback.plugins.module_utils.kube_config import KubeConfig
from ansible_collections.ofm.rollback.plugins.module_utils.platforms.apps import client_from_params, set_app
from ansible_collections.ofm.rollback.plugins.modules import config_restore, config_snapshot
from ansible_collections.ofm.rollback.plugins.plugin_utils.vault import opener, sealer
from lab.components.aws import REGION
from lab.components.platforms import META_APP_ID, TIKTOK_CLIENT_KEY

pytestmark = pytest.mark.skipif(not MOTO_SERVER.exists(), reason="moto_server is not installed (requirements-dev.txt)")
VERIFY = "workflow-verify-token-2c2c"


@pytest.fixture(name="kube")
def fixture_kube(monkeypatch: pytest.MonkeyPatch) -> StoreClient:
    """The namespace the actions work in, on the test server's store (the external kinds read nothing there)."""
    server = StoreClient()
    server.create("v1", "Namespace", "", {"metadata": {"name": "ofm-production"}})
    monkeypatch.setattr(systems.KubeConfig, "from_params", classmethod(lambda _cls, _params: KubeConfig(server.kube())))
    return server


def loader() -> DataLoader:
    found = DataLoader()
    found.set_vault_secrets([("default", VaultSecret(b"unit-vault-password"))])
    return found


def options(spec: dict[str, Any], url: str, stand, tmp_path, **extra: Any) -> dict[str, Any]:
    args = {"kinds": ["cdn", "platform_apps"], "snapshot_dir": str(tmp_path / "snapshots"), "aws_access_key": KEY, "aws_secret_key": SECRET,
            "aws_region": REGION, "aws_endpoint_url": url, "aws_retries": 1,
            "cdn": {"distributions": [DISTRIBUTION_ALIAS], "invalidate_paths": ["/*"], "timeout": 5},
            "platform_apps": {"meta": {"app_id": META_APP_ID, "app_secret": stand.meta_secret, "api_url": stand.url, "verify_token": VERIFY},
                              "tiktok": {"app_id": TIKTOK_CLIENT_KEY, "app_secret": stand.tiktok_secret, "api_url": stand.url}, "timeout": 5},
            **extra}
    found, _no_log, error = workflow.validated(spec, args)
    assert error is None, error
    return found


@pytest.mark.usefixtures("kube")
def test_snapshot_then_restore_of_the_cdn_and_the_platform_apps(moto_url, tmp_path):
    distribution = reseed(moto_url, tmp_path)
    with stand_in() as stand:
        taken = workflow.take_snapshot(options(config_snapshot.ARGUMENT_SPEC, moto_url, stand, tmp_path), seal=sealer(loader()), taken_by="ci",
                                       check_mode=False)
        assert not taken.get("failed"), taken
        stored = next((tmp_path / "snapshots").glob("*")).read_text()
        assert not stand.leaks(stored, taken) and SECRET not in stored + json.dumps(taken)
        seeded, apps = config_of(moto_url, distribution), stand.state()
        edit(moto_url, distribution, Enabled=False)
        set_app(client_from_params(stand.options("tiktok")), {"webhook_url": "https://hooks-staging.ofm.social/tiktok"})
        restore = options(config_restore.ARGUMENT_SPEC, moto_url, stand, tmp_path, snapshot_id=taken["snapshot"]["id"])
        restored = workflow.restore_config(restore, open_secret=opener(loader()), check_mode=False, diff=True)
        assert not restored.get("failed"), restored
        assert set(restored["report"]["restored"]) == {"cdn", "platform_apps"} and restored["changed"]
        assert config_of(moto_url, distribution) == seeded and stand.state() == apps
        again = workflow.restore_config(restore, open_secret=opener(loader()), check_mode=False, diff=False)
        assert not again.get("failed") and not again["changed"]
        assert not stand.leaks(restored, again) and SECRET not in json.dumps(restored, default=str)
