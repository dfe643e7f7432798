"""The Jupyter kernel's launcher (kernel-launcher.sh.j2), rendered in-process for real small
environments (``venv --without-pip``) and run by real bash, as Jupyter runs it: what the kernel's
interpreter gets (its environment, its arguments) with a real Lmod and without a module system,
whatever the Jupyter server had loaded or activated. The kernel here is a module named
``ipykernel_launcher`` in the environment that prints what it got (no Jupyter needed);
tests/test_kernel.py and test_kernel_isolation.py run the real ipykernel (slow tier)."""

import json
import os
import subprocess

import pytest

from guardenv import MM, World
from modsys import Lmod

from pyenvmod.modules import render, stacking

KERNEL = ("import json, os, sys\n"
          "print(json.dumps({'argv': sys.argv[1:], 'env': dict(os.environ), 'python': sys.executable}))\n")


@pytest.fixture
def world(tmp_path, monkeypatch):
    world = World(tmp_path, monkeypatch)
    world.alpha = world.make("alpha")
    world.beta = world.make("beta")
    for record in (world.alpha, world.beta):
        (world.site(record.prefix) / "ipykernel_launcher.py").write_text(KERNEL)
    return world


def render_launcher(world, records, module_init="", use_paths=(), environment=None):
    """The launcher for the last of ``records``, stacked on the others (``pyenvmod kernel --with``)."""
    record = records[-1]
    context = {
        "name": record.name, "prefix": record.prefix, "module_init": module_init, "use_paths": list(use_paths),
        "loads": [r.module for r in records],
        "stack": [{"prefix": r.prefix, "site": str(stacking.site_packages(r.prefix, r.python)),
                   "loaded": f"{r.name}@{MM}"} for r in records],
        "environment": environment or {}, "pyenvmod_version": "test",
    }
    path = world.tmp_path / f"launcher-{record.name}"
    path.write_text(render.render_template("kernel-launcher.sh.j2", context))
    path.chmod(0o755)
    return path


def start(world, launcher, setup="", **env):
    """Run the launcher as a Jupyter server would, after ``setup`` (bash lines run in the server's shell)."""
    base = {"HOME": str(world.tmp_path / "home"), "LANG": "C.UTF-8", "PATH": "/usr/bin:/bin"}
    base.update(env)
    script = f"{setup}\nexec {launcher} /run/connection-file.json"
    return subprocess.run(["bash", "--norc", "--noprofile", "-c", script], env=base, capture_output=True, text=True,
                          timeout=120)


def kernel_sees(world, launcher, setup="", **env) -> dict:
    result = start(world, launcher, setup, **env)
    assert result.returncode == 0 and result.stderr == "", result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["argv"] == ["-f", "/run/connection-file.json"]
    return seen


def test_without_a_module_system_the_kernel_gets_what_the_modulefiles_would_set(world):
    alpha, beta = world.alpha, world.beta
    launcher = render_launcher(world, [beta, alpha], environment={"SITE_NOTE": "a note", "OTHER": "x y"})
    seen = kernel_sees(world, launcher)
    env = seen["env"]
    assert seen["python"] == f"{alpha.prefix}/bin/python"
    assert env["PATH"] == f"{alpha.prefix}/bin:{beta.prefix}/bin:/usr/bin:/bin"
    assert env["PYENVMOD_SITE_PATH"] == f"{world.site(alpha.prefix)}:{world.site(beta.prefix)}"
    assert env["PYENVMOD_LOADED"] == f"alpha@{MM}:beta@{MM}"
    assert env["VIRTUAL_ENV"] == alpha.prefix and env["PYTHONNOUSERSITE"] == "1"
    assert env["SITE_NOTE"] == "a note" and env["OTHER"] == "x y"


def test_an_environment_the_server_activated_does_not_reach_the_kernel(world):
    alpha = world.alpha
    other = world.tmp_path / "other"
    other_site = f"{other}/lib/python{MM}/site-packages"
    launcher = render_launcher(world, [alpha])
    seen = kernel_sees(world, launcher, PATH=f"{other}/bin:/opt/images/other/bin:/opt/images/kept/bin:/not/a/site/bin:/usr/bin:/bin",
                       PYENVMOD_SITE_PATH=f"/not/a/site:{other_site}", PYENVMOD_LOADED=f"other@{MM}",
                       VIRTUAL_ENV=str(other), CONDA_PREFIX=str(other), CONDA_DEFAULT_ENV="other")["env"]
    # its bin folder and its launchers' folder go; a folder of images of an environment not loaded stays
    assert seen["PATH"] == f"{alpha.prefix}/bin:/opt/images/kept/bin:/not/a/site/bin:/usr/bin:/bin"
    assert seen["PYENVMOD_SITE_PATH"] == str(world.site(alpha.prefix))
    assert seen["PYENVMOD_LOADED"] == f"alpha@{MM}" and seen["VIRTUAL_ENV"] == alpha.prefix
    assert "CONDA_PREFIX" not in seen and "CONDA_DEFAULT_ENV" not in seen


def test_a_conda_environment_of_the_server_that_is_not_pyenvmods_stays(world):
    launcher = render_launcher(world, [world.alpha])
    seen = kernel_sees(world, launcher, PATH="/opt/conda/bin:/usr/bin:/bin", CONDA_PREFIX="/opt/conda",
                       CONDA_DEFAULT_ENV="base")["env"]
    assert seen["CONDA_PREFIX"] == "/opt/conda" and seen["CONDA_DEFAULT_ENV"] == "base"
    assert seen["PATH"] == f"{world.alpha.prefix}/bin:/opt/conda/bin:/usr/bin:/bin"


def test_a_kernel_of_a_deleted_environment_says_so_and_starts_nothing(world):
    launcher = render_launcher(world, [world.alpha])
    os.rename(world.alpha.prefix, world.alpha.prefix + ".gone")
    result = start(world, launcher)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.strip() == (f"pyenvmod kernel: the environment alpha at {world.alpha.prefix} is gone; "
                                     "recreate it, or remove this kernel with: pyenvmod kernel alpha --remove")


# ---- with a real Lmod ----------------------------------------------------------------------------

def modulefile(folder, name, text):
    path = folder / "pyenv" / name / f"py{MM}.lua"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.fixture
def lmod_tree(world):
    Lmod().require()
    tree = world.tmp_path / "modulefiles"
    modulefile(tree, "alpha", f'setenv("FROM_MODULE", "alpha")\nprepend_path("PATH", "{world.alpha.prefix}/bin")\n')
    modulefile(tree, "other", 'setenv("OTHER_LOADED", "yes")\nprepend_path("PATH", "/opt/other/bin")\n')
    (tree / "tool").mkdir()
    (tree / "tool" / "1.lua").write_text('setenv("TOOL_LOADED", "yes")\n')
    return tree


def test_with_a_module_system_the_kernel_loads_its_module(world, lmod_tree):
    launcher = render_launcher(world, [world.alpha], module_init=Lmod.INIT, use_paths=[str(lmod_tree)])
    seen = kernel_sees(world, launcher)["env"]
    assert seen["FROM_MODULE"] == "alpha" and seen["LOADEDMODULES"] == f"pyenv/alpha/py{MM}"
    assert "VIRTUAL_ENV" not in seen and "PYENVMOD_LOADED" not in seen  # the module's, not the fallback's
    assert seen["PATH"].split(":")[0] == f"{world.alpha.prefix}/bin"


def test_a_module_that_does_not_load_stops_the_kernel(world, lmod_tree):
    launcher = render_launcher(world, [world.alpha], module_init=Lmod.INIT, use_paths=[str(world.tmp_path)])
    result = start(world, launcher)
    assert result.returncode != 0 and result.stdout == ""


def test_the_servers_pyenv_modules_are_unloaded_and_its_other_modules_stay(world, lmod_tree):
    launcher = render_launcher(world, [world.alpha], module_init=Lmod.INIT, use_paths=[str(lmod_tree)])
    setup = f". {Lmod.INIT}\nmodule use {lmod_tree}\nmodule load tool/1 pyenv/other/py{MM}"
    seen = kernel_sees(world, launcher, setup)["env"]
    assert seen["LOADEDMODULES"] == f"tool/1:pyenv/alpha/py{MM}"
    assert "OTHER_LOADED" not in seen and "/opt/other/bin" not in seen["PATH"].split(":")
    assert seen["TOOL_LOADED"] == "yes" and seen["FROM_MODULE"] == "alpha"


def test_without_the_module_systems_set_up_file_the_fallback_runs(world, lmod_tree):
    launcher = render_launcher(world, [world.alpha], module_init=str(world.tmp_path / "no-such-init"),
                               use_paths=[str(lmod_tree)])
    seen = kernel_sees(world, launcher, LOADEDMODULES=f"pyenv/other/py{MM}")["env"]
    assert "FROM_MODULE" not in seen and seen["VIRTUAL_ENV"] == world.alpha.prefix
    assert seen["PYENVMOD_LOADED"] == f"alpha@{MM}"


def test_the_launchers_own_variables_never_come_from_the_servers_environment(world):
    """Jupyter passes its environment on: a variable of the launcher's own name there changes nothing."""
    launcher = render_launcher(world, [world.alpha])
    seen = kernel_sees(world, launcher, pyenvmod_drop=":/usr/bin:", pyenvmod_path="/planted/bin", loaded="yes")["env"]
    assert seen["PATH"] == f"{world.alpha.prefix}/bin:/usr/bin:/bin"
    assert seen["VIRTUAL_ENV"] == world.alpha.prefix and seen["PYENVMOD_LOADED"] == f"alpha@{MM}"


def test_the_servers_pyenv_modules_are_unloaded_without_its_module_function(world, lmod_tree):
    """A server started by a spawner keeps the loaded modules' variables, not the shell function."""
    launcher = render_launcher(world, [world.alpha], module_init=Lmod.INIT, use_paths=[str(lmod_tree)])
    setup = (f". {Lmod.INIT}\nmodule use {lmod_tree}\nmodule load tool/1 pyenv/other/py{MM}\n"
             "unset -f module ml _module_raw 2>/dev/null; true")
    seen = kernel_sees(world, launcher, setup)["env"]
    assert seen["LOADEDMODULES"] == f"tool/1:pyenv/alpha/py{MM}" and "OTHER_LOADED" not in seen
