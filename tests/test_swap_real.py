"""A compiler or MPI swap under a loaded environment, in real module hierarchies (issue 24, item 2).

`module load gcc/12 openmpi/4; pyenvmod create x` records the modules and the files they were
loaded from. After `module load pyenv/x; module swap gcc/12 gcc/13`, openmpi/4 comes from gcc/13's
branch: Environment Modules 5 reloads pyenv/x, whose modulefile refuses, so the switch unloads it
with a message naming the files; Lmod 8.6 does not re-run pyenv/x, so pyenvmod's Lmod hooks warn,
naming the files. `pyenvmod doctor` flags the loaded mismatch, and unloading leaves the shell as
if the user had loaded gcc/13 and openmpi/4 alone."""

import json
import shlex

import pytest

import hierarchy
from modsys import Lmod, user_env
from sessions import modules_cmd_line, snapshots

pytestmark = pytest.mark.modsys


@pytest.fixture
def core(tmp_path):
    return hierarchy.make(tmp_path / "hierarchy")


@pytest.fixture
def hooks_dir(cli):
    return cli("site", "hooks", "--path").stdout.strip()


def session(modsys, env, cli, core, tmp_path, body, hooks_dir=None):
    preset = modules_cmd_line(modsys)
    if hooks_dir:
        preset += f"\nexport LMOD_PACKAGE_PATH={shlex.quote(hooks_dir)}"
    return snapshots(modsys, env, body, tmp_path, [core, cli("modulepath").stdout.strip()], preset)


def create_x(modsys, env, cli, core, tmp_path):
    result, _ = session(modsys, env, cli, core, tmp_path,
                        "module load gcc/12 openmpi/4 || exit 11\npyenvmod create x || exit 12")
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(cli("list", "--json").stdout)[0]


def test_create_records_the_module_files(modsys, env, cli, core, tmp_path, root):
    create_x(modsys, env, cli, core, tmp_path)
    record = json.loads(next(root.glob("*/meta/x.json")).read_text())
    assert record["modules"] == ["gcc/12", "openmpi/4"]
    assert record["module_files"] == [hierarchy.modulefile(core, modsys.name, "gcc/12"),
                                      hierarchy.modulefile(core, modsys.name, "gcc/12/openmpi/4")]


def test_a_swap_under_a_loaded_environment_is_named_and_unload_leaves_no_half_state(
        modsys, env, cli, core, tmp_path, hooks_dir):
    create_x(modsys, env, cli, core, tmp_path)
    swap = "swap" if modsys.name == "lmod" else "switch"
    body = f"""
pyenvmod doctor x > {tmp_path}/doctor-before.txt; echo doctor-before=$?
module load pyenv/x || exit 11
snap loaded
echo @@SWAP@@ >&2
module {swap} gcc/12 gcc/13
echo @@SWAPPED@@ >&2
snap swapped
pyenvmod doctor x > {tmp_path}/doctor-after.txt; echo doctor-after=$?
module unload pyenv/x || exit 12
snap after
"""
    result, envs = session(modsys, env, cli, core, tmp_path, body, hooks_dir)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "doctor-before=0" in result.stdout, (tmp_path / "doctor-before.txt").read_text()
    assert envs["loaded"]["MPI_HOME"] == "/opt/gcc12/openmpi/4"
    said = " ".join(result.stderr.split("@@SWAP@@")[1].split("@@SWAPPED@@")[0].split())  # unwrapped
    files = {m: hierarchy.modulefile(core, modsys.name, m) for m in ("gcc/12", "gcc/13", "gcc/12/openmpi/4",
                                                                     "gcc/13/openmpi/4")}
    assert envs["swapped"]["MPI_HOME"] == "/opt/gcc13/openmpi/4"
    if modsys.name == "lmod":
        # Lmod keeps pyenv/x loaded: the hook names the recorded and the loaded files
        assert envs["swapped"]["VIRTUAL_ENV"].endswith("/envs/x")
        assert "WARNING: pyenv/x was built with other modules than the loaded ones:" in said
        assert f"gcc/12 ({files['gcc/12']}), now gcc/13 ({files['gcc/13']})" in said
        assert f"openmpi/4 ({files['gcc/12/openmpi/4']}), now openmpi/4 ({files['gcc/13/openmpi/4']})" in said
        assert "module swap gcc/13 gcc/12" in said
        doctor = (tmp_path / "doctor-after.txt").read_text()
        assert "doctor-after=1" in result.stdout and "[built-with]" in doctor
        assert f"openmpi/4 ({files['gcc/12/openmpi/4']}), now openmpi/4 ({files['gcc/13/openmpi/4']})" in doctor
    else:
        # Environment Modules reloads pyenv/x, which refuses: the switch unloads it, naming the files
        assert "VIRTUAL_ENV" not in envs["swapped"]
        assert "module switch unloads pyenv/x:" in said
        assert f"gcc/12 ({files['gcc/12']}), and gcc/13 ({files['gcc/13']}) is loaded instead" in said
        assert "switch back (module switch gcc/13 gcc/12)" in said
        assert "doctor-after=0" in result.stdout, "nothing mismatched is loaded any more"
    # the same shell as a user who loaded gcc/13 and openmpi/4 alone
    (tmp_path / "ref").mkdir()
    _, reference = session(modsys, env, cli, core, tmp_path / "ref",
                           "module load gcc/13 openmpi/4 || exit 11\nsnap reference", hooks_dir)
    after, expected = user_env(envs["after"], reference["reference"])
    assert after == expected


def test_without_the_hooks_lmod_says_nothing_but_the_doctor_does(env, cli, core, tmp_path):
    lmod = Lmod().require()
    create_x(lmod, env, cli, core, tmp_path)
    body = f"module load pyenv/x || exit 11\nmodule swap gcc/12 gcc/13\npyenvmod doctor > {tmp_path}/d.txt; echo rc=$?"
    result, _ = session(lmod, env, cli, core, tmp_path, body, "/nonexistent")
    assert result.returncode == 0 and "rc=1" in result.stdout, result.stderr
    assert "was built with" not in result.stderr
    assert "[built-with] pyenv/x/" in (tmp_path / "d.txt").read_text()


def test_loading_the_environment_again_goes_back_to_its_modules(modsys, env, cli, core, tmp_path, hooks_dir):
    """Lmod's depends_on swaps gcc/13 back to gcc/12 (and openmpi with it); Environment Modules
    refuses with the same message, naming what to switch back."""
    create_x(modsys, env, cli, core, tmp_path)
    body = "module load gcc/13 openmpi/4 || exit 11\nmodule load pyenv/x; echo rc=$?\nsnap after"
    result, envs = session(modsys, env, cli, core, tmp_path, body, hooks_dir)
    if modsys.name == "lmod":
        assert "rc=0" in result.stdout and envs["after"]["MPI_HOME"] == "/opt/gcc12/openmpi/4"
        assert "was built with" not in result.stderr
    else:
        said = " ".join(result.stderr.split())
        assert "rc=1" in result.stdout and "VIRTUAL_ENV" not in envs["after"]
        assert "Cannot load pyenv/x: it was built with gcc/12" in said and "module switch gcc/13 gcc/12" in said


def test_a_load_next_to_another_build_without_dependencies(modsys, env, cli, core, tmp_path, hooks_dir):
    """With the site's dependencies 'none', nothing loads the recorded modules: Lmod loads pyenv/x
    and the hooks warn, naming the files; Environment Modules refuses, naming them."""
    env = dict(env, PYENVMOD_DEPENDENCIES="none")
    create_x(modsys, env, cli, core, tmp_path)
    body = "module load gcc/13 openmpi/4 || exit 11\nmodule load pyenv/x; echo rc=$?\nsnap after"
    result, envs = session(modsys, env, cli, core, tmp_path, body, hooks_dir)
    said = " ".join(result.stderr.split())
    gcc12, gcc13 = (hierarchy.modulefile(core, modsys.name, m) for m in ("gcc/12", "gcc/13"))
    assert envs["after"]["GCC_HOME"] == "/opt/gcc/13"
    if modsys.name == "lmod":
        assert "rc=0" in result.stdout and envs["after"]["VIRTUAL_ENV"].endswith("/envs/x")
        assert f"WARNING: pyenv/x was built with other modules than the loaded ones: gcc/12 ({gcc12}), " \
               f"now gcc/13 ({gcc13})" in said
    else:
        assert "rc=1" in result.stdout and "VIRTUAL_ENV" not in envs["after"]
        assert f"Cannot load pyenv/x: it was built with gcc/12 ({gcc12}), and gcc/13 ({gcc13}) is loaded instead" in said
