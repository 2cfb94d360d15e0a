#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: affected_customers_info
short_description: Find the customers an incident affected, in the OFM database
version_added: 0.4.0
description:
  - Runs one read-only query over the OFM database for the incident's window - by default the creators with a post that
    failed to publish between O(since) and O(until) (C(posts.status = 'failed')), each with the platforms that failed.
  - O(query) replaces it - one C(SELECT) (or C(WITH ... SELECT)) with the named psycopg parameters C(since) and C(until)
    (pyformat style, as in the default query) that returns
    the columns C(id) and C(email), and optionally C(handle) and C(platforms); it runs in a read-only session.
  - Addresses are personal data - RV(customers) masks them (C(c***@example.com)) unless O(show_emails) is true, which the
    customer email step needs (hide that task's output with C(no_log)).
  - With O(unavailable_is=unknown) a database that cannot be reached gives RV(count) null and the reason in C(msg) instead of
    failing the task; a refused login always fails it.
author:
  - OFM Social OS SRE team (@ofm-social)
requirements:
  - psycopg >= 3.1
extends_documentation_fragment:
  - ofm.rollback.attributes
  - ofm.rollback.pg_connection.database
options:
  since:
    description:
      - The window's start - ISO 8601 with an offset, epoch seconds, or a local time of the shell without one.
    type: str
    required: true
  until:
    description:
      - The window's end; default now.
    type: str
  query:
    description:
      - The query (see above); default the failed posts' creators.
    type: str
  limit:
    description:
      - At most this many customers (RV(truncated) says when there were more).
    type: int
    default: 10000
  show_emails:
    description:
      - Return the addresses unmasked.
    type: bool
    default: false
  unavailable_is:
    description:
      - V(fail) fails the task when the database cannot be reached; V(unknown) returns RV(count) null.
    type: str
    choices: [fail, unknown]
    default: fail
attributes:
  check_mode:
    support: full
    description: The module only reads, so check mode runs it unchanged.
  diff_mode:
    support: none
    description: Nothing is changed.
"""

EXAMPLES = r"""
- name: Who could not publish during INC-1234
  ofm.rollback.affected_customers_info:
    database: {host: db.internal, database: ofm, user: ofm_readonly, password: "{{ db_password }}", sslmode: verify-full}
    since: "2026-12-04T14:00:00+00:00"
    until: "2026-12-04T14:30:00+00:00"
  register: affected
"""

RETURN = r"""
count:
  description: How many customers; null when the database could not be asked.
  returned: success
  type: int
customers:
  description: Each customer - V(id), V(email) (masked unless O(show_emails)), V(handle), V(platforms).
  returned: success
  type: list
  elements: dict
platforms:
  description: The platforms that failed, all customers together.
  returned: success
  type: list
  elements: str
truncated:
  description: Whether there were more than O(limit).
  returned: success
  type: bool
window:
  description: V(since) and V(until), ISO 8601 with offset.
  returned: success
  type: dict
"""

from datetime import datetime, timezone

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.ofm.rollback.plugins.module_utils.errors import OfmRollbackError, UnavailableError
from ansible_collections.ofm.rollback.plugins.module_utils.postgres.affected_customers import (
    DEFAULT_QUERY, check_limit, check_query, find, params_connection, unavailable)
from ansible_collections.ofm.rollback.plugins.module_utils.postgres.connection import DATABASE_ARGUMENT_SPEC, HAS_PSYCOPG, PSYCOPG_IMPORT_TRACEBACK
from ansible_collections.ofm.rollback.plugins.module_utils.zoned_time import instant

ARGUMENT_SPEC = {
    **DATABASE_ARGUMENT_SPEC,
    "since": {"type": "str", "required": True},
    "until": {"type": "str"},
    "query": {"type": "str"},
    "limit": {"type": "int", "default": 10000},
    "show_emails": {"type": "bool", "default": False},
    "unavailable_is": {"type": "str", "choices": ["fail", "unknown"], "default": "fail"},
}


def main(module_class=AnsibleModule) -> None:
    """Run the module; the action plugin passes an in-process stand-in for AnsibleModule when the task runs on the controller."""
    module = module_class(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    if not HAS_PSYCOPG:
        module.fail_json(msg=missing_required_lib("psycopg (version 3)"), exception=PSYCOPG_IMPORT_TRACEBACK)
    params = module.params
    try:
        connection = params_connection(params)
        query = check_query(params["query"] or DEFAULT_QUERY)
        limit = check_limit(params["limit"])
        since = instant(params["since"], "since").isoformat()
        until = instant(params["until"], "until").isoformat() if params["until"] else datetime.now(timezone.utc).isoformat()
        try:
            found = find(connection, query, since, until, limit, params["show_emails"])
        except UnavailableError as exc:
            if params["unavailable_is"] != "unknown":
                raise
            found = unavailable(exc, connection)
    except OfmRollbackError as exc:
        module.fail_json(**exc.to_result())
    module.exit_json(changed=False, window={"since": since, "until": until}, query_text=" ".join(query.split()), **found)


if __name__ == "__main__":
    main()
