"""Activation scripts (bash/zsh, csh/tcsh, fish) for users without a module system, sourced in the
real shells: activate, use, deactivate, and the environment is back exactly. Hostile values
round-trip byte-for-byte (or, for csh and a line break, are refused clearly)."""

import json
import os
import shlex
import shutil
import subprocess

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import Cli, assert_one_line_error, clean_env
from modsys import parse_env0, require

SHELLS = {  # shell: (script file, how to source it, how to run a command string)
    "bash": ("activate.sh", "."),
    "zsh": ("activate.sh", "."),
    "tcsh": ("activate.csh", "source"),
    "fish": ("activate.fish", "source"),
}
# what the shells themselves keep changing, unrelated to activation
NOISE = {"SHLVL", "_", "PWD", "OLDPWD", "COLUMNS", "LINES"}


def shell_run(shell, script, env, timeout=60):
    """Run ``script`` as a script file, one command per line, as a user would type them
    (csh expands an alias only on a later line than its definition)."""
    require(shutil.which(shell) is not None, shell, f"apt-get install {shell}")
    import tempfile

    with tempfile.NamedTemporaryFile("w", suffix=f".{shell}", delete=False, encoding="utf-8") as fh:
        fh.write(script + "\n")
    args = {"bash": ["bash", "--norc", "--noprofile"], "zsh": ["zsh", "-f"],
            "tcsh": ["tcsh", "-f"], "fish": ["fish", "--no-config"]}[shell]
    try:
        return subprocess.run([*args, fh.name], env=env, capture_output=True, text=True, timeout=timeout)
    finally:
        os.unlink(fh.name)


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    base = tmp_path_factory.mktemp("shells")
    env = clean_env(base)
    env["PYENVMOD_FORMATS"] = "lua,tcl,bash,csh,fish"
    cli = Cli(env)
    cli("create", "alpha", "-p", "six")
    (entry,) = json.loads(cli("list", "--json").stdout)
    folder = base / "root" / entry["platform"] / "activate" / "alpha"
    return {"env": env, "cli": cli, "entry": entry, "folder": folder, "base": base}


@pytest.mark.parametrize("shell", sorted(SHELLS))
def test_activate_use_deactivate_restores_exactly(made, shell, tmp_path):
    file, source = SHELLS[shell]
    script = made["folder"] / file
    before, after = tmp_path / "before", tmp_path / "after"
    body = "\n".join([f"env -0 > {before}", f"{source} {shlex.quote(str(script))}",
                      "python -c 'import six, sys; print(sys.prefix)'", "echo VE=$VIRTUAL_ENV",
                      "pyenvmod_deactivate", f"env -0 > {after}"])
    env = dict(made["env"], VIRTUAL_ENV="/some/earlier/venv")
    env.pop("PYTHONNOUSERSITE", None)
    result = shell_run(shell, body, env)
    assert result.returncode == 0, result.stdout + result.stderr
    prefix = made["entry"]["prefix"]
    assert result.stdout.splitlines()[:2] == [prefix, f"VE={prefix}"]
    a, b = (({k: v for k, v in parse_env0(p.read_bytes()).items() if k not in NOISE}) for p in (before, after))
    assert a == b


@pytest.mark.parametrize("shell", sorted(SHELLS))
def test_activating_twice_switches_and_one_deactivate_restores(made, shell, tmp_path):
    made["cli"]("create", "beta") if not (made["folder"].parent / "beta").exists() else None
    file, source = SHELLS[shell]
    one, two = made["folder"] / file, made["folder"].parent / "beta" / file
    before, after = tmp_path / "before", tmp_path / "after"
    body = "\n".join([f"env -0 > {before}", f"{source} {shlex.quote(str(one))}", f"{source} {shlex.quote(str(two))}",
                      "echo VE=$VIRTUAL_ENV", "pyenvmod_deactivate", f"env -0 > {after}"])
    result = shell_run(shell, body, made["env"])
    assert result.returncode == 0 and "/envs/beta" in result.stdout, result.stdout + result.stderr
    a, b = (({k: v for k, v in parse_env0(p.read_bytes()).items() if k not in NOISE}) for p in (before, after))
    assert a == b


def test_scripts_follow_the_formats_setting(made):
    assert sorted(os.listdir(made["folder"])) == ["activate.csh", "activate.fish", "activate.sh", "deactivate.csh"]
    made["cli"]("module", "alpha", extra_env={"PYENVMOD_FORMATS": "lua,tcl"})
    assert not made["folder"].exists()
    made["cli"]("module", "alpha")
    assert made["folder"].is_dir()


hostile = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), min_size=0,
                  max_size=80)


@pytest.mark.parametrize("shell", sorted(SHELLS))
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=hostile)
def test_any_value_comes_back_byte_for_byte_or_is_refused(made, shell, value):
    """A site variable (the 'environment' setting) with any value, in every shell format."""
    from pyenvmod.modules import modulefiles, render
    from pyenvmod.errors import PyenvmodError
    from pyenvmod.records.layout import Layout

    record_layout = Layout(made["base"] / "root", made["entry"]["platform"])
    from pyenvmod.records import metadata

    record = metadata.read(record_layout.meta_file("alpha"))
    file, source = SHELLS[shell]
    fmt = {"activate.sh": "bash", "activate.csh": "csh", "activate.fish": "fish"}[file]
    template = next(t for f, t, name in render.SCRIPTS.values() if name == file)
    ctx = modulefiles.layout_context(record_layout, record, {"environment": {"SITE_VALUE": value}})
    try:
        text = render.render_template(template, ctx)
    except PyenvmodError as exc:
        assert fmt == "csh" and any(c in value for c in "\n\r"), exc.message
        assert "line break" in exc.message
        return
    script = made["base"] / f"probe-{shell}"
    script.write_text(text, encoding="utf-8")
    printer = ("python3 -c 'import os,sys; sys.stdout.write(os.environ[\"SITE_VALUE\"].encode(\"utf-8\","
               "\"surrogateescape\").hex())'")
    result = shell_run(shell, f"{source} {shlex.quote(str(script))}\n{printer}",
                       dict(made["env"], LANG="C.UTF-8", LC_ALL="C.UTF-8"))
    assert result.returncode == 0, result.stderr
    assert bytes.fromhex(result.stdout.strip().splitlines()[-1] if result.stdout.strip() else "") == \
        value.encode("utf-8"), (shell, value)


def test_csh_refuses_a_value_with_a_line_break_clearly(tmp_path):
    env = clean_env(tmp_path)
    env.update(PYENVMOD_FORMATS="lua,tcl,csh", PYENVMOD_ENVIRONMENT="NOTE=a")
    cli = Cli(env)
    cli("create", "a")
    config = tmp_path / "home" / ".config" / "pyenvmod" / "config.yaml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text('environment:\n  NOTE: "two\\nlines"\n')
    del cli.env["PYENVMOD_ENVIRONMENT"]
    assert_one_line_error(cli("module", "a", check=False), "activate.csh", "line break")
