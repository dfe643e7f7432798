"""pyenvmod's Lmod hooks in real Lmod, installed the way a site does (LMOD_PACKAGE_PATH)."""

import shlex
import subprocess
import sys

import pytest

from modsys import Lmod, run_bash

pytestmark = pytest.mark.modsys


@pytest.fixture
def lmod():
    return Lmod().require()


@pytest.fixture
def hooks_dir(cli):
    return cli("site", "hooks", "--path").stdout.strip()


@pytest.fixture
def trees(cli):
    """alpha for this node; armenv built 'for another platform' in the same root."""
    cli("create", "alpha")
    cli("create", "armenv", extra_env={"PYENVMOD_PLATFORM": "aarch64-rocky9"})
    here = cli("modulepath").stdout.strip()
    there = cli("modulepath", extra_env={"PYENVMOD_PLATFORM": "aarch64-rocky9"}).stdout.strip()
    return here, there


def lmod_run(lmod, env, trees, body, package_path):
    script = f"""
export LMOD_PACKAGE_PATH={shlex.quote(str(package_path))}
export LMOD_AVAIL_STYLE=grouped:system
{lmod.init()}
module use {' '.join(shlex.quote(t) for t in trees)}
{body}
"""
    return run_bash(script, env)


def test_site_hooks_command_prints_the_installed_folder_and_lines(cli, hooks_dir):
    out = cli("site", "hooks").stdout
    assert f"export LMOD_PACKAGE_PATH={hooks_dir}" in out and "LMOD_AVAIL_STYLE" in out
    from pathlib import Path

    assert (Path(hooks_dir) / "SitePackage.lua").is_file() and (Path(hooks_dir) / "pyenvmod_hooks.lua").is_file()
    assert "site-packages" in hooks_dir or Path(hooks_dir).name == "lmod-hooks"


def test_lmod_finds_the_sitepackage(lmod, env, trees, hooks_dir):
    result = lmod_run(lmod, env, trees, "module --config 2>&1 | grep -i 'site pkg location'", hooks_dir)
    assert f"{hooks_dir}/SitePackage.lua" in result.stdout


def test_conda_warning(lmod, env, trees, hooks_dir):
    result = lmod_run(lmod, env, trees, "export CONDA_SHLVL=1\nmodule load pyenv/alpha; echo rc=$?; echo $VIRTUAL_ENV",
                      hooks_dir)
    assert "conda deactivate" in result.stderr
    assert "rc=0" in result.stdout and "/envs/alpha" in result.stdout
    quiet = lmod_run(lmod, env, trees, "module load pyenv/alpha", hooks_dir)
    assert "conda" not in quiet.stderr


def test_avail_heading_and_foreign_modules_hidden(lmod, env, trees, hooks_dir):
    result = lmod_run(lmod, env, trees, "module avail 2>&1", hooks_dir)
    assert f"Python environments (pyenvmod): {trees[0]}" in result.stdout
    assert "pyenv/alpha" in result.stdout and "armenv" not in result.stdout
    without = lmod_run(lmod, env, trees, "module avail 2>&1", "/nonexistent")
    assert "armenv" in without.stdout, "without hooks the foreign module is listed"


def test_foreign_module_refuses_to_load_saying_where_it_was_built(lmod, env, trees, hooks_dir):
    result = lmod_run(lmod, env, trees, "module load pyenv/armenv; echo rc=$?; echo VE=${VIRTUAL_ENV:-}", hooks_dir)
    assert "built for aarch64-rocky9" in result.stderr and trees[1].rsplit("/modules", 1)[0] in result.stderr
    assert "rc=0" not in result.stdout and "VE=\n" in result.stdout


def site_package(tmp_path, hooks_dir, body):
    folder = tmp_path / "site-lmod"
    folder.mkdir()
    (folder / "SitePackage.lua").write_text(f'package.path = "{hooks_dir}/?.lua;" .. package.path\n{body}\n')
    return folder


def test_usage_log_to_a_file(lmod, env, trees, hooks_dir, tmp_path):
    import os
    import pwd

    log = tmp_path / "usage.log"
    log.write_text("")  # the site creates it; the hook never does (see test_usage_log.py)
    folder = site_package(tmp_path, hooks_dir, f'require("pyenvmod_hooks").setup{{usage_log = "{log}"}}')
    result = lmod_run(lmod, env, trees, "module load pyenv/alpha", folder)
    assert result.returncode == 0, result.stderr
    (line,) = log.read_text().splitlines()
    assert "module=pyenv/alpha/py" in line and f"user={pwd.getpwuid(os.getuid()).pw_name}" in line


def test_a_sites_existing_hooks_chain_with_ours(lmod, env, trees, hooks_dir, tmp_path):
    marker = tmp_path / "site-hook-ran"
    existing = tmp_path / "existing-SitePackage.lua"
    existing.write_text(
        'local hook = require("Hook")\n'
        f'hook.register("load", function(t) local f = io.open("{marker}", "a"); '
        'f:write(t.modFullName, "\\n"); f:close() end)\n')
    folder = site_package(tmp_path, hooks_dir,
                          'local p = require("pyenvmod_hooks").setup{}\n'
                          f'p.chain_file("{existing}")')
    result = lmod_run(lmod, env, trees,
                      "export CONDA_SHLVL=1\nmodule load pyenv/alpha; module load pyenv/armenv; true", folder)
    assert "conda deactivate" in result.stderr and "built for aarch64-rocky9" in result.stderr
    assert marker.read_text().splitlines()[0].startswith("pyenv/alpha/")


def test_hooks_cost_nothing_when_no_pyenv_module_is_involved(lmod, env, hooks_dir, tmp_path):
    """A site module tree without pyenvmod: loads and lists as before."""
    tree = tmp_path / "site-modules" / "tool"
    tree.mkdir(parents=True)
    (tree / "1.0.lua").write_text('setenv("TOOL_HOME", "/opt/tool")\n')
    result = lmod_run(lmod, env, [str(tmp_path / "site-modules")],
                      "export CONDA_SHLVL=1\nmodule load tool; echo $TOOL_HOME; module avail 2>&1", hooks_dir)
    assert "/opt/tool" in result.stdout and "conda" not in result.stderr
    assert "Python environments" not in result.stdout


def test_python_side_and_hooks_agree_on_the_node_platform(lmod, env, hooks_dir):
    from pyenvmod import platform_tag

    code = f'package.path = "{hooks_dir}/?.lua;" .. package.path; ' \
           'package.preload["Hook"] = function() return {{register = function() end}} end; ' \
           'io.write(require("pyenvmod_hooks").node_platform())'
    result = subprocess.run(["lua5.3", "-e", code.replace("{{", "{").replace("}}", "}")],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    expected = subprocess.run([sys.executable, "-c", "from pyenvmod import platform_tag; print(platform_tag.current())"],
                              capture_output=True, text=True, env={k: v for k, v in env.items()
                                                                   if k != "PYENVMOD_PLATFORM"}).stdout.strip()
    assert result.stdout == expected == platform_tag.current()
