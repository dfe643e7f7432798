"""The real module systems the tests drive, one class each (as ReFrame does), and a bash runner.

A test gets a module system, asks it for the bash lines that set up ``module``, and
runs a script in a real ``bash`` subprocess with a clean environment.
"""

import contextlib
import glob
import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI", "").lower() == "true"


def require(ok: bool, what: str, how: str) -> None:
    """Skip when a real component is missing; in CI, fail instead (CI must run everything)."""
    if ok:
        return
    message = f"{what} is not available: {how}"
    if IN_CI:
        pytest.fail(message + " (CI=true: a missing component is a failure)")
    pytest.skip(message)


class ModuleSystem:
    name = ""

    def available(self) -> bool:
        raise NotImplementedError

    def how_to_get(self) -> str:
        raise NotImplementedError

    def init(self) -> str:
        """Bash lines that define ``module``."""
        raise NotImplementedError

    def require(self):
        require(self.available(), self.name, self.how_to_get())
        return self


class Lmod(ModuleSystem):
    name = "lmod"
    INIT = "/usr/share/lmod/lmod/init/bash"

    @staticmethod
    def modulecmd():
        return "/usr/share/lmod/lmod/libexec/lmod"

    def available(self):
        return os.path.exists(self.INIT)

    def how_to_get(self):
        return "apt-get install lmod"

    def init(self):
        return f"source {self.INIT}"


class EnvironmentModules(ModuleSystem):
    """Environment Modules 5, unpacked from the Debian package (it conflicts with lmod in apt)."""

    name = "envmodules"

    @staticmethod
    def modulecmd() -> str | None:
        candidates = [os.environ.get("PYENVMOD_TEST_MODULECMD", "")]
        candidates += glob.glob(str(REPO / ".cache" / "environment-modules" / "usr" / "lib" / "*" / "modulecmd.tcl"))
        candidates += glob.glob(str(REPO / ".cache" / "environment-modules" / "usr" / "lib" / "modulecmd.tcl"))
        return next((c for c in candidates if c and os.path.isfile(c)), None)

    def available(self):
        return self.modulecmd() is not None and shutil.which("tclsh") is not None

    def how_to_get(self):
        return "run tests/setup/get-environment-modules.sh (apt-get download + dpkg -x), and install tcl"

    def init(self):
        return f'module() {{ eval "$(tclsh {self.modulecmd()} bash "$@")"; }}'


MODULE_SYSTEMS = {cls.name: cls for cls in (Lmod, EnvironmentModules)}

# Variables a module system keeps for itself; everything else must be restored exactly.
BOOKKEEPING_PREFIXES = ("_ModuleTable", "__LMOD_", "__MODULES_", "_LMFILES_", "LOADEDMODULES")


@contextlib.contextmanager
def lmod_in_process(monkeypatch, tree: Path):
    """Real Lmod's command with ``tree`` as the only MODULEPATH, for a test that loads modules in-process;
    whatever the loads change in os.environ is put back afterwards."""
    Lmod().require()
    monkeypatch.setenv("LMOD_CMD", Lmod.modulecmd())
    monkeypatch.setenv("MODULEPATH", str(tree))
    saved = dict(os.environ)
    try:
        yield tree
    finally:
        os.environ.clear()
        os.environ.update(saved)


def user_env(diff_a: dict, diff_b: dict) -> tuple[dict, dict]:
    def clean(env):
        return {k: v for k, v in env.items() if not k.startswith(BOOKKEEPING_PREFIXES)}

    return clean(diff_a), clean(diff_b)


def parse_env0(data: bytes) -> dict:
    env = {}
    for item in data.split(b"\0"):
        if item:
            key, _, value = item.partition(b"=")
            env[key.decode()] = value.decode("utf-8", "replace")
    return env


def run_bash(script: str, env: dict, cwd=None, timeout=300, shell="bash") -> subprocess.CompletedProcess:
    args = [shell, "--norc", "--noprofile", "-c", script] if shell == "bash" else [shell, "-c", script]
    return subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)
