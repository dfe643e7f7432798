"""Update packages of an environment (all the packages you asked for when none are named).

  pyenvmod update mylab            # every package you installed by name
  pyenvmod update mylab numpy
  pyenvmod update mylab --file environment.yml   # the versions the file asks for; what it adds is installed
"""

from pyenvmod.commands.common import report


def add_arguments(parser):
    parser.add_argument("name", help="environment")
    parser.add_argument("packages", nargs="*", metavar="PKG", help="packages to update (default: all requested)")
    parser.add_argument("--file", metavar="SPEC",
                        help="bring the environment up to a spec: a pyenvmod export, an environment.yml or a "
                             "requirements.txt (like conda env update -f)")


def run(args) -> int:
    from pyenvmod import config as config_mod
    from pyenvmod.operations import packages

    config = config_mod.load()
    file_specs = []
    if args.file:
        from pyenvmod.operations.from_file import specs as read_specs

        file_specs = read_specs(config, args.name, args.file)
    from pyenvmod.runtime import progress

    with progress.status() as notify:
        record, problems = packages.update(config, args.name, list(args.packages), notify=notify,
                                           file_specs=file_specs)
    return report(config, record, problems)
