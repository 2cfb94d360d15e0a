# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # The PostgreSQL connection options of module_utils.postgres.connection: DOCUMENTATION documents PG_COMMON_ARGUMENT_SPEC
    # (sandbox and source), which pg_pitr_restore and pg_validate share; APP documents APP_ARGUMENT_SPEC (pg_validate's app).
    # DATABASE documents DATABASE_ARGUMENT_SPEC (pg_stat_info's one connection).
    # The connections share their suboptions (ansible-test needs each as a literal); a unit test keeps each in step with the spec.
    DOCUMENTATION = r"""
options:
  sandbox:
    description:
      - How to connect to the sandbox, the cluster restored from the source's backups (never the production database).
      - M(ofm.rollback.pg_pitr_restore) creates the sandbox listening on O(sandbox.host) and O(sandbox.port), connects to it as
        O(sandbox.user) to follow the recovery and promote it, and returns these settings in its C(sandbox) result. It needs
        O(sandbox.port) to restore with the V(pgbackrest) and V(native) backends.
      - M(ofm.rollback.pg_validate) validates it and needs this option; the role needs to read every table checked, and the new backup
        check also needs the C(REPLICATION) attribute (or a superuser) and a C(replication) line in the sandbox's C(pg_hba.conf).
      - Before this option was shared, M(ofm.rollback.pg_pitr_restore) took its fields as C(sandbox_host), C(sandbox_port),
        C(login_user), C(login_password) and C(login_db); it still accepts those, with a warning.
    type: dict
    suboptions:
      host:
        description:
          - Host name, IP address or directory of the UNIX socket. V(localhost) when not set.
          - For M(ofm.rollback.pg_pitr_restore), the address the sandbox listens on (C(listen_addresses)); V(127.0.0.1) when not set.
        type: str
      port:
        description:
          - TCP port. V(5432) when not set.
          - For M(ofm.rollback.pg_pitr_restore), the sandbox's own port; it must be free and not the source's.
        type: int
      database:
        description:
          - Database name. V(postgres) when not set.
        type: str
      user:
        description:
          - Role to connect as. V(postgres) when not set.
          - For M(ofm.rollback.pg_pitr_restore), a role of the source cluster that may run C(pg_wal_replay_resume) (a superuser,
            unless granted).
        type: str
      password:
        description:
          - Password of O(sandbox.user); none when not set (peer, trust or a C(.pgpass) file).
          - M(ofm.rollback.pg_pitr_restore) connects over TCP when it is set, and over the sandbox's Unix socket when not (peer
            authentication then needs the module to run as an OS user of that name).
          - This value is a secret and is never logged.
        type: str
      sslmode:
        description:
          - libpq SSL mode. V(prefer) when not set.
        type: str
        choices: [disable, allow, prefer, require, verify-ca, verify-full]
      connect_timeout:
        description:
          - Seconds to wait for the connection. V(10) when not set.
        type: int
  source:
    description:
      - How to connect to the source cluster, the one the sandbox was restored from. Optional.
      - Only read, in read-only sessions (C(default_transaction_read_only)); nothing is written there.
      - Needed by M(ofm.rollback.pg_validate) to compare row counts with the source and to check the source's WAL archiver, and by
        M(ofm.rollback.pg_pitr_restore) to prove that the archive covers a time target in an idle tail (after the last archived commit).
    type: dict
    suboptions:
      host:
        description:
          - Host name, IP address or directory of the UNIX socket. V(localhost) when not set.
        type: str
      port:
        description:
          - TCP port. V(5432) when not set.
        type: int
      database:
        description:
          - Database name. V(postgres) when not set.
        type: str
      user:
        description:
          - Role to connect as. V(postgres) when not set.
        type: str
      password:
        description:
          - Password of O(source.user); none when not set (peer, trust or a C(.pgpass) file).
          - This value is a secret and is never logged.
        type: str
      sslmode:
        description:
          - libpq SSL mode. V(prefer) when not set.
        type: str
        choices: [disable, allow, prefer, require, verify-ca, verify-full]
      connect_timeout:
        description:
          - Seconds to wait for the connection. V(10) when not set.
        type: int
"""

    DATABASE = r"""
options:
  database:
    description:
      - How to connect to the database that is read. Each field not set takes the libpq default below.
    type: dict
    suboptions:
      host:
        description:
          - Host name, IP address or directory of the UNIX socket. V(localhost) when not set.
        type: str
      port:
        description:
          - TCP port. V(5432) when not set.
        type: int
      database:
        description:
          - Database name. V(postgres) when not set.
        type: str
      user:
        description:
          - Role to connect as. V(postgres) when not set.
        type: str
      password:
        description:
          - Password of O(database.user); none when not set (peer, trust or a C(.pgpass) file).
          - This value is a secret and is never logged.
        type: str
      sslmode:
        description:
          - libpq SSL mode. V(prefer) when not set.
        type: str
        choices: [disable, allow, prefer, require, verify-ca, verify-full]
      connect_timeout:
        description:
          - Seconds to wait for the connection. V(10) when not set.
        type: int
"""

    APP = r"""
options:
  app:
    description:
      - The application role and its credentials, to connect as the application does. Optional.
      - O(app.user) is required; O(app.host), O(app.port), O(app.database), O(app.sslmode) and O(app.connect_timeout) take the sandbox's values when not set.
    type: dict
    suboptions:
      host:
        description:
          - Host name, IP address or directory of the UNIX socket. O(sandbox.host) when not set.
        type: str
      port:
        description:
          - TCP port. O(sandbox.port) when not set.
        type: int
      database:
        description:
          - Database name. O(sandbox.database) when not set.
        type: str
      user:
        description:
          - The application's role.
        type: str
      password:
        description:
          - Password of O(app.user).
          - This value is a secret and is never logged.
        type: str
      sslmode:
        description:
          - libpq SSL mode. O(sandbox.sslmode) when not set.
        type: str
        choices: [disable, allow, prefer, require, verify-ca, verify-full]
      connect_timeout:
        description:
          - Seconds to wait for the connection. O(sandbox.connect_timeout) when not set.
        type: int
"""
