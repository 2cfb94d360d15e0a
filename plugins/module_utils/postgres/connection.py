# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection's one PostgreSQL client (``Connection``, psycopg 3) and the connection options that build it.

``PG_CONNECTION_SPEC`` holds the suboptions of one connection (host, port, database, user, password, sslmode,
connect_timeout). ``PG_COMMON_ARGUMENT_SPEC`` is what pg_pitr_restore and pg_validate both take: ``sandbox`` (the
restored cluster) and ``source`` (the cluster it comes from, only read); pg_validate adds ``app`` (``APP_ARGUMENT_SPEC``,
the application role). The doc fragment ``ofm.rollback.pg_connection`` documents them (``DOCUMENTATION`` for the common
ones, ``APP`` for ``app``), kept in step by a unit test.
"""

from __future__ import annotations

import os
import traceback
from dataclasses import dataclass, replace
from typing import Any, Callable, Mapping, Optional

from ansible_collections.ofm.rollback.plugins.module_utils.errors import InputError

try:
    import psycopg
    HAS_PSYCOPG = True
    PSYCOPG_IMPORT_TRACEBACK: Optional[str] = None
except ImportError:
    psycopg = None
    HAS_PSYCOPG = False
    PSYCOPG_IMPORT_TRACEBACK = traceback.format_exc()

SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
DEFAULT_HOST = "localhost"
DEFAULT_PORT = 5432
DEFAULT_DATABASE = "postgres"
DEFAULT_USER = "postgres"
DEFAULT_SSLMODE = "prefer"
DEFAULT_CONNECT_TIMEOUT = 10

# No defaults in the spec: an unset field of `app` takes the sandbox's value, the others fall back to the DEFAULT_* above.
PG_CONNECTION_SPEC: dict[str, dict[str, Any]] = {
    "host": {"type": "str"},
    "port": {"type": "int"},
    "database": {"type": "str"},
    "user": {"type": "str"},
    "password": {"type": "str", "no_log": True},
    "sslmode": {"type": "str", "choices": list(SSL_MODES)},
    "connect_timeout": {"type": "int"},
}


def connection_option() -> dict[str, Any]:
    """The argument spec of one connection option (a dict of ``PG_CONNECTION_SPEC`` suboptions)."""
    return {"type": "dict", "options": PG_CONNECTION_SPEC}


PG_COMMON_ARGUMENT_SPEC: dict[str, dict[str, Any]] = {"sandbox": connection_option(), "source": connection_option()}
APP_ARGUMENT_SPEC: dict[str, dict[str, Any]] = {"app": connection_option()}
# One database read by a module that reads no sandbox (pg_stat_info); documented by the fragment section DATABASE.
DATABASE_ARGUMENT_SPEC: dict[str, dict[str, Any]] = {"database": connection_option()}


@dataclass(frozen=True)
class Connection:
    """Where and as whom to connect; ``name`` is the option it came from (sandbox, source, app)."""

    name: str
    host: str
    port: int
    database: str
    user: str
    password: Optional[str] = None
    sslmode: str = DEFAULT_SSLMODE
    connect_timeout: int = DEFAULT_CONNECT_TIMEOUT

    def via(self, host: str) -> "Connection":
        """The same login through ``host`` (such as the directory of a Unix socket)."""
        return replace(self, host=host)

    @property
    def target(self) -> str:
        """``user@host:port/database``, for messages (never the password)."""
        return f"{self.user}@{self.host}:{self.port}/{self.database}"

    def conninfo(self) -> str:
        """A libpq connection string without the password (that goes in ``PGPASSWORD``, see ``libpq_env``)."""
        return " ".join(f"{key}={_conninfo_quote(str(value))}" for key, value in (
            ("host", self.host), ("port", self.port), ("dbname", self.database), ("user", self.user),
            ("sslmode", self.sslmode), ("connect_timeout", self.connect_timeout)))

    def libpq_env(self) -> dict[str, str]:
        """Environment for libpq-based tools (pg_basebackup, pgbackrest): the password, never on a command line."""
        env = {key: value for key, value in os.environ.items() if not key.startswith("PG")}
        if self.password:
            env["PGPASSWORD"] = self.password
        return env

    def connect(self, *, read_only: bool, statement_timeout: Optional[float] = None) -> Any:
        """A psycopg connection in autocommit mode; with ``read_only`` every transaction of the session is read-only."""
        settings = ["-c default_transaction_read_only=on"] if read_only else []
        if statement_timeout:
            settings.append(f"-c statement_timeout={int(statement_timeout * 1000)}")
        return psycopg.connect(host=self.host, port=self.port, dbname=self.database, user=self.user, password=self.password,
                               sslmode=self.sslmode, connect_timeout=self.connect_timeout, options=" ".join(settings) or None,
                               application_name="ofm.rollback", autocommit=True)


def _conninfo_quote(value: str) -> str:
    if value and not any(char in value for char in " '\\"):
        return value
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


INHERITED = ("host", "port", "database", "sslmode", "connect_timeout")


def connection_from_params(params: Optional[Mapping[str, Any]], option: str, inherit: Optional[Connection] = None,
                           defaults: Optional[Mapping[str, Any]] = None) -> Optional[Connection]:
    """A ``Connection`` from one connection option's suboptions (None when the option is not set), validated.

    With ``inherit`` (the application role inherits the sandbox's), unset ``INHERITED`` fields take its values and ``user``
    is required; otherwise unset fields take ``defaults``, else localhost, 5432, postgres, postgres, prefer, 10 s.
    """
    if params is None:
        return None
    values = {"host": DEFAULT_HOST, "port": DEFAULT_PORT, "database": DEFAULT_DATABASE, "user": DEFAULT_USER,
              "sslmode": DEFAULT_SSLMODE, "connect_timeout": DEFAULT_CONNECT_TIMEOUT, **(defaults or {})}
    if inherit is not None:
        values.update({key: getattr(inherit, key) for key in INHERITED}, user=None)
    values.update({key: params[key] for key in values if params.get(key) is not None})
    if not 1 <= values["port"] <= 65535:
        raise InputError(f"{option}.port must be a TCP port, got {values['port']}", option=f"{option}.port", accepted="1 to 65535")
    if values["connect_timeout"] < 1:
        raise InputError(f"{option}.connect_timeout must be at least 1 second, got {values['connect_timeout']}",
                         option=f"{option}.connect_timeout", accepted="a whole number of seconds, 1 or more")
    if values["sslmode"] not in SSL_MODES:
        raise InputError(f"{option}.sslmode {values['sslmode']!r} is not a libpq SSL mode", option=f"{option}.sslmode", accepted=SSL_MODES)
    for key in ("host", "database", "user"):
        if not values[key]:
            raise InputError(f"{option}.{key} must be set and not empty", option=f"{option}.{key}", accepted="a non-empty string")
    return Connection(name=option, password=params.get("password"), **values)


def renamed_options(params: Mapping[str, Any], option: str, old_names: Mapping[str, str], warn: Callable[[str], None]) -> dict[str, Any]:
    """The suboptions of connection ``option`` with those given under their old top-level names (``old_names``: old name ->
    suboption) moved in, each with a warning; an old name and its new one both set is an ``InputError``."""
    merged = dict(params.get(option) or {})
    for old, new in old_names.items():
        if params.get(old) is None:
            continue
        if merged.get(new) is not None:
            raise InputError(f"{old} and {option}.{new} are both set", option=old, accepted=f"only {option}.{new} ({old} is its old name)")
        warn(f"{old} is deprecated and will be removed in a future release: set {option}.{new} instead")
        merged[new] = params[old]
    return merged
