"""operations/pack.py in-process on real folders (issue 23, the staging round): what the image holds of
the base interpreter (its library path made relative, the parts left out), which links become relative,
the order of the members, the files left out while packing, bytecode compiled before packing (by the
base interpreter, isolated), when an image is current, its mode, the lock, and zstd missing or failing.

The base interpreter here is a small fake installation (bin/pythonX.Y a shell script running this
Python, lib/pythonX.Y/os.py, an ELF-like libpython with a RUNPATH): packing the real one would take
the whole standard library."""

import fcntl
import json
import os
import shutil
import stat
import sys
import tarfile
import time

import pytest

from guardenv import MM, World
from pyenvmod.errors import PyenvmodError
from pyenvmod.records import registry
from pyenvmod.staging import image, images_dir, read_stamp, tarstream
from test_pack_stream_unit import _members


@pytest.fixture
def world(tmp_path, monkeypatch) -> World:
    return World(tmp_path, monkeypatch)


def _elf(base, extra=b""):
    """Bytes that start as an ELF file and hold the RUNPATH BASE/lib (what relative_runpath changes)."""
    return b"\x7fELF" + b"\0" * 12 + os.fsencode(base) + b"/lib\0" + extra + b"\0tail"


def _fake_base(tmp_path):
    base = tmp_path / "pybase"
    (base / "bin").mkdir(parents=True)
    exe = base / "bin" / f"python{MM}"
    exe.write_text(f"#!/bin/sh\nexec {sys.executable} \"$@\"\n")
    exe.chmod(0o755)
    (base / "bin" / "2to3").write_text("#!/bin/sh\n")  # not an interpreter: left out
    std = base / "lib" / f"python{MM}"
    for folder in ("test", "site-packages", "lib-dynload", f"config-{MM}-x86_64-linux-gnu"):
        (std / folder).mkdir(parents=True)
    (std / "test" / "test_x.py").write_text("")
    (std / "os.py").write_text(f"# the standard library of {base}/lib/python{MM}\n")
    (std / "lib-dynload" / "_x.so").write_bytes(_elf(base))
    (base / "lib" / f"libpython{MM}.so").write_bytes(_elf(base, b"y" * 64))
    (base / "lib" / "pkgconfig").mkdir()
    (base / "include").mkdir()
    return base, exe


def _venv_on_fake_base(world, name="e"):
    """A venv by hand on the fake base: bin/python a link to its interpreter, pyvenv.cfg naming it."""
    base, exe = _fake_base(world.tmp_path)
    prefix = world.layout.prefix(name)
    site = world.site(prefix)
    site.mkdir(parents=True)
    (prefix / "bin").mkdir()
    (prefix / "bin" / "python").symlink_to(exe)
    (prefix / "pyvenv.cfg").write_text(f"home = {base / 'bin'}\ninclude-system-site-packages = false\n")
    (prefix / "bin" / "tool").write_text(f"#!{prefix}/bin/python\nimport os\n")
    (prefix / "bin" / "tool").chmod(0o755)
    (site / "ext.so").write_bytes(_elf(base))  # mentions BASE/lib, but it is not the base's: left as it is
    registry.write(world.tree, world.record(name))
    return registry.record(world.tree, name), base


@pytest.mark.parametrize("big", [1 << 20, 32], ids=["read-whole", "one-buffer"])
def test_the_base_interpreter_goes_in_with_its_library_path_made_relative(world, monkeypatch, big):
    from pyenvmod.operations import pack

    monkeypatch.setattr(pack, "BIG", big)
    record, base = _venv_on_fake_base(world)
    manifest, path = pack.pack(world.config, "e")
    members, _raw = _members(path)
    libpython = members[f"base/lib/libpython{MM}.so"][1]
    assert libpython == b"\x7fELF" + b"\0" * 12 + b"$ORIGIN/.".ljust(len(str(base)) + 5, b"\0") + b"y" * 64 + b"\0tail"
    dynload = members[f"base/lib/python{MM}/lib-dynload/_x.so"][1]
    assert dynload == b"\x7fELF" + b"\0" * 12 + b"$ORIGIN/../..".ljust(len(str(base)) + 5, b"\0") + b"\0tail"
    rel = os.path.relpath(world.site(record.prefix), record.prefix)
    assert members[f"env/{rel}/ext.so"][1] == _elf(base)  # the environment's own files keep theirs
    kept = {name for name in members if name.startswith("base")}
    assert kept == {"base", "base/bin", f"base/bin/python{MM}", "base/lib", f"base/lib/libpython{MM}.so",
                    f"base/lib/python{MM}", f"base/lib/python{MM}/os.py", f"base/lib/python{MM}/lib-dynload",
                    f"base/lib/python{MM}/lib-dynload/_x.so"}
    assert members["env/bin/python"][0].linkname == f"../../base/bin/python{MM}"
    assert manifest.trees == {"env": record.prefix, "base": str(base)}
    assert manifest.mapping == {record.prefix: "env", f"{base}/bin/python": "base/bin/python",
                                f"{base}/lib/python{MM}": f"base/lib/python{MM}"}
    assert manifest.site_packages == {"env": rel}  # never the base's
    assert (manifest.name, manifest.python_mm, manifest.backend, manifest.stamp) == (
        "e", MM, "venv", image.stamp(image.source_for(record)))
    launcher = (path.parent / "bin" / "python").read_text()
    assert str(world.tmp_path / "local") in launcher  # the stage folder configured when it was packed
    # BASE/lib/pythonX.Y is an old prefix, BASE/lib alone is not: the environment's ext.so is not listed
    assert sorted(manifest.relocate) == sorted(["env/bin/tool", f"base/lib/python{MM}/os.py"])
    info, data = members["manifest.json"]
    assert info.mode == 0o644 and abs(info.mtime - time.time()) < 600
    assert image.Manifest(**json.loads(data)) == manifest


def test_stage_of_a_venv_on_a_base_interpreter_points_it_at_the_copied_one(world):
    from pyenvmod.operations import pack, stage

    record, base = _venv_on_fake_base(world)
    pack.pack(world.config, "e")
    result = stage.stage(world.config, "e")
    copy = result["copy"]
    assert result["action"] == "staged" and result["packed"] is False
    cfg = open(os.path.join(copy, "env", "pyvenv.cfg")).read()
    assert cfg == f"home = {copy}/base/bin\ninclude-system-site-packages = false\n"
    assert open(os.path.join(copy, "env", "bin", "tool")).read() == f"#!{copy}/env/bin/python\nimport os\n"
    assert os.access(os.path.join(copy, "env", "bin", "tool"), os.X_OK)
    assert open(os.path.join(copy, "base", "lib", f"python{MM}", "os.py")).read() == \
        f"# the standard library of {copy}/base/lib/python{MM}\n"
    assert os.readlink(os.path.join(copy, "env", "bin", "python")) == f"../../base/bin/python{MM}"
    assert open(os.path.join(copy, ".stamp")).read() == result["stamp"] + "\n"


# --- the writer on its own: order, links, files gone or swapped while packing ----------------------

def _write(tmp_path, source, *trees):
    """The tar stream of ``trees`` ((folder, top, options) each) written by pack's _Writer into a file;
    returns the members in the stream's order and the writer."""
    from pyenvmod.operations import pack

    out = tmp_path / "stream.tar"
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        writer = pack._Writer(pack._Pipe(fd), source)
        for folder, top, options in trees:
            writer.add_tree(folder, str(top), **options)
        writer.finish()
    finally:
        os.close(fd)
    with tarfile.open(out) as tar:
        members = [(info.name, info.linkname if info.issym() else tar.extractfile(info).read() if info.isfile()
                    else None) for info in tar]
    return members, writer


def _source(prefix, **more):
    return image.Source("e", str(prefix), MM, "venv", "2026-01-01T00:00:00+00:00", **more)


def test_folders_come_before_their_content_each_sorted_and_a_file_gone_meanwhile_is_left_out(tmp_path):
    top = tmp_path / "env"
    for folder in ("b", "a", "a/z", "a/c"):
        (top / folder).mkdir(parents=True)
    for name in ("a/y.txt", "a/x.txt", "b/gone.txt", "a/w.txt", "b/m", "top.txt", "a/z/n"):
        (top / name).write_text(name)
    for mode, path in zip((0o750, 0o711, 0o640, 0o600), (top, top / "a", top / "a" / "x.txt", top / "b" / "m")):
        path.chmod(mode)
        os.utime(path, (1700000000 + mode, 1700000000 + mode))

    def skip(rel):  # a cache file removed between the listing and its stat, while packing
        if rel == "b/gone.txt":
            (top / rel).unlink()
        return False

    members, writer = _write(tmp_path, _source(top), ("env", top, {"skip": skip}))
    names = [m[0] for m in members]
    # every folder before its content; in each folder its folders, then its files, each sorted (the order
    # in which the folders themselves are entered is the file system's)
    assert names[:4] == ["env", "env/a", "env/b", "env/top.txt"]
    assert [n for n in names if n.count("/") == 2 and n.startswith("env/a/")] == [
        "env/a/c", "env/a/z", "env/a/w.txt", "env/a/x.txt", "env/a/y.txt"]
    assert names.index("env/a/z") < names.index("env/a/z/n") and "env/b/gone.txt" not in names
    assert sorted(names) == sorted(["env", "env/a", "env/b", "env/top.txt", "env/a/c", "env/a/z", "env/a/w.txt",
                                    "env/a/x.txt", "env/a/y.txt", "env/a/z/n", "env/b/m"])
    with tarfile.open(tmp_path / "stream.tar") as tar:
        for info in tar:  # every member's mode and time are its own, the top folder's too
            if info.name == "env/b":
                continue  # changed since: its gone.txt went
            st = os.lstat(top / info.name[len("env/"):] if info.name != "env" else top)
            assert (info.mode, info.mtime) == (stat.S_IMODE(st.st_mode), int(st.st_mtime)), info.name
    assert dict(members)["env/a/x.txt"] == b"a/x.txt" and writer.size == sum(len(n) for n in (
        "a/y.txt", "a/x.txt", "a/w.txt", "b/m", "top.txt", "a/z/n"))


def test_skip_leaves_out_folders_without_entering_them_and_files(tmp_path):
    top = tmp_path / "env"
    (top / "keep" / "inner").mkdir(parents=True)
    (top / "drop" / "inner").mkdir(parents=True)
    (top / "keep" / "inner" / "f").write_text("")
    (top / "drop" / "inner" / "f").write_text("")
    (top / "keep" / "out.txt").write_text("")
    asked = []

    def skip(rel):
        asked.append(rel)
        return rel.startswith("drop") or rel.endswith("out.txt")

    members, _ = _write(tmp_path, _source(top), ("env", top, {"skip": skip}))
    assert [m[0] for m in members] == ["env", "env/keep", "env/keep/inner", "env/keep/inner/f"]
    assert "drop/inner" not in asked  # a folder skipped is never walked


def test_only_the_base_prefix_may_be_reached_through_a_link(tmp_path):
    real = tmp_path / "real"
    (real / "bin").mkdir(parents=True)
    (real / "bin" / "python3").write_text("x")
    link = tmp_path / "linked"
    link.symlink_to(real)
    members, _ = _write(tmp_path, _source(real), ("base", link, {"follow_top": True}))
    assert [m[0] for m in members] == ["base", "base/bin", "base/bin/python3"]
    with pytest.raises(PyenvmodError, match="symlink"):
        _write(tmp_path, _source(real), ("env", link, {}))  # an environment's folder a member swapped for a link


def test_links_into_a_tree_become_relative_and_others_stay_as_they_are(tmp_path):
    from pyenvmod.operations import pack

    (tmp_path / "real-ext").mkdir()
    (tmp_path / "ext").symlink_to(tmp_path / "real-ext")
    env, ext = str(tmp_path / "envs" / "e"), str(tmp_path / "ext")
    writer = pack._Writer(pack._Pipe(-1), _source(env, ext_prefix=ext))
    assert writer._link("env/bin/python", f"{env}/bin/python3") == "python3"
    assert writer._link("env/bin/python", env) == ".."  # the tree itself
    assert writer._link("env/lib/x", f"{ext}/lib/y") == "../../ext/lib/y"
    assert writer._link("env/lib/x", f"{tmp_path}/real-ext/lib/y") == "../../ext/lib/y"  # its real spelling
    assert writer._link("env/lib/x", f"{env}2/lib/y") == f"{env}2/lib/y"  # a sibling with a longer name: outside
    assert writer._link("env/lib/x", "/usr/lib/y") == "/usr/lib/y"
    assert writer._link("env/lib/x", "../y") == "../y"  # relative: as it is


def test_a_file_of_exactly_the_scan_limit_is_still_searched(world, monkeypatch):
    from pyenvmod.operations import pack
    from pyenvmod.staging import relocate

    record = world.make("e", backend="conda")
    site = world.site(record.prefix)
    mention = f"P = {record.prefix!r}\n".encode()
    (site / "at.py").write_bytes(mention.ljust(4096, b"#"))
    (site / "over.py").write_bytes(mention.ljust(4097, b"#"))
    monkeypatch.setattr(relocate, "SCAN_LIMIT", 4096)
    manifest, path = pack.pack(world.config, "e")
    rel = os.path.relpath(site, record.prefix)
    assert f"env/{rel}/at.py" in manifest.relocate and f"env/{rel}/over.py" not in manifest.relocate
    members, _ = _members(path)
    assert members[f"env/{rel}/over.py"][1] == mention.ljust(4097, b"#")


def test_a_file_replaced_or_grown_since_it_was_seen_is_not_opened(tmp_path):
    from pyenvmod.operations import pack

    path = tmp_path / "m.py"
    path.write_text("x = 1\n")
    seen = os.lstat(path)
    other = tmp_path / "other.py"
    other.write_text("y = 2\n")  # the same size
    os.replace(other, path)  # another file under the same name
    assert pack._open_regular(str(path), seen) is None
    path.write_text("x = 1\n")
    seen = os.lstat(path)
    with open(path, "a") as fh:
        fh.write("more\n")  # the same file, grown
    assert pack._open_regular(str(path), seen) is None
    seen = os.lstat(path)
    dir_fd = os.open(tmp_path, os.O_RDONLY)
    try:
        fd = pack._open_regular("m.py", seen, dir_fd)
    finally:
        os.close(dir_fd)
    assert fd is not None and os.read(fd, 100) == b"x = 1\nmore\n"
    assert os.get_inheritable(fd) is False and os.get_blocking(fd) is False
    os.close(fd)


def test_a_file_read_short_is_never_read_past_its_size(tmp_path):
    from pyenvmod.operations import pack

    path = tmp_path / "f"
    path.write_bytes(b"abcdefghij")  # grew to 10 since it was seen at 6
    fd = os.open(path, os.O_RDONLY)
    try:
        assert pack._read_rest(fd, 6, os.read(fd, 2)) == b"abcdef"
    finally:
        os.close(fd)


def test_the_pipe_into_zstd_is_made_as_wide_as_a_chunk():
    from pyenvmod.operations import pack

    r, w = os.pipe()
    try:
        with os.fdopen(w, "wb", closefd=False) as fh:
            pack._wide_pipe(fh)
        assert fcntl.fcntl(w, 1032) == pack.PIPE_CHUNK  # F_GETPIPE_SZ
    finally:
        os.close(r)
        os.close(w)


# --- bytecode before packing ------------------------------------------------------------------------

def test_missing_bytecode_is_compiled_by_an_isolated_interpreter_without_site(world, tmp_path, monkeypatch, capfd):
    from pyenvmod.operations import pack

    record = world.make("e", backend="conda")  # its own interpreter compiles
    site = world.site(record.prefix)
    (site / "m.py").write_text("x = 1\n")
    (site / "broken.py").write_text("def (:\n")  # compileall complains: never on our output
    marker = tmp_path / "ran"
    (site / "evil.pth").write_text(f"import os; open({str(marker)!r}, 'w')\n")  # site would run it
    shadow = tmp_path / "shadow"
    shadow.mkdir()
    (shadow / "compileall.py").write_text(f"open({str(marker) + '-shadow'!r}, 'w')\n")
    monkeypatch.setenv("PYTHONPATH", str(shadow))  # -I: never the caller's modules
    source = image.source_for(record)
    pack._compile_bytecode(source, world.tree)
    tag = sys.implementation.cache_tag
    assert (site / "__pycache__" / f"m.{tag}.pyc").is_file()
    assert not marker.exists() and not (tmp_path / "ran-shadow").exists()
    out, err = capfd.readouterr()
    assert out == "" and err == ""


def test_bytecode_is_left_alone_when_none_is_missing(world):
    from pyenvmod.operations import pack

    record = world.make("e", backend="conda")
    site = world.site(record.prefix)
    (site / "m.py").write_text("x = 1\n")
    pyc = site / "__pycache__" / f"m.{sys.implementation.cache_tag}.pyc"
    pyc.parent.mkdir()
    pyc.write_bytes(b"stale, but there")  # compileall would rewrite it: it never runs
    pack._compile_bytecode(image.source_for(record), world.tree)
    assert pyc.read_bytes() == b"stale, but there"


def test_the_extended_environment_is_compiled_only_when_it_is_in_the_tree(world, tmp_path):
    from pyenvmod.operations import pack

    base = world.make("base", backend="conda")
    child = world.make("child", extends=base, backend="conda")
    (world.site(base.prefix) / "b.py").write_text("")
    (world.site(child.prefix) / "c.py").write_text("")
    tag = sys.implementation.cache_tag
    pack._compile_bytecode(image.source_for(child), world.tree)
    assert (world.site(base.prefix) / "__pycache__" / f"b.{tag}.pyc").is_file()
    assert (world.site(child.prefix) / "__pycache__" / f"c.{tag}.pyc").is_file()
    outside = tmp_path / "outside"
    shutil.copytree(base.prefix, outside, symlinks=True)
    (world.site(outside) / "o.py").write_text("")
    source = image.source_for(child)
    source.ext_prefix = str(outside)  # another tree's environment: never written by this pack
    pack._compile_bytecode(source, world.tree)
    assert not (world.site(outside) / "__pycache__" / f"o.{tag}.pyc").exists()


def test_an_adopted_environment_is_packed_without_compiling_into_it(world):
    from pyenvmod.operations import pack

    import subprocess

    prefix = world.tmp_path / "adopted" / "e"  # adopted: a folder outside the tree
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(prefix)], check=True)
    registry.write(world.tree, world.record("e", prefix=str(prefix), backend="conda", adopted=True))
    (world.site(prefix) / "m.py").write_text("")
    manifest, path = pack.pack(world.config, "e")
    assert manifest is not None and path.is_file()
    assert not (world.site(prefix) / "__pycache__").exists()
    members, _ = _members(path)
    assert f"env/{os.path.relpath(world.site(prefix), prefix)}/m.py" in members


# --- when an image is current; its mode; the lock; zstd ---------------------------------------------

def test_pack_is_done_again_only_when_forced_or_stale_and_says_so(world):
    from pyenvmod.operations import pack

    record = world.make("e", backend="conda")
    said = []
    _rec, source, now, packed = pack.current(world.config, "e")
    assert packed == "" and now == image.stamp(image.source_for(record))
    first, path = pack.pack(world.config, "e", notify=said.append)
    assert said == ["packing 'e' (compiling bytecode, then one image)"]
    assert pack.current(world.config, "e")[2:] == (first.stamp, first.stamp)
    assert read_stamp(path.parent / "stamp") == first.stamp == now
    inode = path.stat().st_ino
    assert pack.pack(world.config, "e", notify=said.append) == (None, path) and len(said) == 1
    again, _ = pack.pack(world.config, "e", force=True)
    assert again is not None and again.stamp == first.stamp and path.stat().st_ino != inode
    (world.site(record.prefix) / "new-1.0.dist-info").mkdir()
    later, _ = pack.pack(world.config, "e")
    assert later is not None and later.stamp != first.stamp and read_stamp(path.parent / "stamp") == later.stamp
    assert (path.parent / "bin" / "python").is_file()  # the launchers
    assert image.read_manifest(path.parent / "manifest.json") == later


@pytest.mark.parametrize("mask", [0o022, 0o002])
def test_the_image_is_readable_by_the_group_as_the_umask_allows(world, mask):
    from pyenvmod.operations import pack

    world.make("e", backend="conda")
    old = os.umask(mask)
    try:
        _manifest, path = pack.pack(world.config, "e")
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o664 & ~mask
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o777 & ~mask  # the images folder, made by pack
    assert [p.name for p in path.parent.iterdir() if p.name.startswith(".")] == []


@pytest.mark.parametrize("how", ["argument", "config"])
def test_pack_waits_for_another_pack_only_as_long_as_told(world, how):
    from pyenvmod.operations import pack

    world.make("e", backend="conda")
    if how == "config":
        world.config.values["lock_timeout"] = 0.3
    with world.tree.lock("e", 5):
        started = time.monotonic()
        with pytest.raises(PyenvmodError, match="is busy"):
            pack.pack(world.config, "e", timeout=0.3 if how == "argument" else None)
        assert time.monotonic() - started < 4
    assert not images_dir(world.layout, "e").joinpath("stamp").exists()


def _fake_zstd(tmp_path, monkeypatch, script):
    folder = tmp_path / "fakebin"
    folder.mkdir()
    (folder / "zstd").write_text("#!/bin/sh\n" + script)
    (folder / "zstd").chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}:/usr/bin:/bin")


@pytest.mark.parametrize("script, code", [("cat >/dev/null; exit 3\n", 3), ("exit 0\n", 0)],
                         ids=["fails", "stops-reading"])
def test_a_zstd_that_fails_or_stops_reading_publishes_nothing(world, tmp_path, monkeypatch, script, code):
    from pyenvmod.operations import pack

    record = world.make("e", backend="conda")
    (world.site(record.prefix) / "data.txt").write_bytes(b"x" * (4 << 20))  # more than a pipe holds
    _fake_zstd(tmp_path, monkeypatch, script)
    folder = images_dir(world.layout, "e")
    with pytest.raises(PyenvmodError, match=rf"zstd failed \({code}\) writing {folder}/image.tar.zst; check the "
                                            "free space there"):
        pack.pack(world.config, "e")
    assert sorted(p.name for p in folder.iterdir()) == []


def test_pack_without_zstd_says_what_to_install(world, tmp_path, monkeypatch):
    from pyenvmod.operations import pack

    world.make("e", backend="conda")
    (tmp_path / "empty").mkdir()
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(PyenvmodError, match=r"^pyenvmod pack needs the zstd command; install it \(apt-get install "
                                            r"zstd\)$"):
        pack.pack(world.config, "e")
    assert list(images_dir(world.layout, "e").iterdir()) == []


def test_the_stream_ends_in_a_whole_record(tmp_path):
    members, writer = _write(tmp_path, _source(tmp_path))
    assert members == [] and os.path.getsize(tmp_path / "stream.tar") == tarstream.RECORD


def test_a_large_file_read_in_pieces_or_cut_short_is_packed_as_read(world, monkeypatch):
    """The kernel may hand a large file over in pieces (a network file system), or it shrank after it
    was seen (as test_pack_stream_unit's shrinking file, the short reads are os.readv's)."""
    from pyenvmod.operations import pack

    record = world.make("e", backend="conda")
    site = world.site(record.prefix)
    whole = bytes(range(256)) * 20
    (site / "a-pieces.bin").write_bytes(whole)
    (site / "b-shrunk.bin").write_bytes(whole)
    (site / "c-after.bin").write_bytes(b"z" * 3000)
    real = os.readv
    calls = {"b": 0}

    def readv(fd, buffers):
        name = os.readlink(f"/proc/self/fd/{fd}")
        if name.endswith("b-shrunk.bin"):
            calls["b"] += 1
            if calls["b"] > 1:
                return 0  # the rest is gone
        view = buffers[0]
        return real(fd, [view[:min(len(view), 1000)]])  # at most 1000 bytes a call

    monkeypatch.setattr(pack, "BIG", 2048)
    monkeypatch.setattr(pack.os, "readv", readv)
    _manifest, path = pack.pack(world.config, "e")
    members, _ = _members(path)
    rel = os.path.relpath(site, record.prefix)
    assert members[f"env/{rel}/a-pieces.bin"][1] == whole
    assert members[f"env/{rel}/b-shrunk.bin"][1] == whole[:1000]  # what there was, never left out
    assert members[f"env/{rel}/c-after.bin"][1] == b"z" * 3000


def test_a_large_file_is_never_changed_by_what_a_larger_one_left_in_the_shared_buffer(world, monkeypatch):
    """Large files are read into one buffer kept for all: a smaller one read after a larger one ends where
    the larger one's text BASE/lib goes on; only its own bytes are searched, so it is packed as it is."""
    from pyenvmod.operations import pack

    monkeypatch.setattr(pack, "BIG", 32)
    record, base = _venv_on_fake_base(world)
    dynload = base / "lib" / f"python{MM}" / "lib-dynload"
    old = os.fsencode(base) + b"/lib\0"
    larger = b"data" + b"\0" * 60 + old + b"\0tail"  # no ELF file: left as it is, BASE/lib at offset 64
    smaller = b"\x7fELF" + b"\0" * 60 + old[:6]  # an ELF file ending with the first bytes of BASE/lib
    (dynload / "_a.dat").write_bytes(larger)
    (dynload / "_b.so").write_bytes(smaller)
    _manifest, path = pack.pack(world.config, "e")
    members, _raw = _members(path)
    assert members[f"base/lib/python{MM}/lib-dynload/_a.dat"][1] == larger
    assert members[f"base/lib/python{MM}/lib-dynload/_b.so"][1] == smaller


def test_a_small_file_read_in_pieces_or_cut_short_is_packed_as_read(world, monkeypatch):
    """As above for the files read whole (under BIG): os.read hands a file over in pieces (a network file
    system), or less than was seen; what was read goes in, and its relocation is still found."""
    from pyenvmod.operations import pack

    record = world.make("e", backend="conda")
    site = world.site(record.prefix)
    whole = b"# text\n" * 300 + b"#!" + os.fsencode(record.prefix) + b"/bin/python\n"
    (site / "a-pieces.py").write_bytes(whole)
    (site / "b-shrunk.bin").write_bytes(whole)
    real = os.read
    calls = {"b": 0}

    def read(fd, size):
        try:
            name = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            return real(fd, size)
        if name.endswith("b-shrunk.bin"):
            calls["b"] += 1
            if calls["b"] > 1:
                return b""  # the rest is gone
        elif not name.endswith("a-pieces.py"):
            return real(fd, size)
        return real(fd, min(size, 1000))  # at most 1000 bytes a call

    monkeypatch.setattr(pack.os, "read", read)
    manifest, path = pack.pack(world.config, "e")
    monkeypatch.undo()
    members, _ = _members(path)
    rel = os.path.relpath(site, record.prefix)
    assert members[f"env/{rel}/a-pieces.py"][1] == whole
    assert members[f"env/{rel}/b-shrunk.bin"][1] == whole[:1000]
    assert f"env/{rel}/a-pieces.py" in manifest.relocate and f"env/{rel}/b-shrunk.bin" not in manifest.relocate
