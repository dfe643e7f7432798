"""Install packages into an environment, then refresh its metadata, modulefiles and history.

  pyenvmod install mylab numpy 'scipy>=1.11'

(After 'module load pyenv/mylab', a plain 'pip install' works too; pyenvmod install
also records the change in the history and checks the environment's consistency.)
"""

import sys


def add_arguments(parser):
    parser.add_argument("name", help="environment")
    parser.add_argument("packages", nargs="+", metavar="PKG", help="packages, e.g. numpy 'scipy>=1.11'")
    parser.add_argument("--no-binary", metavar="PKG,PKG", default="",
                        help="build these from source against the loaded modules (remembered for later changes)")
    parser.add_argument("--rebuild", action="store_true",
                        help="reinstall the named packages even if installed (packages that link MPI: built "
                             "from source against the environment's MPI module)")


def report(record, problems, verb):
    print(f"{verb} {record.name!r}: {len(record.packages)} packages.")
    if problems:
        print(f"Broken requirements in {record.name!r} (pip check):", file=sys.stderr)
        for line in problems:
            print(f"  {line}", file=sys.stderr)
    return 0


def run(args) -> int:
    from pyenvmod import config as config_mod
    from pyenvmod.operations import packages

    record, problems = packages.install(config_mod.load(), args.name, args.packages,
                                        notify=lambda m: print(f"pyenvmod: {m}", file=sys.stderr),
                                        no_binary=[n for n in args.no_binary.split(",") if n], rebuild=args.rebuild)
    return report(record, problems, "Updated")
