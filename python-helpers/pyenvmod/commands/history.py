"""List the changes made to an environment through pyenvmod, with what each changed.

  pyenvmod history mylab
  pyenvmod rollback mylab --to 2
"""


import sys


def add_arguments(parser):
    parser.add_argument("name", help="environment")
    parser.add_argument("--json", action="store_true", help="print the entries as JSON")


def run(args) -> int:
    import json
    from datetime import datetime

    from pyenvmod import config as config_mod
    from pyenvmod.packages import outside
    from pyenvmod.records import history
    from pyenvmod.runtime.display import clean
    from pyenvmod.operations.common import layout_for, load_record, reconcile_now

    config = config_mod.load()
    layout = layout_for(config)
    load_record(layout, args.name)
    reconcile_now(config, layout, args.name, notify=lambda m: print(f"pyenvmod: {m}", file=sys.stderr))
    entries = history.entries(layout, args.name)
    if args.json:
        print(json.dumps(entries, indent=2))
        return 0
    previous = {}
    for entry in entries:
        when = datetime.fromisoformat(entry["time"]).astimezone().strftime("%Y-%m-%d %H:%M")
        what = " ".join(entry["args"])
        action = outside.SHOWN if entry["action"] == outside.ACTION else entry["action"]
        print(clean(f"{entry['n']:>4}  {when}  {action}{' ' + what if what else ''}"))
        for change in history.changes(previous, entry["packages"]):
            print(clean(f"        {change}"))
        previous = entry["packages"]
    return 0
