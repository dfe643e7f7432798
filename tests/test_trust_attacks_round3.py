"""Issue 22, third attack round: a group member (alice) attacks the fixed trust code from new angles,
as a real second Unix user; the maintainer's (bob's) files and processes must stay safe. Each test
performs one attack for real and proves its outcome (see docs/admin-guide/security.md, attack table)."""

import json
import os
import stat

import pytest

from pyenvmod.trust import files
from users import forge, group_env, people  # noqa: F401 (fixture)

LMOD = "/usr/share/lmod/lmod/libexec/lmod"


def _lmod_env(user, modulepath: str) -> dict:
    return user.env(LMOD_CMD=LMOD, MODULEPATH=modulepath)


# -- a record names a module whose modulefile alice wrote: 'module show' would run it as bob --------
@pytest.mark.slow
def test_a_forged_records_module_never_runs_a_modulefile_a_member_wrote(people):
    """Modulefiles are code (Lua's os.execute, Tcl's exec), and 'module show' runs them. Alice writes
    a modulefile into the group tree's modules folder, which bob has on MODULEPATH, and names it in
    the record of bob's environment. Bob's read-only 'doctor' (and list, install) asks the module
    system what the recorded modules put on PYTHONPATH: alice's modulefile must not run as bob. A
    modulefile only root or bob could have written (bob's own) is still shown: the control."""
    if not os.path.isfile(LMOD):
        pytest.fail("Lmod is missing")
    base = group_env(people, "module-show")
    tree_modules = base / "modules"
    payload = 'os.execute("touch " .. os.getenv("HOME") .. "/{}")\nprepend_path("PYTHONPATH", "/nonexistent")\n'
    evil = tree_modules / "evil" / "1.lua"
    made = people.alice.run("sh", "-c", f"mkdir -p {evil.parent} && cat > {evil}", input=payload.format("pwned"))
    assert made.returncode == 0, made.stderr
    mine = people.bob.home / "mods" / "bobs" / "1.lua"
    made = people.bob.run("sh", "-c", f"mkdir -p {mine.parent} && cat > {mine}", input=payload.format("ran-own"))
    assert made.returncode == 0, made.stderr
    forge(people.alice, base / "meta" / "shared.json", modules=["evil/1", "bobs/1"])
    env = _lmod_env(people.bob, f"{tree_modules}:{people.bob.home / 'mods'}")
    for command in (["doctor"], ["list", "shared"]):
        result = people.bob.pyenvmod("--group", base.parent, *command, env=env)
        assert "Traceback" not in result.stderr, result.stderr
        assert not (people.bob.home / "pwned").exists(), f"alice's modulefile ran as bob in {command}"
    assert (people.bob.home / "ran-own").exists()  # the check ran: bob's own modulefile was shown


def test_only_a_modulefile_nobody_but_root_or_you_could_write_counts_as_yours(tmp_path):
    """The rule 'module show' follows: the file and every folder above it owned by root or you and
    writable by nobody else (a sticky folder excepted); through a symlink, the file it leads to."""
    top = tmp_path / "mods"
    (top / "a").mkdir(parents=True)
    good = top / "a" / "1.lua"
    good.write_text("x")
    assert files.written_only_by_you_or_root(good)
    assert not files.written_only_by_you_or_root(top / "a" / "missing.lua")
    assert not files.written_only_by_you_or_root(top / "a")  # a folder is no modulefile
    good.chmod(0o664)
    assert not files.written_only_by_you_or_root(good)  # the group may write the file
    good.chmod(0o644)
    (top / "a").chmod(0o775)
    assert not files.written_only_by_you_or_root(good)  # the group may replace it
    (top / "a").chmod(0o1777)
    assert files.written_only_by_you_or_root(good)  # sticky: nobody replaces another's entry
    (top / "a").chmod(0o755)
    os.chown(good, 54321, -1)
    assert not files.written_only_by_you_or_root(good)  # another user's file
    os.chown(good, os.getuid(), -1)
    os.chown(top / "a", 54321, -1)
    assert not files.written_only_by_you_or_root(good)  # in another user's folder
    os.chown(top / "a", os.getuid(), -1)
    link = tmp_path / "link.lua"
    link.symlink_to(good)
    assert files.written_only_by_you_or_root(link)
    os.chown(good, 54321, -1, follow_symlinks=True)
    assert not files.written_only_by_you_or_root(link)  # a link leads to what it names
