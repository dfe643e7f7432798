"""Print the 'module use' line for your own module tree, or a research group's.

  pyenvmod use             # your own tree
  pyenvmod use lab         # the group 'lab' from the 'groups' setting (or a folder)
  eval "$(pyenvmod use lab)"
"""


def add_arguments(parser):
    parser.add_argument("group", nargs="?", help="a group name from the 'groups' setting, or a group tree's folder")


def run(args) -> int:
    import shlex

    from pyenvmod import config as config_mod
    from pyenvmod.operations.common import layout_for

    if args.group:
        config_mod.GROUP["spec"] = args.group
    layout = layout_for(config_mod.load())
    print(f"module use {shlex.quote(str(layout.modules_dir))}")
    return 0
