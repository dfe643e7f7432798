"""Remove packages from an environment (never from the base it extends).

  pyenvmod remove mylab scipy
"""

from pyenvmod.commands.common import report


def add_arguments(parser):
    parser.add_argument("name", help="environment")
    parser.add_argument("packages", nargs="+", metavar="PKG", help="packages to remove")


def run(args) -> int:
    from pyenvmod import config as config_mod
    from pyenvmod.operations import packages

    config = config_mod.load()
    from pyenvmod.runtime import progress

    with progress.status() as notify:
        record, problems = packages.remove(config, args.name, args.packages, notify=notify)
    return report(config, record, problems)
