"""A kernel sees its environment and its --with environments only, whatever pyenv/* is loaded
where the Jupyter server runs (issue 13, item 2): started for real through jupyter_client,
under Lmod and under Environment Modules 5 (the launcher sources each one's own init/bash)."""

import json
import re
import shlex
import shutil

import pytest

from conftest import Cli, clean_env
from modsys import REPO, EnvironmentModules, Lmod, parse_env0, run_bash
from test_kernel import jupyter_client, run_in_kernel

pytestmark = pytest.mark.slow

SYSTEMS = ["lmod", "envmodules"]

CODE = """import os, sys
print(sys.prefix)
for name in ("six", "iniconfig"):
    try:
        __import__(name)
        print(name, "yes")
    except ImportError:
        print(name, "no")
print(os.environ.get("VIRTUAL_ENV"), os.environ.get("PYENVMOD_LOADED"))
print(*sorted(m for m in os.environ.get("LOADEDMODULES", "").split(":") if m.startswith("pyenv/")))
print(*sorted(p.rsplit("/", 2)[-2] for p in os.environ["PATH"].split(":") if p.endswith("/bin") and "/images/" in p))
"""


@pytest.fixture(scope="module")
def envs(tmp_path_factory):
    """lab (3.12, six) with a kernel, made under Lmod; same (3.12, iniconfig) and older (3.11,
    iniconfig) are what the server may have loaded."""
    jupyter_client()
    lmod = Lmod().require()
    base = tmp_path_factory.mktemp("isolation")
    env = clean_env(base)
    env["JUPYTER_DATA_DIR"] = str(base / "jupyter")
    env["PYENVMOD_FORMATS"] = "lua,tcl,bash"  # activation scripts too, for a server without modules
    cli = Cli(env)
    cli("create", "same", "--python", "3.12", "-p", "iniconfig")
    cli("create", "older", "--python", "3.11", "-p", "iniconfig")
    result = run_bash(f"{lmod.init()}\npyenvmod create lab --python 3.12 -p six --kernel", env, timeout=900)
    assert result.returncode == 0, result.stdout + result.stderr
    records = {r["name"]: r for r in json.loads(cli("list", "--json").stdout)}
    inits = {"lmod": lmod.init()}
    if EnvironmentModules().available():
        inits["envmodules"] = f". {shlex.quote(str(envmodules_home(base / 'modules')))}/init/bash"
    result = run_bash(f"{inits.get('envmodules', '')}\npyenvmod kernel lab --prefix {base}/envmodules", env)
    assert "envmodules" not in inits or result.returncode == 0, result.stdout + result.stderr
    return {"env": env, "cli": cli, "records": records, "base": base, "inits": inits}


def envmodules_home(home):
    """MODULESHOME of Environment Modules 5 as installed: its own init/bash, pointed at where
    .ci/setup unpacked modulecmd.tcl (the package's init names /usr/lib/...)."""
    (home / "init").mkdir(parents=True)
    init = (REPO / ".cache" / "environment-modules" / "usr" / "share" / "modules" / "init" / "bash").read_text()
    init = re.sub(r"'/usr/lib/[^']*modulecmd\.tcl'", lambda _: shlex.quote(EnvironmentModules.modulecmd()), init)
    init = re.sub(r"/usr/bin/tclsh[0-9.]*", lambda _: shutil.which("tclsh"), init)
    assert EnvironmentModules.modulecmd() in init  # the relocation took
    init += f"\nexport MODULESHOME={shlex.quote(str(home))}\n"
    (home / "init" / "bash").write_text(init)
    return home


def kernel_folder(envs, system):
    """lab's kernel, written by pyenvmod under SYSTEM (its launcher uses that system's init)."""
    if system == "lmod":
        return envs["base"] / "jupyter" / "kernels" / "pyenv-lab"
    return envs["base"] / "envmodules" / "share" / "jupyter" / "kernels" / "pyenv-lab"


def server_env(envs, tmp_path, setup: str, system: str) -> dict:
    """The environment of a Jupyter server started after ``setup`` in a shell under SYSTEM."""
    {"lmod": Lmod, "envmodules": EnvironmentModules}[system]().require()
    dump = tmp_path / "server.env"
    modules = envs["cli"]("modulepath").stdout.strip()
    script = f"{envs['inits'][system]}\nmodule use {shlex.quote(modules)}\n{setup}\nenv -0 > {dump}"
    result = run_bash(script, envs["env"])
    assert result.returncode == 0, result.stdout + result.stderr
    return parse_env0(dump.read_bytes())


def kernel_sees(envs, tmp_path, setup, system, folder=None):
    server = server_env(envs, tmp_path, setup, system)
    folder = folder or kernel_folder(envs, system)
    if system == "envmodules":  # the launcher really loads through Environment Modules
        assert str(envs["base"] / "modules" / "init" / "bash") in (folder / "launcher").read_text()
    out, error = run_in_kernel(folder, CODE, server)
    assert error is None, error
    return out.splitlines(), server


@pytest.mark.parametrize("loaded", ["same", "older"])
@pytest.mark.parametrize("system", SYSTEMS)
def test_a_module_loaded_in_the_server_does_not_reach_the_kernel(envs, tmp_path, loaded, system):
    lines, server = kernel_sees(envs, tmp_path, f"module load pyenv/{loaded} || exit 11", system)
    assert f"{loaded}@" in server["PYENVMOD_LOADED"]  # the server really has it loaded
    lab = envs["records"]["lab"]["prefix"]
    assert lines == [lab, "six yes", "iniconfig no", f"{lab} lab@3.12", "pyenv/lab/py3.12", "lab"]


@pytest.mark.parametrize("loaded", ["same", "older"])
@pytest.mark.parametrize("system", SYSTEMS)
def test_an_activate_script_sourced_in_the_server_does_not_reach_the_kernel(envs, tmp_path, loaded, system):
    root = envs["env"]["PYENVMOD_ROOT"]
    setup = f". {shlex.quote(root)}/*/activate/{loaded}/activate.sh || exit 11"
    lines, server = kernel_sees(envs, tmp_path, setup, system)
    assert server["VIRTUAL_ENV"] == envs["records"][loaded]["prefix"]
    lab = envs["records"]["lab"]["prefix"]
    assert lines == [lab, "six yes", "iniconfig no", f"{lab} lab@3.12", "pyenv/lab/py3.12", "lab"]


@pytest.mark.parametrize("system", SYSTEMS)
def test_with_environments_still_reach_the_kernel(envs, tmp_path, system):
    script = f"{envs['inits'].get(system, '')}\npyenvmod kernel lab --with same --prefix {tmp_path}/k"
    result = run_bash(script, envs["env"])
    assert result.returncode == 0, result.stdout + result.stderr
    folder = tmp_path / "k" / "share" / "jupyter" / "kernels" / "pyenv-lab"
    lines, _ = kernel_sees(envs, tmp_path, "module load pyenv/older || exit 11", system, folder)
    lab = envs["records"]["lab"]["prefix"]
    assert lines[:3] == [lab, "six yes", "iniconfig yes"]
    assert lines[3].split()[0] == lab and sorted(lines[3].split()[1].split(":")) == ["lab@3.12", "same@3.12"]
    assert lines[4] == "pyenv/lab/py3.12 pyenv/same/py3.12"  # loaded through the module system, the server's taken off
    assert lines[5] == "lab same"  # their staging launchers folders, not the server's
