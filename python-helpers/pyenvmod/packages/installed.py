"""What is installed in an environment, read from its files (its dist-info folders and the backend's
listing): the package set recorded after every change, and the pins that rebuild it exactly.
Used by the backends, the operations and the record of changes made outside pyenvmod."""

from pyenvmod.modules import stacking


def locked_set(backend, prefix) -> dict:
    return {p["name"]: p["version"] for p in backend.list_packages(prefix)}


def dist_name(dist_info) -> str:
    """The canonical project name of a NAME-VERSION.dist-info folder."""
    from packaging.utils import canonicalize_name

    return canonicalize_name(dist_info.name[: -len(".dist-info")].rsplit("-", 1)[0])


def dist_versions(prefix) -> dict:
    """{Name: Version} of the distributions in the environment's own site-packages, read from their
    METADATA files (the environment is not run)."""
    from pyenvmod.packages import dist_info

    return dict(sorted({dist.name: dist.version for dist in dist_info.installed(prefix)}.items()))


def direct_sources(prefix, python_version) -> dict:
    """Packages installed from a URL or a local folder (PEP 610 direct_url.json): {name: "name @ url"}."""
    import json

    found = {}
    for dist in stacking.site_packages(str(prefix), python_version).glob("*.dist-info"):
        try:
            data = json.loads((dist / "direct_url.json").read_text(encoding="utf-8"))
            url = data["url"]
            vcs = data.get("vcs_info") or {}
            if vcs:  # git+https://...@COMMIT: the same commit again, not the folder or page the URL names
                url = f"{vcs['vcs']}+{url}@{vcs['commit_id']}"
        except (OSError, ValueError, KeyError, TypeError):
            continue
        name = dist_name(dist)
        found[name] = f"{name} @ {url}"
    return found


def pins(packages: dict, sources: dict, skip=("pip",)) -> list[str]:
    """Requirement strings that rebuild a package set exactly."""
    from packaging.utils import canonicalize_name

    out = []
    for name, version in sorted(packages.items()):
        if name in skip:
            continue
        out.append(sources.get(canonicalize_name(name)) or f"{name}=={version}")
    return out


def snapshot(record, backend) -> None:
    """Record the environment's current package set (and direct sources) in ``record``."""
    record.packages = locked_set(backend, record.prefix)
    record.sources = direct_sources(record.prefix, record.python)
