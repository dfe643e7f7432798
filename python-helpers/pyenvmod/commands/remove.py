"""Remove packages from an environment (never from the base it extends).

  pyenvmod remove mylab scipy
"""

import sys

from pyenvmod.commands.install import report


def add_arguments(parser):
    parser.add_argument("name", help="environment")
    parser.add_argument("packages", nargs="+", metavar="PKG", help="packages to remove")


def run(args) -> int:
    from pyenvmod import config as config_mod
    from pyenvmod.operations import packages

    record, problems = packages.remove(config_mod.load(), args.name, args.packages,
                                       notify=lambda m: print(f"pyenvmod: {m}", file=sys.stderr))
    return report(record, problems, "Updated")
