# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""How the external-service rollback's result judges the checklist's "External Service Rollback" lines (one function per line).

The result is ``external_rollback_phase`` of roles/external_rollback, handed in as ``external_rollback``. Its evidence holds
what ``ofm.rollback.config_restore`` returned for the external kinds (``snapshot``, ``report``, ``changes``, ``verified``:
the same shape the configuration rollback judges) and ``checks``: the raw results of the checks that follow the restore
(``tls``: ofm.rollback.tls_certificate_info; ``permissions``: ofm.rollback.platform_token_info), each ``{"status":
"skipped", "reason": ...}`` when it did not run.

- DNS Records: kind ``dns``;
- Load Balancer: kinds ``haproxy``, ``routes`` and ``alb``;
- SSL Certificates: every endpoint's certificate trusted, valid for its names and not expired (a certificate that only
  expires soon is ok with a note, unless the run counts ``soon`` as a failure);
- CDN Configuration: kind ``cdn``;
- Webhook Endpoints: the ``platform_apps`` keys of webhook subscriptions and callback URLs;
- API Credentials: kind ``secrets`` (the configuration rollback's Secret restore, reused);
- OAuth Applications: the other ``platform_apps`` keys (redirect URIs, requested scopes);
- Platform Permissions: every platform's stored token valid and holding the scopes the app needs.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

from ansible_collections.ofm.rollback.plugins.plugin_utils.checklist import NotReached, Verdict, failed, manual, ok
from ansible_collections.ofm.rollback.plugins.plugin_utils.checklist_rules_config import kind_rule, outcome as config_outcome, texts as config_texts

PHASE = "external_rollback"
WEBHOOK_WORDS = ("webhook", "subscription", "callback")
HOW_TO_AUTOMATE = {
    "external.dns-records": "snapshot the zone (config_snapshot option dns: backend, zone, server or API)",
    "external.load-balancer": "snapshot the load balancers (options haproxy, routes, alb)",
    "external.cdn-configuration": "snapshot the CloudFront distributions (option cdn)",
    "integrations.webhook-endpoints": "snapshot the platforms' apps (option platform_apps)",
    "integrations.api-credentials": "snapshot the Secrets that hold the platform keys (kind secrets, with a vault secret)",
    "integrations.oauth-applications": "snapshot the platforms' apps (option platform_apps)",
}


def is_webhook_setting(key: str) -> bool:
    lowered = key.lower()
    return any(word in lowered for word in WEBHOOK_WORDS)


def is_oauth_setting(key: str) -> bool:
    return not is_webhook_setting(key)


def _check(results: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    found = results.get(PHASE) or {}
    if not found or found.get("status") == "skipped":
        raise NotReached("the external-service rollback did not run (playbooks/external-rollback.yml)")
    return ((found.get("evidence") or {}).get("checks") or {}).get(name) or {"status": "skipped", "reason": "not run"}


def certificates(results: Mapping[str, Any]) -> Verdict:
    """SSL Certificates: each endpoint's ``problems`` of a failing kind fail the line; none checked is MANUAL."""
    check = _check(results, "tls")
    if check.get("status") == "skipped":
        return manual("", check.get("reason") or "no endpoint to check", "list the endpoints in external_rollback_tls_endpoints (ofm_tls_endpoints)")
    endpoints = check.get("endpoints") or []
    if not endpoints:
        return failed(f"the certificate check did not run: {check.get('msg') or check.get('reason') or 'no result'}")
    bad = [endpoint for endpoint in endpoints if not endpoint.get("ok")]
    if bad:
        return failed("; ".join(f"{endpoint.get('endpoint')}: " + ", ".join(problem.get("kind", "?") for problem in endpoint.get("problems") or [])
                                + (f" ({endpoint.get('error')})" if endpoint.get("error") else "") for endpoint in bad))
    soon = [endpoint for endpoint in endpoints if endpoint.get("expires_soon")]
    shortest = min((int((endpoint.get("certificate") or {}).get("days_left") or 0) for endpoint in endpoints), default=0)
    note = f"; expiring soon: {', '.join(endpoint['endpoint'] for endpoint in soon)}" if soon else ""
    return ok(f"{len(endpoints)} endpoint(s) trusted, valid for their names; fewest days left {shortest}{note}")


def permissions(results: Mapping[str, Any]) -> Verdict:
    """Platform Permissions: every platform's stored tokens valid, unexpired and holding the scopes needed (the raw results of
    ofm.rollback.platform_token_info, one per platform)."""
    check = _check(results, "permissions")
    if check.get("status") == "skipped":
        return manual("", check.get("reason") or "no token to check", "set external_rollback_platform_tokens (ofm_platform_tokens)")
    runs = check.get("results") or []
    if not runs:
        return failed(f"the permission check did not run: {check.get('msg') or check.get('reason') or 'no result'}")
    bad, good = [], []
    for run in runs:
        # The task loops by index (the entries hold secrets): the platform is in the result, or in the arguments of a failed run.
        platform = run.get("platform") or ((run.get("invocation") or {}).get("module_args") or {}).get("platform") or "?"
        tokens = run.get("tokens") or []
        if not tokens:
            bad.append(f"{platform}: {run.get('msg') or 'no answer'}")
            continue
        for token in tokens:
            if token.get("ok"):
                good.append(f"{platform} {token.get('name')}: {len(token.get('scopes') or [])} scope(s)")
                continue
            missing = token.get("missing_scopes") or []
            why = "; ".join(str(problem) for problem in token.get("problems") or []) or (
                f"missing scopes {', '.join(missing)}" if missing else "not valid")
            bad.append(f"{platform} {token.get('name')}: {why}")
    if bad:
        return failed("; ".join(bad))
    return ok("every required scope held: " + ", ".join(good))


RULES: dict[str, Callable[[Mapping[str, Any]], Verdict]] = {
    "external.dns-records": kind_rule("external.dns-records", [("dns", None)], PHASE, HOW_TO_AUTOMATE),
    "external.load-balancer": kind_rule("external.load-balancer", [("haproxy", None), ("routes", None), ("alb", None)], PHASE, HOW_TO_AUTOMATE),
    "external.ssl-certificates": certificates,
    "external.cdn-configuration": kind_rule("external.cdn-configuration", [("cdn", None)], PHASE, HOW_TO_AUTOMATE),
    "integrations.webhook-endpoints": kind_rule("integrations.webhook-endpoints", [("platform_apps", is_webhook_setting)], PHASE, HOW_TO_AUTOMATE),
    "integrations.api-credentials": kind_rule("integrations.api-credentials", [("secrets", None)], PHASE, HOW_TO_AUTOMATE),
    "integrations.oauth-applications": kind_rule("integrations.oauth-applications", [("platform_apps", is_oauth_setting)], PHASE, HOW_TO_AUTOMATE),
    "integrations.platform-permissions": permissions,
}


def outcome(results: Mapping[str, Any], lines: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """The run's verdict: failed when the restore or a line (a check's included) failed; else restored / unchanged / planned."""
    return config_outcome(results, lines, PHASE)


def texts(results: Mapping[str, Any], lines: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """The summary's source and change lines (as the configuration rollback's)."""
    return config_texts(results, lines, PHASE)
