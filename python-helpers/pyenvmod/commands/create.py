"""Create a Python environment and its modulefiles.

Examples:
  pyenvmod create mylab -p numpy scipy
  pyenvmod create old --python 3.11 --backend venv --description "legacy analysis"
  pyenvmod create --prefix /project/mylab/env -p numpy    # at a folder you choose: module pyenv/env
"""

import os
import sys

from pyenvmod import backends
from pyenvmod.commands import common


def add_arguments(parser):
    # optional for argparse only: 'create -p six x3' takes x3 as a package, and run() says so
    parser.add_argument("name", nargs="?", help="environment name: letters, digits, . _ + - (at most 64)")
    parser.add_argument("--prefix", metavar="PATH",
                        help="make the environment at PATH (a new or empty folder, e.g. on project storage) "
                             "instead of the tree; its modulefiles still go to your tree as pyenv/NAME")
    parser.add_argument("--name", dest="name_option", metavar="NAME",
                        help="with --prefix: the module's name (default: the folder's name)")
    parser.add_argument("-p", "--packages", nargs="+", default=[], metavar="PKG",
                        help="packages to install, e.g. numpy 'scipy>=1.11', a folder ./mypkg, or a URL")
    parser.add_argument("-e", "--editable", action="append", default=[], metavar="PATH",
                        help="also install the project in PATH in editable mode")
    parser.add_argument("--python", metavar="VERSION|PATH",
                        help="base interpreter: a version (3.12: on PATH, in pyenv's or uv's folders, else a Python "
                             "module of the site, loaded and recorded; see 'pyenvmod pythons'), a path, or a "
                             "command (default: python3 on PATH)")
    parser.add_argument("--backend", choices=backends.NAMES, help="how to build it (default: uv)")
    parser.add_argument("-c", "--channel", dest="channels", action="append", default=[], metavar="CHANNEL",
                        help="conda backend: a channel (URL, folder or name), repeatable, as with conda")
    parser.add_argument("--description", default="", help="one line shown by 'module whatis' and 'module help'")
    parser.add_argument("--modules", metavar="A,B", default="",
                        help="modules to record as dependencies, added to the loaded ones captured "
                             "(a NAME/VERSION replaces a captured NAME)")
    parser.add_argument("--no-binary", metavar="PKG,PKG", default="",
                        help="build these packages from source against the loaded modules (e.g. mpi4py)")
    parser.add_argument("--no-capture", action="store_true",
                        help="do not record the loaded modules (only those given with --modules)")
    kernel = parser.add_mutually_exclusive_group()
    kernel.add_argument("--kernel", action="store_true", default=None,
                        help="also make a Jupyter kernel (default from the 'kernel' setting)")
    kernel.add_argument("--no-kernel", dest="kernel", action="store_false", help="make no Jupyter kernel")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--file", metavar="SPEC",
                        help="create from a spec: a pyenvmod export, a conda environment.yml, or a requirements.txt")
    source.add_argument("--clone", metavar="SOURCE",
                        help="create a copy of SOURCE (a name, or the folder of a group's environment) from its "
                             "locked package set, with its modules")
    parser.add_argument("--extends", metavar="BASE", default="",
                        help="layer on BASE (a name, or the folder of a group's or site's environment): "
                             "its packages count as installed, only what it lacks is installed here")


def _no_name(packages) -> None:
    from pyenvmod.errors import PyenvmodError

    if packages:
        listed = " ".join(packages)
        raise PyenvmodError(f"no environment name: -p took every word after it as a package ({listed}); put the "
                            f"name before -p (pyenvmod create {packages[-1]} -p {' '.join(packages[:-1]) or 'PKG'}), "
                            "or end the list with --")
    raise PyenvmodError("name the environment: pyenvmod create NAME [-p PKG ...]")


def run(args) -> int:
    from pyenvmod import config as config_mod
    from pyenvmod.operations.common import layout_for
    from pyenvmod.operations.create import CreateRequest, create

    from pyenvmod.errors import PyenvmodError

    if args.name is None and not args.name_option and not args.prefix:
        _no_name(args.packages)
    config = config_mod.load()
    layout = layout_for(config)
    if args.name and args.name_option and args.name != args.name_option:
        raise PyenvmodError(f"two names given ({args.name!r} and --name {args.name_option!r}); give one")
    name = args.name or args.name_option or (os.path.basename(os.path.normpath(args.prefix)) if args.prefix else "")
    if not name:
        raise PyenvmodError("name the environment: pyenvmod create NAME, or pyenvmod create --prefix PATH")
    if config.root_is_default:
        _note_default_root(layout)
    spec = None
    if args.file:
        from pyenvmod.packages import spec as spec_mod

        spec = spec_mod.read(args.file)
    elif args.clone:
        from pyenvmod.operations.export import clone_spec

        spec = clone_spec(config, args.clone)
    request = CreateRequest(name, [*args.packages, *common.editable(args.editable)], args.python or "",
                            args.backend or "", args.description, args.extends, args.modules.split(","),
                            not args.no_capture, spec, [n for n in args.no_binary.split(",") if n], args.channels,
                            args.prefix or "")
    from pyenvmod.runtime import progress

    with progress.status() as notify:  # on standard error: a status line on a terminal, lines in a log
        record = create(config, request, notify=notify)
    print(f"Created {record.name!r}: Python {record.python}, {record.backend}, at {record.prefix}")
    if args.kernel if args.kernel is not None else config["kernel"]:
        from pyenvmod.operations import kernel

        folder = kernel.install(config, record.name, notify=lambda m: print(f"pyenvmod: {m}", file=sys.stderr))
        print(f"Jupyter kernel {folder.name!r} written to {folder}")
    if record.modules:
        print(f"Recorded modules (loaded with it): {' '.join(record.modules)}")
    common.print_next_steps(layout, record.name)
    return 0


def _note_default_root(layout) -> None:
    """Say once per root that environments live in the home directory by default."""
    from pyenvmod.trust import files

    marker = layout.root / ".default-root-noted"
    if marker.exists():
        return
    print(
        f"pyenvmod: note: environments go to {layout.root} (the default, in your home directory). "
        "Home directories are small, quota-limited and often shared between clusters; "
        "set 'root' in ~/.config/pyenvmod/config.yaml or PYENVMOD_ROOT to project storage.",
        file=sys.stderr,
    )
    try:
        files.make_root(layout.root)
        files.write_atomic(marker, "")
    except OSError:
        pass
