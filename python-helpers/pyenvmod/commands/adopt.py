"""Register an existing environment (venv, uv or conda) that pyenvmod did not create, and write its
modulefiles, without changing the environment. The research-group workflow: one maintainer
builds the environment, each member adopts it to get a module of their own.

  pyenvmod adopt /project/lab/envs/analysis --name lab --modules gcc/13.2
"""

import sys


def add_arguments(parser):
    parser.add_argument("path", help="the environment's folder (the one with bin/python)")
    parser.add_argument("--name", default="", help="environment name (default: the folder's name)")
    parser.add_argument("--modules", metavar="A,B", default="",
                        help="modules it needs (pyenvmod cannot know what it was built with)")
    parser.add_argument("--kernel", action="store_true", help="also make a Jupyter kernel (needs ipykernel in it)")


def run(args) -> int:
    from pyenvmod import config as config_mod
    from pyenvmod.commands.common import print_next_steps
    from pyenvmod.operations.adopt import adopt
    from pyenvmod.operations.common import layout_for

    config = config_mod.load()
    record = adopt(config, args.path, args.name, args.modules.split(","),
                   notify=lambda m: print(f"pyenvmod: {m}", file=sys.stderr))
    print(f"Adopted {record.prefix} as {record.name!r} (Python {record.python}, {record.backend}); "
          "it is not modified, and 'pyenvmod delete' removes only its modulefiles.")
    if args.kernel:
        from pyenvmod.operations import kernel

        folder = kernel.install(config, record.name)
        print(f"Jupyter kernel {folder.name!r} written to {folder}")
    print_next_steps(layout_for(config), record.name)
    return 0
