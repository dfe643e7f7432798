"""Python packages that an environment's recorded modules put on ``PYTHONPATH`` (EasyBuild's
``SciPy-bundle``, Spack's ``py-*`` modules, a site ``scipy-stack``).

``PYTHONPATH`` comes before the environment's own site-packages on ``sys.path``, so what these
modules provide is what the environment imports. pyenvmod asks the module system what each
recorded module adds to ``PYTHONPATH`` (``module show``: nothing is loaded) and reads the
distributions there (dist-info METADATA, as dist_info reads them). Installs then count them as
installed (uv: ``--excludes``; pip: sees them on its ``PYTHONPATH``), a requested version the
module does not have is refused, and ``list`` and ``doctor`` show them.
"""

import os
import re
import shlex
from collections import namedtuple
from pathlib import Path

from pyenvmod.errors import PyenvmodError
from pyenvmod.trust import files

# a distribution a module provides: canonical name, name as written, version, module, folder
Provided = namedtuple("Provided", "key name version module path")

_LUA = re.compile(r"""(?:prepend|append)_path\(\s*["']PYTHONPATH["']\s*,\s*["']([^"']*)["']""")
_TCL = re.compile(r"^\s*(?:prepend|append)-path\s+(?:--?\S+\s+)*PYTHONPATH\s+(.*?)\s*$", re.M)


def parse_show(text: str) -> list[str]:
    """The folders a module adds to PYTHONPATH, from ``module show``: Lmod's
    ``prepend_path("PYTHONPATH","/a:/b")`` or Environment Modules' ``prepend-path PYTHONPATH /a {/b c}``."""
    found = []
    for value in _LUA.findall(text):
        found += value.split(":")
    for value in _TCL.findall(text):
        try:
            words = shlex.split(value.replace("{", "'").replace("}", "'"))
        except ValueError:
            words = value.split()
        for word in words:
            found += word.split(":")
    return [p for p in dict.fromkeys(found) if p and os.path.isabs(p)]


_SHOWN: dict = {}  # (module command, MODULEPATH, module): its PYTHONPATH folders, asked once per command


def python_paths(system, module: str, owners=()) -> list[str]:
    from pyenvmod.runtime import proc

    key = (tuple(system.command), os.environ.get("MODULEPATH", ""), module, tuple(owners))
    if key not in _SHOWN:
        # 'module show' runs the modulefile (Lua or Tcl: code), and the module is named by a record a
        # group member may edit: only a modulefile that nobody but root or the user could have
        # written is shown, by the path that was checked (a name could meanwhile find another file)
        # written only by root or the user, and shown with MODULEPATH holding only the folder where
        # it was found (a name could meanwhile find a file a member put earlier on MODULEPATH)
        found = modulefile(system, module)
        entry = next((e for e in key[1].split(":") if e and found and found.startswith(e.rstrip("/") + "/")), None)
        if entry is None or not files.written_only_by_you_or_root(found, owners=owners):
            _SHOWN[key] = []
        else:
            env = {k: v for k, v in os.environ.items()
                   if not k.startswith(("_ModuleTable", "__LMOD_REF_COUNT", "__MODULES_", "_LMFILES_", "LOADEDMODULES"))}
            env["MODULEPATH"] = entry
            result = proc.run([*system.command, "bash", "show", module], env=env,
                              what=f"{system.name} module show", timeout=120)
            _SHOWN[key] = parse_show(result.stderr + result.stdout)
    return _SHOWN[key]


def modulefile(system, module: str) -> str | None:
    """The modulefile ``module`` names, asked without running it (Lmod's ``--location show``,
    Environment Modules' ``path``); None when there is none."""
    from pyenvmod.runtime import proc

    if system.name == "Lmod":
        result = proc.run([*system.command, "bash", "--location", "show", module], what="Lmod module location",
                          timeout=120)
        lines = [ln.strip() for ln in result.stderr.splitlines() if ln.strip()]
        found = lines[-1] if lines else ""
    else:
        result = proc.run([*system.command, "bash", "path", module], what="module path", timeout=120)
        match = re.search(r"^echo '(/[^'\n]*)';?$", result.stdout, re.M)
        found = match.group(1) if match else ""
    return found if result.returncode == 0 and found.startswith("/") and "\n" not in found else None


def provided(modules, environ=None, owners=()) -> list[Provided]:
    """What ``modules`` (in load order) provide on PYTHONPATH, the one first on sys.path for each
    name (a module loaded later prepends before one loaded earlier); [] without a module system.
    ``owners``: uids whose modulefiles are shown like root's (the site's module_owners)."""
    from pyenvmod.modules import module_system
    from pyenvmod.packages import dist_info

    if not modules:
        return []
    system = module_system.current(environ)
    if system is None:
        return []
    from pyenvmod.modules import capture

    found = {}
    for module in reversed(list(modules)):
        try:
            capture.validate(module)  # a record's list, which a group member could edit: never an option
        except PyenvmodError:
            continue
        for path in python_paths(system, module, owners):
            for dist in dist_info.in_site(Path(path)):
                key = dist_info.canonical_name(dist.name)
                found.setdefault(key, Provided(key, dist.name, dist.version, module, path))
    return list(found.values())


def _module_copy(requirement, by_key: dict, unreadable_passes: bool) -> tuple:
    """(the module's package ``requirement`` names, None if no module gives it; whether its version
    passes the requirement's specifier, pre-releases too). A version packaging cannot read (a site's own
    numbering) passes an empty specifier, and any other only if ``unreadable_passes``: what you ask for
    must be checked (check_requested), while a dependency's requirement that cannot be checked is no
    reason to refuse (check_installed)."""
    from packaging.version import InvalidVersion, Version

    from pyenvmod.packages import dist_info

    have = by_key.get(dist_info.canonical_name(requirement.name))
    if have is None:
        return None, True
    try:
        return have, requirement.specifier.contains(Version(have.version), prereleases=True)
    except InvalidVersion:
        return have, unreadable_passes or not str(requirement.specifier)


def check_requested(specs, modules_provide: list[Provided]) -> list[Provided]:
    """Refuse a requested version that a module's package does not have (one line naming the
    module); return the provided packages that were asked for and that the module satisfies."""
    if not modules_provide:
        return []
    from packaging.requirements import InvalidRequirement, Requirement

    from pyenvmod.packages import requirements

    by_key = {p.key: p for p in modules_provide}
    satisfied = []
    for spec in specs:
        if spec.startswith(requirements.EDITABLE) or requirements.is_url(spec) or requirements.is_path(spec):
            continue
        try:
            requirement = Requirement(spec)
        except InvalidRequirement:
            continue
        have, passes = _module_copy(requirement, by_key, unreadable_passes=False)
        if have is None:
            continue
        if requirement.url:   # a direct reference names one artifact; the module's copy is another
            raise PyenvmodError(
                f"{spec} asks for one build of {have.name}, but {have.name} {have.version} from the module "
                f"{have.module} comes first on sys.path (PYTHONPATH) whenever the environment is loaded; ask for "
                f"{have.name} without a URL to use the module's, or make the environment without {have.module}")
        if not passes:
            raise PyenvmodError(
                f"{spec} conflicts with {have.name} {have.version} from the module {have.module}, which comes first "
                "on sys.path (PYTHONPATH) whenever the environment is loaded; ask for a version it has "
                f"({have.name}=={have.version}), or make the environment without {have.module}")
        satisfied.append(have)
    return satisfied


def without(specs, satisfied: list[Provided]) -> list[str]:
    """``specs`` without those a module satisfies (they are not installed a second time)."""
    if not satisfied:
        return list(specs)
    from packaging.requirements import InvalidRequirement, Requirement

    from pyenvmod.packages import dist_info

    keys = {p.key for p in satisfied}
    kept = []
    for spec in specs:
        try:
            if dist_info.canonical_name(Requirement(spec).name) in keys:
                continue
        except InvalidRequirement:
            pass
        kept.append(spec)
    return kept


def shadowed(prefix, modules_provide: list[Provided]) -> list[tuple]:
    """(installed Distribution, Provided) for each package installed in the environment that a
    module's package hides."""
    from pyenvmod.packages import dist_info

    by_key = {p.key: p for p in modules_provide}
    return [(dist, by_key[dist_info.canonical_name(dist.name)]) for dist in dist_info.installed(prefix)
            if dist_info.canonical_name(dist.name) in by_key]


def check_installed(prefix, python_version: str, modules_provide: list[Provided]) -> None:
    """Refuse (one line naming the module) when a package installed in the environment needs a
    version of a module's package that the module does not have: uv left that package out, and the
    module's copy is the one imported."""
    if not modules_provide:
        return
    from packaging.markers import default_environment

    from pyenvmod.packages import dist_info

    by_key = {p.key: p for p in modules_provide}
    environment = default_environment()
    environment.update(python_full_version=python_version,
                       python_version=".".join(python_version.split(".")[:2]), extra="")
    for dist in dist_info.installed(prefix):
        for requirement in dist.requirements(environment):
            have, passes = _module_copy(requirement, by_key, unreadable_passes=True)
            if not passes:
                raise PyenvmodError(
                    f"{dist.name} {dist.version} needs {requirement}, but the module {have.module} gives {have.name} "
                    f"{have.version}, which comes first on sys.path (PYTHONPATH); ask for a {dist.name} version that "
                    f"works with it, or make the environment without {have.module}")
