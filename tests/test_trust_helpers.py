"""Helpers never outlive pyenvmod (issue 12, hole 4): after ``kill -9`` of pyenvmod during an
install, no uv, pip or package build goes on, and a new create of the same name gets only its
own packages."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import localpkg


def processes() -> dict:
    """pid: (parent pid, command line) of every process."""
    out = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            with open(f"/proc/{entry}/cmdline", "rb") as fh:
                cmdline = fh.read().replace(b"\0", b" ").decode("utf-8", "replace")
        except OSError:
            continue
        if fields[0] != "Z":
            out[int(entry)] = (int(fields[1]), cmdline)
    return out


def descendants(pid: int) -> dict:
    table, found, todo = processes(), {}, [pid]
    while todo:
        parent = todo.pop()
        for child, (ppid, cmdline) in table.items():
            if ppid == parent and child not in found:
                found[child] = cmdline
                todo.append(child)
    return found


def wait_gone(pids, timeout=15) -> list:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        alive = [p for p in pids if p in processes()]
        if not alive:
            return []
        time.sleep(0.1)
    return alive


def wait_for(path: Path, proc, timeout=120):
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert proc.poll() is None, f"create ended early: {proc.communicate()}"
        assert time.monotonic() < deadline, "the slow build never started"
        time.sleep(0.05)
    time.sleep(0.3)


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["uv", "venv"])
def test_kill_9_during_install_then_recreate_gets_only_its_own_packages(cli, env, root, tmp_path, backend):
    build_seconds = 6
    requirement, marker = localpkg.slow(tmp_path / "slowpkg", build_seconds)
    first = subprocess.Popen(["pyenvmod", "create", "alpha", "--backend", backend, "-p", requirement], env=env,
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    wait_for(marker, first)
    helpers = descendants(first.pid)
    assert int(marker.read_text()) in helpers, "the package build runs under pyenvmod"
    killed_at = time.monotonic()
    first.kill()
    first.wait()
    left = wait_gone(helpers)
    assert left == [], f"helpers outlived pyenvmod: {[helpers[p] for p in left]}"

    cli("create", "alpha", "--backend", backend, "-p", "six")
    time.sleep(max(0.0, build_seconds + 3 - (time.monotonic() - killed_at)))  # past when the build would end
    record = json.loads(next(root.glob("*/meta/alpha.json")).read_text())
    assert "six" in record["packages"] and "slowpkg" not in record["packages"]
    site = next(Path(record["prefix"]).glob("lib/python*/site-packages"))
    assert not list(site.glob("slowpkg*")), "the killed create's package reached the new environment"
    assert [c for c in (cmd for _, cmd in processes().values()) if str(tmp_path / "slowpkg") in c] == []
    assert json.loads(cli("list", "--json").stdout)[0]["health"] == "ok"


RUNNER = textwrap.dedent("""
    import sys
    from pyenvmod.runtime import proc
    proc.run(sys.argv[1:], what="helper")
""")


def start_runner(*cmd, env=None):
    """A Python process running one helper through pyenvmod's proc.run, as pyenvmod does."""
    return subprocess.Popen([sys.executable, "-c", RUNNER, *cmd], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def is_watchdog(cmdline: str) -> bool:
    return 'groups=" "' in cmdline and "kill -s KILL" in cmdline


def wait_children(pid, count, timeout=20, ready=lambda found: True):
    """The descendants of ``pid`` once there are ``count`` of them and ``ready(found)`` holds. Under
    load a forked child still shows its parent's command line until it has exec'd: wait for the
    command lines a test looks for, not only for the number of processes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = descendants(pid)
        if len(found) >= count and ready(found):
            return found
        time.sleep(0.05)
    raise AssertionError(f"expected {count} processes under {pid}, found {descendants(pid)}")


def watchdog_and_sleep(found) -> bool:
    """Both of a runner's processes have exec'd: its watchdog, and its helper ``sleep``."""
    return any(is_watchdog(c) for c in found.values()) and any(c.startswith("sleep") for c in found.values())


def start_with_grandchild(tmp_path):
    """A runner whose helper (sh) started a process of its own (sleep, as a package build under uv or
    pip would): (the runner, the grandchild's pid), once all are running."""
    pidfile = tmp_path / "grandchild.pid"
    runner = start_runner("sh", "-c", f"sleep 300 & echo $! > {pidfile}; wait")
    wait_children(runner.pid, 3)
    while not pidfile.exists() or not pidfile.read_text().strip():
        time.sleep(0.05)
    return runner, int(pidfile.read_text())


def test_the_kernel_kills_the_helper_even_without_the_watchdog(tmp_path):
    runner = start_runner("sleep", "300")
    found = wait_children(runner.pid, 2, ready=watchdog_and_sleep)
    (watchdog,) = [p for p, c in found.items() if is_watchdog(c)]
    (helper,) = [p for p, c in found.items() if c.startswith("sleep")]
    os.kill(watchdog, signal.SIGKILL)
    time.sleep(0.2)
    runner.kill()
    runner.wait()
    assert wait_gone([helper], 5) == [], "PR_SET_PDEATHSIG did not kill the helper"


def test_the_watchdog_kills_what_the_helper_started(tmp_path):
    """A grandchild (a package build under uv or pip) is not covered by the kernel's request."""
    runner, grandchild = start_with_grandchild(tmp_path)
    runner.kill()
    runner.wait()
    assert wait_gone([grandchild], 5) == [], "the helper's own child outlived pyenvmod"


def test_no_watchdog_or_helper_is_left_after_a_normal_command(cli, env, tmp_path):
    # This runner's own watchdog, found while its helper runs: other pyenvmod processes on the
    # machine (another test run) have watchdogs of their own, which this test must not count.
    runner = start_runner("sleep", "1")
    found = wait_children(runner.pid, 2, ready=watchdog_and_sleep)
    (watchdog,) = [p for p, c in found.items() if is_watchdog(c)]
    (helper,) = [p for p, c in found.items() if c.startswith("sleep")]
    assert runner.wait(timeout=30) == 0
    # It leaves when its pipe closes: at once on a quiet machine, later under load (bounded wait).
    assert wait_gone([watchdog, helper], 15) == [], "the watchdog outlived the process that started it"


RUNNER_KILLED_AT_ONCE = textwrap.dedent("""
    import os, signal, sys, time
    from pyenvmod.runtime import background, proc
    told = proc._tell_watchdog
    proc._tell_watchdog = lambda line: None if line.startswith("+") else told(line)  # pyenvmod never gets to tell
    pidfile = sys.argv[1]
    def killed():  # kill -9 of pyenvmod once the helper has started a build of its own
        while not os.path.exists(pidfile) or not open(pidfile).read().strip():
            time.sleep(0.01)
        os.kill(os.getpid(), signal.SIGKILL)
    background.helper_started = killed
    proc.run(["sh", "-c", f"sleep 300 & echo $! > {pidfile}; wait"], what="helper")
""")


def test_the_watchdog_knows_a_helper_that_pyenvmod_never_got_to_register(tmp_path):
    """The helper tells the watchdog its group itself, before it execs: pyenvmod killed on a busy machine
    right after the start (before any line of its own) still leaves no build behind."""
    pidfile = tmp_path / "grandchild.pid"
    runner = subprocess.Popen([sys.executable, "-c", RUNNER_KILLED_AT_ONCE, str(pidfile)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    assert runner.wait(timeout=60) == -signal.SIGKILL
    assert wait_gone([int(pidfile.read_text())], 15) == [], "the helper's build outlived pyenvmod"


def test_a_helper_that_is_not_there_is_named_before_anything_starts(tmp_path):
    from pyenvmod.errors import PyenvmodError
    from pyenvmod.runtime import proc

    missing = tmp_path / "bin" / "uv"
    with pytest.raises(PyenvmodError) as info:
        proc.run([missing, "pip", "install"], what="uv")
    assert info.value.message == f"cannot run uv ({missing}): No such file or directory"
    missing.parent.mkdir()
    missing.write_text("#!/bin/sh\n")  # there, but nobody may run it
    with pytest.raises(PyenvmodError) as info:
        proc.run([missing], what="uv")
    assert info.value.message == f"cannot run uv ({missing}): Permission denied"
    with pytest.raises(PyenvmodError) as info:
        proc.run(["uv"], env={"PATH": str(tmp_path)}, what="uv")  # looked up on the given PATH, where it is not
    assert info.value.message == "cannot run uv (uv): not found on PATH"
    os.chmod(missing, 0o755)
    assert proc.run(["uv"], env={"PATH": str(missing.parent)}, what="uv").returncode == 0


def test_an_interrupt_right_after_the_helper_started_still_stops_it(monkeypatch):
    """Ctrl-C while proc.run tells the watchdog or imports what it needs later, before it waits."""
    from pyenvmod.runtime import background, proc

    def interrupted():
        raise KeyboardInterrupt

    monkeypatch.setattr(background, "helper_started", interrupted)
    marker = f"{os.getpid()}{time.monotonic_ns() % 1000:03d}"  # this test's helper, by its command line
    with pytest.raises(KeyboardInterrupt):
        proc.run(["sleep", f"299.{marker}"], what="helper")
    # wait_gone() of nothing would pass: check, under the same bound, that no such process is left
    deadline = time.monotonic() + 5
    while [cmd for _, cmd in processes().values() if cmd.strip() == f"sleep 299.{marker}"]:
        assert time.monotonic() < deadline, "the helper went on after the interrupt"
        time.sleep(0.1)


def test_an_interrupt_still_stops_the_whole_helper_group(tmp_path):
    runner, grandchild = start_with_grandchild(tmp_path)
    runner.send_signal(signal.SIGINT)
    assert runner.wait(timeout=120) != 0  # a bound for a hang only: under a load of 15 the exit took over 30 s
    assert wait_gone([grandchild], 5) == []
