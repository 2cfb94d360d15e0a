"""The ofm.rollback lab: a small, real copy of the production shape on loopback.

The lab drives its systems with the collection's own clients (``ansible_collections.ofm.rollback.plugins.module_utils``,
such as the HAProxy runtime API client), imported from this checkout through ``.collections/ansible_collections/ofm/rollback``,
the link ``scripts/bootstrap.sh`` makes; the lab's own processes (``python -m lab.services.<module>``) find it the same way.
"""
import sys
from pathlib import Path

COLLECTIONS = Path(__file__).resolve().parent.parent / ".collections"

if not (COLLECTIONS / "ansible_collections" / "ofm" / "rollback").is_dir():
    raise ImportError(f"the lab imports the collection from {COLLECTIONS}/ansible_collections/ofm/rollback, which is missing: "
                      "run scripts/bootstrap.sh (it links it to this checkout)")
if str(COLLECTIONS) not in sys.path:
    sys.path.insert(0, str(COLLECTIONS))
