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


# --- the site's Python stack (issue 26): EasyBuild-style Python and GCCcore modules ---------------

def off_path_python(pyenv_root: str) -> tuple[str, str]:
    """(bin folder, X.Y.Z) of a CPython 3.10-3.13 that the clean test environment's PATH lacks:
    one pyenv built (the tests point PYENV_ROOT elsewhere, so only the module offers it)."""
    import glob
    import os
    import re
    import shutil

    for path in sorted(glob.glob(os.path.join(pyenv_root, "versions", "3.1[0-3].*", "bin")), reverse=True):
        version = os.path.basename(os.path.dirname(path))
        major_minor = ".".join(version.split(".")[:2])
        on_path = shutil.which(f"python{major_minor}", path="/usr/local/bin:/usr/bin:/bin")
        if re.fullmatch(r"3\.1[0-3]\.\d+", version) and not on_path and os.path.exists(f"{path}/python{major_minor}"):
            return path, version
    return "", ""


def _write(folder: Path, version: str, lua: list[str], tcl: list[str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{version}.lua").write_text("\n".join(lua) + "\n")
    (folder / version).write_text("\n".join(["#%Module1.0", *tcl]) + "\n")


def make_python_stack(root: Path, bindir: str, version: str, toolchain: str = "GCCcore/13.2.0") -> str:
    """A ``Python/VERSION-GCCcore-13.2.0`` module putting ``bindir`` on PATH and loading its
    ``GCCcore`` (as EasyBuild writes them), in both formats; returns the Python module's name."""
    tc_name, tc_version = toolchain.split("/")
    _write(root / tc_name, tc_version, [f'setenv("EBROOTGCCCORE", "/opt/{toolchain}")'],
           [f"setenv EBROOTGCCCORE /opt/{toolchain}"])
    module_version = f"{version}-{tc_name}-{tc_version}"
    _write(root / "Python", module_version,
           [f'depends_on("{toolchain}")', f'prepend_path("PATH", "{bindir}")', f'setenv("EBROOTPYTHON", "{bindir}")'],
           [f"depends-on {toolchain}", f"prepend-path PATH {bindir}", f"setenv EBROOTPYTHON {bindir}"])
    return f"Python/{module_version}"


def make_broken_python(root: Path, version: str = "3.14.0") -> str:
    """A ``Python/VERSION`` module whose load fails, in both formats."""
    _write(root / "Python", version, ['LmodError("this Python build is broken, see the site news")'],
           ['error "this Python build is broken, see the site news"'])
    return f"Python/{version}"


def make_bundle(root: Path, site: Path, python_module: str, module: str = "SciPy-bundle/2023.07-gfbf-2023b") -> str:
    """An EasyBuild-style bundle module: loads ``python_module`` and puts ``site`` (a folder of
    installed packages) on PYTHONPATH, in both formats; returns its name."""
    family, version = module.split("/")
    _write(root / family, version,
           [f'depends_on("{python_module}")', f'prepend_path("PYTHONPATH", "{site}")'],
           [f"depends-on {python_module}", f"prepend-path PYTHONPATH {site}"])
    return module
