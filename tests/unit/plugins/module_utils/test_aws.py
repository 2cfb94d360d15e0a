# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""AWS clients from options, and AWS failures as the collection's errors: against moto's server (the AWS stand-in) on a free
port, and a closed port for the unreachable case."""
from __future__ import annotations

import socket
import sys
import time
from pathlib import Path

import pytest

from ansible_collections.ofm.rollback.plugins.module_utils import aws
from ansible_collections.ofm.rollback.plugins.module_utils.errors import (
    AuthorizationError, InputError, NotFoundError, UnavailableError)

MOTO = Path(sys.executable).parent / "moto_server"
pytestmark = pytest.mark.skipif(not MOTO.exists(), reason="moto_server is not installed (requirements-dev.txt)")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def params(url, **extra):
    return {"aws_access_key": "AKIDLAB", "aws_secret_key": "lab-secret-key", "aws_region": "us-east-1", "aws_endpoint_url": url, **extra}


def test_client_reaches_the_endpoint_and_a_missing_object_is_not_found(moto_url):
    route53 = aws.client_from_params("route53", params(moto_url))
    with pytest.raises(NotFoundError) as caught:
        aws.call(route53.get_hosted_zone, operation="read of the hosted zone", target="Z0NOPE", Id="Z0NOPE")
    assert "NoSuchHostedZone" in str(caught.value)
    assert caught.value.target == "Z0NOPE"


def test_an_invalid_request_is_an_input_error(moto_url):
    route53 = aws.client_from_params("route53", params(moto_url))
    zone = route53.create_hosted_zone(Name="unit.example.", CallerReference=str(time.time()))["HostedZone"]["Id"]
    with pytest.raises(InputError):
        aws.call(route53.change_resource_record_sets, operation="change batch", target=zone, HostedZoneId=zone,
                 ChangeBatch={"Changes": [{"Action": "DELETE", "ResourceRecordSet": {
                     "Name": "absent.unit.example.", "Type": "A", "TTL": 60, "ResourceRecords": [{"Value": "192.0.2.1"}]}}]})


def test_an_unreachable_endpoint_is_unavailable_and_not_sent():
    route53 = aws.client_from_params("route53", params(f"http://127.0.0.1:{free_port()}", aws_retries=1))
    with pytest.raises(UnavailableError) as caught:
        aws.call(route53.list_hosted_zones, operation="list of hosted zones", target="route53")
    assert caught.value.sent is False


def test_access_denied_is_an_authorization_error():
    from botocore.exceptions import ClientError  # pylint: disable=import-outside-toplevel
    denied = ClientError({"Error": {"Code": "AccessDenied", "Message": "User is not authorized to perform route53:ChangeResourceRecordSets"},
                          "ResponseMetadata": {"HTTPStatusCode": 403}}, "ChangeResourceRecordSets")
    error = aws.translate(denied, operation="change batch", target="Z1")
    assert isinstance(error, AuthorizationError)
    assert "route53:ChangeResourceRecordSets" in str(error)


@pytest.mark.parametrize("retries", [0, -2])
def test_retries_below_one_name_the_option(retries):
    with pytest.raises(InputError) as caught:
        aws.client_from_params("route53", {"aws_retries": retries})
    assert caught.value.option == "aws_retries"


def test_secret_key_is_not_in_the_client_repr():
    client = aws.client_from_params("route53", params("http://127.0.0.1:9"))
    assert "lab-secret-key" not in repr(client)
