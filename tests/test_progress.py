"""Progress on long work: a status line on a real pseudo-terminal, a line per step in a batch log,
never on standard output (nor in --json output)."""

import json
import re
import subprocess

import pytest

import localpkg
from conftest import pty_converse
from test_packages import meta

CLEAR = "\r\x1b[K"


@pytest.mark.slow
def test_a_terminal_shows_one_status_line_with_the_package_being_built_and_the_time(env, tmp_path):
    slow, _ = localpkg.slow(tmp_path / "slow", 4)
    code, out = pty_converse(env, ["create", "x", "-p", slow], [], timeout=300)
    assert code == 0, out
    assert "pyenvmod: installing slowpkg @ file://" in out
    assert re.search(r"\r\x1b\[K  \[\d+ s\] building slowpkg @ file://", out), out
    ticks = {int(s) for s in re.findall(r"\[(\d+) s\] building slowpkg", out)}
    assert len(ticks) >= 3 and max(ticks) >= 3, f"the elapsed time counts up while it builds: {sorted(ticks)}"
    # the status line is cleared before anything else is written: what the terminal shows on that
    # line after the last clear is the answer alone
    created = next(ln for ln in out.split("\n") if "Created 'x'" in ln)
    assert created.endswith("\r") and created.split(CLEAR)[-1].startswith("Created 'x'"), repr(created)
    assert "building" not in created.split(CLEAR)[-1]


@pytest.mark.slow
def test_a_batch_log_gets_a_line_per_step_and_standard_output_stays_clean(cli, root, tmp_path):
    slow, _ = localpkg.slow(tmp_path / "slow", 2)
    result = cli("create", "x", "-p", slow)
    lines = result.stderr.splitlines()
    assert any(re.fullmatch(r"pyenvmod: \[\d+ s\] building slowpkg @ file://\S+", ln) for ln in lines), lines
    assert lines.index(next(ln for ln in lines if "installing slowpkg" in ln)) < \
        lines.index(next(ln for ln in lines if "building slowpkg" in ln))
    assert "\r" not in result.stderr and "\x1b" not in result.stderr, "nothing redrawn in a log"
    assert "building" not in result.stdout and "pyenvmod:" not in result.stdout
    # an install too; and --json output never carries progress or notes
    localpkg.make(tmp_path / "other", "otherpkg", {"otherpkg.py": ""}, seconds=1)
    result = cli("install", "x", tmp_path / "other")
    assert re.search(r"pyenvmod: \[\d+ s\] building otherpkg", result.stderr)
    prefix = meta(root, "x")["prefix"]
    subprocess.run([f"{prefix}/bin/python", "-m", "pip", "uninstall", "-y", "-q", "otherpkg"], check=True)
    history = cli("history", "x", "--json")
    assert [e["action"] for e in json.loads(history.stdout)][-1] == "outside"
    assert "changed outside pyenvmod" in history.stderr
    assert json.loads(cli("list", "--json").stdout)[0]["name"] == "x"


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def batch_status(clock):
    import io

    from pyenvmod.runtime import progress

    return progress.Status(io.StringIO(), tty=False, clock=clock, interval=30, ticking=False)


def test_a_batch_log_gets_a_line_at_most_every_30_s_with_the_time_and_the_builds_last_line():
    clock = FakeClock()
    status = batch_status(clock)
    status.notify("building mpi4py from source")
    status.helper_line("   Building mpi4py==4.0.1\n")
    for second in range(1, 95):  # a build printing a line a second, ticked every second
        clock.now += 1
        status.helper_line(f"DEBUG gcc -c src/part{second}.c\n")
        status.helper_line("DEBUG \n")  # an empty line of the build is not its last line
        status.tick()
    lines = status.stream.getvalue().splitlines()
    assert lines == ["pyenvmod: building mpi4py from source",
                     "pyenvmod: [0 s] building mpi4py==4.0.1",
                     "pyenvmod: [30 s] building mpi4py==4.0.1: gcc -c src/part30.c",
                     "pyenvmod: [1 min 00 s] building mpi4py==4.0.1: gcc -c src/part60.c",
                     "pyenvmod: [1 min 30 s] building mpi4py==4.0.1: gcc -c src/part90.c"]
    # a new step starts the time again; after close, nothing more
    status.notify("installing into the environment")
    clock.now += 31
    status.tick()
    assert status.stream.getvalue().splitlines()[-1] == "pyenvmod: [31 s] installing into the environment"
    status.close()
    clock.now += 60
    status.tick()
    assert status.stream.getvalue().splitlines()[-1] == "pyenvmod: [31 s] installing into the environment"


def test_a_terminal_line_shows_the_time_and_the_builds_last_line_in_place():
    import io

    from pyenvmod.runtime import progress

    clock = FakeClock()
    status = progress.Status(io.StringIO(), tty=True, clock=clock, interval=30, ticking=False)
    status.notify("building mpi4py from source")
    status.helper_line("   Building mpi4py==4.0.1\n")
    clock.now += 75
    status.helper_line("DEBUG gcc -c src/MPI.c\n")
    status.tick()
    out = status.stream.getvalue()
    assert out.endswith("\r\x1b[K  [1 min 15 s] building mpi4py==4.0.1: gcc -c src/MPI.c"), repr(out)
    assert out.count("\n") == 1, "redrawn in place: only the step's own line ends with a newline"


@pytest.mark.slow
def test_a_real_build_shows_its_output_as_it_goes_in_a_log_and_on_a_terminal(cli, env, tmp_path):
    says = [f"compiling part {n} of 6" for n in range(1, 7)]
    localpkg.make(tmp_path / "noisy", "noisypkg", {"noisypkg.py": ""}, seconds=6, say=says)
    result = cli("create", "x", "-p", tmp_path / "noisy", extra_env={"PYENVMOD_PROGRESS_INTERVAL": "1.5"})
    shown = re.findall(r"^pyenvmod: \[(\d+) s\] building noisypkg @ \S+: compiling part (\d) of 6$",
                       result.stderr, flags=re.M)
    assert len(shown) >= 2, result.stderr
    assert [int(t) for t, _ in shown] == sorted(int(t) for t, _ in shown) and int(shown[-1][0]) >= 3
    assert len({part for _, part in shown}) >= 2, "the build's last line moves on"
    assert "\r" not in result.stderr and "compiling" not in result.stdout
    code, out = pty_converse(dict(env, PYENVMOD_PROGRESS_INTERVAL="30", COLUMNS="300"), ["install", "x", str(tmp_path / "noisy"),
                             "--rebuild"], [], timeout=300)
    assert code == 0, out
    drawn = re.findall(r"\r\x1b\[K  \[\d+ s\] building noisypkg @ \S+: compiling part (\d) of 6", out)
    assert len(set(drawn)) >= 2, out
