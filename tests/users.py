"""Real Unix users for the trust tests: a research group with two maintainers and an outsider.

The session fixture ``people`` (import it into a test module) creates, as root:

- the group ``t12a_lab`` with members ``t12a_alice`` (the attacker: a group member) and
  ``t12a_bob`` (the maintainer whose files must stay safe), and ``t12a_carol`` (not a member);
- a private home (0700) for each, and a virtual environment made from /usr/bin/python3 in a
  world-readable folder with this worktree's pyenvmod installed (root's own .venv lives under
  /root, which nobody else may enter);

and removes all of it at the end of the session. Commands run as a user through ``setpriv``
(real uid, gid and supplementary groups), with a clean environment of their own: HOME,
caches and pyenvmod's root under their home. Outside CI the fixture skips when the tests do
not run as root; under CI=true it fails instead, like every missing component.
"""

import fcntl
import grp
import os
import pwd
import shutil
import subprocess
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from modsys import REPO

# Helpers working at once in separate worktrees each set their own tag (PYENVMOD_TEST_USERS=t12b):
# the users, group and platform of one run never meet another's. Each pytest-xdist worker of one run
# (gw0, gw1, ...) adds its number, for the same reason.
TAG = os.environ.get("PYENVMOD_TEST_USERS", "t12a") + os.environ.get("PYTEST_XDIST_WORKER", "").removeprefix("gw")
PREFIX = TAG + "_"
GROUP = PREFIX + "lab"
MEMBERS = ("alice", "bob")
OUTSIDERS = ("carol",)
PLATFORM = "x86_64-" + TAG  # every test user's PYENVMOD_PLATFORM: paths are known in advance


@dataclass
class User:
    name: str
    uid: int
    gid: int
    home: Path
    bindir: Path

    def env(self, **extra) -> dict:
        result = {
            "HOME": str(self.home),
            "USER": self.name,
            "LANG": "C.UTF-8",
            "PATH": f"{self.bindir}:/usr/bin:/bin",
            "PYENVMOD_ROOT": str(self.home / "pyenvmod"),
            "PYENVMOD_SITE_CONFIG": str(self.home / "no-site-config.yaml"),
            "XDG_CONFIG_HOME": str(self.home / ".config"),
            "XDG_DATA_HOME": str(self.home / ".local" / "share"),
            "UV_CACHE_DIR": str(self.home / ".cache" / "uv"),
            "PIP_CACHE_DIR": str(self.home / ".cache" / "pip"),
            "UV_PYTHON_DOWNLOADS": "never",
            "PYENVMOD_PLATFORM": PLATFORM,
        }
        for key, value in os.environ.items():  # how this machine reaches package indexes
            if key.startswith(("PIP_", "UV_INDEX", "UV_EXTRA_INDEX", "UV_FIND_LINKS", "SSL_CERT")) \
                    or key.lower() in ("http_proxy", "https_proxy", "no_proxy"):
                result.setdefault(key, value)
        result.update({k: str(v) for k, v in extra.items()})
        return result

    def run(self, *argv, umask: int = 0o022, env=None, timeout: float = 300, input=None):
        """Run ``argv`` as this user (``pyenvmod ...`` uses their virtual environment)."""
        wrapper = ["setpriv", f"--reuid={self.uid}", f"--regid={self.gid}", "--init-groups", "--",
                   "sh", "-c", f'umask {umask:03o}; cd "$HOME"; exec "$@"', "sh", *map(str, argv)]
        return subprocess.run(wrapper, env=env or self.env(), capture_output=True, text=True, timeout=timeout,
                              input=input, stdin=None if input is not None else subprocess.DEVNULL)

    def pyenvmod(self, *args, **kwargs):
        return self.run(str(self.bindir / "pyenvmod"), *args, **kwargs)

    def python(self, code: str, *args, **kwargs):
        """Python as this user, with pyenvmod importable (for in-process checks)."""
        return self.run(str(self.bindir / "python"), "-c", code, *args, **kwargs)


@dataclass
class People:
    base: Path  # world-traversable scratch folder for the session
    alice: User
    bob: User
    carol: User
    gid: int  # the lab group

    def tree(self, label: str, owner: User | None = None) -> Path:
        """A fresh group tree folder: owned by ``owner`` (bob), group lab, setgid, 2775."""
        owner = owner or self.bob
        folder = self.base / "trees" / label
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        os.chown(folder, owner.uid, self.gid)
        os.chmod(folder, 0o2775)
        return folder


def _sh(*argv):
    subprocess.run(argv, check=True, capture_output=True)


@contextmanager
def accounts_lock():
    """useradd, groupadd and userdel of two test runs at once (xdist workers, other worktrees) fail on
    each other's lock of /etc/passwd or /etc/subuid: one at a time, across processes."""
    with open("/run/lock/pyenvmod-test-accounts.lock", "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        yield


def _remove_accounts():
    for short in (*MEMBERS, *OUTSIDERS):
        name = PREFIX + short
        try:
            pwd.getpwnam(name)
        except KeyError:
            continue
        subprocess.run(["userdel", name], capture_output=True)
    try:
        grp.getgrnam(GROUP)
    except KeyError:
        return
    subprocess.run(["groupdel", GROUP], capture_output=True)


def _make_venv(base: Path) -> Path:
    venv = base / "venv"
    _sh("/usr/bin/python3", "-m", "venv", str(venv))
    env = dict(os.environ, PIP_CACHE_DIR=str(base / "pip-cache"))
    result = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", str(REPO)],
                            env=env, capture_output=True, text=True)
    if result.returncode != 0:
        pytest.fail(f"cannot install pyenvmod for the test users:\n{result.stderr[-2000:]}")
    shutil.rmtree(base / "pip-cache", ignore_errors=True)
    return venv / "bin"


@pytest.fixture(scope="session")
def people():
    if os.geteuid() != 0:
        if os.environ.get("CI") == "true":
            pytest.fail("the trust tests create Unix users: run them as root (CI does)")
        pytest.skip("the trust tests create Unix users and need root")
    for tool in ("useradd", "groupadd", "setpriv"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is missing")
    with accounts_lock():
        _remove_accounts()  # a leftover of an interrupted session
    base = Path(tempfile.mkdtemp(prefix=TAG + "-trust-"))
    os.chmod(base, 0o755)
    try:
        bindir = _make_venv(base)
        with accounts_lock():
            users = _add_accounts(base, bindir)
        (base / "trees").mkdir()
        os.chmod(base / "trees", 0o755)
        yield People(base, users["alice"], users["bob"], users["carol"], grp.getgrnam(GROUP).gr_gid)
    finally:
        with accounts_lock():
            _remove_accounts()
        shutil.rmtree(base, ignore_errors=True)


def _add_accounts(base: Path, bindir: Path) -> dict:
    """The lab group and its people, each with a private home under ``base``."""
    _sh("groupadd", GROUP)
    users = {}
    for short in (*MEMBERS, *OUTSIDERS):
        name = PREFIX + short
        home = base / "home" / short
        args = ["useradd", "--no-create-home", "--home-dir", str(home), "--shell", "/bin/sh", "-U"]
        if short in MEMBERS:
            args += ["-G", GROUP]
        _sh(*args, name)
        entry = pwd.getpwnam(name)
        home.mkdir(parents=True)
        os.chown(home, entry.pw_uid, entry.pw_gid)
        os.chmod(home, 0o700)
        users[short] = User(name, entry.pw_uid, entry.pw_gid, home, bindir)
    return users


def group_env(people: People, label: str, *names: str) -> Path:
    """A group tree made by bob with the environments ``names`` (default: 'shared');
    returns its platform folder."""
    tree = people.tree(label)
    for name in names or ("shared",):
        result = people.bob.pyenvmod("--group", tree, "create", name)
        assert result.returncode == 0, result.stderr
    return tree / PLATFORM


def forge(user: User, meta: Path, **changes) -> None:
    """``user`` rewrites fields of a metadata file in place (a group member may)."""
    import json

    code = ("import json, sys; p = sys.argv[1]; d = json.load(open(p)); d.update(json.loads(sys.argv[2])); "
            "open(p, 'w').write(json.dumps(d))")
    result = user.python(code, meta, json.dumps(changes))
    assert result.returncode == 0, result.stderr


def victim(user: User, label: str = "victim") -> Path:
    """A folder of ``user``'s, in their private home, shaped like an environment (with a
    site-packages and a file in it) so that writes meant for an environment would land there."""
    folder = user.home / label
    site = folder / "lib" / "python3.11" / "site-packages"
    assert user.run("mkdir", "-p", site, folder / "bin").returncode == 0
    assert user.run("sh", "-c", f"echo keep > {folder}/precious.txt").returncode == 0
    return folder


def snapshot(folder: Path) -> dict:
    """Every path under ``folder`` with its content (files) or None (folders): to compare."""
    found = {}
    for path in sorted(Path(folder).rglob("*")):
        found[str(path)] = path.read_bytes() if path.is_file() and not path.is_symlink() else None
    return found
