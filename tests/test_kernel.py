"""Jupyter kernels, started for real through jupyter_client from the generated kernelspec."""

import json
import os
import shlex
import subprocess

import pytest

import sitemodules
from conftest import Cli, assert_one_line_error, clean_env
from modsys import Lmod, require, run_bash

# slow: starts Jupyter kernels in environments with installed packages
pytestmark = pytest.mark.slow


def jupyter_client():
    try:
        import jupyter_client
    except ImportError:
        require(False, "jupyter_client", "pip install jupyter_client (a test extra)")
    return jupyter_client


def run_in_kernel(spec_dir, code, env, timeout=120):
    """Start the kernel from its spec, run ``code``, return (stdout text, error or None)."""
    jc = jupyter_client()
    from jupyter_client.kernelspec import KernelSpecManager

    ksm = KernelSpecManager(kernel_dirs=[str(spec_dir.parent)])
    km = jc.KernelManager(kernel_name=spec_dir.name, kernel_spec_manager=ksm)
    km.start_kernel(env=env, stderr=subprocess.PIPE)
    client = km.client()
    client.start_channels()
    try:
        client.wait_for_ready(timeout=timeout)
        msg_id = client.execute(code)
        out, error = [], None
        while True:
            msg = client.get_iopub_msg(timeout=timeout)
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind == "stream":
                out.append(content["text"])
            elif kind == "error":
                error = content["ename"] + ": " + content["evalue"]
            elif kind == "status" and content["execution_state"] == "idle":
                break
        return "".join(out), error
    finally:
        client.stop_channels()
        km.shutdown_kernel(now=False)
        assert not km.is_alive()


@pytest.fixture(scope="module")
def kernel_env(tmp_path_factory):
    """An environment (six) built with gcc/13.2 loaded under Lmod, and its kernel."""
    jupyter_client()
    lmod = Lmod().require()
    base = tmp_path_factory.mktemp("kernel")
    env = clean_env(base)
    env["JUPYTER_DATA_DIR"] = str(base / "jupyter")
    cli = Cli(env)
    site = sitemodules.make(base / "site-modules")
    script = f"""{lmod.init()}
module use {shlex.quote(str(site))}
module load gcc/13.2 || exit 11
pyenvmod create lab -p six --kernel
pyenvmod create tools -p iniconfig
"""
    result = run_bash(script, env, timeout=900)
    assert result.returncode == 0, result.stdout + result.stderr
    records = {r["name"]: r for r in json.loads(cli("list", "--json").stdout)}
    return {"env": env, "cli": cli, "records": records, "base": base, "out": result.stdout}


def server_env(kernel_env, **extra):
    """What a JupyterHub-started server has: no modules loaded, no module set-up."""
    env = {"HOME": kernel_env["env"]["HOME"], "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}
    env.update(extra)
    return env


def spec_dir(kernel_env, name="lab"):
    return kernel_env["base"] / "jupyter" / "kernels" / f"pyenv-{name}"


def test_create_with_kernel_writes_the_kernelspec(kernel_env):
    folder = spec_dir(kernel_env)
    spec = json.loads((folder / "kernel.json").read_text())
    assert spec["display_name"] == "Python (lab)" and spec["language"] == "python"
    assert spec["argv"] == [str(folder / "launcher"), "{connection_file}"]
    assert os.access(folder / "launcher", os.X_OK)
    assert kernel_env["records"]["lab"]["kernels"] == [str(folder)]
    assert "Jupyter kernel 'pyenv-lab'" in kernel_env["out"]


def test_kernel_runs_in_the_environment_with_its_modules(kernel_env):
    code = "import sys, os, six; print(sys.prefix); print(six.__file__); print(os.environ.get('GCC_HOME'))"
    out, error = run_in_kernel(spec_dir(kernel_env), code, server_env(kernel_env))
    assert error is None, error
    prefix = kernel_env["records"]["lab"]["prefix"]
    lines = out.splitlines()
    assert lines[0] == prefix and lines[1].startswith(prefix) and lines[2] == "/opt/gcc/13.2"


def test_kernel_without_a_module_system_sets_the_variables_directly(kernel_env, tmp_path):
    cli = kernel_env["cli"]
    cli("kernel", "tools", "--prefix", tmp_path)  # made outside any module system
    folder = tmp_path / "share" / "jupyter" / "kernels" / "pyenv-tools"
    out, error = run_in_kernel(folder, "import sys, os, iniconfig; print(sys.prefix, os.environ['VIRTUAL_ENV'],"
                                       " os.environ['PYTHONNOUSERSITE'])", server_env(kernel_env))
    assert error is None, error
    prefix = kernel_env["records"]["tools"]["prefix"]
    assert out.split() == [prefix, prefix, "1"]


def test_kernel_with_another_environment_stacked(kernel_env, tmp_path):
    cli = kernel_env["cli"]
    cli("kernel", "lab", "--with", "tools", "--prefix", tmp_path, "--display-name", "Lab + tools")
    folder = tmp_path / "share" / "jupyter" / "kernels" / "pyenv-lab"
    assert json.loads((folder / "kernel.json").read_text())["display_name"] == "Lab + tools"
    out, error = run_in_kernel(folder, "import sys, six, iniconfig; print(sys.prefix)", server_env(kernel_env))
    assert error is None, error
    assert out.strip() == kernel_env["records"]["lab"]["prefix"]


def test_site_variables_reach_the_kernel(kernel_env, tmp_path):
    cli = kernel_env["cli"]
    cli("kernel", "tools", "--prefix", tmp_path, extra_env={"PYENVMOD_ENVIRONMENT": "OMP_NUM_THREADS=1"})
    folder = tmp_path / "share" / "jupyter" / "kernels" / "pyenv-tools"
    out, error = run_in_kernel(folder, "import os; print(os.environ['OMP_NUM_THREADS'])", server_env(kernel_env))
    assert out.strip() == "1", error


def test_a_kernel_of_a_deleted_environment_fails_with_a_message(tmp_path):
    jupyter_client()
    env = clean_env(tmp_path)
    env["JUPYTER_DATA_DIR"] = str(tmp_path / "jupyter")
    cli = Cli(env)
    cli("create", "gone", "--kernel")
    folder = tmp_path / "jupyter" / "kernels" / "pyenv-gone"
    import shutil

    prefix = json.loads(cli("list", "--json").stdout)[0]["prefix"]
    shutil.rmtree(prefix)
    (entry,) = json.loads(cli("list", "--json").stdout)
    assert entry["health"] == "broken"
    result = subprocess.run([str(folder / "launcher"), "/tmp/none.json"], capture_output=True, text=True)
    assert result.returncode == 1 and "the environment gone at" in result.stderr and "is gone" in result.stderr
    jc = jupyter_client()
    from jupyter_client.kernelspec import KernelSpecManager

    km = jc.KernelManager(kernel_name="pyenv-gone", kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(folder.parent)]))
    km.start_kernel(env={"PATH": "/usr/bin:/bin"}, stderr=subprocess.PIPE)
    km.provisioner.process.wait(timeout=30)
    assert not km.is_alive()
    assert "is gone" in km.provisioner.process.stderr.read().decode()
    km.cleanup_resources()


def test_kernel_remove_and_delete_remove_the_kernelspec(tmp_path):
    env = clean_env(tmp_path)
    env["JUPYTER_DATA_DIR"] = str(tmp_path / "jupyter")
    cli = Cli(env)
    cli("create", "a")
    assert_one_line_error(cli("kernel", "a", "--remove", check=False), "has no kernel")
    cli("kernel", "a")
    folder = tmp_path / "jupyter" / "kernels" / "pyenv-a"
    assert (folder / "kernel.json").is_file()
    assert "yes" in cli("list").stdout.splitlines()[1]
    cli("kernel", "a", "--remove")
    assert not folder.exists() and json.loads(cli("list", "--json").stdout)[0]["kernels"] == []
    cli("kernel", "a")
    (folder.parent / "unrelated").mkdir()
    cli("delete", "a", "--yes")
    assert not folder.exists() and (folder.parent / "unrelated").is_dir()


def test_kernel_refuses_a_foreign_kernelspec_folder(tmp_path):
    env = clean_env(tmp_path)
    env["JUPYTER_DATA_DIR"] = str(tmp_path / "jupyter")
    cli = Cli(env)
    cli("create", "a")
    foreign = tmp_path / "jupyter" / "kernels" / "pyenv-a"
    foreign.mkdir(parents=True)
    (foreign / "kernel.json").write_text('{"argv": ["python"], "display_name": "mine"}')
    assert_one_line_error(cli("kernel", "a", check=False), "is not this environment's kernel")
    assert json.loads((foreign / "kernel.json").read_text())["display_name"] == "mine"
