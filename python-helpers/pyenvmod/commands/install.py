"""Install packages into an environment, then refresh its metadata, modulefiles and history.

  pyenvmod install mylab numpy 'scipy>=1.11'
  pyenvmod install mylab --file environment.yml     # or requirements.txt, or a pyenvmod export

(After 'module load pyenv/mylab', a plain 'pip install' works too; pyenvmod install
also records the change in the history and checks the environment's consistency.)
"""

from pyenvmod.commands.common import editable, report


def add_arguments(parser):
    parser.add_argument("name", help="environment")
    parser.add_argument("packages", nargs="*", metavar="PKG",
                        help="packages, e.g. numpy 'scipy>=1.11', a folder ./mypkg, or a URL (git+https://...)")
    parser.add_argument("-e", "--editable", action="append", default=[], metavar="PATH",
                        help="install the project in PATH in editable mode (its source changes show at once)")
    parser.add_argument("--file", metavar="SPEC",
                        help="install the packages of a spec: a pyenvmod export, an environment.yml or a "
                             "requirements.txt (like conda env update -f)")
    parser.add_argument("--no-binary", metavar="PKG,PKG", default="",
                        help="build these from source against the loaded modules (remembered for later changes)")
    parser.add_argument("--rebuild", action="store_true",
                        help="reinstall the named packages even if installed (packages that link MPI: built "
                             "from source against the environment's MPI module)")


def run(args) -> int:
    from pyenvmod import config as config_mod
    from pyenvmod.operations import packages

    config = config_mod.load()
    specs = [*args.packages, *editable(args.editable)]
    if args.file:
        from pyenvmod.operations.from_file import specs as file_specs

        specs += file_specs(config, args.name, args.file)
    from pyenvmod.runtime import progress

    with progress.status() as notify:
        record, problems = packages.install(config, args.name, specs, notify=notify,
                                            no_binary=[n for n in args.no_binary.split(",") if n],
                                            rebuild=args.rebuild)
    return report(config, record, problems)
