# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The FEATURE_FLAGS codec, and RedisFlagCache against a real redis-server (reads with TTLs, one-transaction writes, round
trips, refused credentials, missing ACL rights, a stopped server); redis-py's other errors through a fake pipeline."""
from __future__ import annotations

import time
from typing import Any

import pytest
import redis
from unithelpers import RedisServer, free_port

from ansible_collections.ofm.rollback.plugins.module_utils import flags
from ansible_collections.ofm.rollback.plugins.module_utils.errors import (
    AuthenticationError, AuthorizationError, DataError, InputError, UnavailableError)
from ansible_collections.ofm.rollback.plugins.module_utils.flags import CacheEntry, RedisFlagCache, parse, render


# --- codec ------------------------------------------------------------------------------------------------------------

def test_parse_keeps_the_order_and_render_gives_the_same_text_back():
    text = "platform_tiktok=true,publish_v2=false,platform_instagram=true"
    parsed = parse(text)
    assert list(parsed.items()) == [("platform_tiktok", True), ("publish_v2", False), ("platform_instagram", True)]
    assert render(parsed) == text


def test_parse_ignores_spaces_around_pairs_and_an_empty_value_holds_no_flag():
    assert parse(" a = true , b=false ") == {"a": True, "b": False}
    assert parse("") == {} and parse("   ") == {} and parse(None) == {}
    assert render({}) == ""


@pytest.mark.parametrize("text, pair, problem", [
    ("a=true,,b=false", "pair 2 ('')", "is empty"),
    ("a=true,b", "pair 2 ('b')", "has no '='"),
    ("a=1", "pair 1 ('a=1')", "has the value '1': only true and false are flag values"),
    ("a=True", "pair 1 ('a=True')", "has the value 'True'"),
    ("a=true,a=false", "pair 2 ('a=false')", "sets 'a' a second time"),
    ("=true", "pair 1 ('=true')", "has the name '', which is not a flag name"),
    ("a b=true", "pair 1 ('a b=true')", "has the name 'a b'"),
    ("a=true,", "pair 2 ('')", "is empty"),
])
def test_parse_refuses_a_malformed_value_naming_the_pair(text, pair, problem):
    with pytest.raises(DataError) as caught:
        parse(text, source="FEATURE_FLAGS of Deployment ofm-production/api")
    message = str(caught.value)
    assert pair in message and problem in message
    assert caught.value.target == "FEATURE_FLAGS of Deployment ofm-production/api"
    assert "name=true|false" in caught.value.hint


@pytest.mark.parametrize("name", ["", "a,b", "a=b", " a", "-a", "a b"])
def test_render_and_check_name_refuse_what_is_not_a_flag_name(name):
    with pytest.raises(InputError) as caught:
        render({name: True})
    assert caught.value.option == "names"
    with pytest.raises(InputError):
        flags.check_name(name)


def test_render_refuses_a_state_that_is_not_a_bool():
    with pytest.raises(InputError) as caught:
        render({"a": "false"})
    assert "'false'" in str(caught.value)


def test_cached_state():
    assert (flags.cached_state("true"), flags.cached_state("false"), flags.cached_state("1"), flags.cached_state(None)) == (True, False, None, None)


# --- options ----------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("url, expected", [
    ("redis://cache:6380/2", ("cache", 6380, 2, False)),
    ("redis://cache", ("cache", 6379, 0, False)),
    ("rediss://cache.example.com:6390/", ("cache.example.com", 6390, 0, True)),
])
def test_redis_urls(url, expected):
    address = flags.parse_redis_url(url)
    assert (address.host, address.port, address.db, address.tls) == expected


@pytest.mark.parametrize("url, said", [
    (None, "no Redis URL is set"),
    ("http://cache:6379/0", "must be a redis:// or rediss:// URL"),
    ("cache:6379", "must be a redis:// or rediss:// URL"),
    ("redis://cache:6379/zero", "must end with a database number"),
    ("redis://cache:99999/0", "invalid port"),
    ("redis://:hunter2@cache:6379/0", "holds credentials"),
])
def test_bad_redis_urls_name_the_option_and_what_is_accepted(url, said):
    with pytest.raises(InputError) as caught:
        RedisFlagCache.from_params({"redis_url": url})
    assert caught.value.option == "redis_url" and said in str(caught.value)
    assert "hunter2" not in str(caught.value)
    if "credentials" not in said:
        assert "redis://host:port/db" in str(caught.value.accepted)


def test_a_ca_path_without_tls_is_refused():
    with pytest.raises(InputError) as caught:
        RedisFlagCache.from_params({"redis_url": "redis://cache:6379/0", "redis_ca_path": "/etc/ca.pem"})
    assert caught.value.option == "redis_ca_path"


def test_tls_options_reach_the_client():
    cache = RedisFlagCache.from_params({"redis_url": "rediss://cache:6380/1", "redis_ca_path": "/etc/ca.pem", "redis_validate_certs": False,
                                        "redis_password": "pw"})
    kwargs = cache.client.connection_pool.connection_kwargs
    assert (kwargs["host"], kwargs["port"], kwargs["db"], kwargs["ssl_ca_certs"], kwargs["ssl_cert_reqs"]) == ("cache", 6380, 1, "/etc/ca.pem", "none")
    assert cache.target == "cache:6380/1"


# --- against a real redis-server ------------------------------------------------------------------------------------------

def cache_for(server: RedisServer, **overrides: Any) -> RedisFlagCache:
    return RedisFlagCache.from_params({"redis_url": server.url, "redis_password": server.password, **overrides})


def raw(server: RedisServer) -> redis.Redis:
    return redis.Redis(port=server.port, password=server.password, decode_responses=True)


def test_read_returns_every_flag_key_with_its_ttl_in_one_scan_and_one_pipeline(redis_server):
    client = raw(redis_server)
    client.set("feature_flags:a", "true", px=300000)
    client.set("feature_flags:b", "false")
    client.set("other:c", "true")
    cache = cache_for(redis_server)
    entries = cache.read()
    assert sorted(entries) == ["feature_flags:a", "feature_flags:b"]
    assert entries["feature_flags:a"].value == "true" and 290000 < entries["feature_flags:a"].ttl_ms <= 300000
    assert entries["feature_flags:b"] == CacheEntry("false", None)
    assert cache.round_trips == 2


def test_scan_walks_every_batch(redis_server):
    client = raw(redis_server)
    client.mset({f"feature_flags:f{i:03d}": "true" for i in range(250)})
    cache = cache_for(redis_server)
    cache.scan_count = 50
    entries = cache.read()
    assert len(entries) == 250
    assert cache.round_trips >= 1 + 250 // 50  # several SCAN calls, then one pipeline


def test_read_keys_leaves_out_keys_that_do_not_exist(redis_server):
    raw(redis_server).set("feature_flags:a", "true", ex=60)
    cache = cache_for(redis_server)
    assert list(cache.read_keys(["feature_flags:a", "feature_flags:nope"])) == ["feature_flags:a"]
    assert cache.read_keys([]) == {} and cache.round_trips == 1


def test_write_sets_values_with_their_ttl_and_deletes_in_one_transaction(redis_server):
    client = raw(redis_server)
    client.set("feature_flags:gone", "true")
    cache = cache_for(redis_server)
    cache.write({"feature_flags:a": CacheEntry("false", 5000), "feature_flags:b": CacheEntry("true", None)}, delete=["feature_flags:gone"])
    assert cache.round_trips == 1
    assert client.get("feature_flags:a") == "false" and 4000 < client.pttl("feature_flags:a") <= 5000
    assert client.get("feature_flags:b") == "true" and client.pttl("feature_flags:b") == -1
    assert client.exists("feature_flags:gone") == 0
    cache.write({}, delete=[])
    assert cache.round_trips == 1  # nothing to write: nothing sent


def test_write_is_atomic_a_failing_command_leaves_nothing_half_written(redis_server):
    client = raw(redis_server)
    client.set("feature_flags:a", "true")
    client.acl_setuser("limited", enabled=True, passwords=["+limited-pw"], keys=["feature_flags:a"],
                       commands=["+@connection", "+set", "+multi", "+exec", "+discard", "+del", "+get", "+pttl", "+scan"])
    cache = RedisFlagCache.from_params({"redis_url": redis_server.url, "redis_username": "limited", "redis_password": "limited-pw"})
    with pytest.raises(AuthorizationError) as caught:
        cache.write({"feature_flags:a": CacheEntry("false", 1000), "feature_flags:b": CacheEntry("false", 1000)})
    assert caught.value.system == "Redis" and "redis_username" in caught.value.hint
    assert client.get("feature_flags:a") == "true" and client.exists("feature_flags:b") == 0


def test_a_wrong_password_is_an_authentication_error_naming_redis_password(redis_server):
    cache = cache_for(redis_server, redis_password="not-the-password-77")
    with pytest.raises(AuthenticationError) as caught:
        cache.read()
    assert caught.value.system == "Redis" and "redis_password" in caught.value.hint
    assert "not-the-password-77" not in str(caught.value) and redis_server.password not in str(caught.value.fields())


def test_no_password_when_one_is_required_says_so(redis_server):
    with pytest.raises(AuthenticationError) as caught:
        cache_for(redis_server, redis_password=None).read()
    assert "redis_password is not set" in str(caught.value)


def test_a_refused_connection_is_unavailable_and_nothing_was_sent():
    cache = RedisFlagCache.from_params({"redis_url": f"redis://127.0.0.1:{free_port()}/0", "redis_password": "x"})
    started = time.monotonic()
    with pytest.raises(UnavailableError) as caught:
        cache.read()
    assert caught.value.system == "Redis" and caught.value.sent is False and caught.value.attempts == flags.RETRIES + 1
    assert "redis_url" in caught.value.hint and time.monotonic() - started < 10


# --- error mapping through a fake pipeline (only for the errors a real server cannot easily be made to give) ----------

class FailingPipeline:
    def __init__(self, error: Exception) -> None:
        self.error = error

    def __getattr__(self, name: str) -> Any:
        return lambda *args, **kwargs: None

    def execute(self) -> Any:
        raise self.error


class FailingClient:
    def __init__(self, error: Exception) -> None:
        self.error = error

    def pipeline(self, transaction: bool = True) -> FailingPipeline:  # pylint: disable=unused-argument
        return FailingPipeline(self.error)


@pytest.mark.parametrize("error, expected, sent", [
    (redis.exceptions.TimeoutError("Timeout reading from socket"), UnavailableError, None),
    (redis.exceptions.ConnectionError("Error 111 connecting to cache:6379. Connection refused."), UnavailableError, False),
    (redis.exceptions.BusyLoadingError("Redis is loading the dataset in memory"), UnavailableError, None),
    (redis.exceptions.ConnectionError("Connection closed by server."), UnavailableError, None),
    (redis.exceptions.ResponseError("WRONGTYPE Operation against a key holding the wrong kind of value"), DataError, None),
    (redis.exceptions.ReadOnlyError("You can't write against a read only replica."), DataError, None),
    (redis.exceptions.ResponseError("NOAUTH Authentication required."), AuthenticationError, None),
    (redis.exceptions.NoPermissionError("NOPERM this user has no permissions to run the 'set' command"), AuthorizationError, None),
])
def test_redis_errors_map_to_the_collections_errors(error, expected, sent):
    cache = RedisFlagCache(FailingClient(error), target="cache:6379/0")
    with pytest.raises(expected) as caught:
        cache.write({"feature_flags:a": CacheEntry("false", 1000)})
    assert caught.value.system == "Redis" and caught.value.target == "cache:6379/0" and caught.value.operation == "MULTI/EXEC transaction"
    if expected is UnavailableError:
        assert caught.value.sent is sent
    assert cache.round_trips == 1


def test_a_secret_in_an_error_text_is_redacted():
    cache = RedisFlagCache(FailingClient(redis.exceptions.ResponseError("ERR bad thing near s3cr3t-pw")), target="c:1/0", secrets=["s3cr3t-pw"])
    with pytest.raises(DataError) as caught:
        cache.read_keys(["feature_flags:a"])
    assert "s3cr3t-pw" not in str(caught.value) and "********" in str(caught.value)
