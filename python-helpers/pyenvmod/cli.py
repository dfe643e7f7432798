"""The ``pyenvmod`` command line: a lazy registry of commands.

Only the chosen command's module is imported (and it imports heavy things only
when it runs), so ``pyenvmod --help`` and ``--version`` start fast.
"""

import os
import sys

from pyenvmod import __version__
from pyenvmod.errors import Interrupted, PyenvmodError

# name: (module, one-line summary). Order is the order of `pyenvmod --help`.
COMMANDS = {
    "init": ("pyenvmod.commands.init", "first-run set-up: a few questions, then your configuration"),
    "create": ("pyenvmod.commands.create", "create an environment and its modulefiles"),
    "adopt": ("pyenvmod.commands.adopt", "give an existing environment modulefiles, without changing it"),
    "list": ("pyenvmod.commands.list", "list environments with their health"),
    "delete": ("pyenvmod.commands.delete", "delete an environment and its modulefiles"),
    "rename": ("pyenvmod.commands.rename", "rename an environment (folder, modulefiles, history, kernels)"),
    "prefix": ("pyenvmod.commands.prefix", "print the folder of an environment, for scripts"),
    "run": ("pyenvmod.commands.run", "run a command in an environment with its modules, shell untouched"),
    "export": ("pyenvmod.commands.export", "export an environment as a file that recreates it"),
    "install": ("pyenvmod.commands.install", "install packages into an environment"),
    "update": ("pyenvmod.commands.update", "update packages of an environment"),
    "remove": ("pyenvmod.commands.remove", "remove packages from an environment"),
    "history": ("pyenvmod.commands.history", "list the changes made to an environment"),
    "rollback": ("pyenvmod.commands.rollback", "roll an environment back to an earlier state"),
    "pythons": ("pyenvmod.commands.pythons", "list the Python interpreters to build on, and which --python takes"),
    "kernel": ("pyenvmod.commands.kernel", "make or remove a Jupyter kernel for an environment"),
    "doctor": ("pyenvmod.commands.doctor", "find and explain common problems; fix the safe ones"),
    "module": ("pyenvmod.commands.module", "regenerate the modulefiles of an environment"),
    "modulepath": ("pyenvmod.commands.modulepath", "print the module tree folder(s) for 'module use'"),
    "config": ("pyenvmod.commands.config", "show the effective configuration and where it comes from"),
    "templates": ("pyenvmod.commands.templates", "list the templates in effect, or show one"),
    "use": ("pyenvmod.commands.use", "print the 'module use' line for your tree or a group's"),
    "pack": ("pyenvmod.commands.pack", "pack an environment into one image, for 'pyenvmod stage'"),
    "stage": ("pyenvmod.commands.stage", "copy an environment to node-local disk (every node of a job)"),
    "site": ("pyenvmod.commands.site", "site administration: set-up, Lmod hooks"),
}

DESCRIPTION = """\
Every Python environment an environment module.

  pyenvmod create mylab -p numpy     create an environment (and its modulefiles)
  module load pyenv/mylab            activate it, in any shell
  module unload pyenv/mylab          deactivate it: the shell is restored exactly
"""


GROUP_HELP = ("work in a research group's shared tree: a folder, or a name from the 'groups' setting "
              "(group-writable, setgid, never world-writable)")


def _chosen_command(argv):
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--group":
            skip = True  # its value is not the command
        elif not arg.startswith("-"):
            return arg if arg in COMMANDS else None
    return None


def build_parser(argv):
    import argparse
    import importlib

    parser = argparse.ArgumentParser(
        prog="pyenvmod", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--version", action="version", version=f"pyenvmod {__version__}")
    parser.add_argument("--group", metavar="GROUP", help=GROUP_HELP)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    chosen = _chosen_command(argv)
    # With a command named, only its parser is built (all 24 cost every command milliseconds
    # of start-up); without one, all of them, for --help and argparse's list of choices.
    for name, (module_name, summary) in COMMANDS.items():
        if chosen is not None and name != chosen:
            continue
        sub_parser = sub.add_parser(name, help=summary, description=summary[0].upper() + summary[1:] + ".")
        if name == chosen:
            # --group also after the command (pyenvmod create --group DIR NAME); SUPPRESS keeps one given before
            sub_parser.add_argument("--group", metavar="GROUP", default=argparse.SUPPRESS, help=GROUP_HELP)
            module = importlib.import_module(module_name)
            if module.__doc__:
                sub_parser.description = module.__doc__.strip()
                sub_parser.formatter_class = argparse.RawDescriptionHelpFormatter
            module.add_arguments(sub_parser)
            sub_parser.set_defaults(run=module.run)
    return parser


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv == ["--version"]:  # answered before argparse is even imported: scripts call it often
        print(f"pyenvmod {__version__}")
        return 0
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):
        parser.print_help()
        return 2
    if args.group:
        from pyenvmod import config

        config.GROUP["spec"] = args.group
        os.umask(0o002)  # group-writable for the maintainers, never world-writable
    else:
        os.umask(os.umask(0) | 0o002)  # never world-writable, whatever the umask (helpers such as pip too)
    try:
        return args.run(args) or 0
    except PyenvmodError as exc:
        from pyenvmod.runtime.display import clean

        print(f"pyenvmod: error: {clean(exc.message)}", file=sys.stderr)
        return exc.exit_code
    except Interrupted as exc:
        print("pyenvmod: stopped by a signal; nothing was left half-made", file=sys.stderr)
        return 128 + exc.signum
    except KeyboardInterrupt:
        print("\npyenvmod: interrupted; nothing was left half-made", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 141
    except Exception as exc:  # a bug: one line, and the traceback on request
        if os.environ.get("PYENVMOD_DEBUG"):
            raise
        print(f"pyenvmod: internal error: {type(exc).__name__}: {exc} (set PYENVMOD_DEBUG=1 for details "
              "and report it)", file=sys.stderr)
        return 70


def entry() -> None:
    """The ``pyenvmod`` command: ``main``, then out at once. By then every file is written and
    closed and every helper has finished, so tearing the interpreter's modules down one by one
    would only cost time (15 ms of a 150 ms ``update``, measured); what is buffered is flushed."""
    try:
        code = main()
    except SystemExit as exc:  # argparse: --help, --version, a usage error (it printed the message)
        code = exc.code
    if code is None:
        code = 0
    elif not isinstance(code, int):
        print(code, file=sys.stderr)
        code = 1
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BrokenPipeError:  # the reader went away (pyenvmod list | head)
        code = code or 141
    os._exit(code)
