#!/usr/bin/env python3
"""`pyenvmod create` (uv backend) versus `python -m venv` + `pip install` of the same packages,
both with warm caches. Prints the ratio measured in this run. Target (issue 9): at most 0.35x.

    python benchmarks/create.py [--rounds 3] [--packages requests packaging]
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, os.path.dirname(__file__))
from _common import median_time, pyenvmod_bin, scratch_env  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--packages", nargs="+", default=["requests", "packaging", "six"])
    args = parser.parse_args()
    python = shutil.which("python3")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        env = scratch_env(tmp / "root")
        counter = iter(range(10_000))

        def pyenvmod_create():
            return [pyenvmod_bin(), "create", f"b{next(counter)}", "--python", python, "-p", *args.packages]

        def venv_pip():
            target = tmp / f"v{next(counter)}"
            return (f"{python} -m venv {target} && {target}/bin/python -m pip install -q "
                    f"--disable-pip-version-check {' '.join(args.packages)}")

        # warm both caches once
        subprocess.run(pyenvmod_create(), env=env, capture_output=True, check=True)
        subprocess.run(venv_pip(), env=env, shell=True, capture_output=True, check=True)
        ours = [median_time(pyenvmod_create(), 1, env) for _ in range(args.rounds)]
        theirs = [median_time(venv_pip(), 1, env, shell=True) for _ in range(args.rounds)]
    ours_t, theirs_t = sorted(ours)[len(ours) // 2], sorted(theirs)[len(theirs) // 2]
    print(f"create with {' '.join(args.packages)}, warm caches, median of {args.rounds}")
    print(f"  pyenvmod create (uv, modulefiles, metadata, history)  {ours_t * 1000:8.0f} ms")
    print(f"  python -m venv + pip install                        {theirs_t * 1000:8.0f} ms")
    print(f"ratio pyenvmod create / venv+pip: {ours_t / theirs_t:.2f}x  (target <= 0.35x)")


if __name__ == "__main__":
    main()
