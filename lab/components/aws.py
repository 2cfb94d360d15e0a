"""AWS (Route53, ELBv2, CloudFront): a **stand-in**, moto's server mode (``moto_server`` from PyPI ``moto[server]``).

``lab up`` and ``lab reset`` wipe moto's state (``POST /moto-api/reset``) and seed: the Route53 hosted zone
``ofm.social`` with a few records (a weighted pair among them), the ALB ``ofm-api-alb`` with an HTTP listener whose
default action and whose ``/api/*`` rule forward to two target groups by weight, and a CloudFront distribution in
front of the ALB. Clients use boto3 with ``endpoint_url`` and the lab's (dummy) access key from the credentials file.
IDs and ARNs are moto's and change on every reset: find the objects by name.
"""
from __future__ import annotations

import sys
import urllib.request
from pathlib import Path
from typing import Any, Callable, Optional

from lab.components.base import Component
from lab.config import HOST, LabConfig

REGION = "us-east-1"
ZONE = "ofm.social."
ALB_NAME = "ofm-api-alb"
TARGET_GROUPS = {"ofm-api-stable": 90, "ofm-api-canary": 10}
DISTRIBUTION_COMMENT = "ofm-social-cdn"
DISTRIBUTION_ALIAS = "cdn.ofm.social"
VIEWER_PROTOCOL_POLICY = "redirect-to-https"


def moto_server() -> Path:
    return Path(sys.executable).parent / "moto_server"


def client(cfg: LabConfig, service: str):
    """A boto3 client of the lab's AWS stand-in."""
    import boto3  # pylint: disable=import-outside-toplevel
    creds = cfg.credentials()
    return boto3.client(service, region_name=REGION, endpoint_url=f"http://{HOST}:{cfg.ports['aws']}",
                        aws_access_key_id=creds.aws_access_key_id, aws_secret_access_key=creds.aws_secret_access_key)


def _record(name: str, rtype: str, values: list[str], ttl: int = 300, **extra: Any) -> dict[str, Any]:
    return {"Action": "CREATE", "ResourceRecordSet": {
        "Name": name, "Type": rtype, "TTL": ttl, "ResourceRecords": [{"Value": v} for v in values], **extra}}


def seed_route53(cfg: LabConfig) -> str:
    r53 = client(cfg, "route53")
    zone_id = r53.create_hosted_zone(Name=ZONE, CallerReference="ofm-lab-seed")["HostedZone"]["Id"]
    r53.change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={"Changes": [
        _record("api.ofm.social.", "A", ["192.0.2.10", "192.0.2.11"]),
        _record("app.ofm.social.", "CNAME", ["blue.app.ofm.social."], SetIdentifier="blue", Weight=90),
        _record("app.ofm.social.", "CNAME", ["green.app.ofm.social."], SetIdentifier="green", Weight=10),
        _record("status.ofm.social.", "CNAME", ["ofm.statuspage.io."]),
        _record("ofm.social.", "TXT", ['"v=spf1 -all"']),
    ]})
    return zone_id


def seed_elbv2(make_client: Callable[[str], Any]) -> dict[str, Any]:
    """The ALB, its target groups, listener and rule, created with the boto3 clients ``make_client(service)`` gives."""
    ec2 = make_client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.80.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.80.{i}.0/24", AvailabilityZone=f"{REGION}{zone}")["Subnet"]["SubnetId"]
               for i, zone in enumerate("ab", start=1)]
    elb = make_client("elbv2")
    alb = elb.create_load_balancer(Name=ALB_NAME, Subnets=subnets, Scheme="internet-facing", Type="application")["LoadBalancers"][0]
    groups = {name: elb.create_target_group(Name=name, Protocol="HTTP", Port=8080, VpcId=vpc, TargetType="ip",
                                            HealthCheckPath="/health")["TargetGroups"][0]["TargetGroupArn"]
              for name in TARGET_GROUPS}
    forward = {"Type": "forward", "ForwardConfig": {"TargetGroups": [
        {"TargetGroupArn": groups[name], "Weight": weight} for name, weight in TARGET_GROUPS.items()]}}
    listener = elb.create_listener(LoadBalancerArn=alb["LoadBalancerArn"], Protocol="HTTP", Port=80,
                                   DefaultActions=[forward])["Listeners"][0]["ListenerArn"]
    elb.create_rule(ListenerArn=listener, Priority=10, Actions=[forward],
                    Conditions=[{"Field": "path-pattern", "PathPatternConfig": {"Values": ["/api/*"]}}])
    return {"dns_name": alb["DNSName"], "arn": alb["LoadBalancerArn"], "listener": listener, "target_groups": groups}


def seed_cloudfront(cfg: LabConfig, origin: str) -> str:
    cloudfront = client(cfg, "cloudfront")
    config = {
        "CallerReference": "ofm-lab-seed", "Comment": DISTRIBUTION_COMMENT, "Enabled": True,
        "Aliases": {"Quantity": 1, "Items": [DISTRIBUTION_ALIAS]},
        "Origins": {"Quantity": 1, "Items": [{
            "Id": "ofm-api-alb", "DomainName": origin,
            "CustomOriginConfig": {"HTTPPort": 80, "HTTPSPort": 443, "OriginProtocolPolicy": "https-only"}}]},
        "DefaultCacheBehavior": {"TargetOriginId": "ofm-api-alb", "ViewerProtocolPolicy": VIEWER_PROTOCOL_POLICY,
                                 "MinTTL": 0, "ForwardedValues": {"QueryString": False, "Cookies": {"Forward": "none"}},
                                 "TrustedSigners": {"Enabled": False, "Quantity": 0}},
    }
    return cloudfront.create_distribution(DistributionConfig=config)["Distribution"]["Id"]


def seed(cfg: LabConfig) -> None:
    """moto's state wiped, then the lab's Route53 zone, ALB and CloudFront distribution created."""
    request = urllib.request.Request(f"http://{HOST}:{cfg.ports['aws']}/moto-api/reset", method="POST", data=b"")
    with urllib.request.urlopen(request, timeout=10):  # nosec - loopback lab URL
        pass
    seed_route53(cfg)
    alb = seed_elbv2(lambda service: client(cfg, service))
    seed_cloudfront(cfg, alb["dns_name"])


class Aws(Component):
    name = "aws"
    ports = ("aws",)
    stand_in = "AWS Route53, ELBv2 and CloudFront (moto server mode)"
    description = "moto_server: Route53 zone ofm.social, ALB ofm-api-alb with a weighted forward rule, a CloudFront distribution"

    def available(self) -> Optional[str]:
        return None if moto_server().exists() else "moto_server is not installed (pip install 'moto[server]')"

    def argv(self, cfg: LabConfig) -> list[str]:
        return [str(moto_server()), "-H", HOST, "-p", str(cfg.ports["aws"])]

    def marker(self, cfg: LabConfig) -> Optional[str]:
        return "moto_server"

    def started(self, cfg: LabConfig) -> None:
        seed(cfg)

    def reset(self, cfg: LabConfig) -> None:
        seed(cfg)

    def endpoints(self, cfg: LabConfig) -> dict[str, str]:
        return {"aws": f"http://{HOST}:{cfg.ports['aws']}"}
