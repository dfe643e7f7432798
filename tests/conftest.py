"""Shared fixtures: an isolated pyenvmod root and home, the real CLI, real module systems."""

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from modsys import MODULE_SYSTEMS, REPO

# Package downloads are shared between tests (and runs) so each create is fast.
CACHE = Path(os.environ.get("PYENVMOD_TEST_CACHE", REPO / ".cache" / "test-cache"))
PYENV_ROOT = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")


MUTANT_TEST_LIMIT = float(os.environ.get("MUTANT_TEST_LIMIT", "120"))  # seconds; a fast-tier test takes a few


@pytest.fixture(autouse=True)
def _mutant_watchdog():
    """Under mutmut only (it sets MUTANT_UNDER_TEST): a test that runs over MUTANT_TEST_LIMIT
    seconds fails, so a mutant that blocks (an open of a FIFO without O_NONBLOCK, a loop that
    never ends) is counted killed instead of hanging the run. mutmut's own limit is on CPU
    time, which a blocked call does not use."""
    if not os.environ.get("MUTANT_UNDER_TEST") or threading.current_thread() is not threading.main_thread():
        yield
        return

    def expired(signum, frame):
        raise TimeoutError(f"mutant watchdog: the test ran over {MUTANT_TEST_LIMIT} s")

    before = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, MUTANT_TEST_LIMIT)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, before)


def _entry_point() -> str:
    script = Path(sys.executable).parent / "pyenvmod"
    if not script.exists():
        pytest.fail(f"the pyenvmod entry point is not installed beside {sys.executable}; pip install .[test]")
    return str(script)


def clean_env(base: Path) -> dict:
    """A clean process environment under ``base``: own HOME and root, system PATH plus pyenvmod."""
    home = base / "home"
    bindir = base / "bin"
    home.mkdir(parents=True, exist_ok=True)
    bindir.mkdir(exist_ok=True)
    if not (bindir / "pyenvmod").exists():
        (bindir / "pyenvmod").symlink_to(_entry_point())
    result = {
        "HOME": str(home),
        "USER": os.environ.get("USER", "root"),
        "LANG": "C.UTF-8",
        "PATH": os.pathsep.join([str(bindir), "/usr/local/bin", "/usr/bin", "/bin"]),
        "PYENVMOD_ROOT": str(base / "root"),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "PYENVMOD_SITE_CONFIG": str(base / "no-site-config.yaml"),
        "UV_CACHE_DIR": str(CACHE / "uv"),
        "PIP_CACHE_DIR": str(CACHE / "pip"),
        "PYENV_ROOT": PYENV_ROOT,
    }
    for key, value in os.environ.items():
        if key.startswith(("PIP_", "UV_INDEX", "UV_EXTRA_INDEX", "UV_FIND_LINKS", "SSL_CERT")) and key not in result:
            result[key] = value
    return result


@pytest.fixture
def home(env) -> Path:
    return Path(env["HOME"])


@pytest.fixture
def env(tmp_path) -> dict:
    return clean_env(tmp_path)


@pytest.fixture
def root(env) -> Path:
    return Path(env["PYENVMOD_ROOT"])


class Cli:
    """Runs the installed ``pyenvmod`` command for real."""

    def __init__(self, env):
        self.env = env

    def __call__(self, *args, check=True, input=None, timeout=600, extra_env=None):
        env = dict(self.env, **(extra_env or {}))
        result = subprocess.run(["pyenvmod", *map(str, args)], env=env, input=input, capture_output=True,
                                text=True, timeout=timeout, stdin=None if input is not None else subprocess.DEVNULL)
        if check and result.returncode != 0:
            raise AssertionError(f"pyenvmod {' '.join(map(str, args))} failed ({result.returncode}):\n"
                                 f"{result.stdout}\n{result.stderr}")
        return result


@pytest.fixture
def cli(env) -> Cli:
    return Cli(env)


@pytest.fixture(params=sorted(MODULE_SYSTEMS))
def modsys(request):
    return MODULE_SYSTEMS[request.param]().require()


def assert_one_line_error(result, *fragments):
    """A failure: non-zero exit, one line on stderr naming the problem, no traceback."""
    assert result.returncode != 0, result.stdout
    lines = [ln for ln in result.stderr.splitlines() if ln.startswith("pyenvmod: error:")]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def leftovers(root: Path) -> list[str]:
    """Everything under the root that is an environment, modulefile or metadata (the hidden
    tombstones a delete leaves while a shell may have the module loaded are not: tombstones.py)."""
    found = []
    for kind in ("envs", "meta", "modules"):
        for base in root.glob(f"*/{kind}"):
            found += [str(p.relative_to(root)) for p in base.rglob("*") if not p.is_dir() or kind == "envs"]
    tombstones = {str(p.parent.relative_to(root)) for p in root.glob("*/modules/pyenv/*/.modulerc")
                  if not list(root.glob(f"*/meta/{p.parent.name}.json")) and not list(root.glob(f"*/envs/{p.parent.name}"))}
    return [p for p in found if os.path.dirname(p) not in tombstones]


def pty_converse(env, argv, answers, timeout=60):
    """Run ``pyenvmod ARGV`` on a real pseudo-terminal, typing each answer at the next prompt
    (output ending in ': ' or '] '). Returns (exit code, everything shown)."""
    import pty
    import select
    import time

    pid, fd = pty.fork()
    if pid == 0:
        os.execvpe("pyenvmod", ["pyenvmod", *argv], env)
    output, pending, deadline = b"", list(answers), time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            output += chunk
            if pending and output.endswith((b": ", b"] ")):
                os.write(fd, pending.pop(0).encode() + b"\n")
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), output.decode("utf-8", "replace")


# Session fixtures several test modules use, defined here once: a fixture imported into two test
# modules is two fixtures, and two Slurm clusters on the same ports hang each other's jobs.
from mpienv import mpi_env  # noqa: E402,F401
from slurm import slurm_cluster  # noqa: E402,F401
