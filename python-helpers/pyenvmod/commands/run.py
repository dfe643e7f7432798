"""Run a command in an environment, with its recorded modules, without changing your shell.

  pyenvmod run mylab -- python analysis.py --input data.h5
  pyenvmod run mylab -- mpirun -n 4 python solver.py      # in a batch script or a cron job

The environment is loaded as 'module load pyenv/NAME' would load it (through Lmod or
Environment Modules when there is one, with the compiler and MPI modules it was built with;
else its variables are set directly). The exit code is the command's; a command that cannot
be found exits with 127, a missing environment with 1.
"""

import sys


def add_arguments(parser):
    parser.add_argument("name", help="environment")
    parser.add_argument("command", nargs="*", metavar="COMMAND",
                        help="after --: the command and its arguments (the -- keeps its options its own)")


def run(args) -> int:
    from pyenvmod import config as config_mod
    from pyenvmod.operations.run_in import execute

    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    execute(config_mod.load(), args.name, command, notify=lambda m: print(f"pyenvmod: {m}", file=sys.stderr))
    return 1  # not reached: execute replaces this process
