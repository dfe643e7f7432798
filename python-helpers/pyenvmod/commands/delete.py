"""Delete an environment and its modulefiles.

On a terminal it asks first; without one it refuses unless --yes is given. It never
removes anything outside the configured root and never follows a symlink out of it.

An environment loaded in this shell is refused: 'module unload pyenv/NAME' first, or pass
--force. Shells that still have it loaded can unload it afterwards: its modulefiles stay
as hidden tombstones (load refused) until nothing can have it loaded any more.
"""

import sys

from pyenvmod.errors import PyenvmodError


def add_arguments(parser):
    parser.add_argument("name", help="environment to delete")
    parser.add_argument("-y", "--yes", action="store_true", help="do not ask for confirmation")
    parser.add_argument("--force", action="store_true", help="delete it even if it is loaded in this shell")


def run(args) -> int:
    from pyenvmod import config as config_mod
    from pyenvmod.operations.delete import delete

    def confirm(name, prefix):
        if args.yes:
            return True
        if not sys.stdin.isatty():
            raise PyenvmodError(f"not deleting {name!r} without confirmation (no terminal); pass --yes")
        answer = input(f"Delete environment {name!r} at {prefix} and its modulefiles? [y/N] ")
        return answer.strip().lower() in ("y", "yes")

    if delete(config_mod.load(), args.name, confirm, force=args.force):
        print(f"Deleted {args.name!r}.")
        return 0
    print("Nothing deleted.")
    return 1
