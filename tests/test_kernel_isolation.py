"""A kernel sees its environment and its --with environments only, whatever pyenv/* is loaded
where the Jupyter server runs (issue 13, item 2): started for real through jupyter_client."""

import json
import shlex

import pytest

from conftest import Cli, clean_env
from modsys import Lmod, parse_env0, run_bash
from test_kernel import jupyter_client, run_in_kernel

pytestmark = pytest.mark.slow

CODE = """import os, sys
print(sys.prefix)
for name in ("six", "iniconfig"):
    try:
        __import__(name)
        print(name, "yes")
    except ImportError:
        print(name, "no")
print(os.environ.get("VIRTUAL_ENV"), os.environ.get("PYENVMOD_LOADED"))
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
    return {"env": env, "cli": cli, "records": records, "base": base, "lmod": lmod}


def server_env(envs, tmp_path, setup: str) -> dict:
    """The environment of a Jupyter server started after ``setup`` in a shell."""
    dump = tmp_path / "server.env"
    modules = envs["cli"]("modulepath").stdout.strip()
    script = f"{envs['lmod'].init()}\nmodule use {shlex.quote(modules)}\n{setup}\nenv -0 > {dump}"
    result = run_bash(script, envs["env"])
    assert result.returncode == 0, result.stdout + result.stderr
    return parse_env0(dump.read_bytes())


def kernel_sees(envs, tmp_path, setup, folder=None):
    server = server_env(envs, tmp_path, setup)
    folder = folder or envs["base"] / "jupyter" / "kernels" / "pyenv-lab"
    out, error = run_in_kernel(folder, CODE, server)
    assert error is None, error
    return out.splitlines(), server


@pytest.mark.parametrize("loaded", ["same", "older"])
def test_a_module_loaded_in_the_server_does_not_reach_the_kernel(envs, tmp_path, loaded):
    lines, server = kernel_sees(envs, tmp_path, f"module load pyenv/{loaded} || exit 11")
    assert f"{loaded}@" in server["PYENVMOD_LOADED"]  # the server really has it loaded
    lab = envs["records"]["lab"]["prefix"]
    assert lines == [lab, "six yes", "iniconfig no", f"{lab} lab@3.12"]


@pytest.mark.parametrize("loaded", ["same", "older"])
def test_an_activate_script_sourced_in_the_server_does_not_reach_the_kernel(envs, tmp_path, loaded):
    root = envs["env"]["PYENVMOD_ROOT"]
    lines, server = kernel_sees(envs, tmp_path, f". {shlex.quote(root)}/*/activate/{loaded}/activate.sh || exit 11")
    assert server["VIRTUAL_ENV"] == envs["records"][loaded]["prefix"]
    lab = envs["records"]["lab"]["prefix"]
    assert lines == [lab, "six yes", "iniconfig no", f"{lab} lab@3.12"]


def test_with_environments_still_reach_the_kernel(envs, tmp_path):
    envs["cli"]("kernel", "lab", "--with", "same", "--prefix", tmp_path / "k")
    folder = tmp_path / "k" / "share" / "jupyter" / "kernels" / "pyenv-lab"
    lines, _ = kernel_sees(envs, tmp_path, "module load pyenv/older || exit 11", folder)
    lab = envs["records"]["lab"]["prefix"]
    assert lines[:3] == [lab, "six yes", "iniconfig yes"]
    assert lines[3].split()[0] == lab and sorted(lines[3].split()[1].split(":")) == ["lab@3.12", "same@3.12"]
