"""List environments: name, Python, backend, module, created, health and prefix; or, given a
NAME, the packages of that environment and where each comes from.

Health is 'ok' when the interpreter is present and every modulefile is present and
points at the environment; otherwise the problems are listed. Environments loaded in
this shell are marked with '*'.

  pyenvmod list                 # your environments
  pyenvmod list mylab           # the packages in mylab (like conda list -n mylab)
"""


def add_arguments(parser):
    parser.add_argument("name", nargs="?", help="list this environment's packages instead")
    parser.add_argument("--json", action="store_true", help="print a JSON array of objects")
    parser.add_argument("--all", action="store_true",
                        help="also the environments of the groups in the 'groups' setting, with their owners")


def run(args) -> int:
    import json
    from datetime import datetime

    from pyenvmod import config as config_mod
    from pyenvmod.runtime.display import clean
    from pyenvmod.modules.loaded import loaded_names
    from pyenvmod.operations.common import layout_for
    from pyenvmod.operations.listing import entries

    config = config_mod.load()
    if args.name:
        return _show_packages(config, args.name, args.json)
    trees = [(config.group or "", config)]
    if args.all:
        for group in config["groups"]:
            config_mod.GROUP["spec"] = group
            trees.append((group, config_mod.load()))
    found = [(tree, e) for tree, cfg in trees for e in entries(cfg)]
    loaded = {(tree, n) for tree, cfg in trees for n in loaded_names(layout_for(cfg))}
    if args.json:
        print(json.dumps([dict(e.as_dict(), tree=tree or "own", loaded=(tree, e.name) in loaded) for tree, e in found],
                         indent=2, ensure_ascii=False))
        return 0
    if not found:
        print("No environments yet. Create one with: pyenvmod create NAME -p PACKAGE ...")
        return 0
    header = ("NAME", "PYTHON", "BACKEND", "MODULE", "BASE", "KERNEL", "CREATED", "HEALTH", "PREFIX")
    rows = [(("TREE", "OWNER") if args.all else ()) + header]
    for tree, e in found:
        r = e.record
        created = ""
        if r:
            try:
                created = datetime.fromisoformat(r.created).astimezone().strftime("%Y-%m-%d %H:%M")
            except ValueError:
                created = r.created
        base = r.extends["name"] if r and r.extends else "-"
        kernel = ("yes" if r.kernels else "no") if r else "-"
        where = (tree or "own", r.owner if r else "-") if args.all else ()
        rows.append(where + (e.name + (" *" if (tree, e.name) in loaded else ""), r.python if r else "-", r.backend if r else "-", r.module if r else "-", base,
                             kernel, created or "-", e.state, r.prefix if r else "-"))
    rows = [tuple(clean(cell) for cell in row) for row in rows]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)) + "  " + row[-1])
    for _tree, e in found:
        for problem, fix in zip(e.problems, e.fixes):
            print(clean(f"  {e.name}: {problem}"))
            print(clean(f"      fix: {fix}"))
    if loaded:
        print("* loaded in this shell")
    return 0


def _show_packages(config, name: str, as_json: bool) -> int:
    """``pyenvmod list NAME``: the packages of one environment, where each comes from."""
    import json

    from pyenvmod.operations.env_packages import packages

    record, found = packages(config, name)
    if as_json:
        print(json.dumps([p.as_dict() for p in found], indent=2, ensure_ascii=False))
        return 0
    print(f"# packages in {record.name!r} at {record.prefix}")
    rows = [("NAME", "VERSION", "FROM")] + [(p.name, p.version, _label(p.source, record, p)) for p in found]
    widths = [max(len(row[i]) for row in rows) for i in range(2)]
    for row in rows:
        print(f"{row[0].ljust(widths[0])}  {row[1].ljust(widths[1])}  {row[2]}")
    return 0


def _label(source: str, record, package=None) -> str:
    if source == "module":
        hides = f" (hides {package.shadows} installed here; see pyenvmod doctor)" if package.shadows else ""
        return f"from module {package.module}{hides}"
    if source == "base":
        return f"base ({record.extends['name']})"
    if source == "outside":
        return "outside pyenvmod"
    return source
