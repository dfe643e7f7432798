#!/usr/bin/env python3
"""Start-up cost: `pyenvmod --version` and `pyenvmod list` versus `python -c pass`, `list`
with 10, 100 and 1000 environments, and `pyenvmod prefix` without and with a site
configuration file (the second time: its parsed entries come from the user's cache), and with one
that locks keys (parsed every time).
Prints ratios measured in this run.
Targets (issue 9): --version at most 2x `python -c pass`; list linear, at most 2 ms per env.

    python benchmarks/startup.py [--rounds 15]
"""

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, os.path.dirname(__file__))
from _common import fabricate, median_time, pyenvmod_bin, scratch_env  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = scratch_env(Path(tmp) / "root")
        pyenvmod = pyenvmod_bin()
        python = os.path.join(os.path.dirname(pyenvmod), "python")
        subprocess.run([pyenvmod, "create", "seed"], env=env, capture_output=True, check=True)
        base = median_time([python, "-c", "pass"], args.rounds, env)
        version = median_time([pyenvmod, "--version"], args.rounds, env)
        print(f"python -c pass {base * 1000:.1f} ms, pyenvmod --version {version * 1000:.1f} ms")
        print(f"ratio pyenvmod --version / python -c pass: {version / base:.2f}x  (target <= 2x)")
        prefix = median_time([pyenvmod, "prefix", "seed"], args.rounds, env)
        site = Path(tmp) / "site.yaml"
        site.write_text("backend: uv\nkernel: false\nlock_timeout: 60\nno_binary: [mpi4py]\n")
        site.chmod(0o644)
        with_site = dict(env, PYENVMOD_SITE_CONFIG=str(site), XDG_CACHE_HOME=str(Path(tmp) / "cache"))
        median_time([pyenvmod, "prefix", "seed"], 1, with_site)  # parses it once, and keeps it
        cached = median_time([pyenvmod, "prefix", "seed"], args.rounds, with_site)
        print(f"pyenvmod prefix {prefix * 1000:.1f} ms; with a site configuration file {cached * 1000:.1f} ms "
              f"(ratio {cached / prefix:.2f}x; parsed entries from the user's cache)")
        # a site file that locks keys is parsed every time (the user's cache must not drop a lock)
        site.write_text(site.read_text() + "locked: [backend]\n")
        locking = median_time([pyenvmod, "prefix", "seed"], args.rounds, with_site)
        print(f"pyenvmod prefix with a site file that locks keys {locking * 1000:.1f} ms "
              f"(ratio {locking / prefix:.2f}x; parsed every time: the YAML parser's import)")
        results = {}
        for count in (10, 100, 1000):
            fabricate(env, "seed", count - 1)
            results[count] = median_time([pyenvmod, "list", "--json"], max(3, args.rounds // 3), env)
            print(f"pyenvmod list, {count:4d} environments: {results[count] * 1000:7.1f} ms "
                  f"({(results[count] - base) / count * 1000:.2f} ms per environment beyond python start-up)")
        print(f"ratio pyenvmod list (1 env... 10 envs) / python -c pass: {results[10] / base:.2f}x")
        per_env = (results[1000] - results[100]) / 900 * 1000
        print(f"list scaling: {per_env:.2f} ms per environment between 100 and 1000 (target <= 2 ms); "
              f"1000/100 time ratio {results[1000] / results[100]:.1f}x")


if __name__ == "__main__":
    main()
