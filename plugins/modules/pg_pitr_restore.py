#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: pg_pitr_restore
short_description: Restore a PostgreSQL cluster's backups into a sandbox to a point in time, and confirm the target was reached
version_added: 0.3.0
description:
  - Restores the backups of a source cluster into a sandbox, a new cluster with its own data directory and port on the target
    host (never the source's), to a time, an LSN, a restore point, a transaction id or the latest archived state.
  - "Backends: V(pgbackrest) (C(pgbackrest restore) with the data directory remapped to the sandbox), V(native) (a plain-format
    C(pg_basebackup) copy plus a WAL archive directory read by C(restore_command)), and V(rds) (C(restore_db_instance_to_point_in_time)
    into a new AWS RDS instance)."
  - Before it changes anything it checks the target against the backups and the WAL archive. A time must not be in the future,
    not before the end of the oldest usable backup, and not after the newest archived WAL segment was archived; an LSN must lie
    between the end of the oldest backup and the end of the archived WAL. Otherwise it fails with the reason and creates nothing.
  - It then restores, starts the sandbox paused at the target (C(recovery_target_action=pause)), waits until recovery has really
    finished (a server that accepts connections may still be replaying), confirms the target from the server log
    (C(recovery stopping before/after ...)) and C(pg_last_xact_replay_timestamp), and promotes the sandbox.
  - The sandbox never archives into the source's repository or WAL archive (C(archive_mode=off) in its C(postgresql.auto.conf)).
  - A marker file (C(ofm_pitr_restore.json)) in the sandbox's data directory records the source, the target and the backup, so a
    second run with the same target reports no change, and O(state=absent) removes only sandboxes this module created.
  - PostgreSQL and pgBackRest commands run as O(os_user) (with C(setpriv) when the module runs as root).
  - A failed restore stops and deletes the sandbox it was creating, with the processes a killed server left working in it (a
    O(sandbox_data_dir) that is a mount point is emptied, as it cannot be deleted), says what became of it in C(error.details.sandbox),
    and returns the end of the server log. A sandbox server that stops during recovery is reported with what stopped it (the log's
    reason, a shutdown request, or a postmaster that vanished without a word, that is killed or crashed).
  - Before it creates anything it checks that the filesystem of O(sandbox_data_dir) has at least the backup's size free (C(size) in
    RV(backup)); a restore that fills the filesystem later (the WAL recovery replays needs room too) fails with C(no space left on
    device), the directory and its free space, and leaves nothing behind.
  - A pgBackRest repository that O(os_user) may not read fails before anything is created, naming the repository's path and the
    user, with pgBackRest's own message.
  - A restore killed half-way (SIGKILL, a lost controller) is redone by the next run to the same target - the marker (not yet
    C(ready)) or, before the marker exists, a claim file beside the data directory (C(.<name>.ofm_pitr_restore.json), written
    before the restore command fills it) proves that this module made the directory; the server left running is stopped, the
    directory deleted, and the restore starts again. A half-done restore to another source or target is refused, and so is one whose
    process still runs (killing C(ansible-playbook) alone leaves the task's worker process restoring) - the error names its pid.
  - "A time in an idle tail: when nothing was committed between the last archived commit and the target, PostgreSQL replays the
    whole archive without meeting a commit after the target and stops with C(recovery ended before configured recovery target was
    reached). The state at the target is then the state at the archive's end, provided the source committed nothing that the archive
    lacks; the module asks the source (O(source), read-only) and, when it proves so, replays the archive again up to its last record,
    paused there, and promotes: C(idle_tail) in RV(reached) says so. Proof: the sandbox paused at the archive's end gives its
    C(pg_current_snapshot()); none of its in-progress transactions, and none of the transaction ids from its xmax to the source's xmax,
    is committed on the source (C(pg_xact_status)), asked at a moment after the target. Without O(source), or when the source cannot
    prove it, the module fails, says the newest restorable moment (the last archived commit) and what to do, and deletes the sandbox."
  - A time after the newest archived segment was archived is refused before anything is created (its WAL is not archived yet), unless
    O(source) shows that the source has written no WAL since that segment (then C(pg_switch_wal()) would not archive anything new,
    and the archive covers everything up to now).
author:
  - OFM Social OS SRE team (@ofm-social)
extends_documentation_fragment:
  - ofm.rollback.attributes.action_group_postgresql
  - ofm.rollback.pg_connection
options:
  state:
    description:
      - V(present) restores into the sandbox (or reports the sandbox already holds the target).
      - V(absent) stops and deletes the sandbox; it refuses a directory (or RDS instance) this module did not create, and an empty
        directory is no change.
    type: str
    choices: [present, absent]
    default: present
  backend:
    description:
      - Where the backups are. V(pgbackrest) needs O(pgbackrest_stanza); V(native) needs O(native_base_backup) and O(native_wal_archive);
        V(rds) needs O(rds).
    type: str
    choices: [pgbackrest, native, rds]
    default: pgbackrest
  target_type:
    description:
      - What O(target) is.
      - V(time) - a timestamp such as V(2025-11-28 03:00:00) or V(2025-11-28T03:00:00+01:00); a time without an offset is taken as
        UTC, and the result says so (C(assumed_utc) in RV(target)).
      - V(lsn) - a WAL location such as V(0/3000060).
      - V(name) - a restore point made with C(pg_create_restore_point).
      - V(xid) - a transaction id.
      - V(latest) - the end of the archived WAL; O(target) must not be set.
    type: str
    choices: [time, lsn, name, xid, latest]
    default: time
  target:
    description:
      - The recovery target, in the form O(target_type) says. Required unless O(target_type=latest).
    type: str
  target_inclusive:
    description:
      - Whether the sandbox includes the target (stops just after it) or not (stops just before it), for O(target_type=time),
        V(lsn) and V(xid).
    type: bool
    default: true
  backup_label:
    description:
      - The pgBackRest backup set to restore, such as V(20251128-030000F). By default the newest backup that ended before the
        target (for a time or an LSN), else the newest backup.
    type: str
  sandbox_data_dir:
    description:
      - The sandbox's data directory on the target host. It must not exist, or be empty, or hold a sandbox of this module.
      - Its filesystem needs room for the backup (checked first) and for the WAL segments recovery replays.
      - Required with the V(pgbackrest) and V(native) backends.
    type: path
  sandbox_socket_dir:
    description:
      - The sandbox's Unix socket directory. Defaults to O(sandbox_data_dir).
    type: path
  sandbox_host:
    description:
      - Deprecated, the old name of O(sandbox.host); set that instead. It will be removed in a future release.
    type: str
  sandbox_port:
    description:
      - Deprecated, the old name of O(sandbox.port); set that instead. It will be removed in a future release.
    type: int
  os_user:
    description:
      - The OS user that owns the sandbox and runs PostgreSQL and pgBackRest. When the module runs as root, commands run as this user
        (PostgreSQL refuses to run as root); otherwise the module must run as this user.
    type: str
    default: postgres
  pg_bin_dir:
    description:
      - The directory of C(pg_ctl). Defaults to C(/usr/lib/postgresql/<major>/bin) of the backup's major version when it exists,
        else the search path.
    type: path
  pgbackrest_config:
    description:
      - The pgBackRest configuration file that defines the stanza and its repository.
    type: path
    default: /etc/pgbackrest/pgbackrest.conf
  pgbackrest_stanza:
    description:
      - The pgBackRest stanza of the source cluster, such as V(ofm-social-os).
    type: str
  pgbackrest_repo:
    description:
      - The pgBackRest repository number (C(--repo)) when the stanza has several.
    type: int
  native_base_backup:
    description:
      - A plain-format base backup made by C(pg_basebackup -Fp) (a directory with C(backup_label) and C(backup_manifest)).
    type: path
  native_wal_archive:
    description:
      - The directory the source's C(archive_command) copies WAL segments into; the sandbox reads it with C(restore_command) and never
        writes to it.
    type: path
  login_user:
    description:
      - Deprecated, the old name of O(sandbox.user); set that instead. It will be removed in a future release.
    type: str
  login_password:
    description:
      - Deprecated, the old name of O(sandbox.password); set that instead. It will be removed in a future release.
      - This value is a secret and is never logged.
    type: str
  login_db:
    description:
      - Deprecated, the old name of O(sandbox.database); set that instead. It will be removed in a future release.
    type: str
  timeout:
    description:
      - Seconds the restore, the recovery and (with V(rds)) the wait for the new instance may take.
    type: float
    default: 3600.0
  rds:
    description:
      - The AWS RDS source and the new instance, for O(backend=rds). Credentials come from the usual boto3 sources (environment,
        profile, instance role). Only O(target_type=time) and V(latest) apply.
    type: dict
    suboptions:
      source_instance:
        description: The DB instance identifier of the source.
        type: str
        required: true
      target_instance:
        description: The identifier of the new instance (the sandbox).
        type: str
        required: true
      region:
        description: The AWS region; the boto3 default when not set.
        type: str
      instance_class:
        description: The new instance's class, such as V(db.t4g.medium); the source's when not set.
        type: str
      db_subnet_group:
        description: The DB subnet group of the new instance.
        type: str
      vpc_security_group_ids:
        description: The VPC security groups of the new instance.
        type: list
        elements: str
      db_parameter_group:
        description: The DB parameter group of the new instance.
        type: str
      port:
        description: The new instance's port.
        type: int
      wait:
        description: Wait until the new instance is available (up to O(timeout)).
        type: bool
        default: true
requirements:
  - psycopg >= 3 (pip package C(psycopg)) for the V(pgbackrest) and V(native) backends
  - pgBackRest on the target host for the V(pgbackrest) backend
  - boto3 (pip package C(boto3)) for the V(rds) backend
attributes:
  check_mode:
    support: full
    description: Runs the read-only checks (C(pgbackrest info), the archive listing) and returns the plan (RV(plan)) without creating anything.
  diff_mode:
    support: full
    description: Returns the sandbox before and after.
notes:
  - With a time target, PostgreSQL stops at the first commit after the target; a time after the last archived commit is an idle
    tail, handled as the description says (the WAL is then replayed twice, so such a restore takes longer).
  - For V(name) and V(xid) targets the archive cannot be checked in advance; recovery confirms them, and the newest backup is used
    unless O(backup_label) names an older one.
  - Tablespaces are restored inside the sandbox (C(--tablespace-map-all)), never onto the source's paths.
seealso:
  - name: pgBackRest restore
    description: The restore command and its recovery options.
    link: https://pgbackrest.org/command.html#command-restore
  - name: PostgreSQL recovery target settings
    description: recovery_target_time, recovery_target_lsn, recovery_target_name, recovery_target_xid.
    link: https://www.postgresql.org/docs/15/runtime-config-wal.html#RUNTIME-CONFIG-WAL-RECOVERY-TARGET
"""

EXAMPLES = r"""
- name: Restore production into a sandbox as it was at 03:00 UTC
  ofm.rollback.pg_pitr_restore:
    pgbackrest_stanza: ofm-social-os
    target: "2025-11-28 03:00:00"
    sandbox_data_dir: /var/lib/postgresql/pitr-sandbox
    sandbox:
      port: 55432
      user: ofm_admin
      password: "{{ ofm_db_admin_password }}"
  become: true
  register: ofm_pitr

- name: Restore to a restore point made before a migration
  ofm.rollback.pg_pitr_restore:
    pgbackrest_stanza: ofm-social-os
    target_type: name
    target: before_migration_20251128
    sandbox_data_dir: /var/lib/postgresql/pitr-sandbox
    sandbox:
      port: 55432
      user: ofm_admin
      password: "{{ ofm_db_admin_password }}"
  become: true

- name: Restore a pg_basebackup plus a WAL archive to just before a transaction
  ofm.rollback.pg_pitr_restore:
    backend: native
    native_base_backup: /backups/base/20251128
    native_wal_archive: /backups/wal
    target_type: xid
    target: "123456"
    target_inclusive: false
    sandbox_data_dir: /var/lib/postgresql/pitr-sandbox
    sandbox:
      port: 55432
  become: true

- name: Restore an RDS instance into a new instance at a given time
  ofm.rollback.pg_pitr_restore:
    backend: rds
    target: "2025-11-28T03:00:00Z"
    rds:
      source_instance: ofm-production
      target_instance: ofm-pitr-sandbox
      region: eu-west-1
      instance_class: db.t4g.medium

- name: Remove the sandbox
  ofm.rollback.pg_pitr_restore:
    state: absent
    sandbox_data_dir: /var/lib/postgresql/pitr-sandbox
  become: true
"""

RETURN = r"""
changed:
  description: True when a sandbox was restored, started or removed (in check mode, when it would be).
  returned: always
  type: bool
target:
  description: The target as PostgreSQL was given it; a time in UTC. C(assumed_utc) is true when the time had no offset.
  returned: when state is present
  type: dict
  sample: {type: time, value: "2025-11-28 03:00:00.000000+00", inclusive: true, assumed_utc: true}
backup:
  description:
    - The backup restored (label, type, start and stop times and LSNs, PostgreSQL major version, and C(size), the bytes its files take
      once restored, null when unknown); for RDS, the restore window.
  returned: when state is present and the backups were read
  type: dict
  sample: {label: 20251128-020000F, type: full, start_time: "2025-11-28T02:00:00+00:00", stop_time: "2025-11-28T02:00:09+00:00",
           start_lsn: 0/2000028, stop_lsn: 0/2000100, pg_version: "15", size: 31200936}
archive:
  description: The archived WAL the target was checked against (oldest and newest segment, when the newest was archived, its end LSN).
  returned: when state is present and a pgbackrest or native source was read
  type: dict
  sample: {oldest_segment: "000000010000000000000001", newest_segment: "000000010000000000000009",
           newest_archived_at: "2025-11-28T03:05:10+00:00", end_lsn: 0/A000000}
plan:
  description: What the module does or would do - the backup chosen, the commands, the settings written to the sandbox's C(postgresql.auto.conf).
  returned: when a restore is (or would be) made
  type: dict
reached:
  description:
    - Where recovery stopped, from the sandbox - the last replayed LSN, the commit time of the last replayed transaction
      (C(pg_last_xact_replay_timestamp)), the server's C(recovery stopping ...) log line, and the LSN after promotion.
    - C(idle_tail) is set when the target lay after the last archived commit and the source proved that nothing was committed in
      between - the last commit time, the archive's end LSN, the moment up to which the archive is proven complete (C(covered_until)),
      the proof's evidence, and a one-line C(summary).
  returned: when a restore was made
  type: dict
  sample: {lsn: 0/9000A28, last_commit_time: "2025-11-28T02:59:59.412+00:00",
           stop_line: "recovery stopping before commit of transaction 1234, time 2025-11-28 03:00:00.2+00",
           promoted_at_lsn: 0/9000B10, idle_tail: null}
rpo_seconds:
  description:
    - For a time target, the target time minus the commit time of the last transaction the sandbox replayed; for V(latest), the time the
      restore started minus it. Null for other targets.
  returned: when a restore was made
  type: float
timings:
  description: Seconds spent restoring the files (C(restore_seconds)), replaying WAL up to the confirmed, promoted target (C(replay_seconds)), and in all.
  returned: when a restore was made
  type: dict
  sample: {restore_seconds: 3.1, replay_seconds: 2.4, total_seconds: 5.5}
sandbox:
  description: How to connect to the sandbox (the password is O(sandbox.password) and is never returned); for RDS, the new instance's endpoint.
  returned: when state is present
  type: dict
  sample: {data_dir: /var/lib/postgresql/pitr-sandbox, host: 127.0.0.1, port: 55432, socket_dir: /var/lib/postgresql/pitr-sandbox,
           database: postgres, user: ofm_admin, log: /var/lib/postgresql/pitr-sandbox/ofm_pitr_restore.log}
removed:
  description: The sandbox removed (or that would be) by O(state=absent).
  returned: when state is absent and a sandbox was there
  type: dict
commands:
  description: The commands run, in order, as argument lists (without the setpriv prefix).
  returned: always
  type: list
  elements: list
queries:
  description: The SQL run on the sandbox, in order.
  returned: always
  type: list
  elements: str
source_queries:
  description: The SQL run on the source (O(source)), read-only, in order.
  returned: always
  type: list
  elements: str
requests:
  description: The RDS API calls made, with their parameters.
  returned: with backend rds
  type: list
  elements: dict
"""

from pathlib import Path
from typing import Any

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.ofm.rollback.plugins.module_utils.postgres import backups as pg_backups
from ansible_collections.ofm.rollback.plugins.module_utils.postgres import connection as pg_connection
from ansible_collections.ofm.rollback.plugins.module_utils.postgres import rds as rds_pitr
from ansible_collections.ofm.rollback.plugins.module_utils.postgres import restore as pg_restore
from ansible_collections.ofm.rollback.plugins.module_utils.postgres import sandbox as pg_sandbox
from ansible_collections.ofm.rollback.plugins.module_utils.postgres import targets as pg_targets
from ansible_collections.ofm.rollback.plugins.module_utils.postgres import wal_coverage as pg_wal_coverage
from ansible_collections.ofm.rollback.plugins.module_utils.errors import InputError, OfmRollbackError

RDS_SPEC = {
    "source_instance": {"type": "str", "required": True},
    "target_instance": {"type": "str", "required": True},
    "region": {"type": "str"},
    "instance_class": {"type": "str"},
    "db_subnet_group": {"type": "str"},
    "vpc_security_group_ids": {"type": "list", "elements": "str"},
    "db_parameter_group": {"type": "str"},
    "port": {"type": "int"},
    "wait": {"type": "bool", "default": True},
}

ARGUMENT_SPEC = {
    "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
    "backend": {"type": "str", "choices": list(pg_backups.BACKENDS), "default": "pgbackrest"},
    "target_type": {"type": "str", "choices": list(pg_targets.TARGET_TYPES), "default": "time"},
    "target": {"type": "str"},
    "target_inclusive": {"type": "bool", "default": True},
    "backup_label": {"type": "str"},
    "sandbox_data_dir": {"type": "path"},
    "sandbox_socket_dir": {"type": "path"},
    "os_user": {"type": "str", "default": "postgres"},
    "pg_bin_dir": {"type": "path"},
    "pgbackrest_config": {"type": "path", "default": "/etc/pgbackrest/pgbackrest.conf"},
    "pgbackrest_stanza": {"type": "str"},
    "pgbackrest_repo": {"type": "int"},
    "native_base_backup": {"type": "path"},
    "native_wal_archive": {"type": "path"},
    "timeout": {"type": "float", "default": 3600.0},
    "rds": {"type": "dict", "options": RDS_SPEC},
    **pg_connection.PG_COMMON_ARGUMENT_SPEC,
    # The old names of sandbox's suboptions (OLD_SANDBOX_OPTIONS), still accepted with a warning.
    "sandbox_host": {"type": "str"},
    "sandbox_port": {"type": "int"},
    "login_user": {"type": "str"},
    "login_password": {"type": "str", "no_log": True},
    "login_db": {"type": "str"},
}
OLD_SANDBOX_OPTIONS = {"sandbox_host": "host", "sandbox_port": "port", "login_user": "user", "login_password": "password", "login_db": "database"}
# The sandbox listens on sandbox.host: 127.0.0.1 unless set (for pg_validate, which only connects, localhost).
SANDBOX_DEFAULTS = {"host": "127.0.0.1"}
REQUIRED_FOR_BACKEND = {"pgbackrest": ("pgbackrest_stanza",), "native": ("native_base_backup", "native_wal_archive"), "rds": ("rds",)}


def main(module_class=AnsibleModule) -> None:
    """Run the module; the action plugin passes an in-process stand-in for AnsibleModule when the task runs on the controller."""
    module = module_class(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    params = module.params
    restorer: Any = None
    try:
        params["sandbox"] = pg_connection.renamed_options(params, "sandbox", OLD_SANDBOX_OPTIONS, module.warn)
        validate(params)
        if params["backend"] == "rds":
            if rds_pitr.boto3 is None:
                module.fail_json(msg=missing_required_lib("boto3"), commands=[], queries=[], source_queries=[])
            restorer = rds_restorer(params)
            result = run_rds(restorer, params, module.check_mode)
        else:
            if pg_connection.psycopg is None:
                module.fail_json(msg=missing_required_lib("psycopg"), commands=[], queries=[], source_queries=[])
            restorer = pg_restorer(params)
            result = run_pg(restorer, params, module.check_mode)
    except OfmRollbackError as exc:
        module.fail_json(**exc.to_result(), changed=False, **_trail(restorer))
    module.exit_json(**result, **_trail(restorer))


def validate(params: dict[str, Any]) -> None:
    """Option checks AnsibleModule cannot express: what each backend and state needs, ports, the timeout, the target."""
    needed = REQUIRED_FOR_BACKEND[params["backend"]] if params["state"] == "present" or params["backend"] == "rds" else ()
    if params["backend"] != "rds":
        needed = (*needed, "sandbox_data_dir", *(("sandbox.port",) if params["state"] == "present" else ()))
    values = {**params, "sandbox.port": params["sandbox"].get("port")}
    for option in needed:
        if values.get(option) in (None, ""):
            raise InputError(f"backend={params['backend']} with state={params['state']} needs {option}", option=option,
                             accepted=_ACCEPTED.get(option, "a value"))
    if params["backend"] != "rds":
        pg_connection.connection_from_params(params["sandbox"], "sandbox", defaults=SANDBOX_DEFAULTS)
    if params["timeout"] <= 0:
        raise InputError(f"timeout must be more than 0 seconds, got {params['timeout']:g}", option="timeout", accepted="a number of seconds above 0")
    if params["state"] == "present":
        pg_targets.parse_target(params["target_type"], params.get("target"), params["target_inclusive"])


_ACCEPTED = {
    "pgbackrest_stanza": "the stanza name, such as ofm-social-os",
    "native_base_backup": "the directory pg_basebackup -Fp wrote",
    "native_wal_archive": "the directory the source archives WAL into",
    "rds": "a dict with source_instance and target_instance",
    "sandbox_data_dir": "a directory of the sandbox's own",
    "sandbox.port": "a free TCP port other than the source's",
}


def pg_restorer(params: dict[str, Any]) -> pg_restore.PitrRestore:
    source = pg_backups.Source(params["backend"], params["pgbackrest_config"], params.get("pgbackrest_stanza"), params.get("pgbackrest_repo"),
                               _path(params.get("native_base_backup")), _path(params.get("native_wal_archive")))
    login = pg_connection.connection_from_params(params["sandbox"], "sandbox", defaults=SANDBOX_DEFAULTS)
    sandbox = pg_sandbox.SandboxSpec(Path(params["sandbox_data_dir"]), login.port, login.host, _path(params.get("sandbox_socket_dir")),
                                     params["os_user"], _path(params.get("pg_bin_dir")))
    source_db = pg_connection.connection_from_params(params.get("source"), "source")
    probe = None
    if source_db is not None:
        probe = pg_wal_coverage.SourceProbe(pg_wal_coverage.psycopg_query(lambda: source_db.connect(read_only=True)), source_db.target)
    return pg_restore.PitrRestore(source, sandbox, login, source_probe=probe)


def run_pg(restorer: pg_restore.PitrRestore, params: dict[str, Any], check_mode: bool) -> dict[str, Any]:
    if params["state"] == "absent":
        return restorer.remove(check_mode)
    target = pg_targets.parse_target(params["target_type"], params.get("target"), params["target_inclusive"])
    return restorer.ensure(target, check_mode, params.get("backup_label"), params["timeout"])


def rds_restorer(params: dict[str, Any]) -> rds_pitr.RdsPitr:
    rds = params["rds"] or {}
    client = rds_pitr.rds_client(rds.get("region"))
    return rds_pitr.RdsPitr(client, rds["source_instance"], rds["target_instance"], options=rds)


def run_rds(restorer: rds_pitr.RdsPitr, params: dict[str, Any], check_mode: bool) -> dict[str, Any]:
    wait = params["rds"]["wait"]
    if params["state"] == "absent":
        return restorer.remove(check_mode, wait)
    target = pg_targets.parse_target(params["target_type"], params.get("target"), params["target_inclusive"])
    return restorer.ensure(target, check_mode, wait, params["timeout"])


def _trail(restorer: Any) -> dict[str, Any]:
    if isinstance(restorer, rds_pitr.RdsPitr):
        return {"commands": [], "queries": [], "source_queries": [], "requests": restorer.requests}
    if restorer is None:
        return {"commands": [], "queries": [], "source_queries": []}
    return {"commands": restorer.commands, "queries": restorer.sql.queries, "source_queries": restorer.probe.queries if restorer.probe else []}


def _path(value: Any) -> Any:
    return Path(value) if value else None


if __name__ == "__main__":
    main()
