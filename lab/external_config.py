"""The external services in front of the OFM API in the lab: ``lab external bad`` makes the change an external-service
rollback undoes, ``lab external good`` (and ``lab reset``, through each component's own reset) puts them back as seeded.

The bad change touches each external system the external-service rollback restores, as a careless cut-over might:

- PowerDNS, zone ``ofm.social``: ``api.ofm.social`` A points at a staging address (TTL 60) and a record ``cutover-test``
  appears;
- HAProxy: the canary server of backend ``ofm_api`` gets half the traffic (weight 50 of 100);
- the OpenShift Route ``ofm-api`` of the Kubernetes test server: the canary Service weight 50;
- the AWS stand-in's ALB ``ofm-api-alb``: the canary target group weight 50 in the listener's default action and its rule;
- the AWS stand-in's CloudFront distribution ``ofm-social-cdn``: viewers allowed on plain HTTP (``allow-all``);
- the platforms stand-in: Meta's webhook subscription and TikTok's webhook URL point at a staging host, Meta's OAuth redirect
  URIs gain a staging one and TikTok's app requests one scope less.

``good`` reuses the seeds: lab/components/powerdns.py ``seed_zone``, lab/components/haproxy.py ``reset``,
lab/services/kube/seed.py ``ROUTE_WEIGHTS``, lab/components/aws.py ``TARGET_GROUPS``, the platforms stand-in's reset.
"""
from __future__ import annotations

from typing import Any

from lab.components import aws, platforms, powerdns
from lab.components.base import lab_json
from lab.components.haproxy import BACKEND, runtime
from lab.components.kube_apiserver import kube_call
from lab.config import LabConfig
from lab.process import LabError
from lab.services.kube import seed

BAD_CANARY_WEIGHT = 50
ROUTE_PATH = f"/apis/route.openshift.io/v1/namespaces/{seed.NAMESPACE}/routes/{seed.ROUTE}"


def _route_spec(weights: dict[str, int]) -> dict[str, Any]:
    backends = [{"kind": "Service", "name": name, "weight": weight} for name, weight in weights.items()]
    return {"spec": {"to": backends[0], "alternateBackends": backends[1:]}}


def _alb_forwards(cfg: LabConfig, weights: dict[str, int]) -> None:
    """Every forward action of the ALB's listeners and rules to the target groups' ``weights`` (by name)."""
    elb = aws.client(cfg, "elbv2")
    alb = elb.describe_load_balancers(Names=[aws.ALB_NAME])["LoadBalancers"][0]
    groups = {group["TargetGroupName"]: group["TargetGroupArn"] for group in elb.describe_target_groups(LoadBalancerArn=alb["LoadBalancerArn"])["TargetGroups"]}
    targets = [{"TargetGroupArn": groups[name], "Weight": weight} for name, weight in weights.items()]
    forward = [{"Type": "forward", "ForwardConfig": {"TargetGroups": targets}}]
    for listener in elb.describe_listeners(LoadBalancerArn=alb["LoadBalancerArn"])["Listeners"]:
        elb.modify_listener(ListenerArn=listener["ListenerArn"], DefaultActions=forward)
        for rule in elb.describe_rules(ListenerArn=listener["ListenerArn"])["Rules"]:
            if not rule.get("IsDefault"):
                elb.modify_rule(RuleArn=rule["RuleArn"], Actions=forward)


BAD_API_ADDRESS = "203.0.113.66"
STRAY_RECORD = "cutover-test.ofm.social."
BAD_VIEWER_POLICY = "allow-all"
BAD_META_CALLBACK = "https://hooks-staging.ofm.social/meta-v2"
BAD_TIKTOK_WEBHOOK = "https://hooks-staging.ofm.social/tiktok-v2"
BAD_REDIRECT_URI = "https://staging.ofm.social/oauth/instagram/callback"


def _viewer_policy(cfg: LabConfig, policy: str) -> None:
    cloudfront = aws.client(cfg, "cloudfront")
    found = next(item for item in cloudfront.list_distributions()["DistributionList"]["Items"] if item["Comment"] == aws.DISTRIBUTION_COMMENT)
    current = cloudfront.get_distribution_config(Id=found["Id"])
    config = current["DistributionConfig"]
    config["DefaultCacheBehavior"]["ViewerProtocolPolicy"] = policy
    cloudfront.update_distribution(Id=found["Id"], IfMatch=current["ETag"], DistributionConfig=config)


def _platforms(cfg: LabConfig, path: str, method: str, body: dict[str, Any]) -> None:
    if lab_json(cfg, "platforms", path, method, body) is None:
        raise LabError(f"the platforms stand-in did not take {method} {path}; is the lab up? (lab status)")


def make_bad(cfg: LabConfig) -> list[str]:
    """Apply the bad external change; what changed, one line per system."""
    stable, canary = seed.STABLE, seed.CANARY
    powerdns.api(cfg, "PATCH", f"/zones/{powerdns.ZONE}", {"rrsets": [
        {"name": "api.ofm.social.", "type": "A", "ttl": 60, "changetype": "REPLACE", "records": [{"content": BAD_API_ADDRESS, "disabled": False}]},
        {"name": STRAY_RECORD, "type": "CNAME", "ttl": 60, "changetype": "REPLACE", "records": [{"content": "staging.ofm.social.", "disabled": False}]}]})
    runtime(cfg).set_weight(BACKEND, "canary", BAD_CANARY_WEIGHT)
    runtime(cfg).set_weight(BACKEND, "stable", 100 - BAD_CANARY_WEIGHT)
    kube_call(cfg, "PATCH", ROUTE_PATH, _route_spec({stable: 100 - BAD_CANARY_WEIGHT, canary: BAD_CANARY_WEIGHT}), "application/merge-patch+json")
    stable_group, canary_group = aws.TARGET_GROUPS
    _alb_forwards(cfg, {stable_group: 100 - BAD_CANARY_WEIGHT, canary_group: BAD_CANARY_WEIGHT})
    _viewer_policy(cfg, BAD_VIEWER_POLICY)
    scopes = list(platforms.TIKTOK_SCOPES)[:-1]
    _platforms(cfg, "/__lab/settings", "PUT", {
        "meta_callback_url": BAD_META_CALLBACK, "meta_redirect_uris": [*platforms.META_REDIRECT_URIS, BAD_REDIRECT_URI],
        "tiktok_webhook_url": BAD_TIKTOK_WEBHOOK, "tiktok_scopes": scopes})
    return [f"PowerDNS {powerdns.ZONE}: api.ofm.social. A {BAD_API_ADDRESS} (TTL 60), {STRAY_RECORD} CNAME added",
            f"HAProxy {BACKEND}: canary weight {BAD_CANARY_WEIGHT}, stable {100 - BAD_CANARY_WEIGHT}",
            f"Route {seed.NAMESPACE}/{seed.ROUTE}: {canary} weight {BAD_CANARY_WEIGHT}, {stable} {100 - BAD_CANARY_WEIGHT}",
            f"ALB {aws.ALB_NAME}: {canary_group} weight {BAD_CANARY_WEIGHT}, {stable_group} {100 - BAD_CANARY_WEIGHT} (default action and rules)",
            f"CloudFront {aws.DISTRIBUTION_COMMENT}: ViewerProtocolPolicy {BAD_VIEWER_POLICY}",
            f"Meta app: webhook callback {BAD_META_CALLBACK}, redirect URI {BAD_REDIRECT_URI} added",
            f"TikTok app: webhook URL {BAD_TIKTOK_WEBHOOK}, scopes {', '.join(scopes)}"]


def make_good(cfg: LabConfig) -> list[str]:
    """Put the external services back as seeded; what was put back, one line per system."""
    powerdns.seed_zone(cfg)
    runtime(cfg).set_weight(BACKEND, "stable", 100 - cfg.canary_weight)
    runtime(cfg).set_weight(BACKEND, "canary", cfg.canary_weight)
    kube_call(cfg, "PATCH", ROUTE_PATH, _route_spec(dict(seed.ROUTE_WEIGHTS)), "application/merge-patch+json")
    _alb_forwards(cfg, dict(aws.TARGET_GROUPS))
    _viewer_policy(cfg, aws.VIEWER_PROTOCOL_POLICY)
    _platforms(cfg, "/__lab/reset", "POST", {})
    return [f"PowerDNS {powerdns.ZONE}: the seeded record sets",
            f"HAProxy {BACKEND}: canary weight {cfg.canary_weight}, stable {100 - cfg.canary_weight}",
            f"Route {seed.NAMESPACE}/{seed.ROUTE}: " + ", ".join(f"{name} {weight}" for name, weight in seed.ROUTE_WEIGHTS.items()),
            f"ALB {aws.ALB_NAME}: " + ", ".join(f"{name} {weight}" for name, weight in aws.TARGET_GROUPS.items()),
            f"CloudFront {aws.DISTRIBUTION_COMMENT}: ViewerProtocolPolicy {aws.VIEWER_PROTOCOL_POLICY}",
            "Meta and TikTok apps: webhook URLs, redirect URIs and scopes as seeded"]
