"""Issue 22, third attack round: a group member (alice) attacks the fixed trust code from new angles,
as a real second Unix user; the maintainer's (bob's) files and processes must stay safe. Each test
performs one attack for real and proves its outcome (see docs/admin-guide/security.md, attack table)."""

import os
import stat
from pathlib import Path

import pytest

from pyenvmod.errors import PyenvmodError
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
    assert files.written_only_by_you_or_root(top / "a", folder=True)
    assert not files.written_only_by_you_or_root(good, folder=True)  # a file is no folder
    (top / "a").chmod(0o775)
    assert not files.written_only_by_you_or_root(top / "a", folder=True)  # the group may write in it
    (top / "a").chmod(0o755)
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

    from pyenvmod.modules import render
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
    other.mkdir(mode=0o700)
    os.chown(other, 54321, 54321)
    with pytest.raises(PyenvmodError, match="not a private folder of yours"):
        ensure_private_dir(other)
    assert os.stat(other).st_gid == 54321
    (tmp_path / "link").symlink_to(scratch)
    with pytest.raises(PyenvmodError, match="not a private folder of yours"):
        ensure_private_dir(tmp_path / "link")
    assert os.stat(scratch).st_gid == 54321


# -- hard links: a file of the tree that is also a file outside it -----------------------------------
SHARE = """
import sys
from pyenvmod.errors import PyenvmodError
from pyenvmod.trust import files
top, gid, written = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
files.share_with_group(top, gid)
files.settle(top, written, gid)
"""


@pytest.mark.slow
def test_a_file_linked_from_the_maintainers_package_cache_is_never_handed_to_the_group(people):
    """conda environments are made by rattler with hard links to the user's package cache
    (~/.cache/rattler/cache/pkgs): the file in the group tree *is* the cache's file, and every other
    environment of bob's linked from that cache. Handing it to the group (group lab, group-writable)
    let alice change bob's cache, and with it bob's private environments. Bob's pyenvmod shares the
    tree (share_with_group, settle); alice then tries to write the tree's name of the file."""
    tree = people.tree("hardlink-cache")
    env = tree / "env" / "bin"
    cache = people.bob.home / ".cache" / "rattler" / "cache" / "pkgs" / "tool-1.0" / "bin"
    make = (f"mkdir -p {env} {cache} && printf '#!/bin/sh\\necho tool\\n' > {cache}/tool && chmod 755 {cache}/tool "
            f"&& ln {cache}/tool {env}/tool")
    assert people.bob.run("sh", "-c", make, umask=0o002).returncode == 0
    shared = people.bob.run(str(people.bob.bindir / "python"), "-c", SHARE, tree / "env", people.gid, env / "tool")
    assert shared.returncode == 0, shared.stderr
    st = os.stat(cache / "tool")
    assert (stat.S_IMODE(st.st_mode), st.st_gid) == (0o755, people.bob.gid)
    tamper = people.alice.run("sh", "-c", f"echo 'touch $HOME/pwned' >> {env}/tool")
    assert tamper.returncode != 0  # not hers to write
    assert (cache / "tool").read_text() == "#!/bin/sh\necho tool\n"
    assert oct(stat.S_IMODE(os.stat(env).st_mode) & 0o070) == oct(0o070)  # the folder is still the group's


@pytest.mark.slow
def test_a_member_cannot_link_the_maintainers_private_file_into_the_tree(people):
    """The other way round: alice hard-links a private file of bob's that she can reach (in /tmp)
    into the group tree, for bob's share walk to hand to the group. fs.protected_hardlinks (on here)
    refuses the link; where a site has it off, the walk leaves a file with two names alone."""
    public = people.base / "public"  # like /tmp: everyone's, sticky
    public.mkdir(exist_ok=True)
    public.chmod(0o1777)
    secret = public / "bob-secret"
    assert people.bob.run("sh", "-c", f"echo KEY > {secret} && chmod 600 {secret}").returncode == 0
    inbox = public / "bob-inbox"
    assert people.bob.run("sh", "-c", f"touch {inbox} && chmod 666 {inbox}").returncode == 0
    tree = people.tree("hardlink-in")
    assert people.bob.run("mkdir", tree / "env", umask=0o002).returncode == 0
    linked = people.alice.run("ln", secret, tree / "env" / "secret")
    assert linked.returncode != 0 and "Operation not permitted" in linked.stderr
    # a file she may read and write (bob's world-writable inbox) she may link: the walk leaves it alone
    assert people.alice.run("ln", inbox, tree / "env" / "inbox").returncode == 0
    shared = people.bob.run(str(people.bob.bindir / "python"), "-c", SHARE, tree / "env", people.gid,
                            tree / "env" / "inbox")
    assert shared.returncode == 0, shared.stderr
    st = os.stat(inbox)
    assert (stat.S_IMODE(st.st_mode), st.st_gid) == (0o666, people.bob.gid)
    assert stat.S_IMODE(os.stat(secret).st_mode) == 0o600


@pytest.mark.slow
def test_a_group_conda_environment_never_hands_the_package_cache_to_the_group(tmp_path):
    """The real thing behind the test above: a conda environment made by rattler in a group tree
    has files hard-linked to the user's package cache; none of them is group-writable afterwards,
    and the cache's files keep their modes (the package's 0755 / 0644)."""
    import condachannel
    from conftest import Cli, clean_env

    try:
        import rattler  # noqa: F401
    except ImportError:
        pytest.fail("py-rattler is missing: pip install 'pyenvmod[conda]'")
    folder, _version = condachannel.make(tmp_path / "channel" / "local")
    tree = tmp_path / "tree"
    tree.mkdir()
    tree.chmod(0o2775)
    env = clean_env(tmp_path / "user")
    cli = Cli(env)
    cli("--group", tree, "create", "cenv", "--backend", "conda", "-c", folder, "-p", "hello-cli")
    linked = [p for p in tree.rglob("*") if p.is_file() and not p.is_symlink() and os.stat(p).st_nlink > 1]
    assert linked, "rattler linked nothing from the cache (the attack needs hard links)"
    assert all(not os.stat(p).st_mode & 0o020 for p in linked), [p for p in linked if os.stat(p).st_mode & 0o020]
    cached = next(Path(env["HOME"]).rglob("pkgs/hello-cli-1.0-0/bin/hello-cli"))
    assert stat.S_IMODE(os.stat(cached).st_mode) == 0o755


# -- 'pythons' asks the module system for every module: Lmod's spider runs each modulefile ----------
@pytest.mark.slow
def test_listing_the_pythons_never_runs_a_modulefile_a_member_wrote(people):
    """pyenvmod looks for Python modules with Lmod's ``spider``, which evaluates every modulefile on
    MODULEPATH (Lua: os.execute runs). Bob has the group tree's modules folder on MODULEPATH; alice
    writes a modulefile there. Bob's read-only ``pyenvmod pythons`` must not run it; a Python module
    in bob's own folder is still listed."""
    if not os.path.isfile(LMOD):
        pytest.fail("Lmod is missing")
    tree = people.tree("spider")
    modules = tree / "modules"
    assert people.bob.run("mkdir", modules, umask=0o002).returncode == 0
    evil = modules / "evil" / "1.lua"
    payload = 'os.execute("touch " .. os.getenv("HOME") .. "/pwned")\n'
    assert people.alice.run("sh", "-c", f"mkdir -p {evil.parent} && cat > {evil}", input=payload).returncode == 0
    own = people.bob.home / "mods" / "python" / "3.99.1.lua"
    made = people.bob.run("sh", "-c", f"mkdir -p {own.parent} && cat > {own}", input='prepend_path("PATH", "/x")\n')
    assert made.returncode == 0
    env = _lmod_env(people.bob, f"{modules}:{people.bob.home / 'mods'}")
    result = people.bob.pyenvmod("pythons", env=env)
    assert "Traceback" not in result.stderr, result.stderr
    assert not (people.bob.home / "pwned").exists(), "alice's modulefile ran as bob"
    assert "python/3.99.1" in result.stdout, result.stdout


# -- a FIFO where a package's METADATA or RECORD is read: read-only commands must not hang ---------
@pytest.mark.slow
def test_a_fifo_for_a_packages_metadata_or_record_never_hangs_a_command(people):
    """Alice adds two distributions to the group environment's site-packages: one whose METADATA is
    a FIFO, one whose RECORD is (read to tell a finished install from a half one). Bob's list,
    doctor, history and export must finish (a FIFO nobody writes blocks a plain open forever)."""
    import subprocess

    base = group_env(people, "fifo-dist")
    sites = list((base / "envs" / "shared" / "lib").glob("python3*/site-packages"))
    assert sites
    site = sites[0]
    plant = (f"mkdir {site}/a-1.0.dist-info {site}/b-1.0.dist-info && mkfifo {site}/a-1.0.dist-info/METADATA && "
             f"printf 'Name: b\\nVersion: 1.0\\n\\n' > {site}/b-1.0.dist-info/METADATA && "
             f"mkfifo {site}/b-1.0.dist-info/RECORD")
    planted = people.alice.run("sh", "-c", plant)
    assert planted.returncode == 0, planted.stderr
    for command in (["list", "shared"], ["doctor"], ["history", "shared"], ["export", "shared"]):
        try:
            result = people.bob.pyenvmod("--group", base.parent, *command, timeout=60)
        except subprocess.TimeoutExpired:
            pytest.fail(f"pyenvmod {' '.join(command)} hangs on a FIFO alice planted")
        assert "Traceback" not in result.stderr, result.stderr


def test_package_files_are_read_only_when_regular_and_never_waited_for(tmp_path):
    from pyenvmod.packages import dist_info

    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(OSError):
        dist_info.read_regular(fifo, 100)  # at once: a FIFO is never waited on
    big = tmp_path / "big"
    big.write_bytes(b"x" * 101)
    with pytest.raises(OSError):
        dist_info.read_regular(big, 100)
    assert dist_info.read_regular(big, 101) == b"x" * 101
    meta = tmp_path / "METADATA"
    meta.write_bytes(b"Name: a\nVersion: 1\n\n" + b"description " * 20000)
    assert dist_info.read_regular(meta, 100, headers=True)[:20] == b"Name: a\nVersion: 1\n\n"
    assert len(dist_info.read_regular(meta, 1 << 20, headers=True)) < 70000  # stops after the headers
    assert dist_info.read(meta).name == "a"


def test_the_sites_module_owners_are_trusted_like_root_and_nobody_else(tmp_path, monkeypatch):
    """module_owners: the account that builds the site's modules (EasyBuild, Spack) owns its module tree;
    its modulefiles count like root's, another account's never (and a group-writable folder still not)."""
    from pyenvmod import config as config_mod
    from pyenvmod.errors import PyenvmodError
    from pyenvmod.trust import identity

    top = tmp_path / "site-modules"
    (top / "Python").mkdir(parents=True)
    lua = top / "Python" / "3.12.lua"
    lua.write_text("x")
    for path in (top, top / "Python", lua):
        os.chown(path, 54321, -1)  # the service account's tree
    assert not files.written_only_by_you_or_root(lua)
    assert files.written_only_by_you_or_root(lua, owners=(54321,))
    assert files.written_only_by_you_or_root(top, folder=True, owners=(54321,))
    assert not files.written_only_by_you_or_root(lua, owners=(54322,))
    (top / "Python").chmod(0o775)
    assert not files.written_only_by_you_or_root(lua, owners=(54321,)), "the group may still replace it"
    assert identity.uids(["root", "no-such-account-t27"]) == (0,)
    assert identity.uids([]) == ()
    (tmp_path / "site.yaml").write_text("module_owners: [easybuild, spack]\n")
    monkeypatch.setenv("PYENVMOD_SITE_CONFIG", str(tmp_path / "site.yaml"))
    assert config_mod.load()["module_owners"] == ["easybuild", "spack"]
    (tmp_path / "site.yaml").write_text("module_owners: easybuild\n")
    with pytest.raises(PyenvmodError, match="module_owners"):
        config_mod.load()
