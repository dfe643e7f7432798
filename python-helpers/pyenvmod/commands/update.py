"""Update packages of an environment (all the packages you asked for when none are named).

  pyenvmod update mylab            # every package you installed by name
  pyenvmod update mylab numpy
"""

from pyenvmod.commands.install import report


def add_arguments(parser):
    parser.add_argument("name", help="environment")
    parser.add_argument("packages", nargs="*", metavar="PKG", help="packages to update (default: all requested)")


def run(args) -> int:
    from pyenvmod import config as config_mod
    from pyenvmod.operations import packages

    config = config_mod.load()
    from pyenvmod import progress

    with progress.status() as notify:
        record, problems = packages.update(config, args.name, args.packages, notify=notify)
    return report(config, record, problems)
