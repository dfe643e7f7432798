"""Rename an environment: its folder, modulefiles, activation scripts, history and Jupyter
kernels move to the new name, and environments made with --extends on it follow.

  pyenvmod rename mylab thesis

It refuses while the environment is loaded in this shell and onto a name that exists.
If it is interrupted, the old name or the new one works; run the same command again
to finish.
"""

import sys

from pyenvmod.errors import Interrupted


def add_arguments(parser):
    parser.add_argument("old", help="the environment's name")
    parser.add_argument("new", help="its new name")


def run(args) -> int:
    from pyenvmod import config as config_mod
    from pyenvmod.operations.rename import rename

    try:
        record = rename(config_mod.load(), args.old, args.new,
                        notify=lambda m: print(f"pyenvmod: {m}", file=sys.stderr))
    except (Interrupted, KeyboardInterrupt) as exc:
        print(f"\npyenvmod: interrupted; run 'pyenvmod rename {args.old} {args.new}' again to finish",
              file=sys.stderr)
        return 128 + exc.signum if isinstance(exc, Interrupted) else 130
    print(f"Renamed {args.old!r} to {record.name!r}: module {record.module}, at {record.prefix}")
    return 0
