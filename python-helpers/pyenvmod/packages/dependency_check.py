"""What ``pip check`` reports, read from the files: every installed distribution's ``Requires-Dist``
against the versions installed, without starting the environment's interpreter (``pip check`` alone
took about 0.9 s of a 2 s create).

The markers are evaluated for the environment's Python version on this machine. The sites are the
environment's own site-packages and, for an environment made with ``--extends``, its bases' (read from
the base hook), as the environment's own ``sys.path`` has them.
"""

import ast
from pathlib import Path

from pyenvmod.modules import stacking
from pyenvmod.packages import dist_info


def sites(prefix, python_version: str) -> list[Path]:
    """The environment's site-packages, then its base's when it was made with --extends, then that
    base's base (a chain of --extends: site.addsitedir processes each base's hook in turn)."""
    found = [stacking.site_packages(str(prefix), python_version)]
    for site in found:  # grows while it is read: each base's hook adds the next one
        hook = site / stacking.BASE_HOOK
        if not hook.is_file():
            continue
        for line in hook.read_text(encoding="utf-8", errors="replace").splitlines():
            if not line.startswith(("import ", "import\t")):
                continue  # site.py runs only a line that starts so; any other names a folder
            start, end = line.find("addsitedir("), line.rfind(")")
            if start >= 0 and end > start:
                try:
                    base = Path(ast.literal_eval(line[start + len("addsitedir("):end]))
                except (ValueError, SyntaxError):
                    continue
                if base not in found:  # a loop of hooks written by hand ends here
                    found.append(base)
    return found


def problems(prefix, python_version: str, module_paths=()) -> list[str]:
    """Broken or missing requirements, one line each, worded as pip check words them. ``module_paths``:
    the folders the recorded modules put on PYTHONPATH, first on sys.path (module_packages.py)."""
    from packaging.markers import default_environment
    from packaging.utils import canonicalize_name
    from packaging.version import InvalidVersion, Version

    installed = {}  # canonical name: (name, version, distribution); the first site wins, as on sys.path
    for site in [*map(Path, module_paths), *sites(prefix, python_version)]:
        for dist in dist_info.in_site(site):
            installed.setdefault(canonicalize_name(dist.name), (dist.name, dist.version, dist))
    environment = default_environment()
    environment.update(python_full_version=python_version,
                       python_version=".".join(python_version.split(".")[:2]), extra="")
    found = []
    for key in sorted(installed):
        _name, version, dist = installed[key]
        for requirement in dist.requirements(environment):
            have = installed.get(canonicalize_name(requirement.name))
            if have is None:
                found.append(f"{key} {version} requires {requirement.name}, which is not installed.")
                continue
            try:
                ok = requirement.specifier.contains(Version(have[1]), prereleases=True)
            except InvalidVersion:
                ok = True  # a version packaging cannot read: pip does not judge it either
            if not ok:
                found.append(f"{key} {version} has requirement {requirement}, but you have "
                             f"{requirement.name} {have[1]}.")
    return found
