"""pyenvmod's Lmod hooks in real Lmod, installed the way a site does (LMOD_PACKAGE_PATH)."""

import shlex
import shutil
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
{"module use " + " ".join(shlex.quote(t) for t in trees) if trees else ""}
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
    from pyenvmod.records import platform_tag

    code = f'package.path = "{hooks_dir}/?.lua;" .. package.path; ' \
           'package.preload["Hook"] = function() return {{register = function() end}} end; ' \
           'io.write(require("pyenvmod_hooks").node_platform())'
    result = subprocess.run(["lua5.3", "-e", code.replace("{{", "{").replace("}}", "}")],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    expected = subprocess.run([sys.executable, "-c", "from pyenvmod.records import platform_tag; print(platform_tag.current())"],
                              capture_output=True, text=True, env={k: v for k, v in env.items()
                                                                   if k != "PYENVMOD_PLATFORM"}).stdout.strip()
    assert result.stdout == expected == platform_tag.current()


def test_loading_before_module_use_says_module_use(lmod, env, cli, hooks_dir):
    """`module load pyenv/NAME` without the user's tree on MODULEPATH: Lmod's "unknown" error
    carries the `module use` line, and typing that line makes the load work."""
    cli("create", "alpha")
    modules = cli("modulepath").stdout.strip()
    body = ("module load pyenv/alpha; echo rc=$?\n"
            "module use $(pyenvmod modulepath) && module load pyenv/alpha && echo VE=$VIRTUAL_ENV\n"
            "module load pyenv/nosuch; echo rc=$?")
    result = lmod_run(lmod, env, [], body, hooks_dir)
    first, second = result.stderr.split("The following module(s) are unknown:")[1:]
    flat = " ".join(first.split())  # Lmod wraps the message to the terminal's width
    assert f"pyenv/alpha is in your pyenvmod module tree {modules}, which is not on your MODULEPATH." in flat
    assert "module use $(pyenvmod modulepath)" in first
    assert "pyenvmod" not in second, "on MODULEPATH now: an unknown name gets Lmod's message only"
    assert result.stdout.splitlines()[0] == "rc=1" and "/envs/alpha" in result.stdout.splitlines()[1]
    without = lmod_run(lmod, env, [], "module load pyenv/alpha", "/nonexistent")
    assert "unknown" in without.stderr and "pyenvmod modulepath" not in without.stderr


def test_environment_modules_loading_before_module_use_says_module_use(env, cli, hooks_dir):
    """The same hint in Environment Modules 5, through pyenvmod_siteconfig.tcl (MODULES_SITECONFIG,
    the line `pyenvmod site hooks` prints)."""
    from modsys import EnvironmentModules

    em = EnvironmentModules().require()
    siteconfig = f"{hooks_dir}/pyenvmod_siteconfig.tcl"
    assert f"export MODULES_SITECONFIG={siteconfig}" in cli("site", "hooks").stdout
    cli("create", "alpha")
    modules = cli("modulepath").stdout.strip()
    body = ("module load pyenv/alpha; echo rc=$?\nmodule load gcc/99\n"
            "module use $(pyenvmod modulepath) && module load pyenv/alpha && echo VE=$VIRTUAL_ENV\n"
            "module load pyenv/nosuch; echo rc=$?")
    # a site's own module tree is on MODULEPATH (with none at all, Environment Modules stops at
    # "No module path defined" before looking for any module)
    script = f"export MODULEPATH=/nonexistent/site-modules\n{em.init()}\n"
    result = run_bash(f"export MODULES_SITECONFIG={shlex.quote(siteconfig)}\n{script}{body}", env)
    errors = result.stderr.split("ERROR: ")[1:]
    assert errors[0].startswith("Unable to locate a modulefile for 'pyenv/alpha'\n")
    assert f"pyenv/alpha is in your pyenvmod module tree {modules}, which is not on your MODULEPATH." in errors[0]
    assert "    module use $(pyenvmod modulepath)\n" in errors[0]
    assert errors[1].strip() == "Unable to locate a modulefile for 'gcc/99'", "other modules: as before"
    assert errors[2].strip() == "Unable to locate a modulefile for 'pyenv/nosuch'", "on MODULEPATH: no hint"
    assert result.stdout.splitlines()[0] == "rc=1" and "/envs/alpha" in result.stdout.splitlines()[1]
    without = run_bash(script + "module load pyenv/alpha", env)
    assert "Unable to locate" in without.stderr and "pyenvmod modulepath" not in without.stderr


def test_environment_modules_finds_the_tree_as_pyenvmod_does(env, cli, hooks_dir, tmp_path):
    """pyenvmod_siteconfig.tcl's modules_dir in tclsh equals `pyenvmod modulepath`: from
    PYENVMOD_ROOT, from `root:` in the user's file, from the site's file, and the default."""
    from pathlib import Path

    from modsys import require

    require(shutil.which("tclsh") is not None, "tclsh", "apt-get install tcl")
    user_cfg = Path(env["XDG_CONFIG_HOME"]) / "pyenvmod" / "config.yaml"
    user_cfg.parent.mkdir(parents=True)
    site = tmp_path / "site.yaml"
    site.write_text("root: '/site/$USER/{arch}/pyenvmod'   # project storage\n")
    code = f'source {hooks_dir}/pyenvmod_siteconfig.tcl; puts [::pyenvmod::modules_dir]'
    cases = [({}, ""), ({"PYENVMOD_ROOT": None}, 'root: "~/proj/${USER}/x"\n'),
             ({"PYENVMOD_ROOT": None, "PYENVMOD_SITE_CONFIG": str(site)}, ""),
             ({"PYENVMOD_ROOT": None}, ""), ({"PYENVMOD_ROOT": None, "XDG_DATA_HOME": None}, "")]
    for change, user_text in cases:
        case_env = {k: v for k, v in {**env, **change}.items() if v is not None}
        user_cfg.write_text(user_text)
        cli.env = case_env
        expected = cli("modulepath").stdout.strip()
        found = subprocess.run(["tclsh"], input=code, env=case_env, capture_output=True, text=True)
        assert found.stdout.strip() == expected, (change, user_text, found.stderr)
