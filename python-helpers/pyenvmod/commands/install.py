"""Install packages into an environment, then refresh its metadata, modulefiles and history.

  pyenvmod install mylab numpy 'scipy>=1.11'
  pyenvmod install mylab --file environment.yml     # or requirements.txt, or a pyenvmod export

(After 'module load pyenv/mylab', a plain 'pip install' works too; pyenvmod install
also records the change in the history and checks the environment's consistency.)
"""

import sys


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


def editable(paths) -> list:
    """-e PATH as one spec string, '-e PATH', which stays one word until pip or uv is run."""
    from pyenvmod.packages.requirements import EDITABLE

    return [EDITABLE + path for path in paths]


def editable_changes(before: list, record) -> list:
    """Folders asked for again, now with -e or now without it: same version, so no package line says so."""
    from pyenvmod.operations.env_packages import installed_from
    from pyenvmod.packages.requirements import EDITABLE

    def folders(specs, editable):
        return {s[len(EDITABLE):].strip() if s.startswith(EDITABLE) else s for s in specs
                if s.startswith(EDITABLE) == editable}

    out = []
    for now, was, change in ((True, False, "now editable"), (False, True, "no longer editable")):
        for folder in sorted(folders(record.requested, now) & folders(before, was)):
            names = sorted(installed_from(folder, record.sources)) or [folder.rstrip("/").rsplit("/", 1)[-1]]
            out += [f"{name} {change} ({EDITABLE if now else ''}{folder})" for name in names]
    return out


def report(config, record, problems, heading=""):
    """What this change did, package by package (from the last two history entries), or that nothing
    changed; then the broken requirements, once."""
    from pyenvmod.packages import outside
    from pyenvmod.records import history
    from pyenvmod.operations.common import layout_for

    entries = history.entries(layout_for(config), record.name, last=2)
    lines = outside.describe(entries[-2]["packages"] if len(entries) > 1 else {}, record.packages)
    lines += editable_changes(entries[-2].get("requested", []) if len(entries) > 1 else [], record)
    if lines:
        print(heading or f"Updated {record.name!r}:")
        for line in lines:
            print(f"  {line}")
    else:
        print(f"Nothing changed in {record.name!r}: already up to date.")
    if problems:
        print(f"Broken requirements in {record.name!r} (pip check):", file=sys.stderr)
        for line in problems:
            print(f"  {line}", file=sys.stderr)
    return 0


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
