"""Regenerate the modulefiles of an existing environment (after a template or configuration change)."""


def add_arguments(parser):
    parser.add_argument("name", help="environment whose modulefiles to write again")


def run(args) -> int:
    from pyenvmod import config as config_mod
    from pyenvmod.operations.regenerate import regenerate

    for path in regenerate(config_mod.load(), args.name):
        print(f"wrote {path}")
    return 0
