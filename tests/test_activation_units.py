"""The activation scripts (bash/zsh, tcsh, fish), rendered in-process for a real small environment
(``venv --without-pip``, no uv) and sourced in the real shells: every variable they set, in which
order the folders come, and that deactivation gives back each variable exactly as it was (set,
unset, or set to the empty string). The line mutator (tests/mutate_text.py) runs these first;
tests/test_shells.py drives the same scripts through 'pyenvmod create'."""

import os
import shlex

import pytest

from guardenv import MM, World
from modsys import parse_env0
from test_shells import shell_run

from pyenvmod.modules import modulefiles, render

SHELLS = {"bash": ("activate.sh", "."), "zsh": ("activate.sh", "."), "tcsh": ("activate.csh", "source"),
          "fish": ("activate.fish", "source")}
SAVED = ("PATH", "VIRTUAL_ENV", "PYTHONNOUSERSITE", "PYENVMOD_SITE_PATH", "PYENVMOD_LOADED", "SITE_NOTE")
WHICH = {"bash": "command -v python", "zsh": "command -v python", "tcsh": "which python", "fish": "command -v python"}
NOISE = {"SHLVL", "_", "PWD", "OLDPWD", "COLUMNS", "LINES"}


@pytest.fixture
def scripts(tmp_path, monkeypatch):
    """{name: folder of its activation scripts} for two environments, alpha and beta."""
    world = World(tmp_path, monkeypatch)
    out = {"world": world}
    for name in ("alpha", "beta"):
        record = world.make(name)
        ctx = modulefiles.layout_context(world.layout, record, {"environment": {"SITE_NOTE": f"note of {name}"}})
        folder = world.layout.activate_dir(name)
        folder.mkdir(parents=True)
        for _fmt, template, filename in render.SCRIPTS.values():
            (folder / filename).write_text(render.render_template(template, ctx), encoding="utf-8")
        out[name] = {"folder": folder, "prefix": record.prefix, "site": str(world.site(record.prefix)),
                     "stage_bin": ctx["stage_bin"]}
    return out


def base_env(tmp_path, **values) -> dict:
    env = {"HOME": str(tmp_path), "LANG": "C.UTF-8", "PATH": "/usr/local/bin:/usr/bin:/bin"}
    env.update(values)
    return {k: v for k, v in env.items() if v is not None}


def run_in(shell, scripts, tmp_path, env, *steps):
    """Run ``steps`` (``activate NAME``, ``deactivate``, ``dump``, or a command) in ``shell``; returns the
    environments dumped (``dump``), in order, and the shell's result."""
    file, source = SHELLS[shell]
    lines, dumps = [], []
    for step in steps:
        if step.startswith("activate "):
            lines.append(f"{source} {shlex.quote(str(scripts[step.split()[1]]['folder'] / file))}")
        elif step == "deactivate":
            lines.append("pyenvmod_deactivate")
        elif step == "dump":
            dumps.append(tmp_path / f"dump{len(dumps)}")
            lines.append(f"/usr/bin/env -0 > {shlex.quote(str(dumps[-1]))}")
        else:
            lines.append(step)
    result = shell_run(shell, "\n".join(lines), env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stderr == ""  # nothing to complain about, in any shell
    return [{k: v for k, v in parse_env0(p.read_bytes()).items() if k not in NOISE} for p in dumps], result


@pytest.mark.parametrize("shell", sorted(SHELLS))
def test_activation_puts_the_launchers_then_the_environment_first_and_sets_its_variables(scripts, shell, tmp_path):
    alpha = scripts["alpha"]
    env = base_env(tmp_path, PYENVMOD_SITE_PATH="/other/site-packages", PYENVMOD_LOADED=f"other@{MM}")
    (after,), result = run_in(shell, scripts, tmp_path, env, "activate alpha", "dump", WHICH[shell])
    assert after["PATH"] == f"{alpha['stage_bin']}:{alpha['prefix']}/bin:/usr/local/bin:/usr/bin:/bin"
    assert after["VIRTUAL_ENV"] == alpha["prefix"] and after["PYTHONNOUSERSITE"] == "1"
    assert after["PYENVMOD_SITE_PATH"] == f"{alpha['site']}:/other/site-packages"
    assert after["PYENVMOD_LOADED"] == f"alpha@{MM}:other@{MM}"
    assert after["SITE_NOTE"] == "note of alpha"
    assert result.stdout.split() == [f"{alpha['prefix']}/bin/python"]


@pytest.mark.parametrize("shell", sorted(SHELLS))
def test_activation_without_earlier_values_leaves_no_empty_entry(scripts, shell, tmp_path):
    alpha = scripts["alpha"]
    (after,), _ = run_in(shell, scripts, tmp_path, base_env(tmp_path), "activate alpha", "dump")
    assert after["PYENVMOD_SITE_PATH"] == alpha["site"]
    assert after["PYENVMOD_LOADED"] == f"alpha@{MM}"


@pytest.mark.parametrize("shell", sorted(SHELLS))
def test_deactivation_gives_back_each_variable_set_unset_or_empty(scripts, shell, tmp_path):
    """Before: PATH and VIRTUAL_ENV set, PYENVMOD_LOADED set to '' (a shell that unloaded everything),
    the other saved variables unset; after deactivation exactly that, and nothing of pyenvmod's left."""
    env = base_env(tmp_path, VIRTUAL_ENV="/some/earlier/venv", PYENVMOD_LOADED="")
    (before, during, after), result = run_in(
        shell, scripts, tmp_path, env, "dump", "activate alpha", "dump", "deactivate", "dump",
        WHICH[shell], "type pyenvmod_deactivate >/dev/null 2>&1 && echo still-defined"
        if shell in ("bash", "zsh") else ("functions -q pyenvmod_deactivate; and echo still-defined"
                                          if shell == "fish" else "alias pyenvmod_deactivate"), "echo done")
    assert during["VIRTUAL_ENV"] == scripts["alpha"]["prefix"]
    assert after == before
    assert not [k for k in after if k.startswith("_PYENVMOD_")]
    # no deactivation function or alias is left, and python is no longer the environment's
    assert "still-defined" not in result.stdout and "deactivate.csh" not in result.stdout
    assert scripts["alpha"]["prefix"] not in result.stdout
    assert {k for k in SAVED if k in during} == set(SAVED)


@pytest.mark.parametrize("shell", sorted(SHELLS))
def test_a_second_activation_replaces_the_first_and_one_deactivation_restores(scripts, shell, tmp_path):
    alpha, beta = scripts["alpha"], scripts["beta"]
    env = base_env(tmp_path, PYENVMOD_SITE_PATH="/other/site-packages")
    (before, during, after), _ = run_in(shell, scripts, tmp_path, env, "dump", "activate alpha", "activate beta",
                                        "dump", "deactivate", "dump")
    assert during["PATH"] == f"{beta['stage_bin']}:{beta['prefix']}/bin:/usr/local/bin:/usr/bin:/bin"
    assert during["PYENVMOD_SITE_PATH"] == f"{beta['site']}:/other/site-packages"
    assert during["PYENVMOD_LOADED"] == f"beta@{MM}" and during["SITE_NOTE"] == "note of beta"
    assert alpha["prefix"] not in " ".join(during.values())
    assert after == before


@pytest.mark.parametrize("shell", ["bash", "zsh", "tcsh"])
def test_a_command_run_before_activation_is_looked_up_again(scripts, shell, tmp_path):
    """A shell remembers where it found a command; after activation (and after deactivation) the
    environment's own (and then the earlier one) runs."""
    alpha = scripts["alpha"]
    earlier = tmp_path / "earlier"
    earlier.mkdir()
    for folder, word in ((earlier, "earlier"), (alpha["prefix"] + "/bin", "environment")):
        tool = f"{folder}/pyenvmodtool"
        with open(tool, "w") as fh:
            fh.write(f"#!/bin/sh\necho {word}\n")
        os.chmod(tool, 0o755)
    env = base_env(tmp_path, PATH=f"{earlier}:/usr/bin:/bin")
    _, result = run_in(shell, scripts, tmp_path, env, "pyenvmodtool", "activate alpha", "pyenvmodtool", "deactivate",
                       "pyenvmodtool")
    assert result.stdout.split() == ["earlier", "environment", "earlier"]


def test_tcsh_activation_without_a_path_variable(scripts, tmp_path):
    alpha = scripts["alpha"]
    env = base_env(tmp_path)
    del env["PATH"]
    (during, after), _ = run_in("tcsh", scripts, tmp_path, env, "activate alpha", "dump", "deactivate", "dump")
    assert during["PATH"] == f"{alpha['stage_bin']}:{alpha['prefix']}/bin"
    assert "PATH" not in after


def test_fish_deactivation_says_what_it_does(scripts, tmp_path):
    _, result = run_in("fish", scripts, tmp_path, base_env(tmp_path), "activate alpha",
                       "functions --details --verbose pyenvmod_deactivate")
    assert result.stdout.splitlines()[-1] == "leave the pyenvmod environment alpha"
