"""Bash sessions under a real module system for tests that load and unload modules: the
environment is saved at labelled points (a ``snap LABEL`` line) and compared afterwards."""

import shlex

from modsys import parse_env0, run_bash, user_env


def snapshots(modsys, env, body: str, tmp_path, module_paths=(), preset: str = "", timeout=300):
    """Run BODY in bash after the module system's init, ``module use`` of each of MODULE_PATHS and
    the PRESET lines. Returns (the completed process, {label: environment at its ``snap``})."""
    snaps = tmp_path / "snaps"
    snaps.mkdir(exist_ok=True)
    uses = "".join(f"module use {shlex.quote(str(path))}\n" for path in module_paths)
    script = (f"{modsys.init()}\n{uses}{preset}\n"
              f"snap() {{ env -0 > {shlex.quote(str(snaps))}/$1; }}\n{body}\n")
    result = run_bash(script, env, timeout=timeout)
    return result, {p.name: parse_env0(p.read_bytes()) for p in snaps.iterdir()}


def assert_restored(envs: dict, first: str = "before", last: str = "after") -> None:
    """The environment at LAST is the one at FIRST (the module systems' own bookkeeping aside)."""
    before, after = user_env(envs[first], envs[last])
    assert after == before


def modules_cmd_line(modsys) -> str:
    """Environment Modules' own init exports MODULES_CMD (pyenvmod finds the module system by it);
    the tests' bare ``module`` function does not: the line that does."""
    return f"export MODULES_CMD={shlex.quote(modsys.modulecmd())}" if modsys.name == "envmodules" else ""
