"""The module system pyenvmod itself runs under, to load a spec's modules into its own process
(so that a package built from source links against the right compiler and MPI).

One class per module system, found from the variables their shell set-up exports:
Lmod's ``LMOD_CMD`` and Environment Modules' ``MODULES_CMD``. Both print Python code
for ``python load ...`` that updates ``os.environ``; that is how their own Python
bindings load modules.
"""

import os
import shutil

from pyenvmod.runtime import proc
from pyenvmod.errors import PyenvmodError


class ModuleSystem:
    name = ""

    def __init__(self, command: list):
        self.command = command

    def load(self, modules: list[str]) -> None:
        """Load ``modules`` into this process; a module that cannot be loaded is an error."""
        message = self.try_load(modules)
        if message is not None:
            raise PyenvmodError(f"cannot load the modules {' '.join(modules)} with {self.name}: {message[:300]}; "
                                "check the names with 'module avail' (or edit the modules listed in the spec)")

    def try_load(self, modules: list[str]) -> str | None:
        """Load ``modules`` into this process; None, or what the module system said when it could not."""
        if not modules:
            return None
        result = proc.run([*self.command, "python", "load", *modules], what=f"{self.name} module load")
        namespace = {"os": os}
        code = result.stdout
        if result.returncode == 0 and "_mlstatus = False" not in code:
            exec(compile(code, f"<{self.name} python load>", "exec"), namespace)  # the module system's own output
        if result.returncode != 0 or namespace.get("_mlstatus") is False or "_mlstatus = False" in code:
            return " ".join(ln.strip() for ln in result.stderr.splitlines() if ln.strip()) or "unknown error"
        return None

    def available(self) -> list[tuple[str, bool]]:
        """Every module the module system offers, as (NAME/VERSION, is the site's default of NAME)."""
        raise NotImplementedError


def trusted_env(environ=None, owners=()) -> dict:
    """The environment to list modules in: MODULEPATH holding only the folders that nobody but root
    or the user could have written (Lmod's spider runs every modulefile it finds: code; a group
    tree's modules folder is the group's), without the loaded modules' bookkeeping."""
    from pyenvmod.trust import files

    environ = os.environ if environ is None else environ
    env = {k: v for k, v in environ.items()
           if not k.startswith(("_ModuleTable", "__LMOD_REF_COUNT", "__MODULES_", "_LMFILES_", "LOADEDMODULES"))}
    env["MODULEPATH"] = ":".join(e for e in environ.get("MODULEPATH", "").split(":")
                                 if e and files.written_only_by_you_or_root(e, folder=True, owners=owners))
    return env


class Lmod(ModuleSystem):
    name = "Lmod"

    def available(self, owners=()):
        # spider: every module on MODULEPATH; 'avail -d': the default version of each (the marked
        # one, else the one Lmod would load). Both write their terse lists to standard error.
        env = trusted_env(owners=owners)
        everything = proc.run([*self.command, "bash", "-t", "spider"], env=env, what="Lmod spider", timeout=120)
        defaults = proc.run([*self.command, "bash", "-t", "-d", "avail"], env=env, what="Lmod avail", timeout=120)
        marked = set(parse_terse(defaults.stderr))
        return [(m, m in marked) for m in dict.fromkeys(parse_terse(everything.stderr))]


class EnvironmentModules(ModuleSystem):
    name = "Environment Modules"

    def available(self, owners=()):
        env = trusted_env(owners=owners)
        result = proc.run([*self.command, "bash", "avail", "--json"], env=env, what="module avail", timeout=120)
        found = parse_avail_json(result.stderr)
        if found is None:  # before version 5: no --json, a terse list with (default) marks
            result = proc.run([*self.command, "bash", "-t", "avail"], env=env, what="module avail", timeout=120)
            found = parse_avail_terse(result.stderr)
        return found


def parse_terse(text: str) -> list[str]:
    """NAME/VERSION lines of a terse listing (Lmod's ``-t spider`` and ``-t avail``): folder headers
    (``/path:``) and bare names (``Python/``) left out, marks such as ``(D)`` taken off."""
    found = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.endswith((":", "/")) or "/" not in line or line.startswith("/"):
            continue
        found.append(line.split("(", 1)[0].strip())
    return [m for m in found if m]


def parse_avail_terse(text: str) -> list[tuple[str, bool]]:
    """Environment Modules' ``-t avail``: NAME/VERSION lines, ``(default)`` (or ``(sym:default)``) marks."""
    found = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.endswith(":") or "/" not in line or line.startswith("/"):
            continue
        name, _, marks = line.partition("(")
        found.append((name.strip(), "default" in marks.rstrip(")").replace(":", ",").split(",")))
    return found


def parse_avail_json(text: str) -> list[tuple[str, bool]] | None:
    """Environment Modules 5's ``avail --json``: {folder: {NAME/VERSION: {"symbols": [...]}}}; None when
    the text is not that."""
    import json

    try:
        data = json.loads(text.strip() or "null")
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    found = []
    for entries in data.values():
        for name, entry in (entries.items() if isinstance(entries, dict) else ()):
            if isinstance(entry, dict) and entry.get("type", "modulefile") == "modulefile" and "/" in name:
                found.append((name, "default" in (entry.get("symbols") or [])))
    return found


def current(environ=None) -> ModuleSystem | None:
    environ = os.environ if environ is None else environ
    lmod = environ.get("LMOD_CMD")
    if lmod and os.path.isfile(lmod):
        return Lmod([lmod])
    modules_cmd = environ.get("MODULES_CMD")
    if modules_cmd and os.path.isfile(modules_cmd):
        if modules_cmd.endswith(".tcl"):
            return EnvironmentModules([shutil.which("tclsh") or "tclsh", modules_cmd])
        return EnvironmentModules([modules_cmd])
    return None
