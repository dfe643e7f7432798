"""Line-level mutation testing of what mutmut cannot read: the Lmod hooks (Lua) and the
modulefile templates (Jinja2 producing Lua and Tcl).

Each mutant changes one line of one file in a staging copy of the repository (drop the
line; flip == ~= != < >= > <= eq ne; swap and/or, && ||; empty one string literal; make an
if/elseif/{% if %} condition false) and runs the fast tests that cover the file, stopping at
the first failure. A mutant that no test notices "survived".

    .venv/bin/python tests/mutate_text.py [TARGET ...] [--list] [--show-survivors]

Run it through tests/mutate.py, which also runs mutmut and prints one table. Not part of
CI (minutes, not seconds). The staging copy is used with PYTHONPATH=<copy>/src, so pyenvmod
finds the templates and hooks of the copy (resources.py falls back to the repository layout).
"""

import argparse
import os
import re
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Target:
    name: str  # the name in the score table
    path: str  # relative to the repository
    language: str  # lua, tcl: the language of the code lines
    tests: tuple  # pytest arguments: the fast tests that cover it, quickest first
    start: str = ""  # mutate from the first line matching this regex (skips help text and headers)


TEMPLATE_TESTS = "not byte_for_byte and not any_environment_name and not name_rule and not module_names_with"
TARGETS = {t.name: t for t in (
    Target("lmod-hooks/pyenvmod_hooks.lua", "lmod-hooks/pyenvmod_hooks.lua", "lua",
           ("tests/test_hooks.py", "tests/test_usage_log.py", "tests/test_hooks_more.py"),
           start=r"^local M = \{\}"),
    # the templates' load/unload logic: the in-process fakes first (quick), then the real module
    # systems, and the tombstone a deleted environment leaves; the value round-trip properties
    # test quoting (mutmut's part), not this logic
    Target("templates/modulefile.lua.j2", "modulefiles-templates/modulefile.lua.j2", "lua",
           ("tests/test_render.py", "tests/test_modulefile_guards.py", "tests/test_tombstones.py", "-k", TEMPLATE_TESTS),
           start=r"^local prefix ="),
    Target("templates/modulefile.tcl.j2", "modulefiles-templates/modulefile.tcl.j2", "tcl",
           ("tests/test_tcl_modulefile_units.py", "tests/test_render.py", "tests/test_modulefile_guards.py",
            "tests/test_tombstones.py", "-k", TEMPLATE_TESTS),
           start=r"^set prefix "),
    # the launcher of a staged copy (issue 23): real /bin/sh runs of it, on real folders
    Target("templates/stage-launcher.sh.j2", "modulefiles-templates/stage-launcher.sh.j2", "sh",
           ("tests/test_guards_staging.py", "tests/test_stage_units.py", "-k", "launcher"), start=r"^stamp_file="),
    # the activation scripts for users without a module system (issue 23): sourced in the real shells
    Target("templates/activate.sh.j2", "modulefiles-templates/activate.sh.j2", "sh",
           ("tests/test_activation_units.py", "tests/test_shells.py")),
    Target("templates/activate.csh.j2", "modulefiles-templates/activate.csh.j2", "csh",
           ("tests/test_activation_units.py", "tests/test_shells.py")),
    Target("templates/deactivate.csh.j2", "modulefiles-templates/deactivate.csh.j2", "csh",
           ("tests/test_activation_units.py", "tests/test_shells.py")),
    Target("templates/activate.fish.j2", "modulefiles-templates/activate.fish.j2", "fish",
           ("tests/test_activation_units.py", "tests/test_shells.py")),
    # the Jupyter kernel's launcher: real bash runs of it, with and without a real module system
    Target("templates/kernel-launcher.sh.j2", "modulefiles-templates/kernel-launcher.sh.j2", "sh",
           ("tests/test_kernel_launcher_units.py",), start=r"^prefix="),
)}

# Lines that only close or continue a block: dropping them is a syntax error, not a mutant.
STRUCTURE = re.compile(r"^\s*(end[),]*|else|fi|esac|\}|\}\s*else\s*\{|\{%-?\s*(end\w+|else)\s*-?%\}|\)|\]|return M)\s*$")
STRING = re.compile(r'"(?:[^"\\]|\\.)*"' + r"|'(?:[^'\\]|\\.)*'")


def comment_start(line: str, language: str) -> bool:
    text = line.strip()
    return not text or text.startswith("--" if language == "lua" else "#") or text.startswith("{#")


def masked(line: str) -> str:
    """The line with string literals blanked out, so operators inside strings are left alone."""
    return STRING.sub(lambda m: m.group(0)[0] + "\0" * (len(m.group(0)) - 2) + m.group(0)[-1], line)


def operator_mutants(line: str, language: str):
    """(description, new line) for each operator flip, one occurrence at a time."""
    code = masked(line)
    flips = [(r"==", "~=" if language == "lua" else "!="), (r"~=", "=="), (r"!=", "=="),
             (r"(?<![<>=~!])>=", "<"), (r"(?<![<>=~!])<=", ">"),
             (r"(?<![<>=~!-])>(?![=>])", "<="), (r"(?<![<>=~!])<(?![=<])", ">="),
             (r"\band\b", "or"), (r"\bor\b", "and"), (r"&&", "||"), (r"\|\|", "&&")]
    if language == "tcl":
        flips += [(r"\beq\b", "ne"), (r"\bne\b", "eq")]
    for pattern, replacement in flips:
        for match in re.finditer(pattern, code):
            if "{%" in code and code.find("{%") < match.start() and replacement in ("or", "and", "!=", "=="):
                pass  # Jinja conditions: flipped like the rest
            new = line[:match.start()] + replacement + line[match.end():]
            yield f"{match.group(0)} -> {replacement}", new


SHELL_CONDITIONS = {  # a condition made false, in each shell's own syntax
    "sh": [(r"^(\s*(?:if|elif)\s+)(.+?)(;\s*then\b.*)$", "false")],
    "csh": [(r"^(\s*(?:else\s+)?if\s*\()(.+)(\)\s*then\b.*)$", " 0 ")],
    "fish": [(r"^(\s*(?:else\s+)?if\s+)(.+?)(;.*)$", "false")],
}


def branch_mutants(line: str, language: str):
    patterns = [(r"^(\s*\{%-?\s*(?:if|elif)\s+)(.+?)(\s*-?%\}.*)$", "false")]  # Jinja
    if language in SHELL_CONDITIONS:
        patterns += SHELL_CONDITIONS[language]
    else:
        patterns.append((r"^(\s*(?:if|elseif)\s+)(.+?)(\s+then\b.*)$", "false"))  # Lua
    if language == "tcl":
        patterns.append((r"^(\s*(?:if|\}\s*elseif)\s*\{)(.+?)(\}\s*\{.*)$", "0"))
    for pattern, false in patterns:
        match = re.match(pattern, line)
        if match:
            yield "condition -> " + false, match.group(1) + false + match.group(3)


def string_mutants(line: str):
    for match in STRING.finditer(line):
        if len(match.group(0)) > 2:
            quote = match.group(0)[0]
            yield f"{match.group(0)[:20]} -> {quote}{quote}", line[:match.start()] + quote * 2 + line[match.end():]


def mutants(text: str, target: Target):
    """Every (line number, description, mutated text) of a file."""
    lines = text.splitlines(keepends=True)
    started = not target.start
    in_jinja_comment = False
    for index, line in enumerate(lines):
        body = line.rstrip("\n")
        if not started:
            started = bool(re.search(target.start, body))
            if not started:
                continue
        if in_jinja_comment or body.lstrip().startswith("{#"):
            in_jinja_comment = "#}" not in body
            continue
        if comment_start(body, target.language) or STRUCTURE.match(body):
            continue
        found = [("drop the line", "")]
        found += list(branch_mutants(body, target.language))
        found += list(operator_mutants(body, target.language))
        found += list(string_mutants(body))
        for description, new in found:
            if new == body:
                continue
            mutated = lines[:index] + [new + "\n" if new else "\n"] + lines[index + 1:]
            yield index + 1, description, "".join(mutated)


def stage() -> Path:
    """A copy of what the tests need; src/pyenvmod without package data, so templates and
    hooks come from the copy's own modulefiles-templates/ and lmod-hooks/."""
    base = Path(tempfile.mkdtemp(prefix="pyenvmod-mutate-"))
    shutil.copytree(REPO / "python-helpers" / "pyenvmod", base / "src" / "pyenvmod",
                    ignore=shutil.ignore_patterns("__pycache__", "data"))
    for folder in ("modulefiles-templates", "lmod-hooks", "tests"):
        shutil.copytree(REPO / folder, base / folder, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy2(REPO / "pyproject.toml", base / "pyproject.toml")
    (base / ".cache").symlink_to(REPO / ".cache")  # Environment Modules, download caches
    return base


def prepare(base: Path) -> None:
    """Import what every test run needs once, in this process, so that each mutant's run is a
    fork that starts at the tests (as mutmut does): pytest, hypothesis, lupa, jinja2 and the
    staged pyenvmod, whose templates and hooks are the staged, mutated files."""
    os.environ["CI"] = os.environ.get("CI", "true")
    os.environ["PYTHONPATH"] = str(base / "src")  # for any subprocess a test starts
    sys.path.insert(0, str(base / "src"))
    import hypothesis  # noqa: F401
    import jinja2  # noqa: F401
    import pytest  # noqa: F401

    import pyenvmod.modules.modulefiles  # noqa: F401
    import pyenvmod.modules.render

    assert Path(pyenvmod.modules.render.__file__).is_relative_to(base), "pyenvmod must come from the staging copy"
    try:
        import lupa.lua53  # noqa: F401
        import lupa.lua54  # noqa: F401
    except ImportError:
        pass


def run_tests(base: Path, tests, timeout: float) -> int:
    """Run the tests in a forked child; its exit status (a timeout kills it: counted as killed)."""
    pid = os.fork()
    if pid == 0:
        try:
            import signal

            import pytest

            signal.alarm(max(1, int(timeout)))
            os.chdir(base)
            null = os.open(os.devnull, os.O_WRONLY)
            os.dup2(null, 1)
            os.dup2(null, 2)
            code = pytest.main(["-x", "-q", "-p", "no:cacheprovider", "-p", "no:randomly", "-m", "not slow",
                                *tests])
            os._exit(int(code))
        except BaseException:
            os._exit(99)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def run_target(base: Path, target: Target, show_survivors: bool, only_lines=()) -> dict:
    """Mutate one file of the staging copy line by line; prepare(base) must have run.
    ``only_lines``: mutate just these line numbers (to check that new tests kill survivors)."""
    path = base / target.path
    original = path.read_text()
    start = time.monotonic()
    if run_tests(base, target.tests, 900) != 0:
        raise SystemExit(f"mutate_text: the tests of {target.name} fail without any mutation: {target.tests}")
    timeout = max(60.0, 5 * (time.monotonic() - start))
    found = [m for m in mutants(original, target) if not only_lines or m[0] in only_lines]
    survivors = []
    try:
        for number, (line, description, text) in enumerate(found, 1):
            path.write_text(text)
            code = run_tests(base, target.tests, timeout)
            if code == 0:
                survivors.append((line, description, original.splitlines()[line - 1].strip()))
                if show_survivors:
                    print(f"  survived {target.path}:{line}: {description}: {survivors[-1][2]}", flush=True)
            print(f"\r  {target.name}: {number}/{len(found)} mutants, {len(survivors)} survived", end="",
                  file=sys.stderr, flush=True)
    finally:
        path.write_text(original)
        print(file=sys.stderr)
    return {"name": target.name, "total": len(found), "killed": len(found) - len(survivors), "survivors": survivors}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("targets", nargs="*", choices=[[], *TARGETS], metavar="TARGET",
                        help=f"what to mutate (default: all): {', '.join(TARGETS)}")
    parser.add_argument("--list", action="store_true", help="print the mutants without running them")
    parser.add_argument("--show-survivors", action="store_true", help="print each survivor as it is found")
    parser.add_argument("--only", type=lambda v: {int(n) for n in v.split(",")}, default=set(), metavar="LINES",
                        help="mutate only these line numbers (comma-separated), e.g. a previous run's survivors")
    args = parser.parse_args(argv)
    targets = [TARGETS[n] for n in args.targets] or list(TARGETS.values())
    if args.list:
        for target in targets:
            for line, description, _ in mutants((REPO / target.path).read_text(), target):
                print(f"{target.path}:{line}: {description}")
        return 0
    base = stage()
    try:
        prepare(base)
        results = [run_target(base, t, args.show_survivors, args.only) for t in targets]
    finally:
        shutil.rmtree(base, ignore_errors=True)
    for r in results:
        print(f"{r['name']}: {r['killed']}/{r['total']} killed ({100 * r['killed'] / max(r['total'], 1):.0f}%)")
        for line, description, code in r["survivors"]:
            print(f"  survived line {line}: {description}: {code}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
