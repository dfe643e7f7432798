"""Show the effective configuration: every key's value, and with --origin where it came from
(default, the site file, your file, a PYENVMOD_* variable), and which keys the site locked.

Layers, lowest first: built-in defaults < site files (/etc/pyenvmod/config.yaml, then
PREFIX/etc/pyenvmod/config.yaml of the installation, then $PYENVMOD_SITE_CONFIG, which only adds a
file: a locked key stays locked) < your file ($XDG_CONFIG_HOME/pyenvmod/config.yaml) < PYENVMOD_*
variables < command-line flags.
"""


def add_arguments(parser):
    sub = parser.add_subparsers(dest="config_command", metavar="SUBCOMMAND", required=True)
    show = sub.add_parser("show", help="print the effective value of every key",
                          description="Print the effective value of every key.")
    show.add_argument("--origin", action="store_true", help="also say where each value came from")
    show.add_argument("--json", action="store_true", help="print JSON")


def run(args) -> int:
    import json

    from pyenvmod import config as config_mod

    config = config_mod.load()
    if args.json:
        print(json.dumps({k: {"value": config.values[k], "origin": config.origins[k],
                              "locked": k in config.locked} for k in config_mod.SCHEMA}, indent=2))
        return 0
    for key in config_mod.SCHEMA:
        line = f"{key}: {json.dumps(config.values[key])}"
        if args.origin:
            line += f"    # {config.origins[key]}" + (" (locked by the site)" if key in config.locked else "")
        print(line)
    return 0
