"""A small site module tree (both formats) for dependency tests: gcc, mpich, StdEnv."""

from pathlib import Path

MODULES = {
    "gcc/13.2": {"GCC_HOME": "/opt/gcc/13.2"},
    "gcc/14.1": {"GCC_HOME": "/opt/gcc/14.1"},
    "mpich/4.0": {"MPICH_HOME": "/opt/mpich/4.0"},
    "StdEnv/2025": {"SITE_STDENV": "2025"},
}


def make(root: Path, extra: dict | None = None) -> Path:
    """Write each module as NAME/VERSION.lua (Lmod) and NAME/VERSION (Tcl); return the tree."""
    for module, variables in {**MODULES, **(extra or {})}.items():
        folder = root / module.rsplit("/", 1)[0]
        folder.mkdir(parents=True, exist_ok=True)
        version = module.rsplit("/", 1)[1]
        home = next(iter(variables.values()))
        lua = [f'setenv("{k}", "{v}")' for k, v in variables.items()]
        lua.append(f'prepend_path("PATH", "{home}/bin")')
        lua.append(f'prepend_path("LD_LIBRARY_PATH", "{home}/lib")')
        (folder / f"{version}.lua").write_text("\n".join(lua) + "\n")
        tcl = ["#%Module1.0"] + [f"setenv {k} {v}" for k, v in variables.items()]
        tcl += [f"prepend-path PATH {home}/bin", f"prepend-path LD_LIBRARY_PATH {home}/lib"]
        (folder / version).write_text("\n".join(tcl) + "\n")
    return root
