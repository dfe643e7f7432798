"""A compiler/MPI module hierarchy as sites build it, in both formats: Core/gcc/12 and gcc/13 each
add their own branch to MODULEPATH, and each branch has its own openmpi/4 (built with that gcc).

Lmod: family("compiler") / family("mpi") so that a swap reloads openmpi from the new branch.
Environment Modules 5: `conflict gcc` and openmpi's `prereq gcc/V`, so that a switch reloads the
modules that depend on gcc (its automated module handling)."""

from pathlib import Path

VERSIONS = ("12", "13")


def make(root: Path) -> Path:
    """Write the hierarchy under ROOT; return its Core folder (the one to `module use`)."""
    core = root / "Core"
    for v in VERSIONS:
        branch = root / "gcc" / v
        (core / "gcc").mkdir(parents=True, exist_ok=True)
        (branch / "openmpi").mkdir(parents=True, exist_ok=True)
        (core / "gcc" / f"{v}.lua").write_text(
            f'family("compiler")\nsetenv("GCC_HOME", "/opt/gcc/{v}")\nprepend_path("MODULEPATH", "{branch}")\n')
        (core / "gcc" / v).write_text(
            f"#%Module1.0\nconflict gcc\nsetenv GCC_HOME /opt/gcc/{v}\nmodule use {branch}\n")
        (branch / "openmpi" / "4.lua").write_text(
            f'family("mpi")\nsetenv("MPI_HOME", "/opt/gcc{v}/openmpi/4")\n'
            f'prepend_path("PATH", "/opt/gcc{v}/openmpi/4/bin")\n')
        (branch / "openmpi" / "4").write_text(
            f"#%Module1.0\nprereq gcc/{v}\nsetenv MPI_HOME /opt/gcc{v}/openmpi/4\n"
            f"prepend-path PATH /opt/gcc{v}/openmpi/4/bin\n")
    return core


def modulefile(core: Path, modsys_name: str, module: str) -> str:
    """The file MODULE (gcc/V, or openmpi/4 as gcc/V/openmpi/4) is loaded from."""
    suffix = ".lua" if modsys_name == "lmod" else ""
    if module.count("/") == 1:
        return f"{core}/{module}{suffix}"
    return f"{core.parent}/{module}{suffix}"
