"""Issue 23, operations/run_in.py in-process: the environment a command runs in, through a real
Lmod (its module loaded with the recorded modules, this process's own variables left as they were)
and without a module system (the modulefile's variables, set directly, innermost base last), and the
command itself run by exec (in a forked child, so that the test process stays)."""

import os
import sys

import pytest

from guardenv import MM, World
from modsys import Lmod
from pyenvmod.errors import PyenvmodError


@pytest.fixture
def world(tmp_path, monkeypatch) -> World:
    return World(tmp_path, monkeypatch)


def _tool_module(tree, name="tool/1", variable="TOOL_LOADED"):
    """A site module (Lua) that sets one variable: what a recorded module (a compiler, an MPI) does."""
    path = tree / f"{name}.lua"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f'setenv("{variable}", "{name}")\n')


def test_run_through_lmod_loads_the_module_and_its_recorded_modules(world, tmp_path):
    from pyenvmod.modules import modulefiles
    from pyenvmod.operations import common, run_in

    Lmod().require()
    site = tmp_path / "site-modules"
    _tool_module(site)
    record = world.make("e", modules=["tool/1"], module_paths=[str(site)])
    common.write_modulefiles(world.layout, record, modulefiles.options_from(world.config))
    before = dict(os.environ)
    said = []
    env = run_in.environment(world.config, "e", {"PATH": "/usr/bin:/bin", "LMOD_CMD": Lmod.modulecmd(),
                                                 "MODULEPATH": f"/nowhere:{world.layout.modules_dir}"}, said.append)
    assert said == []  # the module system loads the recorded modules: no note
    assert env["TOOL_LOADED"] == "tool/1"
    assert env["VIRTUAL_ENV"] == record.prefix
    assert f"{record.prefix}/bin" in env["PATH"].split(":")[:2]  # after the stage launchers, if any
    assert record.module in env["LOADEDMODULES"].split(":")
    # the recorded folder first, a folder already on MODULEPATH kept where it was and not twice
    assert env["MODULEPATH"].split(":") == [str(site), "/nowhere", str(world.layout.modules_dir)]
    assert dict(os.environ) == before  # this process's own environment is as it was


def test_run_through_lmod_puts_missing_folders_first_in_order(world, tmp_path):
    from pyenvmod.modules import modulefiles
    from pyenvmod.operations import common, run_in

    Lmod().require()
    first, second = tmp_path / "first", tmp_path / "second"
    _tool_module(first, "one/1", "ONE")
    _tool_module(second, "two/1", "TWO")
    record = world.make("e", modules=["one/1", "two/1"], module_paths=[str(first), str(second)])
    common.write_modulefiles(world.layout, record, modulefiles.options_from(world.config))
    env = run_in.environment(world.config, "e", {"PATH": "/usr/bin:/bin", "LMOD_CMD": Lmod.modulecmd()})
    assert env["MODULEPATH"].split(":") == [str(first), str(second), str(world.layout.modules_dir)]
    assert (env["ONE"], env["TWO"]) == ("one/1", "two/1")
    assert "MODULEPATH" not in os.environ


def test_run_sets_what_the_modulefile_would_innermost_base_last(world):
    from pyenvmod.modules import stacking
    from pyenvmod.operations import run_in

    base = world.make("base")
    mid = world.make("mid", extends=base)
    top = world.make("top", extends=mid)
    env = run_in.environment(world.config, "top", {"PATH": "/usr/bin", "PYENVMOD_SITE_PATH": "/site/x",
                                                   "PYENVMOD_LOADED": ""})
    sites = [str(stacking.site_packages(r.prefix, r.python)) for r in (top, mid, base)]
    assert env["PYENVMOD_SITE_PATH"].split(":") == [*sites, "/site/x"]
    assert env["PYENVMOD_LOADED"] == f"top@{MM}:mid@{MM}:base@{MM}"
    assert env["PATH"] == f"{top.prefix}/bin:{mid.prefix}/bin:{base.prefix}/bin:/usr/bin"
    assert (env["VIRTUAL_ENV"], env["PYTHONNOUSERSITE"]) == (top.prefix, "1")
    env = run_in.environment(world.config, "base", {})
    assert env["PATH"] == f"{base.prefix}/bin" and env["PYENVMOD_LOADED"] == f"base@{MM}"
    assert env["PYENVMOD_SITE_PATH"] == sites[2] and env["VIRTUAL_ENV"] == base.prefix


def test_run_refuses_an_environment_without_its_python(world):
    from pyenvmod.operations import run_in

    record = world.make("broken")
    os.unlink(os.path.join(record.prefix, "bin", "python"))
    with pytest.raises(PyenvmodError) as info:
        run_in.environment(world.config, "broken", {"PATH": "/usr/bin"})
    assert info.value.message == (f"the environment 'broken' at {record.prefix} is missing or broken; see "
                                  "'pyenvmod list'")
    with pytest.raises(PyenvmodError) as info:
        run_in.environment(world.config, "brokn", {})
    assert info.value.message.startswith("no environment named 'brokn' under ")


def test_run_of_a_file_that_cannot_be_executed_says_why(world, tmp_path):
    from pyenvmod.operations import run_in

    world.make("e")
    junk = tmp_path / "junk"
    junk.write_bytes(b"\x7fELF\x00not a program")
    os.chmod(junk, 0o755)
    with pytest.raises(run_in.CommandNotFound) as info:
        run_in.execute(world.config, "e", [str(junk), "x"])
    assert info.value.message == f"cannot run {str(junk)!r}: Exec format error"
    assert info.value.exit_code == 127
    with pytest.raises(run_in.CommandNotFound) as info:
        run_in.execute(world.config, "e", ["no-such-program-here"])
    assert info.value.message.startswith("command not found: 'no-such-program-here' ")


def _exec_in_child(function) -> tuple[int, str]:
    """Run ``function`` (which execs) in a forked child; its stdout and exit status."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns to pytest
        try:
            os.dup2(write, 1)
            function()
        except BaseException as exc:  # noqa: BLE001 - reported through the exit status
            os.write(2, f"child: {exc!r}\n".encode())
        finally:
            os._exit(99)
    os.close(write)
    chunks = []
    while chunk := os.read(read, 65536):
        chunks.append(chunk)
    os.close(read)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), b"".join(chunks).decode()


def test_run_becomes_the_command_in_the_environment(world, monkeypatch):
    from pyenvmod.operations import run_in

    record = world.make("e", modules=["gcc/12"])
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    world.config.set("environment", {"SITE_VAR": "site"}, "test")
    code = "import os, sys; print(sys.prefix, os.environ['SITE_VAR'], sys.argv[1:]); sys.exit(7)"
    sys.stdout.flush()
    status, out = _exec_in_child(lambda: run_in.execute(world.config, "e", ["python", "-c", code, "a b"],
                                                        lambda m: os.write(1, f"{m}\n".encode())))
    assert (status, out) == (7, "note: no module system in this shell, so the recorded modules gcc/12 are not "
                                f"loaded\n{record.prefix} site ['a b']\n")


def test_run_finds_only_regular_files_given_by_path(tmp_path):
    from pyenvmod.operations import run_in

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo, 0o755)  # executable bits, but nothing a shell could run
    with pytest.raises(run_in.CommandNotFound) as info:
        run_in.resolve_command(str(fifo), {"PATH": str(tmp_path)})
    assert info.value.message.startswith(f"command not found: {str(fifo)!r} ")
