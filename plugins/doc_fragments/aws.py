# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # Options of module_utils.aws.AWS_SPEC
    DOCUMENTATION = r"""
options:
  aws_access_key:
    description:
      - The AWS access key id. When neither it nor O(aws_profile) is set, boto3's own chain is used (environment, shared
        credentials file, instance or task role).
      - If not set, the value of the E(AWS_ACCESS_KEY_ID) environment variable is used.
      - This value is a secret and is never logged.
    type: str
  aws_secret_key:
    description:
      - The AWS secret access key, with O(aws_access_key).
      - If not set, the value of the E(AWS_SECRET_ACCESS_KEY) environment variable is used.
      - This value is a secret and is never logged.
    type: str
  aws_session_token:
    description:
      - The session token of temporary credentials.
      - If not set, the value of the E(AWS_SESSION_TOKEN) environment variable is used.
      - This value is a secret and is never logged.
    type: str
  aws_profile:
    description:
      - A profile of the shared AWS credentials and config files.
      - If not set, the value of the E(AWS_PROFILE) environment variable is used.
    type: str
  aws_region:
    description:
      - The AWS region. Route53 and CloudFront are global and do not use it.
      - If not set, the value of the E(AWS_REGION) or E(AWS_DEFAULT_REGION) environment variable is used.
    type: str
  aws_endpoint_url:
    description:
      - Send every AWS request to this URL instead of AWS's public endpoint, such as a VPC endpoint or a test stand-in
        (moto's server mode in the collection's lab).
      - If not set, the value of the E(AWS_ENDPOINT_URL) environment variable is used.
    type: str
  aws_retries:
    description:
      - Attempts in all for each AWS request (botocore's standard retry mode, which retries throttling, 5xx and connection errors
        with back-off).
    type: int
    default: 3
requirements:
  - boto3 (pip package C(boto3))
"""
