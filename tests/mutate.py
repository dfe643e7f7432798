"""Mutation testing of the core, in one command: mutmut 3 over the Python modules listed in
pyproject.toml's [tool.mutmut], and tests/mutate_text.py over the Lmod hooks and the
modulefile templates. Prints killed/total per module and every surviving mutant.

    .venv/bin/python -m pip install -q ".[test,mutation]"
    nice -n 19 .venv/bin/python tests/mutate.py            # both parts
    nice -n 19 .venv/bin/python tests/mutate.py --python  # mutmut only
    nice -n 19 .venv/bin/python tests/mutate.py --text    # hooks and templates only

Not part of CI: it takes tens of minutes. docs/development/testing.md records the latest
scores and why each survivor may live. mutmut names mutants after their file's path, and
the tests import `pyenvmod`, so mutmut runs in a staging copy where src/ holds
python-helpers/pyenvmod (mutmut strips "src." from module names); the copy is kept in
.cache/mutation/ for `mutmut show NAME` / `mutmut browse` there.
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import mutate_text  # noqa: E402

REPO = mutate_text.REPO
STAGE = REPO / ".cache" / "mutation"
KILLED = {"killed", "timeout", "segfault", "caught by type check"}


def run_mutmut(max_children: int, names=(), tests=(), forkserver=False) -> dict:
    """Run mutmut in a fresh staging copy; return {module: {"total", "killed", "survivors"}}.
    With tests, only those test files are run (a narrower selection than pyproject's: its
    score is a lower bound of the whole selection's, and mutmut's first pass is shorter)."""
    shutil.rmtree(STAGE, ignore_errors=True)
    STAGE.parent.mkdir(parents=True, exist_ok=True)
    staged = mutate_text.stage()
    shutil.move(str(staged), STAGE)
    if names:
        _mutate_only_what_is_named(STAGE / "pyproject.toml", names)
    if tests:
        _select_tests(STAGE / "pyproject.toml", tests)
    if forkserver:
        _fork_from_a_server(STAGE / "pyproject.toml")
    # the tests find Environment Modules under REPO/.cache, and REPO is mutants/ when mutmut runs them
    (STAGE / "mutants").mkdir()
    (STAGE / "mutants" / ".cache").symlink_to(REPO / ".cache")
    mutmut = Path(sys.executable).parent / "mutmut"
    if not mutmut.exists():
        raise SystemExit("mutate: mutmut is not installed; pip install '.[mutation]'")
    env = dict(os.environ, CI=os.environ.get("CI", "true"))
    env.pop("PYTHONPATH", None)
    run = subprocess.run([str(mutmut), "run", "--max-children", str(max_children), *names], cwd=STAGE, env=env)
    if run.returncode != 0:
        raise SystemExit(f"mutate: mutmut run failed ({run.returncode}); see {STAGE}")
    listing = subprocess.run([str(mutmut), "results", "--all", "true"], cwd=STAGE, env=env,
                             capture_output=True, text=True, check=True).stdout
    modules = defaultdict(lambda: {"total": 0, "killed": 0, "survivors": []})
    for line in listing.splitlines():
        match = re.match(r"\s*(\S+__mutmut_\d+): (.+)$", line)
        if not match:
            continue
        key, status = match.groups()
        if status == "not checked":  # outside the names asked for
            continue
        module = re.sub(r"\.(x_|xǁ).*$", "", key)
        modules[module]["total"] += 1
        if status in KILLED:
            modules[module]["killed"] += 1
        else:
            modules[module]["survivors"].append(f"{key} ({status})")
    return dict(sorted(modules.items()))


def _mutate_only_what_is_named(pyproject: Path, names) -> None:
    """Leave out of the staged copy's only_mutate the files no name can match: mutmut makes the
    mutants of every file in scope before it runs the few asked for, one file at a time with
    --max-children 1 (minutes for the whole scope)."""
    text = pyproject.read_text()
    prefixes = [re.split(r"[*?\[]", n, maxsplit=1)[0] for n in names]

    def wanted(match) -> bool:
        module = match.group(1)[len("src/"):-len(".py")].replace("/", ".").removesuffix(".__init__")
        return any(p.startswith(module + ".") or (module + ".").startswith(p) for p in prefixes)

    kept = re.sub(r'"(src/[^"]+\.py)",?\s*', lambda m: m.group(0) if wanted(m) else "", text)
    pyproject.write_text(kept)


def _select_tests(pyproject: Path, tests) -> None:
    """Make the staged copy's test selection exactly the given test files."""
    text = pyproject.read_text()
    listed = ", ".join(f'"{t}"' for t in tests)
    kept, count = re.subn(r"(?ms)^pytest_add_cli_args_test_selection = \[.*?^\]",
                          f"pytest_add_cli_args_test_selection = [{listed}]", text)
    if count != 1:
        raise SystemExit("mutate: pyproject.toml has no pytest_add_cli_args_test_selection to replace")
    pyproject.write_text(kept)


def _fork_from_a_server(pyproject: Path) -> None:
    """mutmut forks each mutant's worker from a server that never ran a test, not from its main process,
    which ran them all for its stats: a library whose threads a fork loses (py-rattler's async runtime,
    started by the conda tests) then works in every worker instead of hanging until the time limit."""
    text = pyproject.read_text()
    kept, count = re.subn(r"(?m)^\[tool\.mutmut\]$", '[tool.mutmut]\nprocess_isolation = "forkserver"', text)
    if count != 1:
        raise SystemExit("mutate: pyproject.toml has no [tool.mutmut] table")
    pyproject.write_text(kept)


def score(killed: int, total: int) -> str:
    return f"{killed}/{total} ({100 * killed / total:.0f}%)" if total else "0/0"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--python", action="store_true", help="run mutmut only")
    parser.add_argument("--text", action="store_true", help="run the hooks and templates part only")
    parser.add_argument("--max-children", type=int, default=2, help="mutmut's parallel workers (default 2)")
    parser.add_argument("--mutants", nargs="+", default=[], metavar="NAME",
                        help="mutmut only these mutants (names or globs, e.g. a previous run's survivors)")
    parser.add_argument("--tests", nargs="+", default=[], metavar="FILE",
                        help="run only these test files (tests/test_x.py) instead of pyproject's selection: "
                             "a quicker run whose score is a lower bound")
    parser.add_argument("--forkserver", action="store_true",
                        help="fork each mutant's worker from a clean server process, not from mutmut's main one "
                             "(needed by tests that start py-rattler's async runtime: operations/packages.py's)")
    args = parser.parse_args(argv)
    both = not (args.python or args.text)
    rows = []
    if both or args.python:
        for module, r in run_mutmut(args.max_children, args.mutants, args.tests, args.forkserver).items():
            rows.append((module, r["killed"], r["total"], r["survivors"]))
    if both or args.text:
        base = mutate_text.stage()
        try:
            mutate_text.prepare(base)
            for target in mutate_text.TARGETS.values():
                r = mutate_text.run_target(base, target, show_survivors=False)
                rows.append((r["name"], r["killed"], r["total"],
                             [f"line {ln}: {d}: {code}" for ln, d, code in r["survivors"]]))
        finally:
            shutil.rmtree(base, ignore_errors=True)
    print("\n| module | killed/total |\n| --- | --- |")
    for name, killed, total, _ in rows:
        print(f"| {name} | {score(killed, total)} |")
    for name, _, _, survivors in rows:
        for survivor in survivors:
            print(f"survived in {name}: {survivor}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
