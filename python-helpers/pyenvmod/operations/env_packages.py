"""The packages of one environment and where each comes from (``pyenvmod list NAME``), read from
the files (dist-info METADATA, conda-meta): no interpreter is started.

    requested    asked for by name (create -p, install, --file)
    dependency   installed through pyenvmod to satisfy a requested one
    base         from the environment it extends (--extends), not installed here
    outside      installed or changed without pyenvmod (a pip install after module load, say)
    module       put on PYTHONPATH by a recorded module (module_packages.py): what the environment imports
"""

from dataclasses import dataclass

from pyenvmod.config import Config
from pyenvmod.trust import identity
from pyenvmod.operations.common import layout_for, load_record

SOURCES = ("requested", "dependency", "base", "outside", "module")


@dataclass(frozen=True)
class Package:
    name: str
    version: str
    source: str  # one of SOURCES
    module: str = ""  # source 'module': the module's NAME/VERSION
    shadows: str = ""  # source 'module': the version installed in the environment that it hides, if any

    def as_dict(self) -> dict:
        found = {"name": self.name, "version": self.version, "source": self.source}
        if self.module:
            found.update(module=self.module, shadows=self.shadows or None)
        return found


def installed(record) -> dict:
    """{name: version} in the environment's own prefix: conda packages and pip-installed ones."""
    from pyenvmod.packages.installed import dist_versions

    found = {}
    if record.backend == "conda":
        from pyenvmod.backends.conda import conda_meta_versions

        found.update(conda_meta_versions(record.prefix))
    for name, version in dist_versions(record.prefix).items():
        found.setdefault(name, version)
    return found


def _requested_names(record) -> set:
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.utils import canonicalize_name

    names = set()
    for spec in record.requested:
        if record.backend != "conda" and _from_folder_or_url(spec):
            names.update(installed_from(spec, record.sources))
            continue
        try:
            names.add(canonicalize_name(Requirement(spec).name))
        except InvalidRequirement:  # a conda match spec: its name comes first
            names.add(canonicalize_name(spec.split()[0].split("=")[0].split("<")[0].split(">")[0]))
    return names


def _from_folder_or_url(spec: str) -> bool:
    from pyenvmod.packages import requirements

    return spec.startswith(requirements.EDITABLE) or requirements.is_url(spec) or requirements.is_path(spec)


def installed_from(spec: str, sources: dict) -> set:
    """Canonical names of the packages installed from a folder or URL spec (-e ./tools, ./mypkg,
    git+https://...), read from the recorded direct sources ({name: "name @ url"}); a VCS source is
    recorded at its commit (URL@COMMIT), asked for with or without a ref."""
    from pyenvmod.packages import requirements

    try:
        url = requirements.source_url(spec)
    except ValueError:
        return set()
    if not url:
        return set()
    url = url.split("#", 1)[0].rstrip("/")
    wanted = {url, url.rsplit("@", 1)[0]} if "+" in url.split("://", 1)[0] else {url}
    found = set()
    for name, pinned in sources.items():
        have = pinned.split(" @ ", 1)[-1].rstrip("/")
        if have in wanted or have.rsplit("@", 1)[0] in wanted:
            found.add(name)
    return found


def packages(config: Config, name: str) -> tuple:
    """(record, [Package]) sorted by name."""
    from packaging.utils import canonicalize_name

    layout = layout_for(config)
    record = load_record(layout, name)
    requested = _requested_names(record)
    recorded = {canonicalize_name(n): v for n, v in record.packages.items()}
    result = {}
    for pkg, version in installed(record).items():
        key = canonicalize_name(pkg)
        if recorded.get(key) != version and not record.adopted:
            source = "outside"
        elif key in requested:
            source = "requested"
        else:
            source = "outside" if record.adopted else "dependency"
        result[key] = Package(pkg, version, source)
    if record.extends:  # a base is a uv or venv environment (conda ones cannot be extended)
        from pyenvmod.packages.installed import dist_versions

        for pkg, version in dist_versions(record.extends["prefix"]).items():
            result.setdefault(canonicalize_name(pkg), Package(pkg, version, "base"))
    if record.modules and record.backend != "conda":  # PYTHONPATH comes first on sys.path: these win
        from pyenvmod.packages import module_packages

        for have in module_packages.provided(record.modules, owners=identity.uids(config["module_owners"])):
            hidden = result.get(have.key)
            result[have.key] = Package(have.name, have.version, "module", have.module, hidden.version if hidden else "")
    return record, [result[k] for k in sorted(result)]
