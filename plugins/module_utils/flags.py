# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""OFM's own feature flags: the ``FEATURE_FLAGS`` codec and the Redis flag cache (one client, ``RedisFlagCache``).

The source of truth of a flag is the ``FEATURE_FLAGS`` environment value of the API Deployment's container: comma-separated
``name=true|false`` pairs, in an order the codec keeps. The app caches each flag in Redis as ``feature_flags:<name>``
(``"true"``/``"false"``, TTL 300 s) and reads the cache first; on a miss it reads its own ``FEATURE_FLAGS`` again. So a value
written only to Redis lasts until its key's TTL runs out, then the source of truth's value comes back.

``RedisFlagCache`` reads every ``feature_flags:*`` key with its remaining TTL (one SCAN walk, then one pipeline of GET and
PTTL), or only given keys (one pipeline), and writes values with their TTL and deletes keys in one MULTI/EXEC transaction.
``round_trips`` counts the requests sent to Redis (each SCAN call and each pipeline counts one; the connection's own
handshake, AUTH and SELECT, does not).
"""

from __future__ import annotations

import re
import traceback
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping, Optional, TypeVar
from urllib.parse import urlsplit

from ansible_collections.ofm.rollback.plugins.module_utils.errors import (
    AuthenticationError, AuthorizationError, DataError, InputError, OfmRollbackError, UnavailableError)
from ansible_collections.ofm.rollback.plugins.module_utils.redact import Redactor

try:
    import redis
    from redis.backoff import ExponentialBackoff
    from redis.retry import Retry
    HAS_REDIS = True
    REDIS_IMPORT_TRACEBACK: Optional[str] = None
except ImportError:
    redis = None
    HAS_REDIS = False
    REDIS_IMPORT_TRACEBACK = traceback.format_exc()

SYSTEM = "Redis"
CODEC = "FEATURE_FLAGS"
KEY_PREFIX = "feature_flags:"
VALUES = {"true": True, "false": False}
FLAG_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
FLAG_NAME_RULE = "a letter or digit, then letters, digits, '_', '.' or '-'"
REDIS_URL_EXAMPLE = "redis://redis.example.com:6379/0"
DEFAULT_PORT = 6379
CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 10.0
RETRIES = 2
SCAN_COUNT = 1000
T = TypeVar("T")


# --- the FEATURE_FLAGS codec ---------------------------------------------------------------------------------------

def parse(text: Optional[str], *, source: str = CODEC) -> dict[str, bool]:
    """The flags of a ``FEATURE_FLAGS`` value, in its order; a ``DataError`` naming ``source`` and the pair at fault otherwise.

    Spaces around a pair, a name or a value are ignored; an empty value holds no flag. Anything else than ``name=true`` or
    ``name=false`` (an empty pair, no ``=``, another value such as ``1`` or ``True``, a name used twice) is refused.
    """
    flags: dict[str, bool] = {}
    if text is None or not text.strip():
        return flags
    for position, pair in enumerate(text.split(","), 1):
        name, equals, value = (part.strip() for part in pair.partition("="))
        problem = None
        if not equals:
            problem = "has no '='" if pair.strip() else "is empty"
        elif not FLAG_NAME.fullmatch(name):
            problem = f"has the name {name!r}, which is not a flag name ({FLAG_NAME_RULE})"
        elif value not in VALUES:
            problem = f"has the value {value!r}: only true and false are flag values"
        elif name in flags:
            problem = f"sets {name!r} a second time"
        if problem:
            raise DataError(f"pair {position} ({pair.strip()!r}) {problem}", system="feature flags", operation=f"parse of {CODEC}",
                            target=source, hint="A FEATURE_FLAGS value is comma-separated name=true|false pairs, such as "
                                                "platform_tiktok=true,publish_v2=false.")
        flags[name] = VALUES[value]
    return flags


def render(flags: Mapping[str, bool]) -> str:
    """The ``FEATURE_FLAGS`` value of ``flags`` (in their order, no spaces)."""
    for name, enabled in flags.items():
        check_name(name)
        if not isinstance(enabled, bool):
            raise InputError(f"flag {name!r} has the state {enabled!r}", option="names", accepted=["true", "false"])
    return ",".join(f"{name}={'true' if enabled else 'false'}" for name, enabled in flags.items())


def check_name(name: Any, option: str = "names") -> str:
    """``name`` if it is a flag name, else an ``InputError`` naming ``option``."""
    if not isinstance(name, str) or not FLAG_NAME.fullmatch(name):
        raise InputError(f"{name!r} is not a flag name", option=option, accepted=FLAG_NAME_RULE)
    return name


def state_text(enabled: bool) -> str:
    return "true" if enabled else "false"


def cached_state(value: Optional[str]) -> Optional[bool]:
    """The state a cached value stands for; None for a missing key or a value that is neither ``true`` nor ``false``."""
    return VALUES.get(value) if value is not None else None


# --- the Redis flag cache ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class CacheEntry:
    """A cached key: its value and the milliseconds left to live (``None``: the key never expires)."""

    value: str
    ttl_ms: Optional[int]

    def as_dict(self) -> dict[str, Any]:
        return {"value": self.value, "ttl_ms": self.ttl_ms}


@dataclass(frozen=True)
class RedisAddress:
    """Where the cache is, from ``redis_url``."""

    host: str
    port: int
    db: int
    tls: bool

    def __str__(self) -> str:
        return f"{self.host}:{self.port}/{self.db}"


def parse_redis_url(url: Optional[str]) -> RedisAddress:
    """``redis://host[:port][/db]`` or ``rediss://...`` (TLS); an ``InputError`` naming ``redis_url`` otherwise.

    Credentials in the URL are refused: they would show wherever the URL does; ``redis_username``/``redis_password`` carry them.
    """
    accepted = f"redis://host:port/db or rediss://host:port/db (TLS), such as {REDIS_URL_EXAMPLE}"
    if not url:
        raise InputError("no Redis URL is set", option="redis_url", system=SYSTEM, accepted=accepted)
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss") or not parts.hostname:
        raise InputError(f"redis_url must be a redis:// or rediss:// URL with a host, got scheme {parts.scheme!r} and host {parts.hostname!r}",
                         option="redis_url", system=SYSTEM, accepted=accepted)
    if parts.username or parts.password:
        raise InputError("redis_url holds credentials", option="redis_url", system=SYSTEM,
                         hint="Give the URL without user or password and set redis_username and redis_password (or REDIS_PASSWORD).")
    try:
        port = parts.port or DEFAULT_PORT
    except ValueError as exc:
        raise InputError(f"redis_url has an invalid port: {exc}", option="redis_url", system=SYSTEM, accepted=accepted) from exc
    db_text = parts.path.strip("/") or "0"
    if not db_text.isdigit() or parts.query or parts.fragment:
        raise InputError(f"redis_url must end with a database number, got {parts.path + ('?' + parts.query if parts.query else '')!r}",
                         option="redis_url", system=SYSTEM, accepted=accepted)
    return RedisAddress(parts.hostname, port, int(db_text), parts.scheme == "rediss")


def require_redis() -> None:
    """An ``InputError`` naming the package when redis-py is not installed."""
    if not HAS_REDIS:
        raise InputError("the Python package 'redis' cannot be imported", system=SYSTEM, operation="client setup",
                         hint="Install the collection's requirements.txt (redis>=5.0) for the Python that runs the module.",
                         details={"traceback": REDIS_IMPORT_TRACEBACK})


class RedisFlagCache:
    """The ``feature_flags:<name>`` keys of one Redis database, over a redis-py client (``redis.Redis``)."""

    def __init__(self, client: Any, *, target: str, prefix: str = KEY_PREFIX, scan_count: int = SCAN_COUNT,
                 password_set: bool = True, secrets: Iterable[Optional[str]] = ()) -> None:
        self.client = client
        self.target = target
        self.prefix = prefix
        self.scan_count = scan_count
        self.round_trips = 0
        self._password_set = password_set
        self._redactor = Redactor(secrets)

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> "RedisFlagCache":
        """A cache from the ``REDIS_SPEC`` options (``redis_url``, ``redis_username``, ``redis_password``, TLS options)."""
        address = parse_redis_url(params.get("redis_url"))
        require_redis()
        validate = params.get("redis_validate_certs", True)
        if params.get("redis_ca_path") and not address.tls:
            raise InputError("redis_ca_path is set but redis_url is not a rediss:// URL", option="redis_ca_path", system=SYSTEM,
                             hint="Use a rediss:// URL for TLS, or leave redis_ca_path unset.")
        kwargs: dict[str, Any] = {
            "host": address.host, "port": address.port, "db": address.db, "username": params.get("redis_username") or None,
            "password": params.get("redis_password") or None, "socket_connect_timeout": CONNECT_TIMEOUT, "socket_timeout": READ_TIMEOUT,
            "decode_responses": True, "retry": Retry(ExponentialBackoff(cap=1.0, base=0.1), RETRIES),
        }
        if address.tls:
            kwargs.update(ssl=True, ssl_ca_certs=params.get("redis_ca_path"), ssl_cert_reqs="required" if validate else "none",
                          ssl_check_hostname=bool(validate))
        return cls(redis.Redis(**kwargs), target=str(address), password_set=bool(params.get("redis_password")),
                   secrets=[params.get("redis_password")])

    def key(self, name: str) -> str:
        return self.prefix + name

    def name(self, key: str) -> str:
        return key[len(self.prefix):] if key.startswith(self.prefix) else key

    def scan(self) -> list[str]:
        """Every key under the prefix (SCAN, ``scan_count`` keys a call), sorted."""
        keys: set[str] = set()
        cursor: Any = 0
        while True:
            cursor, batch = self._sent("SCAN", lambda at=cursor: self.client.scan(at, match=self.prefix + "*", count=self.scan_count))
            keys.update(batch)
            if int(cursor) == 0:
                return sorted(keys)

    def read(self) -> dict[str, CacheEntry]:
        """Every key under the prefix with its value and remaining TTL: a SCAN walk, then one pipeline."""
        return self.read_keys(self.scan())

    def read_keys(self, keys: Iterable[str]) -> dict[str, CacheEntry]:
        """``keys``' values and remaining TTLs in one pipeline (GET and PTTL each); keys that do not exist are left out."""
        keys = list(dict.fromkeys(keys))
        if not keys:
            return {}
        pipe = self.client.pipeline(transaction=False)
        for key in keys:
            pipe.get(key)
            pipe.pttl(key)
        answers = self._sent("GET/PTTL pipeline", pipe.execute)
        entries = {}
        for key, value, ttl in zip(keys, answers[0::2], answers[1::2]):
            if value is not None:  # gone since the SCAN, or never there
                entries[key] = CacheEntry(value, ttl if isinstance(ttl, int) and ttl >= 0 else None)
        return entries

    def write(self, entries: Optional[Mapping[str, CacheEntry]] = None, delete: Iterable[str] = ()) -> None:
        """Set ``entries`` (each with its TTL, PX; none for a key that never expires) and delete ``delete``, in one MULTI/EXEC."""
        entries, delete = dict(entries or {}), list(delete)
        if not entries and not delete:
            return
        pipe = self.client.pipeline(transaction=True)
        for key, entry in entries.items():
            if entry.ttl_ms is None:
                pipe.set(key, entry.value)
            else:
                pipe.set(key, entry.value, px=max(1, int(entry.ttl_ms)))
        if delete:
            pipe.delete(*delete)
        self._sent("MULTI/EXEC transaction", pipe.execute)

    def close(self) -> None:
        close = getattr(self.client, "close", None)
        if callable(close):
            close()

    def _sent(self, operation: str, function: Callable[[], T]) -> T:
        """``function()``, one round trip, with redis-py's errors mapped to the collection's."""
        self.round_trips += 1
        try:
            return function()
        except _redis_errors() as exc:
            raise map_error(exc, operation, self.target, password_set=self._password_set, redactor=self._redactor) from exc


def _redis_errors() -> tuple[type[BaseException], ...]:
    return (redis.exceptions.RedisError, OSError) if HAS_REDIS else (OSError,)


def map_error(exc: BaseException, operation: str, target: str, *, password_set: bool = True,
              redactor: Optional[Redactor] = None) -> OfmRollbackError:
    """The collection's error for a failed Redis call: unreachable -> ``UnavailableError``, refused credentials ->
    ``AuthenticationError`` naming ``redis_password``, missing ACL rights -> ``AuthorizationError``, anything else Redis
    answered -> ``DataError``."""
    text = (redactor or Redactor()).text(str(exc)) or type(exc).__name__
    common: dict[str, Any] = {"system": SYSTEM, "operation": operation, "target": target}
    upper = text.upper()
    exceptions = redis.exceptions if HAS_REDIS else None
    if (exceptions and isinstance(exc, exceptions.AuthenticationError)) or upper.startswith(("NOAUTH", "WRONGPASS")):
        if not password_set:
            return AuthenticationError("the server requires a password and redis_password is not set", **common,
                                       hint="Set redis_password (or REDIS_PASSWORD), and redis_username for an ACL user.")
        return AuthenticationError(f"the server refused the credentials: {text}", **common,
                                   hint="Check redis_password (or REDIS_PASSWORD), and redis_username when the server has ACL users.")
    if (exceptions and isinstance(exc, exceptions.NoPermissionError)) or upper.startswith("NOPERM"):
        return AuthorizationError(f"the Redis user may not do this: {text}", **common,
                                  hint="Give the user of redis_username the ACL rights to SCAN, GET, PTTL, SET, DEL, MULTI and EXEC "
                                       f"on {KEY_PREFIX}* keys.")
    if isinstance(exc, OSError) or (exceptions and isinstance(exc, (exceptions.ConnectionError, exceptions.TimeoutError))):
        nothing_sent = "connecting" in text.lower() or "connection refused" in text.lower()
        tls = "ssl" in text.lower() or "certificate" in text.lower()
        hint = ("Set redis_ca_path to the CA that signed the server's certificate (redis_validate_certs=false only for a lab)."
                if tls else "Check that Redis is up and reachable from this host at redis_url, then run again.")
        return UnavailableError(f"{text}", attempts=RETRIES + 1, sent=False if nothing_sent else None, **common, hint=hint)
    if exceptions and isinstance(exc, exceptions.DataError):
        return InputError(f"redis-py refused the request: {text}", **common, hint="")
    return DataError(f"Redis answered with an error: {text}", **common,
                     hint="Check that redis_url points at a writable primary and that the feature_flags:* keys hold strings.")
