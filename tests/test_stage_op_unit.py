"""operations/stage.py in-process on real small environments (issue 23, the staging round): what one
stage on a node reports, reuses and removes, the copy named by the version its image holds, the node
with too little room (said once, then quiet), an image tar cannot read, the staged stacking hooks of an
environment and the one it extends, and 'stage --clean' of a registered name."""

import json
import os
import subprocess
import time

import pytest

from guardenv import World
from immutable import immutable
from modsys import require
from pyenvmod.errors import PyenvmodError
from pyenvmod.staging import copy_id, image, images_dir, stage_root

MB = 1 << 20


@pytest.fixture
def world(tmp_path, monkeypatch) -> World:
    return World(tmp_path, monkeypatch)


def _copies(world, with_locks=False):
    root = stage_root(world.config)
    return sorted(p.name for p in root.iterdir() if with_locks or not p.name.endswith(".lock"))


# --- _unpack: room on the node, and an image tar cannot read ----------------------------------------

def test_the_room_needed_is_the_unpacked_size_and_a_tenth_and_16_mb(tmp_path):
    from pyenvmod.operations import stage

    st = os.statvfs(tmp_path)
    assert abs(stage._free_bytes(tmp_path) - st.f_bavail * st.f_frsize) < 256 * MB
    into = tmp_path / "copy"
    into.mkdir()
    size = 10 * stage._free_bytes(tmp_path) + 123 * MB
    with pytest.raises(stage.NoSpace) as caught:
        stage._unpack(tmp_path / "no-image-needed", into, size)
    needed, free = (int(n) for n in caught.value.message.replace("needs ", "").replace(" MB free", "").split(
        " MB, "))
    assert needed == (int(size * 1.1) + 16 * MB) >> 20
    assert abs(free - (st.f_bavail * st.f_frsize >> 20)) < 256
    assert str(caught.value) == caught.value.message and list(into.iterdir()) == []


def test_an_image_tar_cannot_read_is_one_line_with_tars_last_words(tmp_path):
    from pyenvmod.operations import stage

    bad = tmp_path / "image.tar.zst"
    bad.write_bytes(b"not zstd at all\n" * 100)
    into = tmp_path / "copy"
    into.mkdir()
    with pytest.raises(PyenvmodError) as caught:
        stage._unpack(bad, into, 0)
    text = str(caught.value)
    assert text.startswith(f"cannot unpack {bad}: tar: ") and "\n" not in text
    assert text.endswith("exiting now; run 'pyenvmod pack --force NAME' and stage again"), text


def test_an_image_is_unpacked_without_its_owners(tmp_path):
    from pyenvmod.operations import stage

    content = tmp_path / "content"
    content.mkdir()
    (content / "f").write_text("x")
    os.chown(content / "f", 12345, 12345)
    img = tmp_path / "img.tar.zst"
    subprocess.run(["tar", "--use-compress-program=zstd", "-cf", str(img), "-C", str(content), "f"], check=True)
    into = tmp_path / "copy"
    into.mkdir()
    stage._unpack(img, into, 0)
    assert (into / "f").read_text() == "x" and (into / "f").stat().st_uid == os.getuid()


# --- one stage on a node ----------------------------------------------------------------------------

def test_a_stage_reports_what_it_did_and_the_next_one_reuses_the_copy(world):
    from pyenvmod.operations import stage

    record = world.make("e", backend="conda")
    said = []
    first = stage.stage(world.config, "e", notify=said.append)
    src = image.source_for(record)
    stamp = image.stamp(src)
    copy = stage_root(world.config) / f"{copy_id('e', record.prefix)}.{stamp}"
    manifest = image.read_manifest(images_dir(world.layout, "e") / "manifest.json")
    assert {k: first[k] for k in ("copy", "node", "format", "stamp", "action", "packed", "size")} == {
        "copy": str(copy), "node": os.uname().nodename, "format": "tar.zst", "stamp": stamp, "action": "staged",
        "packed": True, "size": manifest.size}
    assert 0 <= first["seconds"] < 120 and said == ["packing 'e' (compiling bytecode, then one image)"]
    assert sorted(first) == ["action", "copy", "format", "node", "packed", "seconds", "size", "stamp"]
    assert (copy / ".stamp").read_text() == stamp + "\n" and (copy / "env" / "pyvenv.cfg").is_file()
    assert stat_mode(copy) == 0o700
    again = stage.stage(world.config, "e", notify=said.append)
    assert again["action"] == "reused" and again["copy"] == str(copy) and "packed" not in again
    assert len(said) == 1
    stage.stage(world.config, "e")
    assert _copies(world) == [copy.name]


def stat_mode(path):
    return os.stat(path).st_mode & 0o777


def test_a_current_image_is_unpacked_without_packing_again_or_waiting_for_the_environments_lock(world):
    """64 nodes stage at once: where the image is current none of them takes the environment's lock
    (a file on the shared disk), even while someone holds it."""
    import threading

    from pyenvmod.operations import pack, stage

    world.make("e", backend="conda")
    _m, path = pack.pack(world.config, "e")
    inode = path.stat().st_ino
    results = []
    with world.tree.lock("e", 5):
        worker = threading.Thread(target=lambda: results.append(stage.stage(world.config, "e",
                                                                            notify=lambda m: results.append(m))))
        worker.start()
        worker.join(30)
        done = list(results)
    worker.join(60)
    assert [r["action"] for r in done] == ["staged"], done
    assert done[0]["packed"] is False and path.stat().st_ino == inode


def test_a_new_version_replaces_the_older_copies_and_leftovers_of_this_environment_only(world):
    from pyenvmod.operations import stage

    record = world.make("e", backend="conda")
    world.make("f", backend="conda")
    old = stage.stage(world.config, "e")["copy"]
    other = stage.stage(world.config, "f")["copy"]
    ident = copy_id("e", record.prefix)
    root = stage_root(world.config)
    (root / f".{ident}.0123456789ab.tmp-99").mkdir()  # a crashed stage's leftover
    (world.site(record.prefix) / "new-1.0.dist-info").mkdir()
    new = stage.stage(world.config, "e")
    assert new["action"] == "staged" and new["copy"] != old and new["packed"] is True
    assert _copies(world) == sorted([os.path.basename(new["copy"]), os.path.basename(other)])
    assert f"{ident}.lock" in _copies(world, with_locks=True)


def test_a_broadcast_image_of_an_older_version_names_the_copy_by_that_version(world):
    """The environment changed after the image was broadcast: the copy holds the image's version, and is
    named by it (the launchers will leave it for the shared copy), never by the environment's stamp."""
    from pyenvmod.operations import pack, stage

    record = world.make("e", backend="conda")
    manifest, path = pack.pack(world.config, "e")
    local = world.tmp_path / "local" / "broadcast.tar.zst"
    local.write_bytes(path.read_bytes())
    (world.site(record.prefix) / "new-1.0.dist-info").mkdir()
    assert image.stamp(image.source_for(record)) != manifest.stamp
    result = stage.stage(world.config, "e", image_file=local)
    assert result["action"] == "staged" and result["packed"] is False and result["stamp"] == manifest.stamp
    assert result["copy"].endswith(f".{manifest.stamp}") and os.path.isdir(result["copy"])
    again = stage.stage(world.config, "e", image_file=local)
    assert again["action"] == "reused" and again["copy"] == result["copy"]


def test_an_image_packed_again_meanwhile_names_the_copy_by_what_it_holds(world):
    from pyenvmod.operations import pack, stage

    record = world.make("e", backend="conda")
    first, path = pack.pack(world.config, "e")
    older = world.tmp_path / "local" / "older.tar.zst"
    older.write_bytes(path.read_bytes())
    (world.site(record.prefix) / "new-1.0.dist-info").mkdir()
    second, _ = pack.pack(world.config, "e")  # the shared manifest is current, the image read is not
    result = stage.stage(world.config, "e", image_file=older)
    assert result["stamp"] == first.stamp != second.stamp
    copy = stage_root(world.config) / f"{copy_id('e', record.prefix)}.{first.stamp}"
    assert result["copy"] == str(copy) and (copy / ".stamp").read_text() == first.stamp + "\n"
    assert _copies(world) == [copy.name]


def test_an_image_whose_own_manifest_has_no_valid_stamp_is_refused_and_nothing_is_left(world):
    from pyenvmod.operations import pack, stage

    world.make("e", backend="conda")
    manifest, path = pack.pack(world.config, "e")
    content = world.tmp_path / "forged"
    content.mkdir()
    subprocess.run(["tar", "--use-compress-program=zstd", "-xf", str(path), "-C", str(content)], check=True)
    data = json.loads((content / "manifest.json").read_text())
    data["stamp"] = "../../../escape"
    (content / "manifest.json").write_text(json.dumps(data))
    forged = world.tmp_path / "local" / "forged.tar.zst"
    subprocess.run(["tar", "--use-compress-program=zstd", "-cf", str(forged), "-C", str(content), "."], check=True)
    with pytest.raises(PyenvmodError, match=rf"^the image {forged} has no valid version stamp; run 'pyenvmod pack "
                                            r"--force e'$"):
        stage.stage(world.config, "e", image_file=forged)
    assert _copies(world) == [] and not (world.tmp_path / "escape").exists()


def test_no_room_is_said_once_then_the_node_stays_quiet_and_tries_again_later(world):
    from pyenvmod.operations import stage

    record = world.make("e", backend="conda")
    from pyenvmod.operations import pack

    manifest, path = pack.pack(world.config, "e")
    manifest_file = path.parent / "manifest.json"
    real = manifest_file.read_text()
    data = json.loads(real)
    data["size"] = 1 << 60  # more than any node-local disk
    manifest_file.write_text(json.dumps(data))
    warned = []
    result = stage.stage(world.config, "e", warn=warned.append)
    root = stage_root(world.config)
    ident = copy_id("e", record.prefix)
    marker = root / f".{ident}.{manifest.stamp}.nospace"
    assert result["action"] == "no-space" and marker.is_file() and _copies(world) == [marker.name]
    assert len(warned) == 1 and warned[0].startswith(f"cannot stage 'e' on {os.uname().nodename}: no space left in "
                                                     f"{root} (needs ")
    assert warned[0].endswith("python runs from the shared copy on this node. Set stage_dir (or $TMPDIR) to a "
                              "larger node-local disk")
    assert stage.stage(world.config, "e", warn=warned.append)["action"] == "no-space-quiet" and len(warned) == 1
    long_ago = time.time() - stage.NO_SPACE_QUIET - 5
    os.utime(marker, (long_ago, long_ago))
    assert stage.stage(world.config, "e", warn=warned.append)["action"] == "no-space" and len(warned) == 2
    os.utime(marker, (long_ago, long_ago))
    manifest_file.write_text(real)  # room again (a smaller image)
    result = stage.stage(world.config, "e", warn=warned.append)
    assert result["action"] == "staged" and not marker.exists() and len(warned) == 2
    assert _copies(world) == [os.path.basename(result["copy"])]


# --- the staged stacking hooks and pyvenv.cfg -------------------------------------------------------

def _hook_values(path):
    scope = {"__file__": str(path), "__name__": "hook"}
    exec(compile(path.read_text(), str(path), "exec"), scope)  # its _stack() does nothing without PYENVMOD_SITE_PATH
    return scope["_SHARED"], scope["_ALONG"], scope["_DEPTH"]


def test_the_copy_of_an_extending_environment_maps_both_shared_folders_to_the_copy(world, monkeypatch):
    from pyenvmod.operations import stage

    monkeypatch.delenv("PYENVMOD_SITE_PATH", raising=False)
    base = world.make("base", backend="conda")
    child = world.make("child", extends=base, backend="conda")
    result = stage.stage(world.config, "child")
    copy = result["copy"]
    rel = os.path.relpath(world.site(child.prefix), child.prefix)
    hook = world.tmp_path / copy / "env" / rel / "_pyenvmod_stack.py"
    shared, along, depth = _hook_values(hook)
    assert shared == str(world.site(child.prefix))
    assert along == {str(world.site(base.prefix)): f"ext/{rel}"}  # never its own folder
    assert depth == len(f"env/{rel}".split("/"))
    assert (world.tmp_path / copy / "ext" / rel).is_dir()


def test_relocation_maps_only_absolute_old_paths_and_sets_the_venvs_home(tmp_path):
    from pyenvmod.operations.stage import _relocate

    tmp = tmp_path / "copy.tmp"
    (tmp / "env" / "bin").mkdir(parents=True)
    (tmp / "env" / "bin" / "tool").write_text("#!/old/e/bin/python\n# old/e stays\n")
    (tmp / "env" / "pyvenv.cfg").write_text("home=/opt/py/bin\nversion = 3.12\nhomepage = x\n")
    final = tmp_path / "final"
    manifest = image.Manifest(stamp="0123456789ab", name="e", python_mm="3.12", backend="uv",
                              trees={"env": "/old/e", "base": "/opt/py"}, site_packages={},
                              relocate=["env/bin/tool"], mapping={"/old/e": "env", "old/e": "elsewhere"})
    assert _relocate(tmp, final, manifest) == []
    assert (tmp / "env" / "bin" / "tool").read_text() == f"#!{final}/env/bin/python\n# old/e stays\n"
    assert (tmp / "env" / "pyvenv.cfg").read_text() == f"home = {final}/base/bin\nversion = 3.12\nhomepage = x\n"
    manifest.trees = {"env": "/old/e"}  # conda: no base interpreter, the file is left as it is
    (tmp / "env" / "pyvenv.cfg").write_text("home = /opt/py/bin\n")
    _relocate(tmp, final, manifest)
    assert (tmp / "env" / "pyvenv.cfg").read_text() == "home = /opt/py/bin\n"


def test_a_hook_that_is_a_link_or_of_a_folder_not_in_the_image_is_not_written(tmp_path):
    from pyenvmod.operations.stage import _relocate

    tmp = tmp_path / "copy.tmp"
    site = tmp / "env" / "site"
    site.mkdir(parents=True)
    elsewhere = tmp_path / "elsewhere.py"
    elsewhere.write_text("theirs\n")
    (site / "_pyenvmod_stack.py").symlink_to(elsewhere)
    (tmp / "other" / "site").mkdir(parents=True)
    (tmp / "other" / "site" / "_pyenvmod_stack.py").write_text("other\n")
    (tmp / "ext" / "site").mkdir(parents=True)
    (tmp / "ext" / "site" / "_pyenvmod_stack.py").write_text("ext\n")
    manifest = image.Manifest(stamp="0123456789ab", name="e", python_mm="3.12", backend="uv",
                              trees={"env": "/old/e", "ext": "/old/b"},
                              site_packages={"env": "site", "other": "site", "ext": "site"},
                              relocate=[], mapping={"/old/e": "env"})
    hooks = _relocate(tmp, tmp_path / "final", manifest)
    assert hooks == [tmp / "ext" / "site" / "_pyenvmod_stack.py"]
    assert elsewhere.read_text() == "theirs\n" and (tmp / "other" / "site" / "_pyenvmod_stack.py").read_text() == \
        "other\n"
    shared, along, depth = _hook_values(hooks[0])
    assert shared == "/old/b/site" and along == {"/old/e/site": "env/site"} and depth == 2


# --- stage --clean of a registered name ---------------------------------------------------------------

def test_clean_removes_every_copy_of_this_environment_and_nothing_else(world):
    from pyenvmod.operations import stage

    record = world.make("e", backend="conda")
    world.make("f", backend="conda")
    assert stage.clean(world.config, "e") == []  # nothing staged yet: the stage folder is not even made
    assert not stage_root(world.config).exists()
    mine = stage.stage(world.config, "e")["copy"]
    theirs = stage.stage(world.config, "f")["copy"]
    leftover = stage_root(world.config) / f".{copy_id('e', record.prefix)}.0123456789ab.tmp-7"
    leftover.mkdir()
    namesake = stage_root(world.config) / f"{copy_id('e', '/another/tree/envs/e')}.0123456789ab"
    namesake.mkdir()  # another tree's environment of the same name: not this one's copy
    assert stage.clean(world.config, "e") == sorted([mine, str(leftover)])
    assert _copies(world) == sorted([os.path.basename(theirs), namesake.name])


def test_a_member_behind_a_link_is_skipped_and_the_members_after_it_still_relocated(tmp_path):
    from pyenvmod.operations.stage import _relocate

    tmp = tmp_path / "copy.tmp"
    (tmp / "env" / "real").mkdir(parents=True)
    (tmp / "env" / "bin").mkdir()
    (tmp / "env" / "real" / "sub").mkdir()
    (tmp / "env" / "linked").symlink_to(tmp / "env" / "real")  # inside the copy, but a link on the way
    for path in (tmp / "env" / "real" / "sub" / "tool", tmp / "env" / "bin" / "tool"):
        path.write_text("#!/old/e/bin/python\n")
    manifest = image.Manifest(stamp="0123456789ab", name="e", python_mm="3.12", backend="conda",
                              trees={"env": "/old/e"},
                              relocate=["env/linked/sub/tool", "env/missing", "env/bin/tool"],
                              mapping={"/old/e": "env"})
    _relocate(tmp, tmp_path / "final", manifest)
    assert (tmp / "env" / "real" / "sub" / "tool").read_text() == "#!/old/e/bin/python\n"
    assert (tmp / "env" / "bin" / "tool").read_text() == f"#!{tmp_path}/final/env/bin/python\n"


def test_a_copy_made_by_another_task_while_this_one_waited_is_reused(world):
    import threading

    from pyenvmod.operations import pack, stage
    from pyenvmod.staging import ensure_private_dir
    from pyenvmod.trust import locking

    record = world.make("e", backend="conda")
    manifest, _ = pack.pack(world.config, "e")
    root = stage_root(world.config)
    ensure_private_dir(root)
    ident = copy_id("e", record.prefix)
    results = []
    with locking.locked(root / f"{ident}.lock", 5, "another task"):
        worker = threading.Thread(target=lambda: results.append(stage.stage(world.config, "e")))
        worker.start()
        time.sleep(0.5)  # the other task unpacks meanwhile ...
        assert results == []
        (root / f"{ident}.{manifest.stamp}" / "env").mkdir(parents=True)  # ... and renames its copy into place
    worker.join(60)
    assert [r["action"] for r in results] == ["reused"]
    assert _copies(world) == [f"{ident}.{manifest.stamp}"]


def test_an_image_found_older_only_once_unpacked_leaves_one_copy_of_its_own_version(world):
    from pyenvmod.operations import pack, stage

    record = world.make("e", backend="conda")
    first, path = pack.pack(world.config, "e")
    older = world.tmp_path / "local" / "older.tar.zst"
    older.write_bytes(path.read_bytes())
    (world.site(record.prefix) / "new-1.0.dist-info").mkdir()
    pack.pack(world.config, "e")
    made = stage.stage(world.config, "e", image_file=older)["copy"]
    again = stage.stage(world.config, "e", image_file=older)  # its version is known only once unpacked
    assert again["action"] == "staged" and again["copy"] == made and again["stamp"] == first.stamp
    assert _copies(world) == [os.path.basename(made)] and os.path.isfile(os.path.join(made, "env", "pyvenv.cfg"))


def test_a_stale_image_nobody_may_rewrite_is_one_clear_error(world):
    from pyenvmod.operations import pack, stage

    record = world.make("e", backend="conda")
    _manifest, path = pack.pack(world.config, "e")
    (world.site(record.prefix) / "new-1.0.dist-info").mkdir()  # the image is stale now
    with immutable(path.parent), pytest.raises(PyenvmodError, match=(
            r"^the image of 'e' is missing or older than the environment, and you may not write .*; ask its owner "
            r"to run 'pyenvmod pack e'$")):
        stage.stage(world.config, "e")
    assert _copies(world) == []


def _on_a_small_disk(folder, size, work):
    """``work()`` in a forked child with its own mount namespace (unshare(2) as root) where ``folder`` is a
    tmpfs of ``size``; returns ("returned", value) or ("raised", exception). Where that cannot be made
    here the test is skipped, and fails in CI."""
    out = _in_a_mount_namespace(folder, size, work)
    require(out is not None, "a mount namespace with a tmpfs (unshare as root)", "run the tests as root")
    return out


def _in_a_mount_namespace(folder, size, work):
    import ctypes
    import pickle

    if os.geteuid() != 0:
        return None
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never back into pytest
        try:
            os.close(r)
            if ctypes.CDLL(None, use_errno=True).unshare(0x00020000) != 0:  # CLONE_NEWNS
                raise OSError(ctypes.get_errno(), "unshare")
            subprocess.run(["mount", "--make-rprivate", "/"], check=True, capture_output=True)
            subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], check=True,
                           capture_output=True)
            try:
                out = ("returned", work())
            except BaseException as exc:  # noqa: BLE001 - handed to the parent as it is
                out = ("raised", exc)
            os.write(w, pickle.dumps(out))
        except BaseException:  # noqa: BLE001
            os.write(w, pickle.dumps(None))
        finally:
            os._exit(0)
    os.close(w)
    data = b"".join(iter(lambda: os.read(r, 65536), b""))
    os.close(r)
    os.waitpid(pid, 0)
    return pickle.loads(data) if data else None


def _unpacked_on_a_small_disk(img, tmp_path, size):
    """What stage._unpack of ``img`` raises into a fresh folder of a tmpfs of ``size`` (mount options)."""
    from pyenvmod.operations import stage

    small = tmp_path / "small"
    small.mkdir()

    def fill():
        (small / "copy").mkdir()
        stage._unpack(img, small / "copy", 0)

    kind, value = _on_a_small_disk(small, size, fill)
    assert kind == "raised", (kind, value)
    return value


def test_a_disk_that_fills_up_while_unpacking_is_no_room_not_an_error(tmp_path):
    from pyenvmod.operations import stage

    content = tmp_path / "content"
    content.mkdir()
    (content / "big.bin").write_bytes(os.urandom(24 * MB))  # zstd cannot make it smaller
    img = tmp_path / "img.tar.zst"
    subprocess.run(["tar", "--use-compress-program=zstd", "-cf", str(img), "-C", str(content), "."], check=True)
    roomy = tmp_path / "roomy"
    roomy.mkdir()
    stage._unpack(img, roomy, 0)  # where there is room: the whole file
    assert (roomy / "big.bin").stat().st_size == 24 * MB
    # 17 MB free: more than the 16 MB asked for an empty manifest
    raised = _unpacked_on_a_small_disk(img, tmp_path, "17m")
    assert isinstance(raised, stage.NoSpace), raised
    assert raised.message == "needs 16 MB; the disk filled up while unpacking"


def test_a_disk_that_fills_up_while_relocating_is_no_room_and_leaves_only_the_marker(world):
    from pyenvmod.operations import pack, stage

    world.make("roomy", backend="conda")
    assert stage.stage(world.config, "roomy")["action"] == "staged"  # here too (mutmut credits this process only)
    record = world.make("e", backend="conda")
    site = world.site(record.prefix)
    (site / "big.txt").write_bytes(f"{record.prefix}\n".encode() + b"t" * (12 * MB))  # rewritten by stage
    (site / "filler.bin").write_bytes(os.urandom(5 * MB))
    manifest, path = pack.pack(world.config, "e")
    data = json.loads((path.parent / "manifest.json").read_text())
    data["size"] = 0  # room enough by the manifest's word: the disk fills while the copy is made
    (path.parent / "manifest.json").write_text(json.dumps(data))
    local = world.tmp_path / "local"

    def make():
        warned = []
        result = stage.stage(world.config, "e", warn=warned.append)
        root = stage_root(world.config)
        return result["action"], warned, sorted(p.name for p in root.iterdir() if not p.name.endswith(".lock")
                                                and not p.name.startswith(("roomy", ".roomy")))

    kind, value = _on_a_small_disk(local, "20m", make)
    assert kind == "returned", (kind, value)
    action, warned, left = value
    assert action == "no-space" and len(warned) == 1, value
    assert "(the disk filled up while unpacking (No space left on device))" in warned[0]
    assert left == [f".{copy_id('e', record.prefix)}.{manifest.stamp}.nospace"]


def test_a_copy_whose_env_folder_is_a_link_is_refused_not_followed(tmp_path):
    from pyenvmod.operations.stage import _relocate

    tmp = tmp_path / "copy.tmp"
    (tmp / "realenv").mkdir(parents=True)
    (tmp / "realenv" / "pyvenv.cfg").write_text("home = /opt/py/bin\n")
    (tmp / "env").symlink_to(tmp / "realenv")  # a link in the image, where the venv's pyvenv.cfg is read
    manifest = image.Manifest(stamp="0123456789ab", name="e", python_mm="3.12", backend="uv",
                              trees={"env": "/old/e", "base": "/opt/py"}, mapping={"/old/e": "env"})
    with pytest.raises(PyenvmodError):
        _relocate(tmp, tmp_path / "final", manifest)
    assert (tmp / "realenv" / "pyvenv.cfg").read_text() == "home = /opt/py/bin\n"


def test_a_shared_manifest_without_a_valid_stamp_is_one_line_naming_it(world):
    from pyenvmod.operations import pack, stage

    world.make("e", backend="conda")
    _manifest, path = pack.pack(world.config, "e")
    data = json.loads((path.parent / "manifest.json").read_text())
    data["stamp"] = "ABC"
    (path.parent / "manifest.json").write_text(json.dumps(data))
    with pytest.raises(PyenvmodError, match=rf"^the image manifest {path.parent}/manifest.json has no valid version "
                                            r"stamp; run 'pyenvmod pack --force e'$"):
        stage.stage(world.config, "e")


def test_stage_waits_for_a_pack_of_another_node_longer_than_the_lock_timeout(world):
    """64 nodes stage at once: one packs, the others wait for it (PACK_TIMEOUT), not lock_timeout."""
    import threading

    from pyenvmod.operations import stage

    world.make("e", backend="conda")
    world.config.values["lock_timeout"] = 0.2
    results = []
    with world.tree.lock("e", 5):  # another node packing
        worker = threading.Thread(target=lambda: results.append(_result_or_error(stage.stage, world.config, "e")))
        worker.start()
        time.sleep(1.0)
    worker.join(60)
    assert [r["action"] if isinstance(r, dict) else r for r in results] == ["staged"], results


def _result_or_error(call, *args):
    try:
        return call(*args)
    except PyenvmodError as exc:
        return str(exc)


@pytest.mark.parametrize("how", ["fifo", "link"])
def test_an_image_that_is_no_regular_file_is_refused_with_what_to_do(tmp_path, how):
    from pyenvmod.operations import stage

    into = tmp_path / "copy"
    into.mkdir()
    image_path = tmp_path / "image.tar.zst"
    if how == "fifo":
        os.mkfifo(image_path)
        expected = rf"^the image {image_path} is not a regular file; run 'pyenvmod pack --force NAME' and stage again$"
    else:
        (tmp_path / "real").write_bytes(b"")
        image_path.symlink_to(tmp_path / "real")
        expected = rf"^cannot read the image {image_path} \(.+\); run 'pyenvmod pack --force NAME' and stage again$"
    with pytest.raises(PyenvmodError, match=expected):
        stage._unpack(image_path, into, 0)


def test_a_disk_without_free_inodes_is_no_room_too(tmp_path, monkeypatch):
    """Also for a user whose messages are German (LANGUAGE): tar's messages are read in English."""
    from pyenvmod.operations import stage

    monkeypatch.delenv("LC_ALL", raising=False)
    monkeypatch.setenv("LANG", "C.UTF-8")
    monkeypatch.setenv("LANGUAGE", "de")  # tar says "Kein Platz ..." where its catalogue is installed

    content = tmp_path / "content"
    content.mkdir()
    for i in range(40):
        (content / f"f{i}").write_text("x")
    img = tmp_path / "img.tar.zst"
    subprocess.run(["tar", "--use-compress-program=zstd", "-cf", str(img), "-C", str(content), "."], check=True)
    roomy = tmp_path / "roomy"
    roomy.mkdir()
    stage._unpack(img, roomy, 0)  # where there is room (and in this process: mutmut credits no other)
    assert len(os.listdir(roomy)) == 40
    # room for the bytes, not for the files: tar says "Cannot open: No space left on device"
    raised = _unpacked_on_a_small_disk(img, tmp_path, "32m,nr_inodes=16")
    assert isinstance(raised, stage.NoSpace), raised
    assert raised.message == "needs 16 MB; the disk filled up while unpacking"


def test_a_hook_reached_through_a_linked_folder_is_refused_not_written(tmp_path):
    from pyenvmod.operations.stage import _relocate

    tmp = tmp_path / "copy.tmp"
    (tmp / "realsite").mkdir(parents=True)
    (tmp / "realsite" / "_pyenvmod_stack.py").write_text("theirs\n")
    (tmp / "env").mkdir()
    (tmp / "env" / "site").symlink_to(tmp / "realsite")  # inside the copy, but a link on the way
    manifest = image.Manifest(stamp="0123456789ab", name="e", python_mm="3.12", backend="conda",
                              trees={"env": "/old/e"}, site_packages={"env": "site"}, mapping={"/old/e": "env"})
    with pytest.raises(PyenvmodError):
        _relocate(tmp, tmp_path / "final", manifest)
    assert (tmp / "realsite" / "_pyenvmod_stack.py").read_text() == "theirs\n"
