"""Shared by the benchmark scripts: timing, a scratch pyenvmod root, fabricated registrations."""

import os
import shutil
import statistics
import subprocess
import sys
import time


def median_time(cmd, rounds, env=None, shell=False) -> float:
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        result = subprocess.run(cmd, env=env, shell=shell, capture_output=True, text=True)
        samples.append(time.perf_counter() - start)
        if result.returncode != 0:
            sys.exit(f"benchmark command failed: {cmd}\n{result.stderr}")
    return statistics.median(samples)


def scratch_env(root) -> dict:
    """The caller's environment (package index and certificate settings), minus module state."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("LMOD", "_ModuleTable", "__LMOD", "MODULE", "LOADEDMODULES", "_LMFILES_"))}
    env.update(PYENVMOD_ROOT=str(root), LANG="C.UTF-8")
    return env


def pyenvmod_bin() -> str:
    return shutil.which("pyenvmod") or sys.exit("pyenvmod is not on PATH (pip install .)")


def fabricate(env: dict, template_name: str, count: int, prefix="fake") -> None:
    """Register ``count`` environments that share one real interpreter (symlinked), with real
    metadata and modulefiles written by pyenvmod's own code: what list and avail read."""
    os.environ.update(PYENVMOD_ROOT=env["PYENVMOD_ROOT"])
    from pyenvmod import config
    from pyenvmod.modules import modulefiles
    from pyenvmod.records import metadata
    from pyenvmod.operations.common import layout_for, load_record, write_modulefiles

    cfg = config.load()
    layout = layout_for(cfg)
    template = load_record(layout, template_name)
    for i in range(count):
        name = f"{prefix}{i:04d}"
        if layout.meta_file(name).exists():
            continue
        env_dir = layout.prefix(name)
        (env_dir / "bin").mkdir(parents=True)
        os.symlink(os.path.join(template.prefix, "bin", "python"), env_dir / "bin" / "python")
        record = template.replace(name=name, prefix=str(env_dir), module=layout.module_name(name, template.tag))
        write_modulefiles(layout, record, modulefiles.options_from(cfg))  # and the stage launchers
        metadata.write(layout.meta_file(name), record)
