# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""boto3 clients from a module's options (``AWS_SPEC``, doc fragment ``ofm.rollback.aws``), and AWS errors as the collection's.

Route53 (``dns``), ELBv2 (``elb_forward``) and CloudFront (``cloudfront``) build their clients here, so they share one way to
find credentials (the options, else boto3's own chain: environment, profile, instance role), one retry policy (botocore's
``standard`` mode: throttling, 5xx and connection errors are retried with back-off, ``aws_retries`` attempts in all) and one
mapping of failures:

- ``AccessDenied``/``UnauthorizedOperation`` -> ``AuthorizationError``; a refused or missing key -> ``AuthenticationError``;
- ``NoSuch*``/``*NotFound`` -> ``NotFoundError``; ``PreconditionFailed``/``InvalidIfMatchVersion``/``PriorRequestNotComplete``
  -> ``ConflictError``; ``InvalidInput``/``ValidationError``/``InvalidChangeBatch`` and the like -> ``InputError``;
- throttling, 5xx, connection and read-timeout failures left after the retries -> ``UnavailableError`` (``sent`` False when
  the request cannot have reached AWS).

``aws_endpoint_url`` points every client at another endpoint: the lab's stand-in (moto's server mode) or a VPC endpoint, as
amazon.aws modules do.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Optional, TypeVar

from ansible.module_utils.basic import env_fallback

from ansible_collections.ofm.rollback.plugins.module_utils.errors import (
    AuthenticationError, AuthorizationError, ConflictError, InputError, NotFoundError, OfmRollbackError, UnavailableError)

try:
    import boto3
    from botocore.config import Config
    from botocore.exceptions import (BotoCoreError, ClientError, ConnectTimeoutError, EndpointConnectionError, NoCredentialsError,
                                     ReadTimeoutError)
except ImportError:  # reported by require_boto3() with missing_required_lib("boto3")
    boto3 = None

T = TypeVar("T")

SYSTEM = "AWS"
DEFAULT_RETRIES = 3
CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 30.0

AWS_SPEC: dict[str, dict[str, Any]] = {
    "aws_access_key": {"type": "str", "no_log": True, "fallback": (env_fallback, ["AWS_ACCESS_KEY_ID"])},
    "aws_secret_key": {"type": "str", "no_log": True, "fallback": (env_fallback, ["AWS_SECRET_ACCESS_KEY"])},
    "aws_session_token": {"type": "str", "no_log": True, "fallback": (env_fallback, ["AWS_SESSION_TOKEN"])},
    "aws_profile": {"type": "str", "fallback": (env_fallback, ["AWS_PROFILE"])},
    "aws_region": {"type": "str", "fallback": (env_fallback, ["AWS_REGION", "AWS_DEFAULT_REGION"])},
    "aws_endpoint_url": {"type": "str", "fallback": (env_fallback, ["AWS_ENDPOINT_URL"])},
    "aws_retries": {"type": "int", "default": DEFAULT_RETRIES},
}
AWS_REQUIRED_TOGETHER = [("aws_access_key", "aws_secret_key")]

_AUTHORIZATION = ("AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AuthorizationError")
_AUTHENTICATION = ("InvalidClientTokenId", "SignatureDoesNotMatch", "UnrecognizedClientException", "ExpiredToken",
                   "ExpiredTokenException", "InvalidAccessKeyId", "AuthFailure", "IncompleteSignature", "MissingAuthenticationToken")
_CONFLICT = ("PreconditionFailed", "InvalidIfMatchVersion", "PriorRequestNotComplete", "ConcurrentModification",
             "ResourceInUse", "DistributionNotDisabled", "Conflict")
_UNAVAILABLE = ("Throttling", "ThrottlingException", "RequestLimitExceeded", "TooManyRequestsException", "ServiceUnavailable",
                "InternalFailure", "InternalError", "RequestTimeout")


def require_boto3() -> None:
    """An ``InputError`` when boto3 is not installed (the modules report it with ``missing_required_lib`` first)."""
    if boto3 is None:
        raise InputError("the Python library boto3 is not installed on the host that runs the module", system=SYSTEM,
                         hint="pip install boto3 (or use the collection's execution environment).")


def client_from_params(service: str, params: Mapping[str, Any], region: Optional[str] = None, read_timeout: Optional[float] = None) -> Any:
    """A boto3 client of ``service`` built from the ``AWS_SPEC`` options; ``region`` when the service has a fixed one
    (Route53 and CloudFront are global: ``us-east-1``); ``read_timeout``: seconds to wait for an answer (``READ_TIMEOUT``)."""
    require_boto3()
    retries = params.get("aws_retries")
    retries = DEFAULT_RETRIES if retries is None else retries
    if retries < 1:
        raise InputError(f"aws_retries is {retries}", option="aws_retries", accepted="an integer of 1 or more (attempts in all)", system=SYSTEM)
    session = boto3.session.Session(aws_access_key_id=params.get("aws_access_key") or None,
                                    aws_secret_access_key=params.get("aws_secret_key") or None,
                                    aws_session_token=params.get("aws_session_token") or None,
                                    profile_name=params.get("aws_profile") or None)
    config = Config(retries={"mode": "standard", "max_attempts": retries}, connect_timeout=min(CONNECT_TIMEOUT, read_timeout or CONNECT_TIMEOUT),
                    read_timeout=read_timeout or READ_TIMEOUT, user_agent_extra="ofm.rollback")
    return session.client(service, region_name=region or params.get("aws_region") or None, endpoint_url=params.get("aws_endpoint_url") or None,
                          config=config)


def error_code(exc: Exception) -> str:
    """The AWS error code of a ``ClientError`` (``""`` for anything else)."""
    response = getattr(exc, "response", None) or {}
    return str((response.get("Error") or {}).get("Code") or "")


def translate(exc: Exception, *, operation: str, target: str, system: str = SYSTEM) -> OfmRollbackError:
    """The collection's error for a boto3/botocore exception (see the module's docstring)."""
    if isinstance(exc, OfmRollbackError):
        return exc
    if boto3 is not None and isinstance(exc, ClientError):
        code = error_code(exc)
        message = str((exc.response.get("Error") or {}).get("Message") or code)
        status = (exc.response.get("ResponseMetadata") or {}).get("HTTPStatusCode")
        kwargs: dict[str, Any] = {"system": system, "operation": operation, "target": target, "status": status}
        reason = f"{code}: {message}" if code and code not in message else message
        if code in _AUTHORIZATION:
            return AuthorizationError(reason, hint="The AWS identity lacks a permission this needs: check its IAM policy.", **kwargs)
        if code in _AUTHENTICATION:
            return AuthenticationError(reason, hint="Check the AWS credentials (aws_access_key/aws_secret_key, aws_profile or the environment).",
                                       **kwargs)
        if code.startswith("NoSuch") or code.endswith("NotFound") or code.endswith("NotFoundException") or status == 404:
            return NotFoundError(reason, **kwargs)
        if code in _CONFLICT or status in (409, 412):
            return ConflictError(reason, **kwargs)
        if code in _UNAVAILABLE or (status or 0) >= 500:
            return UnavailableError(reason, sent=True, **kwargs)
        return InputError(reason, **kwargs)
    if boto3 is not None and isinstance(exc, NoCredentialsError):
        return AuthenticationError("no AWS credentials were found", system=system, operation=operation, target=target,
                                   hint="Set aws_access_key and aws_secret_key, aws_profile, or the AWS_* environment variables.")
    if boto3 is not None and isinstance(exc, (EndpointConnectionError, ConnectTimeoutError)):
        return UnavailableError(f"cannot connect: {exc}", sent=False, system=system, operation=operation, target=target)
    if boto3 is not None and isinstance(exc, ReadTimeoutError):
        return UnavailableError(f"no answer within the read timeout: {exc}", sent=True, system=system, operation=operation, target=target)
    if boto3 is not None and isinstance(exc, BotoCoreError):
        return UnavailableError(str(exc), system=system, operation=operation, target=target)
    raise exc


def call(function: Callable[..., T], *, operation: str, target: str, system: str = SYSTEM, **kwargs: Any) -> T:
    """``function(**kwargs)`` (a boto3 client method), its failures raised as the collection's errors."""
    try:
        return function(**kwargs)
    except Exception as exc:  # pylint: disable=broad-exception-caught
        raise translate(exc, operation=operation, target=target, system=system) from exc
