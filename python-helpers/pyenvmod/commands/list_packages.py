"""``pyenvmod list NAME``: the packages of one environment, where each comes from."""

import json


def show(config, name: str, as_json: bool) -> int:
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
