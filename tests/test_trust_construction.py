"""Issue 22, holes 1, 2, 3 and 6: a group member (alice) swaps a folder or file of a group tree for a
symlink into the maintainer's (bob's) home while bob's pyenvmod works on it. For the races (2, 3, 6)
alice runs a real concurrent swapper, a tight loop in a process of her own, bounded in time, which
wins against code that changes files by path. Nothing of bob's may change: pyenvmod works through
descriptors held from the tree's root (pyenvmod/trust/)."""

import os
import stat
import subprocess
import time

import pytest

from users import group_env, people, snapshot, victim  # noqa: F401 (fixture)

pytestmark = pytest.mark.slow


def _background(user, code: str, *args) -> subprocess.Popen:
    """``code`` run by Python as ``user`` in a process of their own, now (the swapper)."""
    wrapper = ["setpriv", f"--reuid={user.uid}", f"--regid={user.gid}", "--init-groups", "--",
               "/usr/bin/python3", "-c", code, *map(str, args)]
    return subprocess.Popen(wrapper, env=user.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _stop(swapper: subprocess.Popen) -> str:
    """Wait for the swapper's loop to end; what it printed (how often it swapped)."""
    out, err = swapper.communicate(timeout=120)
    assert swapper.returncode == 0, err
    return out


def _mode(path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def _secrets(user) -> dict:
    """A private key (0600) and a ~/.bashrc (0644) in ``user``'s home; returns path -> mode."""
    home = user.home
    script = f"mkdir -p {home}/.ssh && chmod 700 {home}/.ssh && echo KEY > {home}/.ssh/id_rsa && " \
             f"chmod 600 {home}/.ssh/id_rsa && echo 'alias ll=ls' > {home}/.bashrc && chmod 644 {home}/.bashrc"
    assert user.run("sh", "-c", script).returncode == 0
    return {home / ".ssh" / "id_rsa": 0o600, home / ".ssh": 0o700, home / ".bashrc": 0o644, home: 0o700}


def _unchanged(secrets: dict) -> None:
    for path, mode in secrets.items():
        assert _mode(path) == mode, f"{path} is now {oct(_mode(path))}"
    home = next(p for p in secrets if p.name not in (".ssh", "id_rsa", ".bashrc"))
    assert (home / ".bashrc").read_text() == "alias ll=ls\n"
    assert (home / ".ssh" / "id_rsa").read_text() == "KEY\n"


# -- hole 6: the permission walk follows a folder swapped mid-walk ---------------------------------
FLIP = """
import os, sys, time
folder, target, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
names = sorted(n for n in os.listdir(folder) if n.startswith("d"))[-20:]  # the ones the walk reaches last
end, flips = time.time() + seconds, 0
while time.time() < end and not os.path.exists(os.path.join(folder, "stop")):
    for n in names:
        p = os.path.join(folder, n)
        try:
            os.rename(p, p + ".away")
            os.symlink(target, p)
        except OSError:
            continue
    time.sleep(0.0005)
    for n in names:
        p = os.path.join(folder, n)
        try:
            os.unlink(p)
            os.rename(p + ".away", p)
        except OSError:
            continue
    flips += 1
print(flips)
"""

WALK = """
import os, sys, time
from pyenvmod.trust import files
top, gid, home, seconds, walk = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4]), sys.argv[5]
end, walks, errors = time.time() + seconds, 0, []
def modes():
    return [os.stat(os.path.join(home, n)).st_mode & 0o777 for n in (".ssh/id_rsa", "inbox")]
while time.time() < end and modes() == [0o600, 0o666]:
    try:
        files.share_with_group(top, gid) if walk == "share_with_group" else files.no_world_write(top)
    except Exception as exc:  # keep walking: an interrupted walk must not hide a won race
        errors.append(repr(exc))
    walks += 1
open(os.path.join(top, "stop"), "w").close()
print(walks, len(errors), errors[:1])
"""


@pytest.mark.parametrize("walk", ["share_with_group", "no_world_write"])
def test_the_permission_walk_never_follows_a_folder_swapped_while_it_walks(people, walk):
    """Hole 6: after an install bob's pyenvmod hands the environment to the group (share_with_group)
    and takes write for others off (no_world_write). Alice swaps folders of the environment for a
    link to bob's home over and over; bob's private key must stay 0600, ~/.bashrc 0644 and the
    inbox he made writable for all 0666, and the walk must neither fail nor stop."""
    secrets = _secrets(people.bob)
    inbox = people.bob.home / "inbox"
    assert people.bob.run("sh", "-c", f"touch {inbox} && chmod 666 {inbox}").returncode == 0
    secrets[inbox] = 0o666
    tree = people.tree("walk-" + walk)
    top = tree / "env"
    make = (f"mkdir -p {top} && cd {top} && for i in $(seq -w 0 199); do mkdir d$i; touch d$i/a d$i/b; "
            "chmod 600 d$i/a; chmod 666 d$i/b; done")
    assert people.bob.run("sh", "-c", make, umask=0o002).returncode == 0
    swapper = _background(people.alice, FLIP, top, people.bob.home, 20)
    time.sleep(0.5)
    result = people.bob.run(str(people.bob.bindir / "python"), "-c", WALK, top, people.gid, people.bob.home, 20,
                            walk, timeout=120)
    flips = _stop(swapper)
    assert result.returncode == 0, result.stderr
    walks, errors, first = result.stdout.split(" ", 2)
    assert int(flips) > 10 and int(walks) > 0, (flips, result.stdout)
    _unchanged(secrets)
    assert errors == "0", first


# -- hole 2: pack's temporary image swapped for a link ------------------------------------------------
SWAP_TMP = """
import os, sys, time
folder, target, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
end = time.time() + seconds
while time.time() < end:
    try:
        names = os.listdir(folder)
    except OSError:
        names = []
    for n in names:
        if n.endswith(".tmp") and not os.path.islink(os.path.join(folder, n)):
            try:
                os.unlink(os.path.join(folder, n))
                os.symlink(target, os.path.join(folder, n))
                print("swapped", n)
                sys.exit(0)
            except OSError:
                pass
print("never")
"""


def test_pack_never_chmods_a_file_its_temporary_image_was_swapped_for(people):
    """Hole 2: bob packs a group environment; alice replaces the temporary image (which she can
    see and remove in the group-writable image folder) by a link to bob's private key. The key
    must stay 0600 and unreadable to the group, and no link may be published as the image."""
    secrets = _secrets(people.bob)
    base = group_env(people, "pack-swap")
    folder = base / "images" / "shared"
    assert people.bob.run("mkdir", "-p", folder, umask=0o002).returncode == 0
    swapper = _background(people.alice, SWAP_TMP, folder, people.bob.home / ".ssh" / "id_rsa", 90)
    result = people.bob.pyenvmod("--group", base.parent, "pack", "shared", umask=0o002, timeout=300)
    out = _stop(swapper)
    assert out.startswith("swapped"), out  # the race ran: alice replaced the temporary image
    _unchanged(secrets)
    assert not os.path.islink(folder / "image.tar.zst")
    if result.returncode != 0:  # found out: one line, nothing published
        assert "Traceback" not in result.stderr and "replaced the image" in result.stderr, result.stderr


# -- hole 3: the stage launchers' temporary folder swapped for a link ------------------------------
SWAP_BIN = """
import os, sys, time
folder, target, seconds, stop = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]
end, swaps = time.time() + seconds, 0
while time.time() < end and not os.path.exists(stop):
    for n in os.listdir(folder):
        p = os.path.join(folder, n)
        if n.startswith(".bin.") and not os.path.islink(p):
            try:
                os.rename(p, os.path.join(folder, "taken" + n))
                os.symlink(target, p)
                swaps += 1
            except OSError:
                pass
print(swaps)
"""


def test_the_launchers_are_never_written_through_a_swapped_temporary_folder(people):
    """Hole 3: alice puts many programs (one named .bashrc) into the group environment's bin, so
    that bob's pyenvmod writes many launchers; while it does, she keeps replacing the temporary
    launcher folder by a link to bob's home. Bob's ~/.bashrc and his home's mode must not change."""
    secrets = _secrets(people.bob)
    base = group_env(people, "launchers-swap")
    bin_dir = base / "envs" / "shared" / "bin"
    many = (f"cd {bin_dir} && for i in $(seq 1 3000); do printf '#!/bin/sh\\n' > tool$i; chmod 755 tool$i; done "
            "&& printf '#!/bin/sh\\n' > .bashrc && chmod 755 .bashrc")
    assert people.alice.run("sh", "-c", many).returncode == 0
    folder = base / "images" / "shared"
    stop = people.base / "stop-launchers"
    swapper = _background(people.alice, SWAP_BIN, folder, people.bob.home, 60, stop)
    time.sleep(0.3)
    runs = 0
    while runs < 12 and _mode(people.bob.home) == 0o700:  # each run has a new program: all launchers rewritten
        new = bin_dir / f"new{runs}"
        assert people.alice.run("sh", "-c", f"printf '#!/bin/sh\\n' > {new} && chmod 755 {new}").returncode == 0
        result = people.bob.pyenvmod("--group", base.parent, "module", "shared", umask=0o002, timeout=120)
        assert "Traceback" not in result.stderr, result.stderr
        runs += 1
    stop.touch()
    swaps = int(_stop(swapper))
    assert swaps > 0, "the race ran: alice replaced temporary launcher folders"
    _unchanged(secrets)
    assert sorted(p.name for p in people.bob.home.iterdir() if p.name.startswith(("tool", "new", "python"))) == []
    assert not os.path.islink(folder / "bin")


# -- hole 1: rename writes through an environment folder or bin swapped for a link ---------------
def _site_packages(prefix):
    (lib,) = [p for p in (prefix / "lib").iterdir() if p.name.startswith("python")]
    return lib.name


def test_rename_never_writes_a_dependents_hook_through_its_swapped_folder(people):
    """Hole 1: ``dep`` extends ``base``; alice swaps dep's folder for a link to bob's private
    environment. Renaming ``base`` rewrites dep's stacking hook: never into bob's folder."""
    base = group_env(people, "rename-dep", "base")
    tree = base.parent
    result = people.bob.pyenvmod("--group", tree, "create", "dep", "--extends", "base", umask=0o002)
    assert result.returncode == 0, result.stderr
    pyver = _site_packages(base / "envs" / "dep")
    target = people.bob.home / "private-env"
    assert people.bob.run("mkdir", "-p", target / "lib" / pyver / "site-packages", target / "bin").returncode == 0
    before = snapshot(target)
    assert people.alice.run("sh", "-c", f"mv {base}/envs/dep {base}/envs/dep.away && "
                            f"ln -s {target} {base}/envs/dep").returncode == 0
    result = people.bob.pyenvmod("--group", tree, "rename", "base", "based", umask=0o002)
    assert "Traceback" not in result.stderr, result.stderr
    assert snapshot(target) == before


def test_rename_never_rewrites_activate_scripts_through_a_swapped_bin(people):
    """Hole 1: alice swaps the environment's bin for a link to bob's private bin, whose activate
    script names the old folder. Renaming must not change its bytes or its mode."""
    base = group_env(people, "rename-bin", "old")
    tree = base.parent
    target = people.bob.home / "private-bin"
    old_prefix = base / "envs" / "old"
    script = (f"mkdir -p {target} && printf 'VIRTUAL_ENV={old_prefix}\\nPS1=\"(old) $PS1\"\\n' > {target}/activate && "
              f"chmod 600 {target}/activate")
    assert people.bob.run("sh", "-c", script).returncode == 0
    before = ((target / "activate").read_bytes(), _mode(target / "activate"))
    assert people.alice.run("sh", "-c", f"mv {old_prefix}/bin {old_prefix}/bin.away && "
                            f"ln -s {target} {old_prefix}/bin").returncode == 0
    result = people.bob.pyenvmod("--group", tree, "rename", "old", "new", umask=0o002)
    assert "Traceback" not in result.stderr, result.stderr
    assert ((target / "activate").read_bytes(), _mode(target / "activate")) == before


# -- hole 7: the launcher's check of the stage folder follows a planted symlink --------------------
def test_the_launcher_never_takes_a_planted_link_for_the_users_stage_folder(people):
    """Hole 7: in a shared scratch folder (where the kernel's protected_symlinks does not help) alice
    plants ``pyenvmod-bob`` as a link to a folder bob owns but she may write (a group tree's), holding
    a fake copy. Bob's launcher, run by the real shell, must run the shared program, not hers."""
    from pyenvmod.modules import render
    from pyenvmod.staging import copy_id

    base = people.base / "hole7"
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
    context = {"name": "e", "prefix": str(prefix), "copy_id": copy_id("e", str(prefix)),
               "stamp_file": str(images / "stamp"), "site_packages": str(site), "stage_dir": ""}
    launcher = images / "bin" / "prog"
    launcher.write_text(render.render_template("stage-launcher.sh.j2", context))
    launcher.chmod(0o755)
    for folder in (base, *base.rglob("*")):
        if folder.is_dir():
            folder.chmod(0o755)
    scratch = base / "scratch"
    scratch.mkdir()
    scratch.chmod(0o777)  # a shared scratch folder
    bobs = people.tree("hole7-bobs")  # bob's, group-writable
    fake = bobs / f"{copy_id('e', str(prefix))}.{stamp}" / "env" / "bin"
    plant = (f"mkdir -p {fake} && printf '#!/bin/sh\\necho planted\\n' > {fake}/prog && chmod 755 {fake}/prog && "
             f"ln -s {bobs} {scratch}/pyenvmod-{people.bob.name}")
    assert people.alice.run("sh", "-c", plant).returncode == 0, "alice plants the link"
    result = people.bob.run(launcher, env=people.bob.env(PYENVMOD_STAGE_DIR=scratch))
    assert (result.returncode, result.stdout) == (0, "shared\n"), result.stderr
    # bob's own private folder is still used
    assert people.alice.run("rm", f"{scratch}/pyenvmod-{people.bob.name}").returncode == 0
    own = scratch / f"pyenvmod-{people.bob.name}" / f"{copy_id('e', str(prefix))}.{stamp}" / "env" / "bin"
    made = f"mkdir -m 700 -p {own} && printf '#!/bin/sh\\necho staged\\n' > {own}/prog && chmod 755 {own}/prog"
    assert people.bob.run("sh", "-c", made).returncode == 0
    result = people.bob.run(launcher, env=people.bob.env(PYENVMOD_STAGE_DIR=scratch))
    assert (result.returncode, result.stdout) == (0, "staged\n"), result.stderr


# -- hole 12: delete meets a member's 0755 folder -------------------------------------------------
def test_delete_in_a_group_tree_finishes_what_it_can_and_names_what_is_left(people):
    """Hole 12: alice made a folder of her own (0755) inside a group environment; bob's delete can
    not remove what is in it. It removes everything else, leaves the environment unregistered,
    and says in one line what is left and what to do, with no traceback."""
    from conftest import assert_one_line_error

    base = group_env(people, "delete-left")
    prefix = base / "envs" / "shared"
    assert people.alice.run("sh", "-c", f"mkdir -p {prefix}/hers && echo x > {prefix}/hers/f",
                            umask=0o022).returncode == 0
    result = people.bob.pyenvmod("--group", base.parent, "delete", "shared", "--yes", umask=0o002)
    line = assert_one_line_error(result, "deleted 'shared'", "/hers/f", "could not be removed", "rm -rf")
    assert not (base / "meta" / "shared.json").exists() and not os.path.lexists(prefix)
    (aside,) = [p for p in (base / "envs").iterdir() if p.name.startswith(".shared.deleted-")]
    assert f"{aside}/hers/f" in line and f"rm -rf {aside}" in line, line
    assert sorted(p.name for p in aside.iterdir()) == ["hers"]  # everything else went
    listed = people.bob.pyenvmod("--group", base.parent, "list")
    assert listed.returncode == 0 and "shared" not in listed.stdout, listed.stdout
    again = people.bob.pyenvmod("--group", base.parent, "create", "shared", umask=0o002)  # the name is free
    assert again.returncode == 0, again.stderr
