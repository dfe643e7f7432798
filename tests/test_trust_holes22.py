"""Issue 22, holes 4, 5, 8, 9, 10, 11 and 12 (the stage folder), each performed by a real second Unix user (tests/users.py):
alice is the attacking group member, bob the maintainer whose account must stay his own."""

import inspect
import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from test_trust_no_tree_code import MPICH_CXX, plant
from users import PLATFORM, PREFIX, people  # noqa: F401 (fixture)

pytestmark = pytest.mark.slow  # real users, real environments


@pytest.mark.slow
def test_hole4_a_members_pth_does_not_run_as_the_maintainer_running_doctor(people):
    """alice plants a .pth, a sitecustomize and an mpi4py in bob's group environment that records an
    MPI module; bob's doctor (its MPI check) and the other read-only commands must not run them."""
    tree = people.tree("hole4")
    made = people.bob.pyenvmod("--group", tree, "create", "sim", "--modules", "mpich/4.0", "--no-capture",
                               umask=0o002)
    assert made.returncode == 0, made.stderr
    prefix = tree / PLATFORM / "envs" / "sim"
    owned = people.bob.home / "owned-by-alice"
    # alice writes the files herself (the environment's site-packages is the group's)
    code = f"import shutil\nfrom pathlib import Path\nMPICH_CXX = {MPICH_CXX!r}\n{inspect.getsource(plant)}\n" \
           f"plant(Path({str(prefix)!r}), Path({str(owned)!r}))\n"
    result = people.alice.run("/usr/bin/python3", "-c", code)
    assert result.returncode == 0, result.stderr
    for args in (("list",), ("doctor", "sim"), ("export", "sim"), ("prefix", "sim"), ("history", "sim")):
        result = people.bob.pyenvmod("--group", tree, *args)
        assert "Traceback" not in result.stderr, result.stderr
        assert not owned.exists(), f"bob's 'pyenvmod {' '.join(args)}' ran alice's code"
    doctor = people.bob.pyenvmod("--group", tree, "doctor", "sim", "--verbose")
    assert "MPI.cpython-311-x86_64-linux-gnu.so loads " in doctor.stdout, doctor.stdout


@pytest.mark.slow
def test_hole11_a_fifo_stamp_or_a_huge_manifest_from_a_member_neither_hangs_nor_exhausts(people):
    """alice swaps bob's image stamp for a FIFO, then the manifest for a 1 GB file: bob's stage,
    pack and the launchers go on (or refuse in one line), within seconds."""
    tree = people.tree("hole11")
    made = people.bob.pyenvmod("--group", tree, "create", "sim", umask=0o002)
    assert made.returncode == 0, made.stderr
    stage_env = people.bob.env(PYENVMOD_STAGE_DIR=people.bob.home / "stage")
    assert people.bob.run("mkdir", "-p", people.bob.home / "stage").returncode == 0
    packed = people.bob.pyenvmod("--group", tree, "pack", "sim", umask=0o002, env=stage_env)
    assert packed.returncode == 0, packed.stderr
    first = people.bob.pyenvmod("--group", tree, "stage", "sim", env=stage_env)  # bob's stage folder exists
    assert first.returncode == 0, first.stderr
    images = tree / PLATFORM / "images" / "sim"
    assert people.alice.run("sh", "-c", f"rm -f {images}/stamp && mkfifo -m 666 {images}/stamp").returncode == 0
    launcher = images / "bin" / "python"
    ran = people.bob.run(launcher, "-c", "print('ran')", env=stage_env, timeout=30)
    assert ran.stdout.strip() == "ran", ran.stderr
    # stage finds its copy; pack sees no current image and packs again (a stamp replaces the FIFO)
    staged = people.bob.pyenvmod("--group", tree, "stage", "sim", umask=0o002, env=stage_env, timeout=120)
    assert staged.returncode == 0, staged.stderr
    repacked = people.bob.pyenvmod("--group", tree, "pack", "sim", umask=0o002, env=stage_env, timeout=120)
    assert repacked.returncode == 0, repacked.stderr
    assert (images / "stamp").is_file() and not (images / "stamp").is_symlink()
    # a 1 GB manifest (sparse: it costs alice nothing) is refused in one line, not read
    code = f"import os; os.unlink({str(images / 'manifest.json')!r}); " \
           f"f = open({str(images / 'manifest.json')!r}, 'wb'); f.truncate(1 << 30); f.close()"
    assert people.alice.run("/usr/bin/python3", "-c", code).returncode == 0
    for user in (people.bob, people.alice):
        shutil.rmtree(user.home / "stage" / f"pyenvmod-{user.name}", ignore_errors=True)
    started = time.monotonic()
    refused = people.bob.pyenvmod("--group", tree, "stage", "sim", env=stage_env, timeout=120)
    assert time.monotonic() - started < 60
    lines = [ln for ln in refused.stderr.splitlines() if ln.startswith("pyenvmod: error:")]
    assert refused.returncode != 0 and len(lines) == 1 and "Traceback" not in refused.stderr, refused.stderr
    assert "manifest" in lines[0] and "larger than" in lines[0], lines[0]


@pytest.mark.slow
def test_hole9_another_users_cache_in_a_shared_xdg_cache_home_is_not_used(people):
    """bob and alice share XDG_CACHE_HOME (a sticky 1777 folder): alice plants the configuration
    cache entry for bob's site file with an lmod_cache_update command, and a pythons.json; bob's
    create must neither run her command nor build with her interpreter, nor write into her folder."""
    shared = people.base / "shared-cache-h9"
    shared.mkdir()
    shared.chmod(0o1777)
    site = people.base / "site-h9.yaml"
    site.write_text("kernel: false\n")
    site.chmod(0o644)
    marker = people.bob.home / "owned-h9"
    planted = {str(site): {"text": site.read_text(), "entries": [
        ["kernel", False, f"{site}:1"], ["lmod_cache_update", f"touch {marker}", f"{site}:1"]]}}
    code = ("import json, os, sys; d = os.path.join(sys.argv[1], 'pyenvmod'); os.makedirs(d, 0o755); "
            "open(os.path.join(d, 'config.json'), 'w').write(sys.argv[2]); "
            "open(os.path.join(d, 'pythons.json'), 'w').write('{}')")
    assert people.alice.run("/usr/bin/python3", "-c", code, shared, json.dumps(planted)).returncode == 0
    env = people.bob.env(XDG_CACHE_HOME=shared, PYENVMOD_SITE_CONFIG=site)
    made = people.bob.pyenvmod("create", "h9", env=env)
    assert made.returncode == 0, made.stderr
    assert not marker.exists(), "bob ran the command alice planted in the shared cache"
    assert json.loads((shared / "pyenvmod" / "config.json").read_text()) == planted  # nothing of bob's in it
    # the same entry in bob's own cache is his own choice, and is used: the check is the owner, not the entry
    own = people.bob.home / "cache-h9"
    code = ("import json, os, sys; d = os.path.join(sys.argv[1], 'pyenvmod'); os.makedirs(d, 0o700, exist_ok=True); "
            "p = os.path.join(d, 'config.json'); open(p, 'w').write(sys.argv[2]); os.chmod(p, 0o600)")
    assert people.bob.run("/usr/bin/python3", "-c", code, own, json.dumps(planted)).returncode == 0
    again = people.bob.pyenvmod("create", "h9b", env=people.bob.env(XDG_CACHE_HOME=own, PYENVMOD_SITE_CONFIG=site))
    assert again.returncode == 0, again.stderr
    assert marker.exists()


@pytest.mark.slow
def test_hole10_a_locked_site_key_holds_whatever_the_users_environment_and_cache_say(people):
    """The installation's fixed site file (PREFIX/etc/pyenvmod/config.yaml) locks allowed_sources;
    alice points PYENVMOD_SITE_CONFIG at /nonexistent and forges her cache entry for the site file:
    the lock and its value stay."""
    fixed = people.alice.bindir.parent / "etc" / "pyenvmod" / "config.yaml"
    fixed.parent.mkdir(parents=True)
    text = "allowed_sources: [pypi]\nlocked: [allowed_sources]\n"
    fixed.write_text(text)
    fixed.chmod(0o644)
    try:
        cache = people.alice.home / ".cache"
        forged = {str(fixed): {"text": text, "entries": [["allowed_sources", ["anything"], f"{fixed}:1"]]}}
        code = ("import json, os, sys; d = os.path.join(sys.argv[1], 'pyenvmod'); os.makedirs(d, 0o700, exist_ok=True); "
                "p = os.path.join(d, 'config.json'); open(p, 'w').write(sys.argv[2]); os.chmod(p, 0o600)")
        assert people.alice.run("/usr/bin/python3", "-c", code, cache, json.dumps(forged)).returncode == 0
        # the variable naming the site file itself (the old code then took the forged cache entry), or
        # naming no file (the old code then read no site file at all)
        for site in (fixed, "/nonexistent/config.yaml", people.alice.home / "no-site-config.yaml"):
            env = people.alice.env(XDG_CACHE_HOME=cache, PYENVMOD_SITE_CONFIG=site)
            shown = people.alice.pyenvmod("config", "show", "--origin", env=env)
            assert shown.returncode == 0, shown.stderr
            line = next(ln for ln in shown.stdout.splitlines() if ln.startswith("allowed_sources:"))
            assert line == f'allowed_sources: ["pypi"]    # {fixed}:1 (locked by the site)', line
        refused = people.alice.pyenvmod("config", "show", env=people.alice.env(
            XDG_CACHE_HOME=cache, PYENVMOD_ALLOWED_SOURCES="anything"))
        assert refused.returncode != 0 and "locked by the site" in refused.stderr
    finally:
        shutil.rmtree(fixed.parent.parent)
        # the forged entry must not reach alice's later tests
        people.alice.run("rm", "-f", str(people.alice.home / ".cache" / "pyenvmod" / "config.json"))


@pytest.mark.slow
def test_hole8_create_prefix_refuses_an_empty_folder_another_member_made(people):
    """alice makes an empty 2775 folder in the group's shared folder; bob's 'create --prefix' there
    must refuse it (she could later swap its bin, and bob's 'run' would run her code)."""
    shared = people.tree("hole8")  # bob's group folder, 2775
    planted = shared / "bobs-env"
    assert people.alice.run("sh", "-c", f"mkdir {planted} && chmod 2775 {planted}", umask=0o002).returncode == 0
    result = people.bob.pyenvmod("create", "h8", "--prefix", planted, umask=0o002)
    lines = [ln for ln in result.stderr.splitlines() if ln.startswith("pyenvmod: error:")]
    assert result.returncode != 0 and len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert f"belongs to {PREFIX}alice, not to you" in lines[0], lines[0]
    assert list(planted.iterdir()) == [] and not list((people.bob.home / "pyenvmod").glob("*/meta/h8.json"))
    # bob's own empty folder that his group may write: refused too (a member could swap what is in it)
    own = shared / "bobs-own"
    assert people.bob.run("sh", "-c", f"mkdir {own} && chmod 2775 {own}", umask=0o002).returncode == 0
    result = people.bob.pyenvmod("create", "h8", "--prefix", own, umask=0o002)
    assert result.returncode != 0 and "writable by its group" in result.stderr, result.stderr
    # a folder that does not exist yet: pyenvmod makes it, it is bob's
    made = people.bob.pyenvmod("create", "h8", "--prefix", shared / "new-env", umask=0o002)
    assert made.returncode == 0, made.stderr
    assert (shared / "new-env").stat().st_uid == people.bob.uid


def _secret(user, folder: Path) -> Path:
    secret = folder / "secret.txt"
    assert user.run("sh", "-c", f"echo bob-only > {secret} && chmod 600 {secret}").returncode == 0
    return secret


def _images_hold(tree: Path, name: str, text: bytes) -> bool:
    image = tree / PLATFORM / "images" / name / "image.tar.zst"
    if not image.exists():
        return False
    raw = subprocess.run(["zstd", "-dc", str(image)], capture_output=True).stdout
    return text in raw


@pytest.mark.slow
def test_hole5_a_forged_adopted_record_does_not_make_bob_pack_his_home(people):
    tree = people.tree("hole5a")
    made = people.bob.pyenvmod("--group", tree, "create", "sim", umask=0o002)
    assert made.returncode == 0, made.stderr
    # bob's private environment, in his own tree in his 0700 home (a folder that is a venv, as a home can be)
    assert people.bob.pyenvmod("create", "private5a").returncode == 0
    private = people.bob.home / "pyenvmod" / PLATFORM / "envs" / "private5a"
    _secret(people.bob, private)
    meta = tree / PLATFORM / "meta"
    record = json.loads((meta / "sim.json").read_text())
    record.update(name="fake", adopted=True, prefix=str(private), module="pyenv/fake/py3.11",
                  owner=people.bob.name)
    code = "import sys; open(sys.argv[1], 'w').write(sys.argv[2])"
    assert people.alice.run("/usr/bin/python3", "-c", code, meta / "fake.json", json.dumps(record),
                            umask=0o002).returncode == 0
    env = people.bob.env(PYENVMOD_STAGE_DIR=people.bob.home / "stage")
    assert people.bob.run("mkdir", "-p", people.bob.home / "stage").returncode == 0
    for command in ("pack", "stage"):
        result = people.bob.pyenvmod("--group", tree, command, "fake", umask=0o002, env=env)
        lines = [ln for ln in result.stderr.splitlines() if ln.startswith("pyenvmod: error:")]
        assert result.returncode != 0 and len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
        assert "adopted from" in lines[0] and "owner" in lines[0], lines[0]
    assert not _images_hold(tree, "fake", b"bob-only")
    # bob's own adoption of a folder of his, in the group tree, still packs (its marker proves it)
    own = people.bob.home / "tool"
    assert people.bob.run("/usr/bin/python3", "-m", "venv", own).returncode == 0
    adopted = people.bob.pyenvmod("--group", tree, "adopt", own, umask=0o002)
    assert adopted.returncode == 0, adopted.stderr
    packed = people.bob.pyenvmod("--group", tree, "pack", "tool", umask=0o002, env=env)
    assert packed.returncode == 0, packed.stderr
    # alice's record for another name, pointing at bob's adopted folder, is refused: the marker names 'tool'
    record.update(name="fake2", prefix=str(own), module="pyenv/fake2/py3.11")
    assert people.alice.run("/usr/bin/python3", "-c", code, meta / "fake2.json", json.dumps(record),
                            umask=0o002).returncode == 0
    result = people.bob.pyenvmod("--group", tree, "pack", "fake2", umask=0o002, env=env)
    assert result.returncode != 0 and "names another tree or environment" in result.stderr, result.stderr


@pytest.mark.slow
def test_hole5_an_extends_naming_bobs_private_environment_is_refused(people):
    tree = people.tree("hole5b")
    made = people.bob.pyenvmod("--group", tree, "create", "sim", umask=0o002)
    assert made.returncode == 0, made.stderr
    private = people.bob.pyenvmod("create", "private5b")  # in bob's own tree, in his 0700 home
    assert private.returncode == 0, private.stderr
    ptree = people.bob.home / "pyenvmod" / PLATFORM
    _secret(people.bob, ptree / "envs" / "private5b")
    meta = tree / PLATFORM / "meta" / "sim.json"
    record = json.loads(meta.read_text())
    record["extends"] = {"name": "private5b", "prefix": str(ptree / "envs" / "private5b"),
                         "module": "pyenv/private5b/py3.11", "modules_dir": str(ptree / "modules"),
                         "python": record["python"]}
    code = "import sys; open(sys.argv[1], 'w').write(sys.argv[2])"
    assert people.alice.run("/usr/bin/python3", "-c", code, meta, json.dumps(record)).returncode == 0
    before = sorted(p.name for p in (ptree / "envs" / "private5b").rglob("*.pyc"))
    result = people.bob.pyenvmod("--group", tree, "pack", "sim", umask=0o002)
    lines = [ln for ln in result.stderr.splitlines() if ln.startswith("pyenvmod: error:")]
    assert result.returncode != 0 and len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert "private place" in lines[0], lines[0]
    assert not _images_hold(tree, "sim", b"bob-only")
    assert sorted(p.name for p in (ptree / "envs" / "private5b").rglob("*.pyc")) == before  # nothing compiled


def test_hole12_the_first_user_to_stage_never_makes_the_stage_folder_that_locks_out_the_rest(people):
    """A site's stage_dir that does not exist yet: pyenvmod made it (and its parents) with the first user's
    default mode, 0755, so every other user's stage failed with 'Permission denied'. Now only the per-user
    folder is made, 0700, in a stage_dir that must exist: alice's stage names the missing folder in one line
    and makes nothing; in the site's folder (here a sticky one, as /tmp) alice and bob both stage."""
    scratch = people.base / "scratch-h12"  # the node-local disk's top: root's, sticky, as /tmp
    scratch.mkdir()
    os.chmod(scratch, 0o1777)
    site = scratch / "pyenvmod-stage"  # what the site configured as stage_dir
    for user in (people.alice, people.bob):
        made = user.pyenvmod("create", "e")
        assert made.returncode == 0, made.stderr
    refused = people.alice.pyenvmod("stage", "e", env=people.alice.env(PYENVMOD_STAGE_DIR=site))
    lines = refused.stderr.splitlines()
    assert refused.returncode == 1 and len(lines) == 1 and "Traceback" not in refused.stderr, refused.stderr
    assert lines[0].startswith(f"pyenvmod: error: cannot create {site}/pyenvmod-{people.alice.name}: the folder "
                               f"{site} does not exist;") and "existing node-local folder" in lines[0], lines[0]
    assert list(scratch.iterdir()) == []  # nothing made that would keep bob out
    os.mkdir(site)
    os.chmod(site, 0o1777)  # the site provides it
    for user in (people.alice, people.bob):
        staged = user.pyenvmod("stage", "e", env=user.env(PYENVMOD_STAGE_DIR=site), timeout=300)
        assert staged.returncode == 0, staged.stderr
        folder = site / f"pyenvmod-{user.name}"
        assert (os.stat(folder).st_uid, os.stat(folder).st_mode & 0o7777) == (user.uid, 0o700)
