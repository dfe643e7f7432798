"""List every Python interpreter pyenvmod can build on: its version, where it comes from
(PATH, pyenv, uv, the system, or a module NAME/VERSION of the site), and which one
'--python 3.X' takes, and why.

Examples:
  pyenvmod pythons
  pyenvmod pythons 3.12        # only what --python 3.12 would take
  pyenvmod pythons --json
"""


def add_arguments(parser):
    parser.add_argument("version", nargs="?", metavar="VERSION", help="a version like 3.12: only its choice")
    parser.add_argument("--json", action="store_true", help="print JSON")


def run(args) -> int:
    import json

    from pyenvmod import config as config_mod
    from pyenvmod.backends import pythons
    from pyenvmod.errors import PyenvmodError

    config = config_mod.load()
    found = pythons.inventory(config)
    versions = sorted({".".join(f.version.split(".")[:2]) for f in found}, key=pythons.version_key)
    if args.version:
        match = pythons._VERSION.match(args.version)
        if not match:
            raise PyenvmodError(f"{args.version!r} is not a Python version; give one like 3.12 or 3.12.1")
        versions = [".".join(x for x in match.groups() if x)]
    picks = {}
    for version in versions:
        chosen, why = pythons.pick(config, version, found)
        picks[version] = None if chosen is None else {"version": chosen.version, "source": chosen.source,
                                                      "where": chosen.where, "why": why}
    if args.json:
        print(json.dumps({"python_from": config["python_from"], "python_modules": config["python_modules"],
                          "pythons": [f._asdict() for f in found], "picks": picks}, indent=2))
        return 0 if all(picks.values()) else 1
    if not args.version:
        if not found:
            print("No Python interpreter found on PATH, in pyenv's or uv's folders, or in the module system.")
        width = max([len(f.version) for f in found] + [7])
        if found:
            print(f"{'VERSION':<{width}}  SOURCE  WHERE")
        for f in found:
            where = f.where + (" (the site's default)" if f.default else "")
            print(f"{f.version:<{width}}  {f.source:<6}  {where}")
        if found:
            print()
    for version, chosen in picks.items():
        if chosen is None:
            raise PyenvmodError(f"no Python {version} found; {pythons._what_exists(config)}")
        where = f"module {chosen['where']}" if chosen["source"] == "module" else chosen["where"]
        print(f"--python {version}: {where} (Python {chosen['version']}: {chosen['why']})")
    return 0
