# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # The options of module_utils.config.kinds.EXTERNAL_SPEC other than the AWS ones (doc fragment ofm.rollback.aws): one dict
    # option per external kind (kept in step by a unit test).
    DOCUMENTATION = r"""
options:
  dns:
    description:
      - The DNS zone whose record sets the kind V(dns) holds, and how to reach it (see the modules M(ofm.rollback.dns_record)
        and M(ofm.rollback.dns_record_info) and their doc fragment C(ofm.rollback.dns) for each setting).
      - A restore makes the zone hold exactly the snapshot's record sets within O(dns.names) and O(dns.types), removing those
        created since, in one request. The SOA and the apex NS records are left out.
      - V(route53) takes the AWS options of the action.
    type: dict
    suboptions:
      backend:
        description: The backend.
        type: str
        required: true
        choices: [powerdns, rfc2136, route53]
      zone:
        description: The zone, such as V(ofm.social).
        type: str
        required: true
      api_url:
        description: V(powerdns) - the webserver's URL.
        type: str
      api_key:
        description: V(powerdns) - the API key. This value is a secret and is never logged.
        type: str
      server_id:
        description: V(powerdns) - the server id in the API's paths.
        type: str
        default: localhost
      validate_certs:
        description: V(powerdns) - verify the API's TLS certificate.
        type: bool
        default: true
      ca_path:
        description: V(powerdns) - CA bundle for the API's certificate.
        type: path
      server:
        description: V(rfc2136) - the primary server, V(host) or V(host:port).
        type: str
      port:
        description: V(rfc2136) - the port when O(dns.server) has none.
        type: int
        default: 53
      tsig_key_name:
        description: V(rfc2136) - the TSIG key's name.
        type: str
      tsig_key_secret:
        description: V(rfc2136) - the TSIG key's base64 secret. This value is a secret and is never logged.
        type: str
      tsig_algorithm:
        description: V(rfc2136) - the TSIG algorithm.
        type: str
        default: hmac-sha256
        choices: [hmac-sha256, hmac-sha512, hmac-sha384, hmac-sha224, hmac-sha1, hmac-md5]
      hosted_zone_id:
        description: V(route53) - the hosted zone's id when several share the name.
        type: str
      timeout:
        description: Seconds to wait for each answer.
        type: float
        default: 10.0
      names:
        description: Only the record sets at these names (absolute or relative to the zone); all when not set.
        type: list
        elements: str
      types:
        description: Only the record sets of these types; all when not set.
        type: list
        elements: str
  alb:
    description:
      - The target-group weights (C(ForwardConfig)) of an AWS Application Load Balancer's listener default actions and rules,
        through the AWS options.
      - A restore writes each listener or rule that differs with one C(modify_listener) or C(modify_rule) call.
    type: dict
    suboptions:
      load_balancer:
        description:
          - The name of the load balancer.
        type: str
        required: true
      listener_port:
        description:
          - The port of the listener to snapshot; every listener when not set.
        type: int
      timeout:
        description:
          - Seconds to wait for AWS to answer a request.
        type: float
        default: 30.0
  cdn:
    description:
      - AWS CloudFront distribution configs, each with the ETag it was read with, through the AWS options.
      - A restore writes each distribution that differs with one C(update_distribution) whose C(If-Match) is the ETag read when
        the restore was planned, so a distribution someone edited between the plan and the write is refused with a diff.
      - With O(cdn.invalidate_paths), each distribution written is then invalidated and the restore waits until that is Completed.
    type: dict
    suboptions:
      distributions:
        description:
          - The distributions, each by its Id, one of its aliases or its comment.
        type: list
        elements: str
        required: true
      invalidate_paths:
        description:
          - Paths to invalidate after a distribution is restored, such as C(/*).
        type: list
        elements: str
      wait_timeout:
        description:
          - Seconds to wait for an invalidation to complete.
        type: float
        default: 600.0
      timeout:
        description:
          - Seconds to wait for AWS to answer a request.
        type: float
        default: 30.0
  routes:
    description:
      - The backend weights (C(spec.to) and C(spec.alternateBackends)) of OpenShift Routes (C(route.openshift.io/v1)) of one
        namespace, through the Kubernetes connection options.
      - A restore writes each Route that differs with one merge patch of its whole backend list.
    type: dict
    suboptions:
      namespace:
        description:
          - The namespace of the Routes.
        type: str
        required: true
      names:
        description:
          - The Routes to snapshot; every Route of the namespace when not set.
        type: list
        elements: str
      timeout:
        description:
          - Seconds to wait for the API server to answer a request.
        type: float
        default: 30.0
  haproxy:
    description:
      - The weights and states (ready, drain, maint) of the servers of an HAProxy's backends, through its runtime API.
      - A restore writes each backend that differs on one connection; a server added since the snapshot is put in maint.
    type: dict
    suboptions:
      runtime_api:
        description:
          - The runtime API address (a C(stats socket) of C(haproxy.cfg), C(level admin) to restore), a UNIX socket path or V(host:port).
        type: str
        required: true
      backends:
        description:
          - The backends to snapshot or restore; every backend when not set.
        type: list
        elements: str
      timeout:
        description:
          - Seconds to wait for HAProxy to accept a connection and answer.
        type: float
        default: 5.0
  platform_apps:
    description:
      - The webhook subscriptions and OAuth app settings (redirect URIs, requested scopes, webhook URL) of OFM's Meta (Instagram)
        and TikTok apps. The app secrets are never in the snapshot; the platform secrets OFM uses are the C(secrets) kind.
      - A restore writes one PUT for TikTok; for Meta one POST of the OAuth settings and, per webhook subscription that differs,
        a DELETE of the fields it loses and a POST of its callback URL and the fields it gains.
    type: dict
    suboptions:
      meta:
        description:
          - OFM's Meta app.
        type: dict
        suboptions:
          app_id:
            description:
              - The app's ID.
            type: str
            required: true
          app_secret:
            description:
              - The app secret (the app access token is C(app_id|app_secret)).
              - This value is a secret and is never logged.
            type: str
            required: true
          verify_token:
            description:
              - The verify token of the webhook endpoint, needed when a subscription is made again (Meta never returns it).
              - This value is a secret and is never logged.
            type: str
          api_url:
            description:
              - The Graph API's URL.
            type: str
      tiktok:
        description:
          - OFM's TikTok app.
        type: dict
        suboptions:
          app_id:
            description:
              - The app's client key.
            type: str
            required: true
          app_secret:
            description:
              - The app's client secret.
              - This value is a secret and is never logged.
            type: str
            required: true
          api_url:
            description:
              - The Open API's URL.
            type: str
      timeout:
        description:
          - Seconds to wait for each answer.
        type: float
        default: 30.0
      validate_certs:
        description:
          - Verify the platforms' TLS certificates.
        type: bool
        default: true
      ca_path:
        description:
          - A PEM bundle of the CAs that signed the platforms' certificates (the CA bundle of C(requests) when not set).
        type: path
"""
