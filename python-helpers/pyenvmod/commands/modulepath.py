"""Print the module tree folder(s), one per line, for 'module use'.

  module use $(pyenvmod modulepath)
"""


def add_arguments(parser):
    pass


def run(args) -> int:
    from pyenvmod import config as config_mod
    from pyenvmod.operations.common import layout_for

    print(layout_for(config_mod.load()).modules_dir)
    return 0
