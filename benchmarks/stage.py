#!/usr/bin/env python3
"""Start-up at scale: `import numpy` by 1, 2 and 4 concurrent ranks from the shared environment
and from the node-local copy made by `pyenvmod stage`, and what staging costs. Prints per rank
the file-system calls (strace -e trace=%file) that reach the environment's tree or its base
interpreter's prefix, and wall times; then the image format comparison: the unpacked tarball
(what stage does) against the same copy as a squashfs image mounted with squashfuse.
Target (issue 16): at most 20 such calls per rank after staging.

Issue 25's ratios: `python -c pass` through the launcher against the copy's own python (CPU time
and wall time, interleaved; goal <= 1.05), `pack` against `tar | zstd -T0` of the same content
(goal <= 1.1); and with --nodes (root: starts the four-node test cluster of tests/slurm.py), for 2
and 4 nodes, the time until every node has its copy and the bytes read from the shared image
per job, 'pyenvmod stage NAME' in the job script (sbcast) against one srun task per node reading
the shared image. benchmarks/stage_model.py extrapolates these to 64 .. 10,000 nodes.

    python benchmarks/stage.py [--rounds 5] [--python 3.12] [--nodes] [--only-ratios]

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


def cpu_and_wall(cmd, env) -> tuple:
    """CPU time (user + system, of the process and its children) and wall time of one run."""
    start = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
        os.execve(cmd[0], cmd, env)
    _, status, usage = os.wait4(pid, 0)
    if status:
        sys.exit(f"failed: {cmd}")
    return usage.ru_utime + usage.ru_stime, time.perf_counter() - start


def launcher_ratio(copy_python, launcher, env, rounds) -> tuple:
    """Medians of (CPU, wall) of `python -c pass` through the launcher over the copy's python."""
    direct, through = [], []
    for _ in range(rounds):
        direct.append(cpu_and_wall([copy_python, "-c", "pass"], env))
        through.append(cpu_and_wall([launcher, "-c", "pass"], env))
    return tuple(statistics.median(t[i] for t in through) / statistics.median(d[i] for d in direct)
                 for i in (0, 1)), statistics.median(d[0] for d in direct)


def tar_zstd(source_trees, out: Path, env) -> tuple:
    """`tar | zstd -T0` of what pack puts in the image (the environment, the base interpreter's
    bin/python*, libpython and standard library without tests), the same compression level."""
    env_prefix, base = source_trees
    excludes = [f"--exclude={base}/lib/python*/{d}" for d in ("test", "idlelib", "site-packages", "config-*")]
    base_parts = [p for p in Path(base, "lib").iterdir() if p.name.startswith(("libpython", "python"))]
    base_parts += [p for p in Path(base, "bin").iterdir() if p.name.startswith("python")]
    cmd = (f"tar -cf - {' '.join(excludes)} {env_prefix} {' '.join(map(str, base_parts))} 2>/dev/null"
           f" | zstd -q -3 -T0 -c > {out}")
    return cpu_and_wall(["/bin/sh", "-c", cmd], env)


def nodes_section(pyenvmod, env, image: Path, copy_name: str) -> None:
    """2 and 4 nodes of the test cluster: time to staged on every node, image bytes read per job."""
    tests = Path(__file__).resolve().parent.parent / "tests"
    sys.path.insert(0, str(tests))
    import slurm  # noqa: E402
    from opens import OpenCounter  # noqa: E402

    size = image.stat().st_size
    with tempfile.TemporaryDirectory() as base:
        with slurm.running(Path(base)) as cluster:
            job_env = dict(env, SLURM_CONF=cluster.env["SLURM_CONF"], PYENVMOD_STAGE_DIR=str(cluster.node_local),
                           PATH=f"{os.path.dirname(pyenvmod)}:{env['PATH']}")
            print("nodes | time to staged on all nodes: per-node read -> sbcast | image bytes read per job: "
                  "per-node read -> sbcast")
            for n in (2, 4):
                results = {}
                per_node = f"srun --ntasks-per-node=1 -N {n} -n {n} pyenvmod stage -q bench"
                for way, line in (("per-node", per_node),
                                  ("sbcast", "pyenvmod stage -q bench")):
                    for node in slurm.NODES:
                        subprocess.run(["rm", "-rf", *map(str, cluster.disk(node).iterdir())], check=True)
                    script = f"s=$(date +%s.%N); {line} || exit 9; e=$(date +%s.%N); echo \"took $s $e\""
                    with OpenCounter(image) as opens:
                        out = subprocess.run(["salloc", "-Q", f"-N{n}", "--ntasks-per-node=1", "bash", "-c", script],
                                             env=job_env, capture_output=True, text=True, timeout=1800)
                    if out.returncode != 0:
                        sys.exit(f"the {way} job failed:\n{out.stdout}\n{out.stderr}")
                    _, start, end = next(ln for ln in out.stdout.splitlines() if ln.startswith("took ")).split()
                    staged = sum(any(p.name.startswith(copy_name) for p in cluster.disk(node).glob("pyenvmod-*/*"))
                                 for node in slurm.NODES)
                    if staged != n:
                        sys.exit(f"the {way} job staged {staged} of {n} nodes")
                    results[way] = (float(end) - float(start), opens.count * size)
                (t1, b1), (t2, b2) = results["per-node"], results["sbcast"]
                print(f"{n:5d} | {t1:.2f} s -> {t2:.2f} s ({t2 / t1:.2f}x) | {b1 >> 20} MB -> {b2 >> 20} MB "
                      f"({b2 / b1:.2f}x; image {size >> 20} MB)")
                # the parts, for benchmarks/stage_model.py: an empty step, and sbcast of the image alone
                parts = (f"s=$(date +%s.%N); srun --overlap -N {n} -n {n} --ntasks-per-node=1 true; "
                         f"m=$(date +%s.%N); sbcast {image} {cluster.node_local}/b.tar.zst; e=$(date +%s.%N); "
                         "echo \"parts $s $m $e\"")
                out = subprocess.run(["salloc", "-Q", f"-N{n}", "bash", "-c", parts], env=job_env,
                                     capture_output=True, text=True, timeout=1800)
                _, s0, s1, s2 = next(ln for ln in out.stdout.splitlines() if ln.startswith("parts ")).split()
                print(f"      parts on {n} nodes: empty srun step {float(s1) - float(s0):.2f} s, "
                      f"sbcast of the image {float(s2) - float(s1):.2f} s")


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
    parser.add_argument("--nodes", action="store_true", help="also 2 and 4 nodes of a real Slurm cluster (root)")
    parser.add_argument("--only-ratios", action="store_true", help="skip the per-rank and squashfs parts")
    args = parser.parse_args()
    for tool in ("strace", "zstd"):
        if not shutil.which(tool):
            sys.exit(f"{tool} is needed")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        env = scratch_env(tmp / "root")
        env["PYENVMOD_STAGE_DIR"] = str(tmp / "local")
        (tmp / "local").mkdir()  # the node-local folder the site provides; pyenvmod makes only its own in it
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
        packs, tars = [], []
        for _ in range(max(args.rounds, 5)):  # interleaved: the load of a shared machine hits both alike
            packs.append(cpu_and_wall([pyenvmod, "pack", "--force", "bench"], env))
            tars.append(tar_zstd((str(prefix), base), tmp / "plain.tar.zst", env))
        pack_cpu, pack_wall = (statistics.median(t[i] for t in packs) for i in (0, 1))
        tar_cpu, tar_wall = (statistics.median(t[i] for t in tars) for i in (0, 1))
        print(f"pack --force (bytecode current) against tar | zstd -T0 of the same content, medians of "
              f"{len(packs)}: wall {pack_wall:.2f} s / {tar_wall:.2f} s = {pack_wall / tar_wall:.2f}x, CPU "
              f"{pack_cpu:.2f} s / {tar_cpu:.2f} s = {pack_cpu / tar_cpu:.2f}x (goal <= 1.1)")
        (cpu, wall), own = launcher_ratio(str(copy / "env" / "bin" / "python"),
                                          str(tree / "images" / "bench" / "bin" / "python"),
                                          dict(env, PYENVMOD_SITE_PATH=str(prefix / "lib" / f"python{args.python}"
                                                                           / "site-packages")),
                                          max(args.rounds * 20, 100))
        print(f"python -c pass through the launcher / the copy's python ({own * 1000:.1f} ms CPU): "
              f"CPU {cpu:.3f}x, wall {wall:.3f}x (goal <= 1.05)")
        if args.nodes:
            nodes_section(pyenvmod, env, image, copy.name.split(".")[0])
        if args.only_ratios:
            return
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
