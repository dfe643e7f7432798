#!/usr/bin/env python3
"""Start-up at scale: `import numpy` by 1, 2 and 4 concurrent ranks from the shared environment
and from the node-local copy made by `pyenvmod stage`, and what staging costs. Prints per rank
the file-system calls (strace -e trace=%file) that reach the environment's tree or its base
interpreter's prefix, and wall times; then the image format comparison: the unpacked tarball
(what stage does) against the same copy as a squashfs image mounted with squashfuse.
Target (issue 16): at most 20 such calls per rank after staging.

    python benchmarks/stage.py [--rounds 5] [--python 3.12]

Ranks are processes on this machine started together (one node); in an allocation the same
commands run under srun (see tests/test_stage.py, which does that on a real Slurm cluster).
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

sys.path.insert(0, os.path.dirname(__file__))
from _common import pyenvmod_bin, scratch_env  # noqa: E402

CODE = "import numpy; numpy.arange(10).sum()"


def ranks_wall(python, n, env, rounds) -> float:
    """Median wall time of n concurrent `python -c 'import numpy'`."""
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        procs = [subprocess.Popen([python, "-c", CODE], env=env) for _ in range(n)]
        if any(p.wait() for p in procs):
            sys.exit("a rank failed")
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def calls_per_rank(python, n, env, trees, tmp) -> list:
    """Per rank: strace'd file-system calls naming a path in ``trees``."""
    procs = []
    for rank in range(n):
        out = Path(tmp) / f"trace.{rank}"
        procs.append((out, subprocess.Popen(["strace", "-f", "-qq", "-e", "trace=%file", "-o", str(out),
                                             python, "-c", CODE], env=env)))
    counts = []
    for out, proc in procs:
        proc.wait()
        text = out.read_text(errors="replace")
        counts.append(sum(1 for line in text.splitlines() if any(f'"{t}/' in line or f'"{t}"' in line
                                                                 for t in trees)))
    return counts


def timed(cmd, env) -> float:
    start = time.perf_counter()
    result = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"failed: {cmd}\n{result.stderr}")
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--python", default="3.12")
    args = parser.parse_args()
    for tool in ("strace", "zstd"):
        if not shutil.which(tool):
            sys.exit(f"{tool} is needed")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        env = scratch_env(tmp / "root")
        env["PYENVMOD_STAGE_DIR"] = str(tmp / "local")
        pyenvmod = pyenvmod_bin()
        subprocess.run([pyenvmod, "create", "bench", "--python", args.python, "-p", "numpy"], env=env,
                       capture_output=True, check=True)
        tree = next((tmp / "root").iterdir())
        prefix = tree / "envs" / "bench"
        base = os.path.dirname(os.path.dirname(os.path.realpath(prefix / "bin" / "python")))
        trees = [str(tmp / "root"), base]
        pack = timed([pyenvmod, "pack", "bench"], env)
        image = tree / "images" / "bench" / "image.tar.zst"
        stage = timed([pyenvmod, "stage", "bench"], env)
        again = timed([pyenvmod, "stage", "bench"], env)
        copy = next(p for p in (tmp / "local").glob("pyenvmod-*/bench-*.*") if p.is_dir())
        size = sum(f.stat().st_size for f in copy.rglob("*") if f.is_file() and not f.is_symlink())
        print(f"pack (bytecode + image): {pack:.2f} s; image {image.stat().st_size >> 20} MB (tar.zst) "
              f"for {size >> 20} MB of files")
        print(f"stage on a node (unpack + relocate): {stage:.2f} s; again (copy current): {again:.2f} s")
        shared_python = str(prefix / "bin" / "python")
        staged_python = str(tree / "images" / "bench" / "bin" / "python")  # the launcher the module puts on PATH
        run_env = dict(env, PYENVMOD_SITE_PATH=str(prefix / "lib" / f"python{args.python}" / "site-packages"))
        print("ranks | fs calls per rank on shared trees: shared -> staged | wall time: shared -> staged")
        for n in (1, 2, 4):
            shared_calls = calls_per_rank(shared_python, n, run_env, trees, tmp)
            staged_calls = calls_per_rank(staged_python, n, run_env, trees, tmp)
            shared_t = ranks_wall(shared_python, n, run_env, args.rounds)
            staged_t = ranks_wall(staged_python, n, run_env, args.rounds)
            print(f"{n:5d} | {shared_calls} -> {staged_calls} | {shared_t * 1000:.0f} ms -> {staged_t * 1000:.0f} ms")
        fuse = shutil.which("squashfuse") and shutil.which("mksquashfs") and os.path.exists("/dev/fuse")
        if not fuse:
            print("squashfs comparison skipped: mksquashfs, squashfuse or /dev/fuse missing")
            return
        sqfs = tmp / "copy.sqfs"
        make = timed(["mksquashfs", str(copy), str(sqfs), "-comp", "zstd", "-noappend", "-quiet", "-no-progress"],
                     env)
        unpacked = copy.with_name(copy.name + ".unpacked")
        os.rename(copy, unpacked)
        copy.mkdir()
        try:
            mount = timed(["squashfuse", str(sqfs), str(copy)], env)
            print(f"squashfs of the same copy: {sqfs.stat().st_size >> 20} MB, made in {make:.2f} s, "
                  f"mounted in {mount * 1000:.0f} ms (tarball: unpacked in {stage:.2f} s)")
            for n in (1, 4):
                t = ranks_wall(staged_python, n, run_env, args.rounds)
                calls = calls_per_rank(staged_python, n, run_env, trees, tmp)
                print(f"{n:5d} ranks from squashfuse: {calls} calls, {t * 1000:.0f} ms")
        finally:
            subprocess.run(["fusermount", "-u", str(copy)], check=False)
            copy.rmdir()
            os.rename(unpacked, copy)
        for n in (1, 4):
            print(f"{n:5d} ranks from the unpacked copy: {ranks_wall(staged_python, n, run_env, args.rounds) * 1000:.0f}"
                  " ms")


if __name__ == "__main__":
    main()
