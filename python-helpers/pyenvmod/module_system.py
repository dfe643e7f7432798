"""The module system pyenvmod itself runs under, to load a spec's modules into its own process
(so that a package built from source links against the right compiler and MPI).

One class per module system, found from the variables their shell set-up exports:
Lmod's ``LMOD_CMD`` and Environment Modules' ``MODULES_CMD``. Both print Python code
for ``python load ...`` that updates ``os.environ``; that is how their own Python
bindings load modules.
"""

import os
import shutil

from pyenvmod import proc
from pyenvmod.errors import PyenvmodError


class ModuleSystem:
    name = ""

    def __init__(self, command: list):
        self.command = command

    def load(self, modules: list[str]) -> None:
        """Load ``modules`` into this process; a module that cannot be loaded is an error."""
        if not modules:
            return
        result = proc.run([*self.command, "python", "load", *modules], what=f"{self.name} module load")
        namespace = {"os": os}
        code = result.stdout
        if result.returncode == 0 and "_mlstatus = False" not in code:
            exec(compile(code, f"<{self.name} python load>", "exec"), namespace)  # the module system's own output
        if result.returncode != 0 or namespace.get("_mlstatus") is False or "_mlstatus = False" in code:
            message = " ".join(ln.strip() for ln in result.stderr.splitlines() if ln.strip()) or "unknown error"
            raise PyenvmodError(f"cannot load the modules {' '.join(modules)} with {self.name}: {message[:300]}; "
                                "check the names with 'module avail' (or edit the modules listed in the spec)")


class Lmod(ModuleSystem):
    name = "Lmod"


class EnvironmentModules(ModuleSystem):
    name = "Environment Modules"


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
