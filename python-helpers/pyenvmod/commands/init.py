"""First-run set-up: asks a few questions (where to keep environments, the default backend,
kernels by default), writes your configuration, and prints the one line to add to your shell
start-up file. It never edits start-up files itself.

  pyenvmod init          # asks, with sensible defaults
  pyenvmod init --yes    # takes the defaults (for scripts)
"""

import os
import sys

from pyenvmod.commands.common import ask


def add_arguments(parser):
    parser.add_argument("-y", "--yes", action="store_true", help="answer every question with its default")


def run(args) -> int:
    from pyenvmod import config as config_mod
    from pyenvmod.modules import render
    from pyenvmod.trust import files
    from pyenvmod.errors import PyenvmodError

    if not args.yes and not sys.stdin.isatty():
        raise PyenvmodError("pyenvmod init asks questions and there is no terminal; pass --yes for the defaults")
    target = config_mod.user_file()
    if target.exists() and not args.yes:
        if ask(f"{target} exists. Replace it?", "no", False).lower() not in ("y", "yes"):
            print("Nothing written.")
            return 1
    elif target.exists():
        raise PyenvmodError(f"{target} exists; run 'pyenvmod init' on a terminal to replace it, or edit it")
    home = os.path.expanduser("~")
    default_root = os.environ.get("PYENVMOD_ROOT") or (  # the root already in use is the default answer
        "$PROJECT/$USER/pyenvmod" if os.environ.get("PROJECT") else
        os.path.join(os.environ.get("XDG_DATA_HOME") or os.path.join(home, ".local", "share"), "pyenvmod"))
    while True:
        root = ask("Where should environments go? (project storage is best)", default_root, args.yes)
        try:
            expanded = config_mod.expand_path(root, "your answer")
            break
        except PyenvmodError as exc:
            if args.yes:
                raise
            print(f"  {exc.message}")
    if os.path.commonpath([os.path.realpath(home), os.path.realpath(expanded)]) == os.path.realpath(home):
        print(f"  Note: {expanded} is in your home directory, which is small and quota-limited on most "
              "clusters; consider project storage.")
    backend = ask("Build environments with uv (fast) or venv?", "uv", args.yes)
    while backend not in ("uv", "venv"):
        backend = ask("  Please answer uv or venv", "uv", args.yes)
    kernel = ask("Make a Jupyter kernel with every environment? (yes/no)", "no", args.yes).lower() in ("y", "yes")
    files.make_root(target.parent)
    files.write_atomic(target, render.render_template("user-config.yaml.j2",
                                                      {"root": root, "backend": backend, "kernel": kernel}))
    config_mod.load()  # what was written must load
    print(f"Wrote {target}.")
    print("Add this line to your shell start-up file (~/.bashrc or the like) to find your environments:")
    print('  module use "$(pyenvmod modulepath)"')
    return 0
