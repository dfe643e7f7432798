"""Print the folder (prefix) of an environment, for scripts.

  pyenvmod prefix mylab                    # /path/to/root/x86_64-debian12/envs/mylab
  "$(pyenvmod prefix mylab)/bin/python" script.py
"""


def add_arguments(parser):
    parser.add_argument("name", help="environment")


def run(args) -> int:
    from pyenvmod import config as config_mod
    from pyenvmod.operations.common import layout_for, load_record

    print(load_record(layout_for(config_mod.load()), args.name).prefix)
    return 0
