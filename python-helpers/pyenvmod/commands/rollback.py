"""Roll an environment back to an earlier state from 'pyenvmod history'.

The state is rebuilt beside the current environment and swapped in at the end, so a
failed rollback leaves the working environment untouched.

  pyenvmod history mylab
  pyenvmod rollback mylab --to 2
"""


def add_arguments(parser):
    parser.add_argument("name", help="environment")
    parser.add_argument("--to", type=int, required=True, metavar="N", help="history entry to go back to")


def run(args) -> int:
    from pyenvmod import config as config_mod
    from pyenvmod.operations.rollback import rollback

    from pyenvmod.commands.common import report

    config = config_mod.load()
    from pyenvmod.runtime import progress

    with progress.status() as notify:
        record = rollback(config, args.name, args.to, notify=notify)
    return report(config, record, [], f"Rolled {record.name!r} back to history entry {args.to}:")
