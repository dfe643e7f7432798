"""Make (or remove) a Jupyter kernel for an environment.

The kernel starts through a launcher that loads the environment's module (and the
compiler/MPI modules recorded with it) first, so notebooks see what the shell sees.

  pyenvmod kernel mylab                      # kernel "Python (mylab)" for your Jupyter
  pyenvmod kernel mylab --with tools         # with pyenv/tools stacked, as module load does
  pyenvmod kernel mylab --prefix /project/lab/jupyter    # a shared location
  pyenvmod kernel mylab --remove
"""

import sys


def add_arguments(parser):
    parser.add_argument("name", help="environment")
    parser.add_argument("--with", dest="with_", action="append", default=[], metavar="OTHER",
                        help="stack another environment in the kernel (repeatable)")
    parser.add_argument("--prefix", metavar="DIR", help="install into DIR/share/jupyter instead of your own")
    parser.add_argument("--display-name", metavar="TEXT", help="name shown in Jupyter (default: Python (NAME))")
    parser.add_argument("--remove", action="store_true", help="remove the environment's kernel(s)")


def run(args) -> int:
    from pyenvmod import config as config_mod
    from pyenvmod.operations import kernel

    config = config_mod.load()
    if args.remove:
        for path in kernel.remove(config, args.name):
            print(f"Removed kernel {path}")
        return 0
    folder = kernel.install(config, args.name, args.with_, args.prefix, args.display_name,
                            notify=lambda m: print(f"pyenvmod: {m}", file=sys.stderr))
    print(f"Kernel {folder.name!r} written to {folder}")
    return 0
