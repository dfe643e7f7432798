"""The admin guide's module for pyenvmod itself, typed as the guide shows it, in real Lmod and
real Environment Modules 5: it exposes only the `pyenvmod` command and its man page, never the
private interpreter's python3 and pip."""

import re
import shutil
import sys
from pathlib import Path

import pytest

from modsys import REPO, run_bash
from sessions import assert_restored, snapshots

pytestmark = pytest.mark.modsys

GUIDE = REPO / "docs" / "admin-guide" / "index.md"


def guide_blocks(language: str) -> list[str]:
    section = GUIDE.read_text().split("## Installing pyenvmod for all users", 1)[1].split("\n## ", 1)[0]
    return re.findall(rf"```{language}\n(.*?)```", section, re.S)


@pytest.fixture
def install(tmp_path):
    """/opt/pyenvmod as the guide's first lines leave it: a venv whose bin holds python3, pip and
    pyenvmod (links into the venv these tests run in, which has pyenvmod installed)."""
    opt = tmp_path / "opt" / "pyenvmod"
    (opt / "bin").mkdir(parents=True)
    (opt / "share" / "man" / "man1").mkdir(parents=True)
    venv_bin = Path(sys.prefix) / "bin"
    for name in ("pyenvmod", "python", "python3", "pip", "pip3"):
        (opt / "bin" / name).symlink_to(venv_bin / name)
    (opt / "share" / "man" / "man1" / "pyenvmod.1").symlink_to(Path(sys.prefix) / "share" / "man" / "man1"
                                                                / "pyenvmod.1")
    return opt


def as_typed(text: str, opt: Path, tmp_path: Path) -> str:
    return text.replace("/opt/pyenvmod", str(opt)).replace("/etc/pyenvmod/config.yaml",
                                                           str(tmp_path / "site-config.yaml"))


def test_the_admin_module_exposes_only_the_command_and_its_man_page(modsys, env, tmp_path, install):
    (setup,) = guide_blocks("bash")
    expose = setup.split("# what the module exposes", 1)[1]  # the lines after the venv and pip install
    made = run_bash(as_typed(expose, install, tmp_path), env)
    assert made.returncode == 0, made.stderr
    (lua,) = guide_blocks("lua")
    (tcl,) = guide_blocks("tcl")
    folder = tmp_path / "modulefiles" / "pyenvmod"
    folder.mkdir(parents=True)
    if modsys.name == "lmod":
        (folder / "0.1.0.lua").write_text(as_typed(lua, install, tmp_path))
    else:
        (folder / "0.1.0").write_text(as_typed(tcl, install, tmp_path))
    # the tests' PATH carries a pyenvmod link of its own: a user's PATH does not
    env = dict(env, PATH="/usr/local/bin:/usr/bin:/bin")
    env.pop("MANPATH", None)
    env.pop("PYENVMOD_SITE_CONFIG")  # the module sets it (setenv: unset again on unload)
    has_man = shutil.which("man") is not None
    body = f"""
snap before
command -v python3 pip > {tmp_path}/before.txt
module load pyenvmod/0.1.0 || exit 11
snap during
command -v python3 pip > {tmp_path}/during.txt
command -v pyenvmod
pyenvmod --help | head -n 1
{'man -w pyenvmod; man -w man' if has_man else ''}
module unload pyenvmod || exit 12
snap after
"""
    result, envs = snapshots(modsys, env, body, tmp_path, [tmp_path / "modulefiles"])
    assert result.returncode == 0, result.stdout + result.stderr
    before = (tmp_path / "before.txt").read_text()
    assert "python3" in before, "the system has a python3 the module must not hide"
    assert (tmp_path / "during.txt").read_text() == before
    assert (install / "bin" / "python3").exists(), "the venv's python3 exists; it is just not exposed"
    lines = result.stdout.splitlines()
    assert lines[0] == f"{install}/exposed/bin/pyenvmod"
    assert lines[1].startswith("usage: pyenvmod")
    if has_man:
        # man prints the page's real path: the link's target
        assert Path(lines[2]).resolve() == (install / "exposed/share/man/man1/pyenvmod.1").resolve()
        assert lines[3].startswith("/usr/share/man/"), "man still finds the system's pages"
    assert envs["during"]["MANPATH"].split(":")[0] == f"{install}/exposed/share/man"
    assert envs["during"]["PYENVMOD_SITE_CONFIG"] == str(tmp_path / "site-config.yaml")
    assert_restored(envs)
