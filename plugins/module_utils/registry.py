# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Whether images exist in a container registry, through the Docker Registry HTTP API v2 (the OCI distribution API).

``HEAD /v2/<repository>/manifests/<tag or digest>`` with an ``Accept`` header listing the manifest and index media types
answers 200 (with ``Docker-Content-Digest`` and ``Content-Type``) when the image exists and 404 when it does not.

Authentication: basic (username and password) is sent with every request; a registry that answers 401 with a
``WWW-Authenticate: Bearer realm=...,service=...,scope=...`` challenge gets a pull token from its realm (with the basic
credentials, when given), as the Docker and OCI clients do; a fixed bearer token is sent as is.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any, Callable, Mapping, Optional
from urllib.parse import urlsplit

from ansible_collections.ofm.rollback.plugins.module_utils.argspec import http_client_kwargs, validated_url
from ansible_collections.ofm.rollback.plugins.module_utils.errors import AuthenticationError, DataError, InputError
from ansible_collections.ofm.rollback.plugins.module_utils.http import BasicAuth, BearerAuth, ClientAuth, HttpClient

SYSTEM = "container registry"
URL_EXAMPLE = "https://registry.example.com"
MANIFEST_MEDIA_TYPES = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
)
ACCEPT = ", ".join(MANIFEST_MEDIA_TYPES)
_REPOSITORY = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$")
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$")
_DIGEST = re.compile(r"^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[A-Za-z0-9=_-]+$")
_CHALLENGE_PARAM = re.compile(r'(\w+)="([^"]*)"')
IMAGE_EXAMPLE = "registry.example.com/ofm/api:2.4.0, ofm/api:2.4.0 or ofm/api@sha256:<hex>"


@dataclass(frozen=True)
class ImageRef:
    """An image reference split into the registry host it names (if any), the repository, and the tag or digest."""

    image: str
    host: Optional[str]
    repository: str
    reference: str

    @property
    def manifest_path(self) -> str:
        return f"/v2/{self.repository}/manifests/{self.reference}"


def parse_image(image: str) -> ImageRef:
    """Split ``image`` as Docker does: a first component with a dot or a colon, or ``localhost``, is the registry host;
    ``@digest`` or ``:tag`` ends it, and without either the tag is ``latest``."""
    rest = image.strip()
    host: Optional[str] = None
    first, slash, remainder = rest.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost"):
        host, rest = first, remainder
    if "@" in rest:
        repository, reference = rest.split("@", 1)
        valid_reference = bool(_DIGEST.match(reference))
        repository = repository.rsplit(":", 1)[0] if ":" in repository else repository
    else:
        repository, colon, tag = rest.rpartition(":")
        if not colon or "/" in tag:
            repository, tag = rest, "latest"
        reference, valid_reference = tag, bool(_TAG.match(tag))
    if not _REPOSITORY.match(repository) or not valid_reference:
        raise InputError(f"'{image}' is not a valid image reference", option="images", accepted=IMAGE_EXAMPLE)
    return ImageRef(image, host, repository, reference)


@dataclass(frozen=True)
class ImageInfo:
    """What the registry said about one image."""

    image: str
    repository: str
    reference: str
    exists: bool
    digest: Optional[str]
    media_type: Optional[str]
    status: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _header(headers: Mapping[str, str], name: str) -> Optional[str]:
    wanted = name.lower()
    return next((value for key, value in headers.items() if key.lower() == wanted), None)


def bearer_challenge(header: Optional[str]) -> Optional[dict[str, str]]:
    """The parameters (realm, service, scope) of a ``Bearer`` challenge, or None for any other challenge."""
    if not header or not header.strip().lower().startswith("bearer "):
        return None
    params = dict(_CHALLENGE_PARAM.findall(header))
    return params if params.get("realm") else None


class RegistryClient:
    """HEADs image manifests in one registry; ``requests`` lists every HTTP attempt made (registry and token realm)."""

    def __init__(self, make_http: Callable[[str, Optional[ClientAuth]], HttpClient], registry_url: str, *,
                 username: Optional[str] = None, password: Optional[str] = None, token: Optional[str] = None) -> None:
        self._make_http = make_http
        self._username = username
        self._password = password or ""
        self.registry_url = registry_url
        self._registry = make_http(registry_url, self._static_auth(token))
        self._clients: list[HttpClient] = [self._registry]
        self._token_clients: dict[str, HttpClient] = {}

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> "RegistryClient":
        """A client from the module's ``registry_url``, ``registry_username``/``registry_password`` or ``registry_token``, and
        ``HTTP_CLIENT_SPEC`` options, validated; every HTTP client it makes (registry and token realm) gets those options."""
        url = validated_url(params["registry_url"], "registry_url", example=URL_EXAMPLE)
        client_kwargs = http_client_kwargs(params, "registry_url")

        def make_http(base_url: str, auth: Optional[ClientAuth]) -> HttpClient:
            return HttpClient(base_url, auth=auth, system=SYSTEM, **client_kwargs)

        return cls(make_http, url, username=params["registry_username"], password=params["registry_password"], token=params["registry_token"])

    @property
    def requests(self) -> list[dict[str, Any]]:
        return [entry for client in self._clients for entry in client.requests]

    def _static_auth(self, token: Optional[str]) -> Optional[ClientAuth]:
        if token:
            return BearerAuth(token)
        if self._username:
            return BasicAuth(self._username, self._password)
        return None

    def image(self, ref: ImageRef) -> ImageInfo:
        """HEAD the manifest of ``ref``; a Bearer challenge is answered once per repository with a pull token."""
        client = self._token_clients.get(ref.repository, self._registry)
        response = client.request("HEAD", ref.manifest_path, headers={"Accept": ACCEPT}, expected=(200, 401, 404))
        if response.status == 401 and ref.repository not in self._token_clients:
            challenge = bearer_challenge(_header(response.headers, "WWW-Authenticate"))
            if challenge is not None:
                client = self._token_client(ref, challenge)
                response = client.request("HEAD", ref.manifest_path, headers={"Accept": ACCEPT}, expected=(200, 401, 404))
        if response.status == 401:
            how = "with the given credentials" if self._username or client is not self._registry else "without credentials"
            raise AuthenticationError(f"HTTP 401: the registry refused to show the manifest {how}", system=SYSTEM,
                                      operation=f"HEAD {ref.manifest_path}", target=self.registry_url,
                                      hint="Set registry_username and registry_password (or registry_token) of an account that can pull.")
        if response.status == 404:
            return ImageInfo(ref.image, ref.repository, ref.reference, False, None, None, response.status)
        media_type = (_header(response.headers, "Content-Type") or "").split(";")[0].strip()
        return ImageInfo(ref.image, ref.repository, ref.reference, True, _header(response.headers, "Docker-Content-Digest"),
                         media_type or None, response.status)

    def _token_client(self, ref: ImageRef, challenge: dict[str, str]) -> HttpClient:
        realm = challenge["realm"]
        parts = urlsplit(realm)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise DataError(f"the registry's Bearer challenge names realm {realm!r}, not an http(s) URL", system=SYSTEM,
                            operation=f"HEAD {ref.manifest_path}", target=self.registry_url)
        basic = BasicAuth(self._username, self._password) if self._username else None
        realm_client = self._make_http(f"{parts.scheme}://{parts.netloc}", basic)
        self._clients.append(realm_client)
        params = {"service": challenge.get("service", ""), "scope": challenge.get("scope") or f"repository:{ref.repository}:pull"}
        answer = realm_client.request("GET", parts.path or "/", params={key: value for key, value in params.items() if value}).body
        token = answer.get("token") or answer.get("access_token") if isinstance(answer, dict) else None
        if not token:
            raise DataError("the token service answered without a token", system=SYSTEM, operation="GET token", target=realm,
                            hint="Check that the registry's token realm is reachable and the credentials can pull.")
        client = self._make_http(self.registry_url, BearerAuth(token))
        self._clients.append(client)
        self._token_clients[ref.repository] = client
        return client
