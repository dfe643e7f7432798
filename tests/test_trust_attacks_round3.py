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


# -- the launcher in a group's scratch folder that is not sticky: bob's own folders moved there -------
@pytest.mark.slow
def test_the_launcher_never_runs_a_copy_a_member_assembled_from_the_maintainers_folders(people):
    """The stage folder is a group's shared scratch (group-writable, not sticky, like a lab's
    /scratch/lab). Alice cannot plant a link (refused since hole 7) nor a folder of hers (not bob's),
    but she can move folders that are bob's and that she may write (any folder of a group tree) into
    it: one as bob's ``pyenvmod-bob``, one inside it as the copy, with her program in it. Bob's
    launcher must run the shared program."""
    import time

    from pyenvmod import render
    from pyenvmod.staging import copy_id

    base = people.base / "launch-move"
    prefix = base / "envs" / "e"
    site = prefix / "lib" / "python3.11" / "site-packages"
    site.mkdir(parents=True)
    (prefix / "bin").mkdir()
    (prefix / "bin" / "prog").write_text("#!/bin/sh\necho shared\n")
    (prefix / "bin" / "prog").chmod(0o755)
    stamp, images = "0123456789ab", base / "images" / "e"
    (images / "bin").mkdir(parents=True)
    (images / "stamp").write_text(stamp + "\n")
    later = time.time() + 5
    os.utime(images / "stamp", (later, later))
    ident = copy_id("e", str(prefix))
    context = {"name": "e", "prefix": str(prefix), "copy_id": ident, "stamp_file": str(images / "stamp"),
               "site_packages": str(site), "stage_dir": ""}
    launcher = images / "bin" / "prog"
    launcher.write_text(render.render_template("stage-launcher.sh.j2", context))
    launcher.chmod(0o755)
    for folder in (base, *base.rglob("*")):
        if folder.is_dir():
            folder.chmod(0o755)
    scratch = people.base / "trees" / "launch-move-scratch"  # the group's scratch: root's, 2775, same disk
    scratch.mkdir()
    os.chown(scratch, 0, people.gid)
    os.chmod(scratch, 0o2775)
    tree = people.tree("launch-move-tree")  # bob's group tree, with two folders of bob's in it
    assert people.bob.run("mkdir", tree / "one", tree / "two", umask=0o002).returncode == 0
    user_folder = scratch / f"pyenvmod-{people.bob.name}"
    move = (f"mv {tree}/one {user_folder} && mkdir -p {tree}/two/env/bin && "
            f"printf '#!/bin/sh\\necho planted; touch $HOME/pwned\\n' > {tree}/two/env/bin/prog && "
            f"chmod 755 {tree}/two/env/bin/prog && mv {tree}/two {user_folder}/{ident}.{stamp}")
    moved = people.alice.run("sh", "-c", move)
    assert moved.returncode == 0, moved.stderr  # the moves work: bob's folders, writable by the group
    assert os.stat(user_folder).st_uid == people.bob.uid
    result = people.bob.run(launcher, env=people.bob.env(PYENVMOD_STAGE_DIR=scratch))
    assert not (people.bob.home / "pwned").exists(), "alice's program ran as bob"
    assert (result.returncode, result.stdout) == (0, "shared\n"), result.stderr


def test_the_stage_folder_gets_your_group_and_keeps_its_mode(tmp_path):
    """What the launchers' -G test needs: ensure_private_dir gives the stage folder your group (made in
    a setgid scratch folder, it would have the scratch folder's); another user's folder is not
    changed, a link is never followed."""
    from pyenvmod.staging import ensure_private_dir

    scratch = tmp_path / "scratch"
    scratch.mkdir()
    os.chown(scratch, -1, 54321)
    scratch.chmod(0o2755)
    mine = scratch / "pyenvmod-me"
    ensure_private_dir(mine)
    assert (os.stat(mine).st_gid, stat.S_IMODE(os.stat(mine).st_mode) & 0o777) == (os.getegid(), 0o700)
    (mine / "copy").mkdir()
    assert os.stat(mine / "copy").st_gid == os.getegid()  # what is made in it has your group
    other = tmp_path / "other"
    other.mkdir()
    os.chown(other, 54321, 54321)
    files.own_group(other)
    assert os.stat(other).st_gid == 54321
    (tmp_path / "link").symlink_to(scratch)
    with pytest.raises(OSError):
        files.own_group(tmp_path / "link")
    assert os.stat(scratch).st_gid == 54321
