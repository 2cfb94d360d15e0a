"""python3 scripts/zoned_time.py [--zone ZONE] TIME: read TIME in ZONE (default: this shell's zone, TZ else the system's) and print two lines,
the zone used and the line to show (`2026-12-03 12:28:39 America/New_York (-05:00) = 2026-12-03 17:28:39 UTC`); on bad
input print why and exit 2. The logic is the collection's (plugins/module_utils/zoned_time.py); scripts/dr-restore-sandbox.sh
calls this before anything starts."""
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / ".collections"))

from ansible_collections.ofm.rollback.plugins.module_utils.errors import InputError  # noqa: E402  pylint: disable=wrong-import-position
from ansible_collections.ofm.rollback.plugins.module_utils.zoned_time import shell_zone, zoned  # noqa: E402  pylint: disable=wrong-import-position


def main(argv):
    zone = None
    if len(argv) >= 2 and argv[0] == "--zone":
        zone, argv = argv[1], argv[2:]
    if len(argv) != 1:
        print("usage: zoned_time.py [--zone ZONE] TIME", file=sys.stderr)
        return 2
    zone = shell_zone() if zone is None else zone
    try:
        moment = zoned(argv[0], zone, option="--pitr-target", zone_option="TZ")
    except InputError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    print(moment.zone or "UTC")
    print(moment.display())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
