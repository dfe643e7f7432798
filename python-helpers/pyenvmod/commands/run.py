"""Run a command in an environment, with its recorded modules, without changing your shell.

  pyenvmod run mylab python analysis.py --input data.h5
  pyenvmod run mylab -- mpirun -n 4 python solver.py      # in a batch script or a cron job

Everything after NAME is the command, its options included (as with conda run and srun); a
'--' before it is accepted and dropped.

The environment is loaded as 'module load pyenv/NAME' would load it (through Lmod or
Environment Modules when there is one, with the compiler and MPI modules it was built with;
else its variables are set directly). The exit code is the command's; a command that cannot
be found exits with 127, a missing environment with 1.
"""

import sys


def add_arguments(parser):
    parser.add_argument("name", help="environment")
    import argparse

    # REMAINDER: everything after NAME is the command, its options too (pyenvmod run x python -V)
    parser.add_argument("command", nargs=argparse.REMAINDER, metavar="COMMAND ...",
                        help="the command and its arguments (a '--' before them is accepted)")


def run(args) -> int:
    from pyenvmod import config as config_mod
    from pyenvmod.operations.run_in import execute

    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    execute(config_mod.load(), args.name, command, notify=lambda m: print(f"pyenvmod: {m}", file=sys.stderr))
    return 1  # not reached: execute replaces this process
