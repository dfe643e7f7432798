"""Templates and configuration files (issue 12, holes 8 and 9): Jinja runs sandboxed, template
folders, templates and configuration files others could change are refused the way ssh refuses
its configuration, and a YAML alias bomb fails fast."""

import json
import os
import subprocess

import pytest

from conftest import assert_one_line_error, leftovers

# Ways out of a Jinja template into Python, as published for server-side template injection.
ESCAPES = [
    "{{ cycler.__init__.__globals__.os.popen('touch MARKER').read() }}",
    "{{ lipsum.__globals__['os'].popen('touch MARKER').read() }}",
    "{{ joiner.__init__.__globals__.__builtins__.__import__('subprocess').run(['touch', 'MARKER']) }}",
    "{% for c in ''.__class__.__mro__[1].__subclasses__() %}{% if c.__name__ == 'Popen' %}"
    "{{ c(['touch', 'MARKER']) }}{% endif %}{% endfor %}",
    "{{ self.__init__.__globals__.__builtins__.open('MARKER', 'w').write('x') }}",
    "{{ namespace.__init__.__globals__.os.system('touch MARKER') }}",
]


def write(path, text, mode=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    if mode is not None:
        path.chmod(mode)
    return path


@pytest.mark.parametrize("escape", ESCAPES)
def test_a_template_cannot_reach_python_internals(tmp_path, escape):
    from pyenvmod.modules import render
    from pyenvmod.errors import PyenvmodError

    marker = tmp_path / "MARKER"
    folder = tmp_path / "site-templates"
    write(folder / "evil.j2", "-- " + escape.replace("MARKER", str(marker)) + "\n")
    with pytest.raises(PyenvmodError) as refused:
        render.render_template("evil.j2", {}, render.environment([folder]))
    assert "unsafe" in str(refused.value) and str(folder / "evil.j2") in str(refused.value)
    assert not marker.exists(), "the template ran code"


@pytest.mark.slow
def test_create_with_a_hostile_site_template_is_refused_and_leaves_nothing(cli, root, tmp_path):
    marker = tmp_path / "MARKER"
    folder = tmp_path / "site-templates"
    write(folder / "modulefile.lua.j2", '{% extends "builtin/modulefile.lua.j2" %}\n{% block footer %}'
          + ESCAPES[0].replace("MARKER", str(marker)) + "{% endblock %}\n")
    result = cli("create", "a", check=False, extra_env={"PYENVMOD_TEMPLATES": str(folder)})
    assert_one_line_error(result, str(folder / "modulefile.lua.j2"), "unsafe")
    assert not marker.exists(), "the template ran code"
    assert leftovers(root) == []


def chgrp_users(path):
    """Give ``path`` a group that is not its owner's own group (root's is 'root': private)."""
    os.chown(path, os.getuid(), 100)  # 'users' on Debian


@pytest.mark.slow
@pytest.mark.parametrize("what,mode", [("folder", 0o777), ("folder", 0o775), ("template", 0o666),
                                       ("template", 0o664)])
def test_templates_others_could_change_are_refused(cli, root, tmp_path, what, mode):
    folder = tmp_path / "site-templates"
    template = write(folder / "modulefile.lua.j2", '{% extends "builtin/modulefile.lua.j2" %}\n')
    target = folder if what == "folder" else template
    chgrp_users(target)
    target.chmod(mode)
    result = cli("create", "a", check=False, extra_env={"PYENVMOD_TEMPLATES": str(folder)})
    line = assert_one_line_error(result, str(target), f"chmod go-w {target}")
    assert ("anyone" if mode & 0o002 else "its group") in line
    assert leftovers(root) == []
    target.chmod(mode & ~0o022)
    cli("create", "a", extra_env={"PYENVMOD_TEMPLATES": str(folder)})


@pytest.mark.parametrize("which", ["site", "user"])
@pytest.mark.parametrize("mode", [0o666, 0o664, 0o646])
def test_configuration_files_others_could_change_are_refused(cli, env, tmp_path, which, mode):
    path = write(tmp_path / "no-site-config.yaml" if which == "site" else
                 tmp_path / "home" / ".config" / "pyenvmod" / "config.yaml", "backend: venv\n")
    chgrp_users(path)
    path.chmod(mode)
    result = cli("list", check=False)
    if mode & 0o022:
        assert_one_line_error(result, f"configuration file {path}", f"chmod go-w {path}")
    else:
        assert result.returncode == 0, result.stderr
    path.chmod(0o644)
    assert cli("list").returncode == 0


def test_group_writable_is_fine_when_the_group_is_the_owners_own(cli, env, tmp_path):
    """umask 002 with user private groups: root:root 0664 is writable by root only."""
    path = write(tmp_path / "no-site-config.yaml", "backend: venv\n", 0o664)
    os.chown(path, 0, 0)
    assert '"venv"' in cli("config", "show").stdout


def bomb(levels=9, width=9):
    items = ['&a0 [' + ", ".join(['"lol"'] * width) + ']']
    items += [f"&a{i} [{', '.join([f'*a{i - 1}'] * width)}]" for i in range(1, levels)]
    return "no_binary: [" + ", ".join(items) + "]\n"


@pytest.mark.parametrize("which", ["site", "user"])
def test_a_yaml_alias_bomb_fails_fast(cli, env, tmp_path, which):
    path = write(tmp_path / "no-site-config.yaml" if which == "site" else
                 tmp_path / "home" / ".config" / "pyenvmod" / "config.yaml", bomb())
    try:
        result = cli("list", check=False, timeout=20)
    except subprocess.TimeoutExpired:
        pytest.fail("the alias bomb was expanded")
    assert_one_line_error(result, str(path), "more than 10000 values", "aliases")


def test_a_huge_configuration_file_is_refused(cli, tmp_path):
    path = write(tmp_path / "no-site-config.yaml", "# " + "x" * 2_000_000 + "\nbackend: venv\n")
    assert_one_line_error(cli("list", check=False, timeout=20), str(path), "larger than")


def test_modest_aliases_still_work(cli, tmp_path):
    write(tmp_path / "no-site-config.yaml", "no_binary: &mpi [mpi4py, h5py]\ncapture_exclude: [StdEnv]\n")
    shown = json.loads(cli("config", "show", "--json").stdout)
    assert shown["no_binary"]["value"] == ["mpi4py", "h5py"]


def test_an_alias_bomb_in_an_environment_spec_fails_fast(cli, root, tmp_path):
    spec = write(tmp_path / "environment.yml", bomb().replace("no_binary:", "name: x\ndependencies:"))
    try:
        result = cli("create", "x", "--file", spec, check=False, timeout=20)
    except subprocess.TimeoutExpired:
        pytest.fail("the alias bomb was expanded")
    assert_one_line_error(result, str(spec), "more than 100000 values")
    assert leftovers(root) == []


def test_an_alias_bomb_in_condarc_fails_fast(cli, root, tmp_path):
    condarc = write(tmp_path / "condarc", bomb().replace("no_binary:", "channels:"))
    try:
        result = cli("create", "x", "--backend", "conda", "-p", "python", check=False, timeout=20,
                     extra_env={"CONDARC": str(condarc)})
    except subprocess.TimeoutExpired:
        pytest.fail("the alias bomb was expanded")
    assert_one_line_error(result, str(condarc), "more than 10000 values")
    assert leftovers(root) == []


def test_a_configuration_file_owned_by_someone_else_is_refused(cli, tmp_path):
    user = write(tmp_path / "home" / ".config" / "pyenvmod" / "config.yaml", "backend: venv\n")
    os.chown(user, 65534, 65534)  # nobody: planted in the user's folder
    assert_one_line_error(cli("list", check=False), f"configuration file {user} belongs to nobody")
    os.chown(user, os.getuid(), os.getgid())
    assert cli("list").returncode == 0


def test_a_configuration_file_planted_in_a_sticky_shared_folder_is_refused(cli, tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)  # like /tmp: anyone can create a file there
    site = write(shared / "site.yaml", "backend: venv\n")
    os.chown(site, 65534, 65534)
    result = cli("list", check=False, extra_env={"PYENVMOD_SITE_CONFIG": str(site)})
    assert_one_line_error(result, f"configuration file {site} belongs to nobody")
    os.chown(site, 0, 0)  # the same file from root: the sticky folder protects it
    assert cli("list", extra_env={"PYENVMOD_SITE_CONFIG": str(site)}).returncode == 0


def test_a_site_account_may_own_its_folder_and_files(cli, tmp_path):
    folder = tmp_path / "apps"
    folder.mkdir()
    site = write(folder / "site.yaml", "backend: venv\n")
    for path in (folder, site):
        os.chown(path, 65534, 65534)
    assert '"venv"' in cli("config", "show", extra_env={"PYENVMOD_SITE_CONFIG": str(site)}).stdout


def test_a_configuration_file_in_a_folder_others_can_write_is_refused(cli, tmp_path):
    user = write(tmp_path / "home" / ".config" / "pyenvmod" / "config.yaml", "backend: venv\n")
    chgrp_users(user.parent)
    user.parent.chmod(0o775)  # the group could replace the file
    assert_one_line_error(cli("list", check=False), f"the folder {user.parent} holding the configuration file",
                          f"chmod go-w {user.parent}")
