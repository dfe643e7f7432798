"""Interrupts, kills and races: nothing is ever left half-made or shown as healthy."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

import localpkg
from conftest import assert_one_line_error, leftovers


def start_create(env, name, *args):
    return subprocess.Popen(["pyenvmod", "create", name, *args], env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for(path, proc, timeout=120):
    deadline = time.monotonic() + timeout
    while not path.exists():
        if proc.poll() is not None:
            raise AssertionError(f"create ended early: {proc.communicate()}")
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError("the slow build never started")
        time.sleep(0.05)
    time.sleep(0.2)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is not alive
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def build_died_with_pyenvmod(marker):
    """After kill -9 of pyenvmod, the package build it started does not go on (see test_trust_helpers)."""
    deadline = time.monotonic() + 10
    while pid_alive(int(marker.read_text())) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not pid_alive(int(marker.read_text())), "the build outlived pyenvmod"


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["uv", "venv"])
@pytest.mark.parametrize("sig,code", [(signal.SIGINT, 130), (signal.SIGTERM, 128 + signal.SIGTERM),
                                      (signal.SIGHUP, 128 + signal.SIGHUP)])
def test_interrupted_create_leaves_nothing(cli, env, root, tmp_path, sig, code, backend):
    requirement, marker = localpkg.slow(tmp_path / "slowpkg", 60)
    proc = start_create(env, "alpha", "--backend", backend, "-p", requirement)
    wait_for(marker, proc)
    build_pid = int(marker.read_text())
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    assert "nothing was left half-made" in err and "Traceback" not in err
    assert leftovers(root) == []
    assert json.loads(cli("list", "--json").stdout) == []
    deadline = time.monotonic() + 10
    while pid_alive(build_pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not pid_alive(build_pid), "the package build the create started was left running"


@pytest.mark.slow
def test_killed_create_is_reported_then_cleaned(cli, env, root, tmp_path):
    requirement, marker = localpkg.slow(tmp_path / "slowpkg", 60)
    proc = start_create(env, "alpha", "-p", requirement)
    wait_for(marker, proc)
    proc.kill()
    proc.wait()
    build_died_with_pyenvmod(marker)
    (entry,) = json.loads(cli("list", "--json").stdout)
    assert entry["name"] == "alpha" and entry["health"] == "incomplete"
    assert "interrupted create" in entry["problems"][0]
    assert "incomplete" in cli("list").stdout
    assert not [p for p in leftovers(root) if "/modules/" in p or "/meta/" in p]
    result = cli("create", "alpha", "-p", "six")
    assert "removed the leftover of an interrupted create" in result.stderr
    assert json.loads(cli("list", "--json").stdout)[0]["health"] == "ok"


@pytest.mark.slow
def test_leftover_can_be_deleted(cli, env, root, tmp_path):
    requirement, marker = localpkg.slow(tmp_path / "slowpkg", 60)
    proc = start_create(env, "alpha", "-p", requirement)
    wait_for(marker, proc)
    proc.kill()
    proc.wait()
    build_died_with_pyenvmod(marker)
    cli("delete", "alpha", "--yes")
    assert leftovers(root) == [] and json.loads(cli("list", "--json").stdout) == []


@pytest.mark.slow
def test_list_shows_a_create_in_progress(cli, env, tmp_path):
    requirement, marker = localpkg.slow(tmp_path / "slowpkg", 60)
    proc = start_create(env, "alpha", "-p", requirement)
    try:
        wait_for(marker, proc)
        (entry,) = json.loads(cli("list", "--json").stdout)
        assert entry["health"] == "creating"
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=60)


@pytest.mark.slow
def test_concurrent_creates_of_one_name_one_wins_the_other_names_the_holder(cli, env, root, tmp_path):
    requirement, marker = localpkg.slow(tmp_path / "slowpkg", 4)
    env = dict(env, PYENVMOD_LOCK_TIMEOUT="1")
    first = start_create(env, "alpha", "-p", requirement)
    wait_for(marker, first)
    second = start_create(env, "alpha", "-p", "six")
    out2, err2 = second.communicate(timeout=120)
    out1, err1 = first.communicate(timeout=120)
    assert first.returncode == 0, err1
    assert_one_line_error(subprocess.CompletedProcess(second.args, second.returncode, out2, err2),
                          "is busy", f"pid {first.pid}", "try again")
    (entry,) = json.loads(cli("list", "--json").stdout)
    assert entry["health"] == "ok"


@pytest.mark.slow
def test_racing_creates_exactly_one_wins(cli, env, root):
    # the losers wait for the lock (never "busy" with a long timeout), then find the name taken
    env = dict(env, PYENVMOD_LOCK_TIMEOUT="300")
    procs = [start_create(env, "alpha", "-p", "six") for _ in range(4)]
    results = [(p, *p.communicate(timeout=300)) for p in procs]
    winners = [p for p, _, _ in results if p.returncode == 0]
    assert len(winners) == 1
    for p, out, err in results:
        if p.returncode != 0:
            assert_one_line_error(subprocess.CompletedProcess(p.args, p.returncode, out, err), "already exists")
    (entry,) = json.loads(cli("list", "--json").stdout)
    assert entry["health"] == "ok"


@pytest.fixture
def small_disk(tmp_path):
    """A real 30 MB filesystem (tmpfs) for the root: room for two environments, not for a big package."""
    from modsys import require

    mount = tmp_path / "small"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=30m", "tmpfs", str(mount)], capture_output=True)
    require(done.returncode == 0, "mounting a small tmpfs", "run the tests as root on Linux")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


@pytest.mark.slow
def test_a_full_disk_during_install_is_clear_and_registers_nothing(cli, env, tmp_path, small_disk):
    cli.env = dict(env, PYENVMOD_ROOT=str(small_disk / "root"))
    cli("create", "a", "-p", "six")
    before = json.loads(cli("history", "a", "--json").stdout)
    big, _ = localpkg.make(tmp_path / "big", "bigpkg", {"bigpkg.py": "DATA = '" + "x" * 40_000_000 + "'\n"})
    result = cli("install", "a", big, check=False)
    line = assert_one_line_error(result, "could not install")
    assert "space" in line.lower() or "quota" in line.lower() or "SIGXFSZ" in line, line
    assert json.loads(cli("history", "a", "--json").stdout) == before, "nothing half-registered"
    (entry,) = json.loads(cli("list", "--json").stdout)
    assert entry["health"] == "ok" and "bigpkg" not in json.dumps(entry)
    result = cli("create", "b", "-p", big, check=False)
    assert_one_line_error(result, "could not install")
    assert [e["name"] for e in json.loads(cli("list", "--json").stdout)] == ["a"]
    assert not list((small_disk / "root").glob("*/envs/b")) and not list((small_disk / "root").glob("*/meta/b.json"))


@pytest.mark.slow
def test_concurrent_creates_deletes_and_lists_never_corrupt(cli, env, root):
    """Several processes creating, deleting and listing the same names at once."""
    cmds = []
    for round_ in range(3):
        for name in ("x", "y"):
            cmds.append(["create", name])
            cmds.append(["list", "--json"])
            cmds.append(["delete", name, "--yes"])
    procs = [subprocess.Popen(["pyenvmod", *c], env=dict(env, PYENVMOD_LOCK_TIMEOUT="300"), stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for c in cmds]
    for cmd, p in zip(cmds, procs):
        out, err = p.communicate(timeout=600)
        assert "Traceback" not in err and "internal error" not in err, (cmd, err)
        if cmd[0] == "list":
            json.loads(out)  # always a complete, parseable listing
        elif p.returncode != 0:
            assert "already exists" in err or "no environment named" in err, (cmd, err)  # waited, never "busy"
    for entry in json.loads(cli("list", "--json").stdout):
        assert entry["health"] in ("ok", "incomplete"), entry
    for entry in json.loads(cli("list", "--json").stdout):
        cli("delete", entry["name"], "--yes")
    assert leftovers(root) == []


def test_files_follow_the_umask(env, root):
    """With umask 027, what pyenvmod writes is not readable by others (and never writable)."""
    result = subprocess.run(["bash", "-c", "umask 027 && pyenvmod create a"], env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    import stat

    written = [*root.glob("*/meta/a.json"), *root.glob("*/modules/pyenv/a/*"), *root.glob("*/history/a/*")]
    assert len(written) >= 4
    for path in written:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode & 0o007 == 0 and mode & 0o600 == 0o600, (path, oct(mode))


def hold_lock(path, seconds):
    """Hold an environment's lock from another process for ``seconds``, as a running command would."""
    path.parent.mkdir(parents=True, exist_ok=True)
    holder = subprocess.Popen([sys.executable, "-c", (
        "import fcntl, os, sys, time\n"
        f"fd = os.open({str(path)!r}, os.O_RDWR | os.O_CREAT)\n"
        "fcntl.flock(fd, fcntl.LOCK_EX)\n"
        "os.pwrite(fd, b'pid %d on testhost' % os.getpid(), 0)\n"
        "print('held', flush=True)\n"
        f"time.sleep({seconds})\n")], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline() == "held\n"
    return holder


def lock_path(cli, name):
    from pathlib import Path

    return Path(cli("modulepath").stdout.strip()).parent / "locks" / f"{name}.lock"


@pytest.mark.parametrize("command", [("create", "alpha"), ("module", "alpha"), ("delete", "alpha", "--yes")])
def test_a_command_waits_for_a_holder_that_lets_go(cli, env, root, command):
    if command[0] != "create":
        cli("create", "alpha")
    holder = hold_lock(lock_path(cli, "alpha"), 1.5)
    start = time.monotonic()
    result = cli(*command, extra_env={"PYENVMOD_LOCK_TIMEOUT": "60"})
    waited = time.monotonic() - start
    holder.wait(timeout=30)
    assert result.returncode == 0 and waited >= 1.0, (waited, result.stderr)
    names = [e["name"] for e in json.loads(cli("list", "--json").stdout)]
    assert names == ([] if command[0] == "delete" else ["alpha"])


def test_a_command_that_cannot_wait_names_the_holder(cli, env, root):
    cli("create", "alpha")
    holder = hold_lock(lock_path(cli, "alpha"), 30)
    try:
        result = cli("delete", "alpha", "--yes", check=False, extra_env={"PYENVMOD_LOCK_TIMEOUT": "0.5"})
        assert_one_line_error(result, "environment 'alpha' is busy", "testhost", "try again")
    finally:
        holder.kill()
        holder.wait()
    assert [e["name"] for e in json.loads(cli("list", "--json").stdout)] == ["alpha"]


@pytest.mark.parametrize("other", [("install", "alpha", "six"), ("module", "alpha")])
def test_delete_racing_a_change_of_the_same_environment(cli, env, root, other):
    """Whichever gets the lock first, the other waits: the end is all of the environment or none."""
    cli("create", "alpha")
    racers = dict(env, PYENVMOD_LOCK_TIMEOUT="300")
    for first in ("other", "delete"):
        if not list(root.glob("*/meta/alpha.json")):
            cli("create", "alpha")
        cmds = [["delete", "alpha", "--yes"], list(other)]
        if first == "other":
            cmds.reverse()
        procs = []
        for cmd in cmds:
            procs.append(subprocess.Popen(["pyenvmod", *cmd], env=racers, stdin=subprocess.DEVNULL,
                                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
        results = {cmd[0]: (p, *p.communicate(timeout=300)) for cmd, p in zip(cmds, procs)}
        p, out, err = results["delete"]
        assert p.returncode == 0, err
        p, out, err = results[other[0]]
        if p.returncode != 0:  # it came second: the environment was gone
            assert_one_line_error(subprocess.CompletedProcess(p.args, p.returncode, out, err), "no environment named")
        assert json.loads(cli("list", "--json").stdout) == []
        assert leftovers(root) == [], "a change that came second must not bring back part of the environment"
