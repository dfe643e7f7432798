"""Deleting a loaded environment (issue 13, item 1), in real Lmod and Environment Modules.

delete refuses an environment loaded in the calling shell; forced (or from another shell), the
modulefiles stay as hidden tombstones so that unload and purge still restore the shell exactly,
and loading another Python version afterwards works. doctor reports a loaded module whose
environment or modulefile is gone.
"""

import json
import shlex

import pytest

from conftest import assert_one_line_error
from sessions import assert_restored, snapshots

pytestmark = [pytest.mark.modsys, pytest.mark.slow]

PRESET = "export VIRTUAL_ENV=/orig/venv PYTHONNOUSERSITE=yes PATH=/opt/tools/bin:$PATH"


def session(modsys, env, envs, tmp_path, body):
    """BODY in a shell with the tree on MODULEPATH and PRESET set; it must succeed. Returns
    (the completed process, {label: environment at each `snap LABEL`})."""
    result, snaps = snapshots(modsys, env, body, tmp_path, module_paths=[envs], preset=PRESET)
    assert result.returncode == 0, result.stdout + result.stderr
    return result, snaps


@pytest.fixture
def envs(cli):
    cli("create", "a", "--python", "3.12")
    cli("create", "other", "--python", "3.11")
    return cli("modulepath").stdout.strip()


def test_delete_refuses_an_environment_loaded_in_this_shell(modsys, cli, env, envs, root, tmp_path):
    result, _ = snapshots(modsys, env, "module load pyenv/a || exit 11\npyenvmod delete a --yes", tmp_path,
                          module_paths=[envs])
    assert_one_line_error(result, "'a' is loaded in this shell", "module unload pyenv/a", "--force")
    assert [r["name"] for r in json.loads(cli("list", "--json").stdout)] == ["a", "other"]


@pytest.mark.parametrize("how", ["force", "other-shell"])
@pytest.mark.parametrize("takeoff", ["module unload pyenv/a", "module purge"])
def test_after_deleting_a_loaded_environment_the_shell_is_restored(modsys, cli, env, envs, root, tmp_path, how,
                                                                    takeoff):
    delete = ("pyenvmod delete a --yes --force" if how == "force"
              else "env -u _LMFILES_ -u LOADEDMODULES -u MODULEPATH pyenvmod delete a --yes")
    result, snaps = session(modsys, env, envs, tmp_path, f"""
snap before
module load pyenv/a || exit 11
{delete} || exit 12
echo @@avail; module avail 2>&1; echo @@end
{takeoff} || exit 13
snap after
module load pyenv/other || exit 14
python -c 'import sys; print("python=%d.%d" % sys.version_info[:2])'
module unload pyenv/other || exit 15
module load pyenv/a; echo "load-deleted=$?"
module load pyenv/a/py3.12; echo "load-deleted-full=$?"
""")
    assert_restored(snaps)
    avail = result.stdout.split("@@avail\n")[1].split("@@end")[0]
    assert "pyenv/other" in avail and "pyenv/a" not in avail
    assert "python=3.11" in result.stdout
    assert "load-deleted=0" not in result.stdout and "load-deleted-full=0" not in result.stdout
    assert "pyenv/a/py3.12 was deleted; there is nothing to load" in " ".join(result.stderr.split())
    assert [r["name"] for r in json.loads(cli("list", "--json").stdout)] == ["other"]
    assert not (root / "x" / "envs" / "a").exists() and not list(root.glob("*/envs/a"))


def test_doctor_reports_a_loaded_module_whose_environment_or_modulefile_is_gone(modsys, cli, env, envs, root,
                                                                              tmp_path):
    folder = next(root.glob("*/modules/pyenv/a"))
    result, snaps = session(modsys, env, envs, tmp_path, f"""
snap before
module load pyenv/a || exit 11
pyenvmod delete a --yes --force || exit 12
echo @@doctor1; pyenvmod doctor --verbose; echo "rc=$?"
rm -r {shlex.quote(str(folder))}
echo @@doctor2; pyenvmod doctor; echo "rc=$?"
echo @@fix; pyenvmod doctor --fix --yes
module unload pyenv/a/py3.12 || exit 13
snap after
echo @@doctor3; pyenvmod doctor
""")
    out = result.stdout
    first = out.split("@@doctor1\n")[1].split("@@doctor2")[0]
    assert "[loaded] pyenv/a/py3.12 is loaded in this shell but its environment" in first
    assert "fix: module unload pyenv/a/py3.12" in first and "rc=1" in first
    assert "[tombstones]" in first and "pyenv/a" in first.split("[tombstones]")[1]
    assert "[modulefiles]" not in first  # a tombstone is not a stale modulefile to remove
    second = out.split("@@doctor2\n")[1].split("@@fix")[0]
    assert "its modulefile" in second and "is gone" in second and "--fix writes a tombstone" in second
    assert "fixed: wrote the tombstone of pyenv/a/py3.12" in out.split("@@fix\n")[1]
    assert_restored(snaps)
    assert "[loaded]" not in out.split("@@doctor3\n")[1]


def test_tombstones_go_once_nothing_can_have_the_module_loaded(cli, env, envs, root, tmp_path):
    """Run in a PID namespace of its own, so that the processes pyenvmod sees are this test's."""
    import shutil
    import subprocess

    from modsys import Lmod, require

    lmod = Lmod().require()
    unshare = shutil.which("unshare")
    works = unshare and subprocess.run([unshare, "--pid", "--fork", "--mount-proc", "true"]).returncode == 0
    require(bool(works), "unshare --pid --mount-proc", "util-linux, run as root")
    a, other = (shlex.quote(str(next(root.glob(f"*/modules/pyenv/{n}")))) for n in ("a", "other"))
    script = f"""{lmod.init()}
module use {shlex.quote(envs)}
mkfifo fifo
bash --norc -c 'read line < fifo' &   # another shell, running before the delete: it could have loaded it
older=$!
module load pyenv/a || exit 11
pyenvmod delete a --yes --force || exit 12
test -d {a} && echo kept-loaded-here
module unload pyenv/a || exit 13
pyenvmod doctor --fix --yes >/dev/null; test -d {a} && echo kept-older-shell
kill $older; wait $older
pyenvmod doctor --fix --yes | grep fixed; test -d {a} || echo swept
module load pyenv/other || exit 14
pyenvmod delete other --yes --force || exit 15
sleep 600 &                          # started after the delete, with the module in its environment
inherited=$!
module unload pyenv/other || exit 16
pyenvmod doctor --fix --yes >/dev/null; test -d {other} && echo kept-inherited
kill $inherited; wait $inherited
pyenvmod doctor --fix --yes | grep fixed; test -d {other} || echo swept
"""
    result = subprocess.run([unshare, "--pid", "--fork", "--mount-proc", "bash", "--norc", "--noprofile", "-c", script],
                            env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    lines = [ln for ln in result.stdout.splitlines() if ln.startswith(("kept", "swept", "fixed"))]
    assert lines == ["kept-loaded-here", "kept-older-shell", "fixed: removed tombstones: a", "swept",
                     "kept-inherited", "fixed: removed tombstones: other", "swept"], result.stdout + result.stderr


def test_creating_the_name_again_replaces_its_tombstone(modsys, cli, env, envs, root, tmp_path):
    result, snaps = session(modsys, env, envs, tmp_path, """
snap before
module load pyenv/a || exit 11
pyenvmod delete a --yes --force >/dev/null || exit 12
pyenvmod create a --python 3.12 2>&1 || exit 13
module unload pyenv/a || exit 14
snap after
echo @@avail; module avail 2>&1; echo @@end
module load pyenv/a || exit 15
echo "VE=$VIRTUAL_ENV"
""")
    assert "leftover" not in result.stdout
    assert_restored(snaps)
    assert "pyenv/a/py3.12" in result.stdout.split("@@avail\n")[1].split("@@end")[0]
    folder = next(root.glob("*/modules/pyenv/a"))
    assert sorted(p.name for p in folder.iterdir()) == ["py3.12", "py3.12.lua"]
    assert result.stdout.strip().endswith(f"VE={next(root.glob('*/envs/a'))}")
