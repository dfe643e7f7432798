"""A staged copy starts like a local Python: no compile at start-up, and its own libpython even when a
Python module put the shared interpreter's lib folder on LD_LIBRARY_PATH (issues 25 and 24, item 3).
Counted with strace on the real start-up of a real staged copy."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import Cli, clean_env
from modsys import require


@pytest.fixture(scope="module")
def staged(tmp_path_factory):
    base = tmp_path_factory.mktemp("local")
    env = clean_env(base)
    env["PYENVMOD_STAGE_DIR"] = str(base / "local")
    (base / "local").mkdir()
    cli = Cli(env)
    cli("create", "e", "--python", "3.12")
    copy = Path(cli("stage", "e").stdout.split(": ")[-1].strip())
    tree = next(p for p in Path(env["PYENVMOD_ROOT"]).iterdir() if p.is_dir())
    shared_python = os.path.realpath(tree / "envs" / "e" / "bin" / "python")
    return {"env": env, "copy": copy, "tree": tree, "base": os.path.dirname(os.path.dirname(shared_python))}


def _trace(staged, tmp_path, calls, **extra):
    require(shutil.which("strace") is not None, "strace", "apt-get install strace")
    out = tmp_path / "trace"
    env = dict(staged["env"], **extra)
    subprocess.run(["strace", "-f", "-qq", "-e", f"trace={calls}", "-o", str(out),
                    str(staged["copy"] / "env" / "bin" / "python"), "-c", "pass"], env=env, check=True)
    return out.read_text().splitlines()


@pytest.mark.slow
def test_the_rewritten_stacking_hook_is_never_compiled_at_start_up(staged, tmp_path):
    # bytecode writes off (as many sites set): the hook's .pyc is current, its source is never read
    lines = _trace(staged, tmp_path, "openat", PYTHONDONTWRITEBYTECODE="1",
                   PYENVMOD_SITE_PATH=str(staged["tree"] / "envs" / "e" / "lib" / "python3.12" / "site-packages"))
    hook = [ln for ln in lines if "_pyenvmod_stack" in ln and "= -1" not in ln]
    assert hook and all(".cpython-312.pyc" in ln for ln in hook), hook


@pytest.mark.slow
def test_the_copy_loads_its_own_libpython_with_the_shared_lib_folder_on_ld_library_path(staged, tmp_path):
    shared_lib = os.path.join(staged["base"], "lib")
    assert any(n.startswith("libpython") for n in os.listdir(shared_lib)), shared_lib  # the trap is real
    plain = _trace(staged, tmp_path, "%file")
    moduled = _trace(staged, tmp_path, "%file", LD_LIBRARY_PATH=shared_lib)
    on_shared = [ln for ln in moduled if f'"{staged["base"]}/' in ln]
    opened = [ln for ln in on_shared if ln.startswith(("openat", "open(")) and "= -1" not in ln.split(")")[-1]]
    assert opened == [], opened  # nothing of the shared interpreter is read: libpython comes from the copy
    libpython = [ln for ln in moduled if "libpython" in ln and "= -1" not in ln.split(")")[-1]]
    assert libpython and all(str(staged["copy"]) in ln for ln in libpython), libpython
    assert not [ln for ln in plain if f'"{staged["base"]}/' in ln]  # today's count without the module: none
    print("shared-tree calls of the staged start-up, LD_LIBRARY_PATH unset / set:", 0, len(on_shared))
