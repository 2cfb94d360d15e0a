# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

# Options of module_utils.pg_connection.PG_CONNECTION_SPEC, one fragment per connection option:
# ofm.rollback.pg_connection (sandbox), ofm.rollback.pg_connection.source (source), ofm.rollback.pg_connection.app (app).
# The three share the suboptions below; a unit test keeps each in step with the spec.
_CONNECTION = r"""
options:
  {name}:
    description:
{description}
    type: dict{required}
    suboptions:
      host:
        description:
          - Host name, IP address or directory of the UNIX socket. {host} when not set.
        type: str
      port:
        description:
          - TCP port. {port} when not set.
        type: int
      database:
        description:
          - Database name. {database} when not set.
        type: str
      user:
        description:
          - {user}
        type: str
      password:
        description:
          - Password of O({name}.user){password}.
          - This value is a secret and is never logged.
        type: str
      sslmode:
        description:
          - libpq SSL mode. {sslmode} when not set.
        type: str
        choices: [disable, allow, prefer, require, verify-ca, verify-full]
      connect_timeout:
        description:
          - Seconds to wait for the connection. {connect_timeout} when not set.
        type: int
"""

_DEFAULTS = {"host": "V(localhost)", "port": "V(5432)", "database": "V(postgres)", "user": "Role to connect as. V(postgres) when not set.",
             "password": "; none when not set (peer, trust or a C(.pgpass) file)", "sslmode": "V(prefer)", "connect_timeout": "V(10)"}
_FROM_SANDBOX = {key: f"O(sandbox.{key})" for key in ("host", "port", "database", "sslmode", "connect_timeout")}


def _connection(name: str, description: list[str], required: bool = False, **unset: str) -> str:
    lines = "\n".join(f"      - {line}" for line in description)
    return _CONNECTION.format(name=name, description=lines, required="\n    required: true" if required else "", **{**_DEFAULTS, **unset})


class ModuleDocFragment:
    DOCUMENTATION = _connection("sandbox", [
        "How to connect to the sandbox, the restored cluster that is validated (never the production database).",
        "The role needs to read every table checked; the new backup check also needs the C(REPLICATION) attribute (or a "
        "superuser) and a C(replication) line in the sandbox's C(pg_hba.conf).",
    ], required=True)

    SOURCE = _connection("source", [
        "How to connect to the source cluster, the one the sandbox was restored from. Optional.",
        "Only read, in read-only sessions (C(default_transaction_read_only)); nothing is written there.",
        "Needed to compare row counts with the source and to check the source's WAL archiver.",
    ])

    APP = _connection("app", [
        "The application role and its credentials, to connect as the application does. Optional.",
        "O(app.user) is required; O(app.host), O(app.port), O(app.database), O(app.sslmode) and O(app.connect_timeout) take "
        "the sandbox's values when not set.",
    ], user="The application's role.", password="", **_FROM_SANDBOX)
