"""pyenvmod rename: everything follows the new name, and an interrupted rename leaves the old
name or the new one working (a real SIGKILL at each file-changing system call, through strace)."""

import json
import os
import shlex
import shutil
import subprocess

import pytest

from conftest import assert_one_line_error
from modsys import require, run_bash


def records(cli) -> dict:
    return {e["name"]: e for e in json.loads(cli("list", "--json").stdout)}


def works(cli, name, entries=None) -> bool:
    """The environment is registered, healthy, and its pip script (a #! line naming its python) runs."""
    entry = (records(cli) if entries is None else entries).get(name)
    if not entry or entry["health"] != "ok":
        return False
    pip = os.path.join(entry["prefix"], "bin", "pip")
    result = subprocess.run([pip, "--version"], capture_output=True, text=True)
    return result.returncode == 0 and entry["prefix"] in result.stdout


@pytest.mark.slow
def test_rename_moves_folder_modulefiles_history_and_scripts(cli, root, home):
    config = home / ".config" / "pyenvmod" / "config.yaml"
    config.parent.mkdir(parents=True)
    config.write_text("formats: [lua, tcl, bash]\n")  # with activation scripts
    cli("create", "a")
    assert (next(root.glob("*/activate")) / "a" / "activate.sh").is_file()
    result = cli("rename", "a", "b")
    assert "Renamed 'a' to 'b'" in result.stdout
    entries = records(cli)
    assert list(entries) == ["b"]
    base = next(root.glob("*/envs")).parent
    assert entries["b"]["prefix"] == str(base / "envs" / "b") and entries["b"]["module"].startswith("pyenv/b/")
    assert not os.path.lexists(base / "envs" / "a") and not (base / "modules" / "pyenv" / "a").exists()
    assert not (base / "history" / "a").exists() and not (base / "activate" / "a").exists()
    assert (base / "activate" / "b" / "activate.sh").is_file()
    assert works(cli, "b")  # bin/pip's #! line names the new folder
    assert str(base / "envs" / "a") not in (base / "envs" / "b" / "bin" / "pip").read_text()
    assert "prompt = b" in (base / "envs" / "b" / "pyvenv.cfg").read_text()
    assert 'VIRTUAL_ENV_PROMPT="b"' in (base / "envs" / "b" / "bin" / "activate").read_text()
    assert [e.split()[3] for e in cli("history", "b").stdout.splitlines() if e[:4].strip().isdigit()] == \
        ["create", "rename"]


@pytest.mark.slow
def test_rename_removes_the_old_names_image_and_the_next_pack_makes_the_new_one(cli, root):
    cli("create", "a")
    cli("pack", "a")
    base = next(root.glob("*/envs")).parent
    assert (base / "images" / "a" / "image.tar.zst").is_file()
    cli("rename", "a", "b")
    assert not os.path.lexists(base / "images" / "a")  # it named 'a' and its folder: of no use to 'b'
    assert (base / "images" / "b" / "bin" / "python").is_file()  # the launchers, with the modulefiles
    assert not (base / "images" / "b" / "image.tar.zst").exists()
    assert cli("pack", "b").stdout.startswith("Packed 'b'")
    manifest = json.loads((base / "images" / "b" / "manifest.json").read_text())
    assert manifest["name"] == "b" and manifest["trees"]["env"] == str(base / "envs" / "b")


@pytest.mark.slow
def test_environments_extending_it_keep_working(cli, root):
    cli("create", "base", "-p", "six")
    cli("create", "child", "--extends", "base")
    cli("rename", "base", "core")
    child = records(cli)["child"]
    assert child["extends"] == "core" and child["health"] == "ok"
    result = cli("run", "child", "--", "python", "-c", "import six; print(six.__file__)")
    assert "/envs/core/" in result.stdout
    meta = json.loads(next(root.glob("*/meta/child.json")).read_text())
    assert meta["extends"]["module"].startswith("pyenv/core/")
    assert "pyenv/core/" in next(root.glob("*/modules/pyenv/child/*.lua")).read_text()


@pytest.mark.slow
def test_rename_errors(cli, root):
    cli("create", "alpha")
    cli("create", "beta")
    assert_one_line_error(cli("rename", "alpha", "beta", check=False), "'beta' already exists")
    assert_one_line_error(cli("rename", "alpah", "gamma", check=False), "no environment named 'alpah'",
                          "did you mean 'alpha'?")
    assert_one_line_error(cli("rename", "alpha", "alpha", check=False), "already has that name")
    assert_one_line_error(cli("rename", "alpha", "bad/name", check=False), "invalid environment name")
    assert works(cli, "alpha") and works(cli, "beta")


@pytest.mark.slow
@pytest.mark.modsys
def test_rename_refuses_while_loaded(modsys, cli, env, root):
    cli("create", "a")
    result = run_bash(f"""{modsys.init()}
module use {shlex.quote(cli('modulepath').stdout.strip())}
module load pyenv/a || exit 11
pyenvmod rename a b; echo "rc=$?"
module unload pyenv/a
pyenvmod rename a b || exit 12
""", env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "rc=1" in result.stdout
    assert "'a' is loaded in this shell" in result.stderr and "module unload pyenv/a" in result.stderr
    assert list(records(cli)) == ["b"]


@pytest.mark.slow
def test_rename_moves_the_kernel(tmp_path, cli, env):
    env["JUPYTER_DATA_DIR"] = str(tmp_path / "jupyter")
    cli("create", "a", "--kernel")
    cli("rename", "a", "b")
    kernels = tmp_path / "jupyter" / "kernels"
    assert not (kernels / "pyenv-a").exists()
    spec = json.loads((kernels / "pyenv-b" / "kernel.json").read_text())
    assert spec["metadata"]["pyenvmod"]["prefix"].endswith("/envs/b")
    assert records(cli)["b"]["kernels"] == [str(kernels / "pyenv-b")] and records(cli)["b"]["health"] == "ok"


SYSCALLS = ("rename", "renameat2", "symlink", "unlink", "unlinkat")


@pytest.mark.slow
def test_killed_at_any_step_the_old_or_the_new_works_and_the_rename_finishes(cli, env, root):
    """SIGKILL at the N-th call of each file-changing system call; after each: one name works,
    the same rename finishes the job, and renaming back restores the start."""
    strace = shutil.which("strace")
    require(bool(strace), "strace", "apt-get install strace")
    cli("create", "a")
    killed = 0
    for syscall in SYSCALLS:
        for n in range(1, 200):
            result = subprocess.run(
                [strace, "-f", "-o", os.devnull, "-e", f"trace={syscall}",
                 "-e", f"inject={syscall}:signal=SIGKILL:when={n}", "pyenvmod", "rename", "a", "b"],
                env=env, capture_output=True, text=True, timeout=120)
            if result.returncode == 0:
                break  # fewer than n such calls: this one ran to the end
            killed += 1
            where = f"killed at {syscall} #{n}"
            entries = records(cli)
            assert works(cli, "a", entries) or works(cli, "b", entries), where
            assert cli("rename", "a", "b", check=False).returncode == 0, where  # finishes it
            entries = records(cli)
            assert works(cli, "b", entries) and list(entries) == ["b"], where
            cli("rename", "b", "a")
        else:
            raise AssertionError(f"rename never finished under strace for {syscall}")
        cli("rename", "b", "a")
    assert works(cli, "a") and list(records(cli)) == ["a"]
    assert killed >= 10  # the kills really landed inside the rename


@pytest.mark.slow
def test_a_venv_environment_renames_with_its_prompt(cli, root):
    cli("create", "old", "--backend", "venv")
    cli("rename", "old", "new")
    prefix = records(cli)["new"]["prefix"]
    cfg = open(os.path.join(prefix, "pyvenv.cfg")).read()
    assert "prompt = 'new'" in cfg and f" {prefix}\n" in cfg and "/envs/old" not in cfg
    assert '(new) ' in open(os.path.join(prefix, "bin", "activate")).read()
    assert works(cli, "new")
