#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: pg_stat_info
short_description: Compare the database's query times and connection use with their baseline after a rollback
version_added: 0.2.0
description:
  - Reads C(pg_stat_statements) of the connected database twice, O(sample) apart. For each query (C(queryid)), the current
    mean time is the execution time added during the sample divided by the calls added; its baseline is the cumulative mean
    before the sample.
  - The check C(queries) looks at the O(top) queries by calls during the sample and fails when one's current mean is more
    than O(max_ratio) times its baseline and at least O(min_increase) above it. A query first called during the sample (or
    whose statistics were reset meanwhile) has no baseline and is listed, not judged. No call during the sample, or no
    C(pg_stat_statements) extension in the database, makes the check V(unknown) (the detail says how to enable it).
  - The check C(connection_pool) fails when the client connections reach O(max_pool_use) of C(max_connections).
  - A check that fails does not fail the task; RV(status) says it. The task fails on bad input, on a refused login, and when
    the database cannot be reached with O(unavailable_is=fail).
  - Only reads, in a read-only session; the module's own statements carry a comment and are left out of the statistics.
author:
  - OFM Social OS SRE team (@ofm-social)
extends_documentation_fragment:
  - ofm.rollback.attributes
  - ofm.rollback.pg_connection.database
notes:
  - The statistics read are those of the database of O(database) only. Its role needs C(pg_read_all_stats) (or C(pg_monitor))
    to see the queries of the other roles.
options:
  sample:
    description:
      - Time between the two reads of the statistics, such as V(30s). The module waits that long.
    type: str
    default: 30s
  top:
    description:
      - How many queries, the most called during the sample, are judged and returned (1 to 100).
    type: int
    default: 10
  max_ratio:
    description:
      - A query fails when its current mean time is above this many times its baseline mean (and O(min_increase) above it).
    type: float
    default: 3.0
  min_increase:
    description:
      - Smallest rise of the mean time that can fail a query, such as V(20ms); a fast query that gets three times slower by a
        fraction of a millisecond is not a finding.
    type: str
    default: 20ms
  max_pool_use:
    description:
      - Share of C(max_connections) in use by client connections at which C(connection_pool) fails.
    type: float
    default: 0.8
  unavailable_is:
    description:
      - When the database cannot be reached, V(fail) fails the task and V(unknown) returns both checks V(unknown) with the reason.
      - A refused login always fails the task.
    type: str
    choices: [fail, unknown]
    default: fail
attributes:
  check_mode:
    support: full
    description: The module only reads, so check mode reads the same.
  diff_mode:
    support: none
    description: Nothing is changed.
requirements:
  - psycopg (version 3)
seealso:
  - module: ofm.rollback.ops_api_logs_info
  - module: ofm.rollback.pg_validate
"""

EXAMPLES = r"""
- name: Query times and connection use against their baseline
  ofm.rollback.pg_stat_info:
    database:
      host: db.ofm-production.svc
      database: ofm
      user: ofm_monitor
      password: "{{ ofm_db_monitor_password }}"
    sample: 30s
    unavailable_is: unknown
  register: db_performance

- name: Show the slower queries
  ansible.builtin.debug:
    msg: "{{ db_performance.queries | selectattr('slower') | map(attribute='query') | list }}"
  when: db_performance.status == 'failed'
"""

RETURN = r"""
status:
  description: V(failed) when a check failed, V(unknown) when one could not be told, else V(ok).
  returned: success
  type: str
  sample: ok
checks:
  description: The checks C(queries) and C(connection_pool) with their status, detail and numbers.
  returned: success
  type: list
  elements: dict
failed_checks:
  description: Names of the failed checks.
  returned: success
  type: list
  elements: str
unknown_checks:
  description: Names of the unknown checks.
  returned: success
  type: list
  elements: str
queries:
  description:
    - The O(top) queries by calls during the sample, with the query text as C(pg_stat_statements) normalizes it (constants as
      C($1)), cut to 200 characters.
  returned: success
  type: list
  elements: dict
  sample:
    - queryid: "2210475074584791896"
      query: SELECT id, platform, status FROM ofm_recent_posts($1)
      calls: 150
      mean_ms: 50.412
      baseline_mean_ms: 0.071
      baseline_calls: 5220
      ratio: 710.03
      slower: true
pool:
  description: Client connections, C(max_connections), active and idle-in-transaction connections, the share in use.
  returned: when the database answered
  type: dict
  sample: {connections: 4, max_connections: 50, superuser_reserved: 3, active: 1, idle_in_transaction: 0, use: 0.08, max_use: 0.8}
database:
  description: The database read, as C(user@host:port/database).
  returned: success
  type: str
available:
  description: False when the database could not be asked and O(unavailable_is=unknown) made the checks V(unknown).
  returned: success
  type: bool
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.ofm.rollback.plugins.module_utils.errors import OfmRollbackError
from ansible_collections.ofm.rollback.plugins.module_utils.postgres.connection import DATABASE_ARGUMENT_SPEC, HAS_PSYCOPG, PSYCOPG_IMPORT_TRACEBACK
from ansible_collections.ofm.rollback.plugins.module_utils.postgres.stat_statements import Options, StatReader

ARGUMENT_SPEC = {
    **DATABASE_ARGUMENT_SPEC,
    "sample": {"type": "str", "default": "30s"},
    "top": {"type": "int", "default": 10},
    "max_ratio": {"type": "float", "default": 3.0},
    "min_increase": {"type": "str", "default": "20ms"},
    "max_pool_use": {"type": "float", "default": 0.8},
    "unavailable_is": {"type": "str", "choices": ["fail", "unknown"], "default": "fail"},
}


def main(module_class=AnsibleModule) -> None:
    """Run the module; the action plugin passes an in-process stand-in for AnsibleModule when the task runs on the controller."""
    module = module_class(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    if not HAS_PSYCOPG:
        module.fail_json(msg=missing_required_lib("psycopg (version 3)"), exception=PSYCOPG_IMPORT_TRACEBACK)
    try:
        module.exit_json(changed=False, **StatReader(Options.from_params(module.params)).run())
    except OfmRollbackError as exc:
        module.fail_json(**exc.to_result())


if __name__ == "__main__":
    main()
