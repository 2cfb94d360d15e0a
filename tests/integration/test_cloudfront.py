"""cloudfront_distribution and cloudfront_invalidation through ansible against the lab's AWS stand-in (moto's server):
snapshot -> change -> restore -> equal with an invalidation that completes; a second run changes nothing; an ETag changed
since is refused with a diff and restored only with force; check mode sends nothing; the AWS keys never in the output.

Not shared_lab: the lab's distribution (comment ofm-social-cdn) is put back as it was after every test."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import boto3
import pytest
from labtest import credentials, run_module

from lab.components.aws import DISTRIBUTION_ALIAS, DISTRIBUTION_COMMENT, REGION
from lab.config import LabConfig

pytestmark = pytest.mark.usefixtures("lab")


class Cdn:
    """The lab's distribution through boto3 (the referee), and the module's connection."""

    def __init__(self, lab: LabConfig) -> None:
        secrets = credentials(lab)
        self.url = lab.url("aws")
        self.env = {"AWS_ACCESS_KEY_ID": secrets["aws_access_key_id"], "AWS_SECRET_ACCESS_KEY": secrets["aws_secret_access_key"]}
        self.keys = (secrets["aws_access_key_id"], secrets["aws_secret_access_key"])
        self.client = boto3.client("cloudfront", region_name=REGION, endpoint_url=self.url, aws_access_key_id=self.keys[0],
                                   aws_secret_access_key=self.keys[1])
        self.id = next(item["Id"] for item in self.client.list_distributions()["DistributionList"]["Items"] if item["Comment"] == DISTRIBUTION_COMMENT)

    def config(self) -> dict[str, Any]:
        return self.client.get_distribution_config(Id=self.id)["DistributionConfig"]

    def etag(self) -> str:
        return self.client.get_distribution_config(Id=self.id)["ETag"]

    def edit(self, **fields: Any) -> None:
        answer = self.client.get_distribution_config(Id=self.id)
        self.client.update_distribution(Id=self.id, IfMatch=answer["ETag"], DistributionConfig={**answer["DistributionConfig"], **fields})

    def invalidations(self) -> int:
        return int(self.client.list_invalidations(DistributionId=self.id)["InvalidationList"].get("Quantity") or 0)

    def args(self, **extra: Any) -> dict[str, Any]:
        return {"distribution": DISTRIBUTION_ALIAS, "aws_endpoint_url": self.url, "aws_region": REGION, "timeout": 10, **extra}

    def leaked(self, *outputs: str) -> bool:
        return any(key in output for key in self.keys for output in outputs)


@pytest.fixture(name="cdn")
def fixture_cdn(lab: LabConfig) -> Iterator[Cdn]:
    """The lab's distribution, put back as it was after the test."""
    cdn = Cdn(lab)
    seeded = cdn.config()
    yield cdn
    if cdn.config() != seeded:
        answer = cdn.client.get_distribution_config(Id=cdn.id)
        cdn.client.update_distribution(Id=cdn.id, IfMatch=answer["ETag"], DistributionConfig=seeded)


def test_snapshot_change_restore_equal_with_an_invalidation_then_unchanged(cdn: Cdn, tmp_path: Path):
    snapshot = run_module("cloudfront_distribution", cdn.args(), tmp_path, env=cdn.env)
    assert not snapshot.failed and snapshot.result["config"] == cdn.config() and snapshot.result["id"] == cdn.id
    cdn.edit(Enabled=False, Comment="ofm-social-cdn (bad release)")
    left = cdn.etag()
    before = cdn.invalidations()
    restored = run_module("cloudfront_distribution", cdn.args(config=snapshot.result["config"], expected_etag=left, invalidate_paths=["/*"]),
                          tmp_path, env=cdn.env, diff=True)
    assert not restored.failed and restored.result["changed"], restored.stdout
    assert restored.result["changed_fields"] == ["Comment", "Enabled"] and restored.result["invalidation"]["status"].lower() == "completed"
    assert cdn.config() == snapshot.result["config"] and cdn.invalidations() == before + 1
    assert "-  \"Enabled\": false" in restored.stdout or '"Enabled": false' in restored.stdout
    again = run_module("cloudfront_distribution", cdn.args(config=snapshot.result["config"], invalidate_paths=["/*"]), tmp_path, env=cdn.env)
    assert not again.failed and not again.result["changed"] and again.result["calls"] == [] and cdn.invalidations() == before + 1
    assert not cdn.leaked(snapshot.stdout, restored.stdout, again.stdout, restored.stderr)


def test_an_etag_changed_since_is_refused_with_the_diff_and_force_restores(cdn: Cdn, tmp_path: Path):
    snapshot = run_module("cloudfront_distribution", cdn.args(), tmp_path, env=cdn.env)
    cdn.edit(PriceClass="PriceClass_100")
    refused = run_module("cloudfront_distribution", cdn.args(config=snapshot.result["config"], expected_etag="E1RECORDEDBYCHANGE"), tmp_path,
                         env=cdn.env)
    assert refused.failed and refused.result["error"]["type"] == "ConflictError" and not refused.result["changed"]
    assert refused.result["error"]["details"]["diff"] == {"before": {"PriceClass": "PriceClass_100"}, "after": {"PriceClass": "PriceClass_All"}}
    assert cdn.config()["PriceClass"] == "PriceClass_100"
    forced = run_module("cloudfront_distribution", cdn.args(config=snapshot.result["config"], expected_etag="E1RECORDEDBYCHANGE", force=True),
                        tmp_path, env=cdn.env)
    assert not forced.failed and forced.result["changed"] and cdn.config() == snapshot.result["config"]
    assert not cdn.leaked(refused.stdout, forced.stdout)


def test_check_mode_sends_nothing(cdn: Cdn, tmp_path: Path):
    before, invalidations = cdn.config(), cdn.invalidations()
    checked = run_module("cloudfront_distribution", cdn.args(config={"Enabled": False}, invalidate_paths=["/*"]), tmp_path, env=cdn.env, check=True)
    assert not checked.failed and checked.result["changed"] and checked.result["calls"] == []
    planned = run_module("cloudfront_invalidation", cdn.args(paths=["/*"]), tmp_path, env=cdn.env, check=True)
    assert not planned.failed and planned.result["calls"] == []
    assert cdn.config() == before and cdn.invalidations() == invalidations


def test_an_invalidation_is_created_and_completes(cdn: Cdn, tmp_path: Path):
    before = cdn.invalidations()
    made = run_module("cloudfront_invalidation", cdn.args(distribution=DISTRIBUTION_COMMENT, paths=["/api/*", "/index.html"]), tmp_path, env=cdn.env)
    assert not made.failed and made.result["invalidation"]["status"].lower() == "completed" and cdn.invalidations() == before + 1
    assert not cdn.leaked(made.stdout)


def test_bad_input_and_refused_keys_fail_clearly(cdn: Cdn, tmp_path: Path):
    bad = run_module("cloudfront_distribution", cdn.args(config={"Colour": "blue"}), tmp_path, env=cdn.env)
    assert bad.failed and bad.result["error"]["option"] == "config" and "Accepted" in bad.result["msg"]
    unknown = run_module("cloudfront_distribution", cdn.args(distribution="cdn.example.org"), tmp_path, env=cdn.env)
    assert unknown.failed and unknown.result["error"]["type"] == "NotFoundError"
    assert not cdn.leaked(bad.stdout, unknown.stdout)
