#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: pg_validate
short_description: Validate a restored PostgreSQL sandbox before it is trusted
version_added: 0.2.0
description:
  - Runs the checklist's "Database Rollback Validation" on a sandbox cluster restored by point-in-time recovery (for
    example by M(ofm.rollback.pg_pitr_restore)), in five categories, one per checklist item.
  - V(schema_version) compares the highest value of a migrations table's column with the expected version.
  - V(data_integrity) checks that the expected tables exist, row counts against thresholds or against the source database,
    every btree index with the C(amcheck) extension's C(bt_index_check), that no check or foreign key constraint is left
    C(NOT VALID) (C(pg_constraint.convalidated)), and SQL assertions given by the user.
  - V(application_compatibility) connects as the application role with its own credentials and runs smoke queries.
  - V(performance) runs queries several times each and compares their median (or slowest) time with a latency budget.
  - V(backup_status) takes a new base backup of the sandbox with C(pg_basebackup) into a temporary directory and verifies it
    with C(pg_verifybackup) (then removes it), checks the source's WAL archiver (C(pg_stat_archiver)), and runs
    C(pgbackrest check) for the source's stanza.
  - Every check runs, whatever the others gave; each ends V(ok), V(failed) or V(skipped) with the reason, a detail, the
    values it measured and its duration. The module fails after all checks when one failed, unless O(fail_on_failed=false).
  - The source is only read. Assertions, smoke queries and timed queries run in transactions that are rolled back, so they
    leave nothing behind; the sandbox and source sessions are read-only besides. The only change the module can make is
    C(CREATE EXTENSION IF NOT EXISTS amcheck) in the sandbox, when O(data_integrity.amcheck_create_extension=true).
author:
  - OFM Social OS SRE team (@ofm-social)
requirements:
  - psycopg >= 3.1 (psycopg 3)
  - the PostgreSQL client programs C(pg_basebackup) and C(pg_verifybackup) (PostgreSQL 13 or later) for the new backup check
  - C(pgbackrest) for the pgBackRest check
extends_documentation_fragment:
  - ofm.rollback.attributes.action_group_postgresql
  - ofm.rollback.pg_connection
  - ofm.rollback.pg_connection.app
options:
  only:
    description:
      - Categories to run; every category when empty. Checks of the other categories are reported as V(skipped).
    type: list
    elements: str
    choices: [schema_version, data_integrity, application_compatibility, performance, backup_status]
    default: []
  schema_version:
    description:
      - The schema version check.
    type: dict
    default: {}
    suboptions:
      table:
        description:
          - The migrations table, optionally schema-qualified.
        type: str
        default: schema_migrations
      column:
        description:
          - The column holding the version; the highest value (C(max(column)::text)) is the current version.
        type: str
        default: version
      expected:
        description:
          - The version the sandbox must have. The check is skipped when not set.
        type: str
  data_integrity:
    description:
      - The data integrity checks.
    type: dict
    default: {}
    suboptions:
      tables:
        description:
          - Tables that must exist in the sandbox, optionally schema-qualified. The check is skipped when empty.
        type: list
        elements: str
        default: []
      row_counts:
        description:
          - Row counts (C(count(*))) to compare with thresholds or with the source, one check per table.
        type: list
        elements: dict
        default: []
        suboptions:
          table:
            description:
              - The table, optionally schema-qualified.
            type: str
            required: true
          min:
            description:
              - Fewest rows allowed.
            type: int
          max:
            description:
              - Most rows allowed.
            type: int
          compare_to_source:
            description:
              - Compare with the same table's row count in the source (needs O(source)).
            type: bool
            default: false
          source_tolerance:
            description:
              - Largest difference from the source's count allowed, as a fraction of the source's count (V(0.05) is 5%);
                V(0) requires the same count.
              - A sandbox restored to a point in the past lacks the rows written since, so allow for them.
            type: float
            default: 0.0
      amcheck:
        description:
          - Run C(bt_index_check) on every valid btree index outside the system schemas.
          - Skipped when the C(amcheck) extension is not installed in the sandbox's database and may not be created.
        type: bool
        default: true
      amcheck_create_extension:
        description:
          - Create the C(amcheck) extension in the sandbox when it is missing (C(CREATE EXTENSION IF NOT EXISTS amcheck)), the
            only change this module can make. Skipped in check mode.
        type: bool
        default: false
      amcheck_heapallindexed:
        description:
          - Also verify that every heap tuple has an index entry (C(bt_index_check(index, true))); slower.
        type: bool
        default: false
      constraints:
        description:
          - Check that no check or foreign key constraint outside the system schemas is C(NOT VALID).
        type: bool
        default: true
      assertions:
        description:
          - SQL assertions, each one query run in a rolled-back read-only transaction on the sandbox.
        type: list
        elements: dict
        default: []
        suboptions:
          name:
            description:
              - Name of the assertion, unique; the check is called C(assertion:<name>).
            type: str
            required: true
          query:
            description:
              - One SQL statement.
            type: str
            required: true
          expected:
            description:
              - The value the first column of the first row must have. Values are equal when they are, or when their text
                is (V(5) matches C('5'), V(true) matches C(True)).
            type: raw
          expected_rows:
            description:
              - How many rows the query must return.
            type: int
  application_compatibility:
    description:
      - The application compatibility checks; they need O(app).
    type: dict
    default: {}
    suboptions:
      smoke_queries:
        description:
          - Queries the application role must be able to run, each in a transaction that is rolled back (so writes may be
            tried). A query the role may not run fails its check.
        type: list
        elements: dict
        default: []
        suboptions:
          name:
            description:
              - Name of the query, unique; C(smoke_query_<n>) when not set. The check is called C(smoke:<name>).
            type: str
          query:
            description:
              - One SQL statement.
            type: str
            required: true
  performance:
    description:
      - The query performance checks.
    type: dict
    default: {}
    suboptions:
      queries:
        description:
          - Queries run on the sandbox, each O(performance.queries[].runs) times in rolled-back read-only transactions; the
            check is called C(latency:<name>) and reports the median (p50) and the slowest time.
        type: list
        elements: dict
        default: []
        suboptions:
          name:
            description:
              - Name of the query, unique.
            type: str
            required: true
          query:
            description:
              - One SQL statement.
            type: str
            required: true
          budget:
            description:
              - The latency budget, as a duration (V(250ms), V(2s), V(1m)) or a number of seconds.
            type: str
            required: true
          runs:
            description:
              - How many times to run the query, 1 to 1000.
            type: int
            default: 5
          statistic:
            description:
              - What must stay within the budget, the median (V(p50)) or the slowest run (V(max)).
            type: str
            choices: [p50, max]
            default: p50
  backup_status:
    description:
      - The backup checks.
    type: dict
    default: {}
    suboptions:
      new_backup:
        description:
          - Take a base backup of the sandbox with C(pg_basebackup -X stream) into a temporary directory, verify it with
            C(pg_verifybackup), then remove it. Skipped in check mode.
        type: bool
        default: true
      pg_bin_dir:
        description:
          - Directory of C(pg_basebackup) and C(pg_verifybackup); use the binaries of the sandbox's major version.
        type: path
        default: /usr/lib/postgresql/15/bin
      work_dir:
        description:
          - Directory in which the temporary backup directory is made; the system's temporary directory when not set.
          - It needs room for a copy of the sandbox.
        type: path
      archiver:
        description:
          - Check the source's WAL archiver (needs O(source)); it fails when C(archive_mode) is off or when the last archive
            attempt failed (C(pg_stat_archiver.last_failed_time) newer than C(last_archived_time)).
        type: bool
        default: true
      pgbackrest_stanza:
        description:
          - The source's pgBackRest stanza; C(pgbackrest check) runs for it when set, and is skipped otherwise.
          - C(pgbackrest check) forces a WAL switch on the source and waits until that segment is archived. It changes no
            data, so it also runs in check mode.
          - With O(source), the check connects as O(source.user) (C(--pg1-user)) with its password; it writes no log file.
        type: str
      pgbackrest_config:
        description:
          - The pgBackRest configuration file; pgBackRest's default when not set.
        type: path
      pgbackrest_bin:
        description:
          - The C(pgbackrest) command.
        type: str
        default: pgbackrest
      timeout:
        description:
          - Longest time each backup command may take, as a duration or a number of seconds.
        type: str
        default: 1h
  query_timeout:
    description:
      - Longest time a statement may run (C(statement_timeout) of every session), as a duration or a number of seconds.
    type: str
    default: 5m
  fail_on_failed:
    description:
      - Fail the task when a check failed. Every check has run by then, and the result holds them all.
      - With V(false) the task succeeds and RV(passed) tells.
    type: bool
    default: true
attributes:
  check_mode:
    support: full
    description: Runs the read-only checks; skips, with the reason, the new backup and the creation of the amcheck extension.
  diff_mode:
    support: none
    description: The only possible change is the creation of an extension, reported by C(changed).
notes:
  - The connections are made from the host that runs the module, with psycopg 3.
  - RV(passed) is true only when no check failed and at least one check ran; validating nothing is not a pass.
  - C(pg_basebackup), C(pg_verifybackup) and C(pgbackrest) get the passwords through C(PGPASSWORD), never on their command line.
seealso:
  - module: ofm.rollback.pg_rollback_report
  - name: amcheck
    description: The PostgreSQL extension that verifies btree indexes.
    link: https://www.postgresql.org/docs/15/amcheck.html
  - name: pg_verifybackup
    description: Verifies a base backup against its backup manifest.
    link: https://www.postgresql.org/docs/15/app-pgverifybackup.html
"""

EXAMPLES = r"""
- name: Validate the sandbox restored by pg_pitr_restore
  ofm.rollback.pg_validate:
    sandbox:
      host: 127.0.0.1
      port: 55432
      database: ofm
      user: ofm_admin
      password: "{{ ofm_db_admin_password }}"
    source:
      host: db.ofm.internal
      database: ofm
      user: ofm_readonly
      password: "{{ ofm_db_readonly_password }}"
    app:
      user: ofm_app
      password: "{{ ofm_db_app_password }}"
    schema_version:
      expected: "20261101_003"
    data_integrity:
      tables: [creators, posts, media_files, webhooks, platform_tokens]
      row_counts:
        - table: creators
          min: 1
        - table: posts
          compare_to_source: true
          source_tolerance: 0.05
      amcheck_create_extension: true
      assertions:
        - name: every platform has rate limits
          query: SELECT count(*) FROM platform_rate_limits
          expected: 4
    application_compatibility:
      smoke_queries:
        - name: recent posts
          query: SELECT id FROM posts ORDER BY created_at DESC LIMIT 20
    performance:
      queries:
        - name: posts by creator
          query: SELECT * FROM posts WHERE creator_id = 1 ORDER BY created_at DESC LIMIT 50
          budget: 50ms
          runs: 10
    backup_status:
      pgbackrest_stanza: ofm-social-os
  register: db_validation

- name: Report the validation without failing the play, on the sandbox pg_pitr_restore made (registered as db_pitr_restore)
  ofm.rollback.pg_validate:
    sandbox:
      host: "{{ db_pitr_restore.sandbox.host }}"
      port: "{{ db_pitr_restore.sandbox.port }}"
      database: "{{ db_pitr_restore.sandbox.database }}"
      user: "{{ db_pitr_restore.sandbox.user }}"
      password: "{{ ofm_db_admin_password }}"
    only: [schema_version, data_integrity]
    schema_version:
      expected: "20261015_002"
    fail_on_failed: false
  register: db_validation

- name: Show what failed
  ansible.builtin.debug:
    msg: "{{ db_validation.checks | selectattr('status', 'equalto', 'failed') | map(attribute='detail') | list }}"
"""

RETURN = r"""
checks:
  description: Every check, in the order it ran.
  returned: success or a failed check
  type: list
  elements: dict
  sample:
    - category: data_integrity
      name: row_count:posts
      status: failed
      detail: "posts: 512 rows against 1210 in the source, a difference of -698 beyond the 60 allowed"
      measured: {rows: 512, min: null, max: null, source_rows: 1210, difference: -698, allowed_difference: 60}
      duration: 0.004
  contains:
    category:
      description: V(schema_version), V(data_integrity), V(application_compatibility), V(performance) or V(backup_status).
      type: str
    name:
      description:
        - The check, such as C(schema_version), C(tables_present), C(row_count:<table>), C(amcheck), C(constraints_valid),
          C(assertion:<name>), C(app_connect), C(smoke:<name>), C(latency:<name>), C(performance) (skipped when no query
          is given), C(new_backup), C(source_archiver) or C(pgbackrest_check).
      type: str
    status:
      description: V(ok), V(failed) or V(skipped).
      type: str
    detail:
      description: What was found, what failed, or why the check was skipped.
      type: str
    measured:
      description: The values the check measured (row counts, versions, latencies in seconds, index failures, backup size).
      type: dict
    duration:
      description: Seconds the check took.
      type: float
summary:
  description: Per category, how many checks ended V(ok), V(failed) and V(skipped), and the category's status (V(failed) when
    one failed, else V(ok) when one passed, else V(skipped)).
  returned: success or a failed check
  type: dict
  sample:
    schema_version: {status: ok, ok: 1, failed: 0, skipped: 0}
    data_integrity: {status: failed, ok: 4, failed: 1, skipped: 0}
    application_compatibility: {status: ok, ok: 2, failed: 0, skipped: 0}
    performance: {status: ok, ok: 1, failed: 0, skipped: 0}
    backup_status: {status: ok, ok: 3, failed: 0, skipped: 0}
passed:
  description: True when no check failed and at least one check ran.
  returned: success or a failed check
  type: bool
failed_checks:
  description: Names of the failed checks.
  returned: success or a failed check
  type: list
  elements: str
  sample: ["row_count:posts"]
started_at:
  description: When the validation started (UTC, ISO 8601).
  returned: success or a failed check
  type: str
  sample: "2026-11-28T03:12:09.120Z"
finished_at:
  description: When the validation ended (UTC, ISO 8601); the end of the RTO in M(ofm.rollback.pg_rollback_report).
  returned: success or a failed check
  type: str
  sample: "2026-11-28T03:12:15.480Z"
queries:
  description: Every SQL statement run, with the connection it ran on (V(sandbox), V(source) or V(app)).
  returned: success or a failed check
  type: list
  elements: dict
  sample:
    - target: source
      query: SELECT count(*) FROM "posts"
commands:
  description: The commands run (C(pg_basebackup), C(pg_verifybackup), C(pgbackrest)), their exit code and duration; never a password.
  returned: success or a failed check
  type: list
  elements: dict
  sample:
    - argv: [pgbackrest, --stanza=ofm-social-os, --log-level-file=off, --pg1-user=ofm_admin, check]
      rc: 0
      duration: 0.75
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.ofm.rollback.plugins.module_utils.errors import OfmRollbackError
from ansible_collections.ofm.rollback.plugins.module_utils.postgres.connection import (
    APP_ARGUMENT_SPEC,
    HAS_PSYCOPG,
    PG_COMMON_ARGUMENT_SPEC,
    PSYCOPG_IMPORT_TRACEBACK,
)
from ansible_collections.ofm.rollback.plugins.module_utils.postgres.validate.options import CATEGORIES, DEFAULT_PG_BIN_DIR, STATISTICS, check_options
from ansible_collections.ofm.rollback.plugins.module_utils.postgres.validate.results import message
from ansible_collections.ofm.rollback.plugins.module_utils.postgres.validate.validator import Validator

ARGUMENT_SPEC = {
    **PG_COMMON_ARGUMENT_SPEC,
    **APP_ARGUMENT_SPEC,
    "only": {"type": "list", "elements": "str", "choices": list(CATEGORIES), "default": []},
    "schema_version": {"type": "dict", "default": {}, "options": {
        "table": {"type": "str", "default": "schema_migrations"},
        "column": {"type": "str", "default": "version"},
        "expected": {"type": "str"},
    }},
    "data_integrity": {"type": "dict", "default": {}, "options": {
        "tables": {"type": "list", "elements": "str", "default": []},
        "row_counts": {"type": "list", "elements": "dict", "default": [], "options": {
            "table": {"type": "str", "required": True},
            "min": {"type": "int"},
            "max": {"type": "int"},
            "compare_to_source": {"type": "bool", "default": False},
            "source_tolerance": {"type": "float", "default": 0.0},
        }},
        "amcheck": {"type": "bool", "default": True},
        "amcheck_create_extension": {"type": "bool", "default": False},
        "amcheck_heapallindexed": {"type": "bool", "default": False},
        "constraints": {"type": "bool", "default": True},
        "assertions": {"type": "list", "elements": "dict", "default": [], "options": {
            "name": {"type": "str", "required": True},
            "query": {"type": "str", "required": True},
            "expected": {"type": "raw"},
            "expected_rows": {"type": "int"},
        }},
    }},
    "application_compatibility": {"type": "dict", "default": {}, "options": {
        "smoke_queries": {"type": "list", "elements": "dict", "default": [], "options": {
            "name": {"type": "str"},
            "query": {"type": "str", "required": True},
        }},
    }},
    "performance": {"type": "dict", "default": {}, "options": {
        "queries": {"type": "list", "elements": "dict", "default": [], "options": {
            "name": {"type": "str", "required": True},
            "query": {"type": "str", "required": True},
            "budget": {"type": "str", "required": True},
            "runs": {"type": "int", "default": 5},
            "statistic": {"type": "str", "choices": list(STATISTICS), "default": "p50"},
        }},
    }},
    "backup_status": {"type": "dict", "default": {}, "options": {
        "new_backup": {"type": "bool", "default": True},
        "pg_bin_dir": {"type": "path", "default": DEFAULT_PG_BIN_DIR},
        "work_dir": {"type": "path"},
        "archiver": {"type": "bool", "default": True},
        "pgbackrest_stanza": {"type": "str"},
        "pgbackrest_config": {"type": "path"},
        "pgbackrest_bin": {"type": "str", "default": "pgbackrest"},
        "timeout": {"type": "str", "default": "1h"},
    }},
    "query_timeout": {"type": "str", "default": "5m"},
    "fail_on_failed": {"type": "bool", "default": True},
}


def main(module_class=AnsibleModule) -> None:
    """Run the module; the action plugin passes an in-process stand-in for AnsibleModule when the task runs on the controller."""
    module = module_class(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    if not HAS_PSYCOPG:
        module.fail_json(msg=missing_required_lib("psycopg (version 3)"), exception=PSYCOPG_IMPORT_TRACEBACK)
    try:
        options = check_options(module.params)
    except OfmRollbackError as exc:
        module.fail_json(**exc.to_result())
    else:
        validator = Validator(options, check_mode=module.check_mode)
        checks = validator.run()
        result = validator.result()
        if module.params["fail_on_failed"] and result["failed_checks"]:
            module.fail_json(msg=message(checks), changed=validator.changed, **result)
        module.exit_json(msg=message(checks), changed=validator.changed, **result)


if __name__ == "__main__":
    main()
