#!/usr/bin/env python3
"""Cost of `module load pyenv/x` (with pyenvmod's Lmod hooks installed) versus a bare
modulefile that only prepends PATH, under real Lmod. Prints ratios measured in this run.

    python benchmarks/module_load.py [--rounds 40]

Each sample is one run of Lmod's own command (`$LMOD_CMD bash load NAME`, what the
`module` shell function runs), alternating between the cases so that machine noise
hits both alike; the ratio is of the medians. Target (issue 3): at most 1.2x.
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

LMOD_CMD = "/usr/share/lmod/lmod/libexec/lmod"


def pyenvmod(*args, env):
    cmd = [shutil.which("pyenvmod") or sys.exit("pyenvmod is not on PATH (pip install .)"), *args]
    result = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"pyenvmod {' '.join(args)} failed: {result.stderr.strip()}")
    return result.stdout.strip()


def sample(env, module) -> float:
    start = time.perf_counter()
    result = subprocess.run([LMOD_CMD, "bash", "load", module], env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if result.returncode != 0 or "PATH" not in result.stdout:
        sys.exit(f"module load {module} failed:\n{result.stderr}")
    return elapsed


def main():
    """The rounds, each pair of commands timed side by side, then the table. Over 60 lines: one script
    read top to bottom, the order of the measurements is the order of the lines."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=40)
    args = parser.parse_args()
    if not os.path.exists(LMOD_CMD):
        sys.exit("Lmod is not installed (apt-get install lmod)")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        # the caller's environment (package index and certificate settings), minus any module state
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("LMOD", "_ModuleTable", "__LMOD", "MODULE", "LOADEDMODULES", "_LMFILES_"))}
        env.update(PYENVMOD_ROOT=str(tmp / "root"), LANG="C.UTF-8")
        pyenvmod("create", "x", env=env)
        modules = pyenvmod("modulepath", env=env)
        bare = tmp / "bare" / "bare"
        bare.mkdir(parents=True)
        (bare / "1.0.lua").write_text(f'prepend_path("PATH", "{tmp}/bare-bin")\n')
        hooks = pyenvmod("site", "hooks", "--path", env=env)
        base = dict(env, MODULEPATH=f"{modules}:{tmp / 'bare'}", LMOD_AVAIL_STYLE="grouped:system")
        cases = {
            "bare, no hooks": (dict(base), "bare"),
            "bare, hooks installed": (dict(base, LMOD_PACKAGE_PATH=hooks), "bare"),
            "pyenv/x, no hooks": (dict(base), "pyenv/x"),
            "pyenv/x, hooks installed": (dict(base, LMOD_PACKAGE_PATH=hooks), "pyenv/x"),
        }
        prefix = subprocess.run([shutil.which("pyenvmod"), "list", "--json"], env=env, capture_output=True,
                                text=True).stdout
        import json

        prefix = json.loads(prefix)[0]["prefix"]
        times = {name: [] for name in cases}
        for _ in range(3):  # warm caches
            for env_, module in cases.values():
                sample(env_, module)
        for _ in range(args.rounds):
            for name, (env_, module) in cases.items():
                times[name].append(sample(env_, module))
        # in a shell, as users do it: module load (the eval included) versus source bin/activate
        hooks_env = cases["pyenv/x, hooks installed"][0]
        shell = {
            "bash: module load pyenv/x": f'eval "$({LMOD_CMD} bash load pyenv/x)"',
            "bash: source bin/activate": f"source {prefix}/bin/activate",
        }
        shell_times = {name: [] for name in shell}
        for _ in range(args.rounds):
            for name, line in shell.items():
                start = time.perf_counter()
                subprocess.run(["bash", "--norc", "--noprofile", "-c", line], env=hooks_env, check=True,
                               capture_output=True)
                shell_times[name].append(time.perf_counter() - start)
    medians = {name: statistics.median(t) for name, t in times.items()}
    shell_medians = {name: statistics.median(t) for name, t in shell_times.items()}
    print(f"module load under real Lmod, median of {args.rounds} runs each")
    for name, value in medians.items():
        print(f"  {name:28s} {value * 1000:7.1f} ms")
    target = medians["pyenv/x, hooks installed"] / medians["bare, no hooks"]
    print(f"ratio pyenv/x with hooks / bare PATH-only modulefile:      {target:.2f}x  (target <= 1.20x)")
    print(f"ratio pyenv/x with hooks / bare, both with hooks installed: "
          f"{medians['pyenv/x, hooks installed'] / medians['bare, hooks installed']:.2f}x")
    print(f"ratio pyenv/x / bare, no hooks:                             "
          f"{medians['pyenv/x, no hooks'] / medians['bare, no hooks']:.2f}x")
    for name, value in shell_medians.items():
        print(f"  {name:28s} {value * 1000:7.1f} ms")
    ratio = shell_medians["bash: module load pyenv/x"] / shell_medians["bash: source bin/activate"]
    print(f"ratio module load pyenv/x / source bin/activate (in bash): {ratio:.2f}x")


if __name__ == "__main__":
    main()
