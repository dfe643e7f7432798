"""The command line, run for real: commands, help, bad input, nothing left behind."""

import json
import os
import subprocess
import sys

import pytest

from conftest import assert_one_line_error, leftovers, pty_converse

COMMANDS = ["create", "list", "delete", "module", "modulepath"]


def test_version_and_python_dash_m(cli, env):
    from pyenvmod import __version__

    assert cli("--version").stdout.strip() == f"pyenvmod {__version__}"
    result = subprocess.run([sys.executable, "-m", "pyenvmod", "--version"], env=env, capture_output=True, text=True)
    assert result.stdout.strip() == f"pyenvmod {__version__}"


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(cli, command):
    result = cli(command, "--help")
    assert result.stdout.startswith(f"usage: pyenvmod {command}")


def test_top_level_help_lists_every_command(cli):
    out = cli("--help").stdout
    for command in COMMANDS:
        assert f"    {command}" in out


def test_help_imports_no_heavy_module(env):
    code = ("import sys; from pyenvmod import cli; "
            "sys.argv=['pyenvmod','--help']\n"
            "try: cli.main()\nexcept SystemExit: pass\n"
            "heavy = [m for m in ('jinja2', 'yaml', 'packaging', 'json', 'subprocess') if m in sys.modules]\n"
            "print('HEAVY', heavy)")
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert result.stdout.strip().endswith("HEAVY []"), result.stdout + result.stderr


def test_create_list_json_has_the_documented_keys(cli, root):
    cli("create", "alpha", "-p", "six", "--description", "first")
    (entry,) = json.loads(cli("list", "--json").stdout)
    for key in ("name", "prefix", "python", "backend", "module", "created"):
        assert entry[key], key
    assert entry["name"] == "alpha" and entry["backend"] == "uv" and entry["health"] == "ok"
    assert entry["module"] == f"pyenv/alpha/py{'.'.join(entry['python'].split('.')[:2])}"
    assert entry["prefix"].startswith(str(root)) and os.path.isfile(entry["prefix"] + "/bin/python")
    assert os.path.isfile(entry["prefix"] + "/bin/pip"), "users pip install after module load"
    assert entry["description"] == "first"


def test_list_table(cli):
    assert "No environments yet" in cli("list").stdout
    cli("create", "alpha")
    lines = cli("list").stdout.splitlines()
    assert lines[0].split() == ["NAME", "PYTHON", "BACKEND", "MODULE", "BASE", "KERNEL", "CREATED", "HEALTH", "PREFIX"]
    assert lines[1].split()[0] == "alpha" and " ok " in lines[1]


def test_layout_has_arch_and_os_in_the_path(cli, root):
    from pyenvmod.records import platform_tag

    cli("create", "alpha")
    (entry,) = json.loads(cli("list", "--json").stdout)
    assert entry["prefix"] == str(root / platform_tag.current() / "envs" / "alpha")
    assert cli("modulepath").stdout.strip() == str(root / platform_tag.current() / "modules")
    import platform

    assert platform_tag.current().startswith(platform.machine() + "-")


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["uv", "venv"])
def test_backends_build_with_the_requested_python(cli, backend):
    cli("create", "e", "--backend", backend, "--python", "3.12", "-p", "six")
    (entry,) = json.loads(cli("list", "--json").stdout)
    assert entry["backend"] == backend and entry["python"].startswith("3.12.")
    out = subprocess.run([entry["prefix"] + "/bin/python", "-c", "import six, sys; print(sys.version_info[:2])"],
                         capture_output=True, text=True)
    assert out.stdout.strip() == "(3, 12)"


def test_python_by_path(cli):
    import glob

    paths = glob.glob(os.path.expanduser("~/.pyenv/versions/3.11*/bin/python3.11")) or ["/usr/bin/python3"]
    cli("create", "e", "--python", paths[0])
    (entry,) = json.loads(cli("list", "--json").stdout)
    assert entry["base_python"] == os.path.realpath(paths[0]) or entry["base_python"] == paths[0]


@pytest.mark.parametrize("name", [".hidden", "-x", "a/b", "a b", "x" * 65, "a;rm", "ü", "$(id)"])
def test_bad_names_are_refused_with_the_rule(cli, root, name):
    result = cli("create", "--", name, check=False) if name.startswith("-") else cli("create", name, check=False)
    assert_one_line_error(result, "letters, digits and . _ + -", "64")
    assert leftovers(root) == []


def test_existing_name_is_refused_with_a_hint(cli):
    cli("create", "alpha")
    assert_one_line_error(cli("create", "alpha", check=False), "already exists", "pyenvmod delete alpha")


def test_unknown_package_leaves_nothing(cli, root):
    result = cli("create", "alpha", "-p", "six", "no-such-package-pyenvmod-zz", check=False)
    assert_one_line_error(result, "could not install", "no-such-package-pyenvmod-zz")
    assert leftovers(root) == []
    assert json.loads(cli("list", "--json").stdout) == []


@pytest.mark.slow
def test_unknown_package_venv_backend_leaves_nothing(cli, root):
    result = cli("create", "alpha", "--backend", "venv", "-p", "no-such-package-pyenvmod-zz", check=False)
    assert_one_line_error(result, "could not install", "no-such-package-pyenvmod-zz")
    assert leftovers(root) == []


@pytest.mark.parametrize("spec", ["--index-url=http://evil", "-e.", "numpy>>=1", "a b c"])
def test_bad_package_specs_are_refused_before_anything_is_made(cli, root, spec):
    result = cli("create", "alpha", f"--packages={spec}", check=False)
    assert_one_line_error(result, "invalid package spec")
    assert leftovers(root) == []


@pytest.mark.parametrize("python", ["2.1", "/no/such/python", "python-does-not-exist"])
def test_missing_python_is_reported(cli, root, python):
    result = cli("create", "alpha", "--python", python, check=False)
    assert_one_line_error(result, "--python")
    assert leftovers(root) == []


def test_root_that_cannot_be_created_is_reported(cli, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    result = cli("create", "alpha", extra_env={"PYENVMOD_ROOT": str(blocker / "root")}, check=False)
    assert_one_line_error(result, "cannot create", "PYENVMOD_ROOT")
    result = cli("create", "alpha", extra_env={"PYENVMOD_ROOT": "/proc/pyenvmod-root"}, check=False)
    assert_one_line_error(result, "PYENVMOD_ROOT")


@pytest.mark.parametrize("value,fragment", [("relative/dir", "absolute"), ("/a:b", "':'"), ("$NO_SUCH_VAR_X/r", "unset")])
def test_bad_root_values_are_refused(cli, value, fragment):
    result = cli("list", extra_env={"PYENVMOD_ROOT": value}, check=False)
    assert_one_line_error(result, "$PYENVMOD_ROOT", fragment)


@pytest.mark.slow
def test_root_from_user_config_file_with_expansion(cli, env, tmp_path):
    config = tmp_path / "home" / ".config" / "pyenvmod" / "config.yaml"
    config.parent.mkdir(parents=True)
    config.write_text("root: ~/envs-{arch}\nbackend: venv\n")
    del cli.env["PYENVMOD_ROOT"]
    cli("create", "alpha")
    (entry,) = json.loads(cli("list", "--json").stdout)
    from pyenvmod.records import platform_tag

    assert entry["prefix"].startswith(str(tmp_path / "home" / f"envs-{platform_tag.current()}"))
    assert entry["backend"] == "venv"


def test_config_errors_name_file_key_and_line(cli, tmp_path):
    config = tmp_path / "home" / ".config" / "pyenvmod" / "config.yaml"
    config.parent.mkdir(parents=True)
    config.write_text("backend: uv\nroots: /x\n")
    assert_one_line_error(cli("list", check=False), f"{config}:2", "unknown key 'roots'")
    config.write_text("backend: conda-forge\n")
    assert_one_line_error(cli("list", check=False), f"{config}:1", "backend must be one of")
    config.write_text("root: [unclosed\n")
    assert_one_line_error(cli("list", check=False), str(config), "not valid YAML")


def test_default_root_is_xdg_and_the_home_note_is_said_once(cli, env):
    del cli.env["PYENVMOD_ROOT"]
    first = cli("create", "alpha")
    assert "quota" in first.stderr and "PYENVMOD_ROOT" in first.stderr
    (entry,) = json.loads(cli("list", "--json").stdout)
    assert entry["prefix"].startswith(env["XDG_DATA_HOME"] + "/pyenvmod/")
    second = cli("create", "beta")
    assert "quota" not in second.stderr


def test_delete_without_terminal_needs_yes(cli):
    cli("create", "alpha")
    result = cli("delete", "alpha", check=False)
    assert_one_line_error(result, "without confirmation", "--yes")
    assert [e["name"] for e in json.loads(cli("list", "--json").stdout)] == ["alpha"]
    cli("delete", "alpha", "--yes")
    assert json.loads(cli("list", "--json").stdout) == []


def test_delete_removes_everything(cli, root):
    cli("create", "alpha", "-p", "six")
    cli("create", "beta")
    cli("delete", "alpha", "--yes")
    assert [e["name"] for e in json.loads(cli("list", "--json").stdout)] == ["beta"]
    assert not [p for p in leftovers(root) if "alpha" in p]


@pytest.mark.parametrize("answer,kept", [("n", True), ("", True), ("y", False)])
def test_delete_asks_on_a_terminal(cli, env, answer, kept):
    cli("create", "alpha")
    code, output = pty_converse(env, ["delete", "alpha"], [answer])
    assert "Delete environment 'alpha'" in output
    names = [e["name"] for e in json.loads(cli("list", "--json").stdout)]
    assert (names == ["alpha"]) is kept
    assert code == (1 if kept else 0)


def test_delete_unknown_name(cli):
    assert_one_line_error(cli("delete", "ghost", "--yes", check=False), "no environment named 'ghost'")


def test_delete_never_follows_a_symlink_out_of_the_root(cli, root, tmp_path):
    cli("create", "alpha")
    (entry,) = json.loads(cli("list", "--json").stdout)
    outside = tmp_path / "precious"
    outside.mkdir()
    (outside / "data.txt").write_text("keep me")
    # the environment folder is swapped for a link to a folder outside the root
    import shutil

    shutil.rmtree(entry["prefix"])
    os.symlink(outside, entry["prefix"])
    cli("delete", "alpha", "--yes")
    assert (outside / "data.txt").read_text() == "keep me"
    assert not os.path.lexists(entry["prefix"])


def test_delete_refuses_when_the_envs_folder_links_out_of_the_root(cli, root, tmp_path):
    cli("create", "alpha")
    (entry,) = json.loads(cli("list", "--json").stdout)
    envs = os.path.dirname(entry["prefix"])
    outside = tmp_path / "elsewhere"
    os.rename(envs, outside)
    os.symlink(outside, envs)
    result = cli("delete", "alpha", "--yes", check=False)
    assert_one_line_error(result, "outside the root")
    assert (outside / "alpha" / "bin" / "python").exists()


def test_module_regenerates_missing_or_stale_modulefiles(cli, root):
    cli("create", "alpha")
    modules_dir = cli("modulepath").stdout.strip()
    folder = os.path.join(modules_dir, "pyenv", "alpha")
    files = sorted(os.listdir(folder))
    lua = os.path.join(folder, next(f for f in files if f.endswith(".lua")))
    os.unlink(lua)
    open(os.path.join(folder, "old-tag.lua"), "w").write("-- stale\n")
    (entry,) = json.loads(cli("list", "--json").stdout)
    assert entry["health"] == "broken" and any("lua modulefile missing" in p for p in entry["problems"])
    out = cli("module", "alpha").stdout
    assert lua in out
    assert sorted(os.listdir(folder)) == files
    assert json.loads(cli("list", "--json").stdout)[0]["health"] == "ok"


def test_module_of_unknown_env(cli):
    assert_one_line_error(cli("module", "ghost", check=False), "no environment named 'ghost'")


@pytest.mark.slow
def test_list_marks_missing_interpreter_and_modulefile_pointing_elsewhere(cli, root):
    cli("create", "alpha")
    cli("create", "beta")
    entries = {e["name"]: e for e in json.loads(cli("list", "--json").stdout)}
    os.unlink(entries["alpha"]["prefix"] + "/bin/python")
    modules_dir = cli("modulepath").stdout.strip()
    tcl = os.path.join(modules_dir, "pyenv", "beta", entries["beta"]["module"].rsplit("/", 1)[1])
    text = open(tcl).read().replace(entries["beta"]["prefix"], "/somewhere/else")
    open(tcl, "w").write(text)
    entries = {e["name"]: e for e in json.loads(cli("list", "--json").stdout)}
    assert entries["alpha"]["health"] == "broken" and "interpreter missing" in entries["alpha"]["problems"][0]
    assert entries["beta"]["health"] == "broken"
    assert entries["beta"]["problems"] == [f"tcl modulefile does not point at {entries['beta']['prefix']}"]
    table = cli("list").stdout
    assert "alpha: interpreter missing" in table


def test_corrupt_metadata_is_named_and_others_still_list(cli, root):
    cli("create", "alpha")
    cli("create", "beta")
    meta = next(root.glob("*/meta/alpha.json"))
    meta.write_text('{"name": "alpha", "pre')
    entries = {e["name"]: e for e in json.loads(cli("list", "--json").stdout)}
    assert entries["beta"]["health"] == "ok"
    assert entries["alpha"]["health"] == "broken" and str(meta) in entries["alpha"]["problems"][0]
    assert_one_line_error(cli("module", "alpha", check=False), str(meta), "corrupt")


def test_modulepath_prints_the_tree(cli, root):
    from pyenvmod.records import platform_tag

    assert cli("modulepath").stdout == f"{root / platform_tag.current() / 'modules'}\n"
