"""Layered configuration: config show --origin, site-locked keys; templates list / show."""

import json

from conftest import assert_one_line_error


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_config_show_gives_value_and_origin_of_every_layer(cli, env, tmp_path):
    site = write(tmp_path / "no-site-config.yaml", "backend: venv\nlock_timeout: 3\n")
    user = write(tmp_path / "home" / ".config" / "pyenvmod" / "config.yaml", "lock_timeout: 5\nkernel: true\n")
    out = cli("config", "show", "--origin", extra_env={"PYENVMOD_DEPENDENCIES": "require"}).stdout
    lines = dict(line.split(": ", 1) for line in out.splitlines())
    assert lines["backend"] == f'"venv"    # {site}:1'
    assert lines["lock_timeout"] == f"5    # {user}:1"
    assert lines["kernel"] == f"true    # {user}:2"
    assert lines["dependencies"] == '"require"    # $PYENVMOD_DEPENDENCIES'
    assert lines["python"] == '"python3"    # default'
    data = json.loads(cli("config", "show", "--json").stdout)
    assert data["root"]["origin"] == "$PYENVMOD_ROOT" and data["backend"]["value"] == "venv"


def test_site_locked_keys_cannot_be_overridden(cli, tmp_path):
    site = write(tmp_path / "no-site-config.yaml", "no_binary: [mpi4py]\nlocked: [no_binary, backend]\n")
    assert '(locked by the site)' in cli("config", "show", "--origin").stdout
    user = write(tmp_path / "home" / ".config" / "pyenvmod" / "config.yaml", "backend: venv\n")
    assert_one_line_error(cli("list", check=False), f"{user}:1", "'backend' is locked by the site", f"{site}:2")
    user.unlink()
    assert_one_line_error(cli("list", check=False, extra_env={"PYENVMOD_BACKEND": "venv"}),
                          "$PYENVMOD_BACKEND", "locked by the site")
    write(tmp_path / "no-site-config.yaml", "locked: [nonsense]\n")
    assert_one_line_error(cli("list", check=False), "locked must be a list of keys")


def test_templates_list_and_show(cli, tmp_path):
    site = tmp_path / "site-templates"
    write(site / "modulefile.lua.j2", '{% extends "builtin/modulefile.lua.j2" %}\n')
    out = cli("templates", "list", extra_env={"PYENVMOD_TEMPLATES": str(site)}).stdout
    lines = {ln.split()[0]: ln.split()[1:] for ln in out.splitlines()}
    assert lines["modulefile.lua.j2"] == ["overridden", str(site / "modulefile.lua.j2")]
    assert lines["modulefile.tcl.j2"][0] == "built-in" and "kernel-launcher.sh.j2" in lines
    shown = cli("templates", "show", "modulefile.lua.j2", extra_env={"PYENVMOD_TEMPLATES": str(site)}).stdout
    assert shown == '{% extends "builtin/modulefile.lua.j2" %}\n'
    assert "prepend_path" in cli("templates", "show", "modulefile.lua.j2").stdout
    assert_one_line_error(cli("templates", "show", "nope.j2", check=False), "no template named 'nope.j2'")


def test_caches_follow_the_cache_dir_setting_for_every_backend(cli, env, tmp_path, monkeypatch):
    cache = tmp_path / "project-cache"
    cli("create", "u", "-p", "six", extra_env={"PYENVMOD_CACHE_DIR": str(cache)})
    assert any((cache / "uv").rglob("*six*")), "uv's cache is in the configured folder"
    # pip caches only what it downloads over HTTP (this machine's index is local): check what it is given
    from pyenvmod import config
    from pyenvmod.operations.common import backend_for

    for key in ("HOME", "XDG_CONFIG_HOME", "PYENVMOD_SITE_CONFIG", "PYENVMOD_ROOT"):
        monkeypatch.setenv(key, env[key])
    monkeypatch.setenv("PYENVMOD_CACHE_DIR", str(cache))
    for name in ("uv", "venv"):
        helper_env = backend_for(config.load(), name).env
        assert helper_env["PIP_CACHE_DIR"] == str(cache / "pip") and helper_env["UV_CACHE_DIR"] == str(cache / "uv")
    assert_one_line_error(cli("list", check=False, extra_env={"PYENVMOD_CACHE_DIR": "relative"}),
                          "$PYENVMOD_CACHE_DIR", "absolute")


def test_user_and_site_template_folders_both_apply_user_first(cli, tmp_path):
    site_t, user_t = tmp_path / "site-t", tmp_path / "user-t"
    write(site_t / "modulefile.lua.j2", "-- site\n")
    write(site_t / "modulefile.tcl.j2", "#%Module1.0\n# site tcl\n")
    write(user_t / "modulefile.lua.j2", "-- user\n")
    write(tmp_path / "no-site-config.yaml", f"templates: [{site_t}]\n")
    write(tmp_path / "home" / ".config" / "pyenvmod" / "config.yaml", f"templates: [{user_t}]\n")
    lines = {ln.split()[0]: ln.split()[2] for ln in cli("templates", "list").stdout.splitlines()}
    assert lines["modulefile.lua.j2"] == str(user_t / "modulefile.lua.j2")
    assert lines["modulefile.tcl.j2"] == str(site_t / "modulefile.tcl.j2")
    assert "+" in cli("config", "show", "--origin").stdout.split("templates:")[1].splitlines()[0]


def test_placeholders_expand_in_paths(cli, env, tmp_path):
    import subprocess

    from pyenvmod.records import platform_tag

    out = cli("config", "show", extra_env={"PYENVMOD_ROOT": f"{tmp_path}/$USER/{{arch}}/py{{python}}",
                                           "PYENVMOD_CACHE_DIR": "~/cache"}).stdout
    lines = dict(line.split(": ", 1) for line in out.splitlines())
    mm = subprocess.run(["python3", "-c", "import sys; print('%d.%d' % sys.version_info[:2])"], env=env,
                        capture_output=True, text=True).stdout.strip()
    assert lines["root"] == f'"{tmp_path}/{env["USER"]}/{platform_tag.current()}/py{mm}"'
    assert lines["cache_dir"] == f'"{tmp_path}/home/cache"'
