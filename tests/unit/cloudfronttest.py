# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""moto's server (the AWS stand-in) wiped and seeded with the lab's CloudFront distribution, for the CloudFront unit tests."""
from __future__ import annotations

import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3

from lab.components.aws import DISTRIBUTION_ALIAS, DISTRIBUTION_COMMENT, REGION, seed_cloudfront
from lab.config import LabConfig

KEY, SECRET = "AKIDCDNUNIT", "cdn-unit-secret-key-0123456789"
ORIGIN = "ofm-api-alb.us-east-1.elb.amazonaws.com"


def params(url: str, **extra: Any) -> dict[str, Any]:
    return {"aws_access_key": KEY, "aws_secret_key": SECRET, "aws_region": REGION, "aws_endpoint_url": url, "aws_retries": 1, **extra}


def boto(url: str) -> Any:
    return boto3.client("cloudfront", region_name=REGION, endpoint_url=url, aws_access_key_id=KEY, aws_secret_access_key=SECRET)


def reseed(url: str, state_dir: Path) -> str:
    """moto wiped and the lab's distribution (comment ofm-social-cdn, alias cdn.ofm.social) created again; its Id."""
    with urllib.request.urlopen(urllib.request.Request(f"{url}/moto-api/reset", method="POST", data=b""), timeout=10):  # nosec - loopback
        pass
    cfg = LabConfig(state_dir=state_dir, ports={"aws": int(urlsplit(url).port or 0)})
    return seed_cloudfront(cfg, ORIGIN)


def add_distribution(url: str, comment: str, alias: str) -> str:
    """Another distribution like the lab's, with its own comment and alias."""
    config = boto(url).get_distribution_config(Id=find(url, DISTRIBUTION_COMMENT))["DistributionConfig"]
    config.update(CallerReference=f"unit-{alias}", Comment=comment, Aliases={"Quantity": 1, "Items": [alias]})
    return boto(url).create_distribution(DistributionConfig=config)["Distribution"]["Id"]


def find(url: str, comment: str) -> str:
    return next(item["Id"] for item in boto(url).list_distributions()["DistributionList"]["Items"] if item["Comment"] == comment)


def edit(url: str, distribution_id: str, **fields: Any) -> None:
    """Someone else's edit, straight through boto3."""
    answer = boto(url).get_distribution_config(Id=distribution_id)
    boto(url).update_distribution(Id=distribution_id, IfMatch=answer["ETag"], DistributionConfig={**answer["DistributionConfig"], **fields})


def config_of(url: str, distribution_id: str) -> dict[str, Any]:
    return boto(url).get_distribution_config(Id=distribution_id)["DistributionConfig"]


__all__ = ["DISTRIBUTION_ALIAS", "DISTRIBUTION_COMMENT", "KEY", "SECRET", "add_distribution", "boto", "config_of", "edit", "find", "params",
           "reseed"]
