#!/usr/bin/env python3
"""`module avail` under real Lmod with 1000 pyenv modules in the tree, without and with Lmod's
spider cache. Prints the times and their ratio measured in this run.

    python benchmarks/avail.py [--rounds 5] [--count 1000]
"""

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, os.path.dirname(__file__))
from _common import fabricate, median_time, pyenvmod_bin, scratch_env  # noqa: E402

LMOD_CMD = "/usr/share/lmod/lmod/libexec/lmod"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--count", type=int, default=1000)
    args = parser.parse_args()
    if not os.path.exists(LMOD_CMD):
        sys.exit("Lmod is not installed (apt-get install lmod)")
    with tempfile.TemporaryDirectory() as tmp:
        env = scratch_env(Path(tmp) / "root")
        env["HOME"] = str(Path(tmp) / "home")
        pyenvmod = pyenvmod_bin()
        subprocess.run([pyenvmod, "create", "seed"], env=env, capture_output=True, check=True)
        fabricate(env, "seed", args.count - 1)
        modules = subprocess.run([pyenvmod, "modulepath"], env=env, capture_output=True, text=True).stdout.strip()
        env["MODULEPATH"] = modules
        no_cache = median_time([LMOD_CMD, "bash", "--ignore_cache", "avail", "pyenv"], args.rounds, env)
        # Lmod writes the user spider cache when a command takes longer than LMOD_SHORT_TIME
        subprocess.run([LMOD_CMD, "bash", "avail"], env=dict(env, LMOD_SHORT_TIME="0"), capture_output=True)
        cached = median_time([LMOD_CMD, "bash", "avail", "pyenv"], args.rounds, env)
        shown = subprocess.run([LMOD_CMD, "bash", "avail", "pyenv"], env=env, capture_output=True,
                               text=True).stderr.count("pyenv/")
    print(f"module avail pyenv with {args.count} pyenv modules ({shown} listed), median of {args.rounds}")
    print(f"  without spider cache  {no_cache * 1000:8.1f} ms  ({no_cache / args.count * 1000:.2f} ms per module)")
    print(f"  with spider cache     {cached * 1000:8.1f} ms")
    print(f"ratio with cache / without: {cached / no_cache:.2f}x")


if __name__ == "__main__":
    main()
