#!/usr/bin/env python3
"""`pyenvmod create`, `install` and `update` against the same work done by the bare tools, with warm
caches; prints the ratios measured in this run (never a timed test).

  uv backend:   pyenvmod create / install / update   vs  uv venv --seed + uv pip install (--upgrade)
  venv backend: pyenvmod create --backend venv       vs  python -m venv + python -m pip install
  (and, as in issue 9: pyenvmod create (uv) vs python -m venv + pip install)

Targets (issue 14): at most 1.1x of the bare tools. The difference left is pyenvmod's own start-up
(Python and its imports) and its bookkeeping (metadata, modulefiles, history); the start-up of
``pyenvmod --version`` (Python alone, nothing imported) is printed beside it, and so is the floor for
any tool written in Python: the bare commands run by a Python program that does nothing else
(``python -c "subprocess.call(...)"``, on the interpreter pyenvmod runs on).

    python benchmarks/create.py [--rounds 3] [--python 3.12] [--packages requests packaging six]
"""

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(__file__))
from _common import pyenvmod_bin, scratch_env  # noqa: E402


def timed(cmd, setup, env) -> tuple:
    """(wall, CPU) seconds ``cmd`` takes (a shell line or an argv), after an untimed ``setup``. The
    CPU time (user + system, of the command and every helper it waited for) hardly moves when the
    machine is busy; the wall time does."""
    if setup:
        subprocess.run(setup, env=env, shell=isinstance(setup, str), capture_output=True, check=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    result = subprocess.run(cmd, env=env, shell=isinstance(cmd, str), capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        sys.exit(f"benchmark command failed: {cmd}\n{result.stderr}")
    return elapsed, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def wrapped(python, line: str) -> list:
    """``line`` (the bare commands) run by a Python program that does nothing else."""
    return [python, "-c", "import subprocess, sys; sys.exit(subprocess.call(sys.argv[1], shell=True))", line]


def interpreter(script: str) -> str:
    """The Python a console script runs on (its #! line)."""
    with open(script, encoding="utf-8") as fh:
        first = fh.readline()
    return first[2:].strip().split()[0] if first.startswith("#!") else sys.executable


def main():
    """The rounds, each pair of commands timed side by side, then the table. Over 60 lines: one script
    read top to bottom, the order of the measurements is the order of the lines."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--python", default="3.12", help="a version (found as pythonX.Y on PATH or in pyenv) or a path")
    parser.add_argument("--packages", nargs="+", default=["requests", "packaging", "six"])
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "python-helpers"))
    from pyenvmod.backends.uv import uv_binary
    from pyenvmod.backends.pythons import resolve

    python = resolve(args.python).executable
    uv = uv_binary()
    pyenvmod = pyenvmod_bin()
    pkgs = " ".join(args.packages)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        env = scratch_env(tmp / "root")
        n = iter(range(100_000))

        def fresh():
            return f"e{next(n)}"

        cases = {
            "create (uv)": (
                lambda: ([pyenvmod, "create", fresh(), "--no-kernel", "--python", python, "-p", *args.packages], None),
                lambda: (f"{uv} venv -q --seed --python {python} {tmp / (d := fresh())} && "
                         f"{uv} pip install -q --python {tmp / d}/bin/python {pkgs}", None)),
            "install (uv)": (
                lambda: ([pyenvmod, "install", (e := fresh()), *args.packages],
                         [pyenvmod, "create", e, "--no-kernel", "--python", python]),
                lambda: (f"{uv} pip install -q --python {tmp / (d := fresh())}/bin/python {pkgs}",
                         f"{uv} venv -q --seed --python {python} {tmp / d}")),
            "update (uv)": (
                lambda: ([pyenvmod, "update", (e := fresh())],
                         [pyenvmod, "create", e, "--no-kernel", "--python", python, "-p", *args.packages]),
                lambda: (f"{uv} pip install -q --upgrade --python {tmp / (d := fresh())}/bin/python {pkgs}",
                         f"{uv} venv -q --seed --python {python} {tmp / d} && "
                         f"{uv} pip install -q --python {tmp / d}/bin/python {pkgs}")),
            "create (venv)": (
                lambda: ([pyenvmod, "create", fresh(), "--no-kernel", "--backend", "venv", "--python", python,
                          "-p", *args.packages], None),
                lambda: (f"{python} -m venv {tmp / (d := fresh())} && {tmp / d}/bin/python -m pip install -q "
                         f"--disable-pip-version-check {pkgs}", None)),
        }
        results, floors = {}, {}
        own_python = interpreter(pyenvmod)
        startup = statistics.median(timed([pyenvmod, "--version"], None, env)[0] for _ in range(args.rounds))
        for label, (ours, theirs) in cases.items():
            timed(*ours(), env=env)  # warm the caches once
            timed(*theirs(), env=env)
            samples = []
            for _ in range(args.rounds):
                line, setup = theirs()
                floor = timed(wrapped(own_python, line), setup, env=env) if "uv" in label else (0, 0)
                samples.append((timed(*ours(), env=env), timed(*theirs(), env=env), floor))
            results[label] = tuple(statistics.median(s[side][kind] for s in samples) for kind in (0, 1)
                                   for side in (0, 1))
            floors[label] = statistics.median(s[2][0] for s in samples)
    print(f"{' '.join(args.packages)}, Python {args.python}, warm caches, median of {args.rounds}")
    for label, (ours, theirs, ours_cpu, theirs_cpu) in results.items():
        bare = "python -m venv + pip" if "venv" in label else "bare uv"
        print(f"  pyenvmod {label:14s} {ours * 1000:7.0f} ms   {bare:22s} {theirs * 1000:7.0f} ms   "
              f"ratio {ours / theirs:.2f}x  (+{(ours - theirs) * 1000:.0f} ms; target <= 1.1x)")
        print(f"  {'':23s} CPU {ours_cpu * 1000:5.0f} ms   {'':22s} CPU {theirs_cpu * 1000:5.0f} ms   "
              f"ratio {ours_cpu / theirs_cpu:.2f}x")
        if floors[label]:
            print(f"  {'':23s} the floor for a Python tool (bare uv run from python -c): {floors[label] * 1000:.0f} ms, "
                  f"ratio {floors[label] / theirs:.2f}x; pyenvmod / floor {ours / floors[label]:.2f}x")
    print(f"  of the difference, Python's start-up alone (pyenvmod --version): {startup * 1000:.0f} ms")
    uv_create, venv_pip = results["create (uv)"][0], results["create (venv)"][1]
    print(f"  pyenvmod create (uv) / python -m venv + pip: {uv_create / venv_pip:.2f}x  (issue 9 target <= 0.35x)")


if __name__ == "__main__":
    main()
