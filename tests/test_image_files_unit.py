"""Hole 11 (issue 22) in-process and in the real shell: an image's stamp and manifest are files a
group member may write, so they are read like records: regular files only, a size cap, never
waiting on a FIFO (the launcher in /bin/sh and the staged stacking hook included)."""

import os
import subprocess
import threading
import time

import pytest

from pyenvmod.errors import PyenvmodError
from pyenvmod.staging import copy_id, image, read_stamp

from test_stage_units import STAMP, _script, _staged_hook, launcher  # noqa: F401 (fixture)


def _within(seconds, fn):
    """fn() in a thread; fails when it does not return within ``seconds`` (it would block)."""
    out = []

    def call():
        try:
            out.append((fn(), None))
        except Exception as exc:  # raised again in the test's thread
            out.append((None, exc))

    worker = threading.Thread(target=call, daemon=True)
    worker.start()
    worker.join(seconds)
    assert out, f"blocked for {seconds} s"
    if out[0][1] is not None:
        raise out[0][1]
    return out[0][0]


def test_a_fifo_stamp_is_no_stamp_and_is_not_waited_on(tmp_path):
    stamp = tmp_path / "stamp"
    os.mkfifo(stamp)
    assert _within(10, lambda: read_stamp(stamp)) == ""


def test_a_stamp_that_is_a_symlink_or_huge_is_no_stamp(tmp_path):
    real = tmp_path / "real"
    real.write_text(STAMP + "\n")
    (tmp_path / "link").symlink_to(real)
    assert read_stamp(real) == STAMP
    assert read_stamp(tmp_path / "link") == ""
    (tmp_path / "huge").write_text(STAMP + " " * 100 + "\n")
    assert read_stamp(tmp_path / "huge") == ""


def _manifest(path):
    path.write_text(image.Manifest(stamp=STAMP, name="e", python_mm="3.12", backend="uv",
                                   trees={"env": "/x"}).to_json())
    return path


def test_a_manifest_is_read_when_it_is_a_regular_file(tmp_path):
    assert image.read_manifest(_manifest(tmp_path / "manifest.json")).stamp == STAMP


def test_a_fifo_or_oversized_or_linked_manifest_is_refused_in_one_line(tmp_path, monkeypatch):
    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)
    for bad in (fifo,):
        with pytest.raises(PyenvmodError, match="not a regular file") as caught:
            _within(10, lambda: image.read_manifest(bad))
        assert "\n" not in str(caught.value) and "pyenvmod pack" in str(caught.value)
    big = _manifest(tmp_path / "big.json")
    monkeypatch.setattr(image, "MANIFEST_MAX_BYTES", 100)  # a 1 GB file is refused the same way, by its size
    with pytest.raises(PyenvmodError, match="larger than 100 bytes"):
        image.read_manifest(big)
    monkeypatch.undo()
    (tmp_path / "link.json").symlink_to(big)
    with pytest.raises(PyenvmodError, match="symlink"):
        image.read_manifest(tmp_path / "link.json")
    # the cap is well above a real manifest and far below a memory bomb
    assert 1 << 20 < image.MANIFEST_MAX_BYTES <= 64 << 20


def test_the_launcher_does_not_hang_on_a_fifo_stamp_in_the_real_shell(launcher):
    launcher["top"].mkdir(parents=True, mode=0o700)
    _script(launcher["copy"] / "env" / "bin" / "prog", "staged")
    launcher["stamp"].unlink()
    os.mkfifo(launcher["stamp"])
    result = subprocess.run([str(launcher["path"]), "x"], env=launcher["env"], capture_output=True, text=True,
                            timeout=20)
    assert result.stdout.split() == ["shared", "x"]


def test_the_staged_hook_does_not_hang_on_a_fifo_stamp(tmp_path):
    hook = _staged_hook(tmp_path, "/x/envs/a/lib/python3.12/site-packages")
    prefix = tmp_path / "tree" / "envs" / "b"
    site = prefix / "lib" / "python3.12" / "site-packages"
    site.mkdir(parents=True)
    stamp = tmp_path / "tree" / "images" / "b" / "stamp"
    stamp.parent.mkdir(parents=True)
    top = tmp_path / "top"
    copied = top / f"{copy_id('b', str(prefix))}.{STAMP}" / "env" / "lib" / "python3.12" / "site-packages"
    copied.mkdir(parents=True)
    os.mkfifo(stamp)
    assert _within(10, lambda: hook["_staged"](str(site), str(top))) == str(site)
    os.unlink(stamp)
    stamp.write_text(STAMP + "\n")
    later = time.time() + 5
    os.utime(stamp, (later, later))
    assert hook["_staged"](str(site), str(top)) == str(copied)  # a real stamp still maps it


def test_pack_leaves_out_a_file_swapped_for_a_fifo_or_a_link_after_it_was_seen(tmp_path):
    from pyenvmod.operations import pack

    path = tmp_path / "module.py"
    path.write_text("x = 1\n")
    seen = os.lstat(path)
    fd = pack._open_regular(str(path), seen)
    try:
        assert os.read(fd, 100) == b"x = 1\n"
    finally:
        os.close(fd)
    path.unlink()
    os.mkfifo(path)  # what a member swaps in between pack's lstat and its open
    assert _within(10, lambda: pack._open_regular(str(path), seen)) is None
    path.unlink()
    path.symlink_to(tmp_path / "elsewhere")
    (tmp_path / "elsewhere").write_text("x = 1\n")
    assert pack._open_regular(str(path), seen) is None


def test_stage_refuses_an_image_that_is_a_fifo_or_a_link_without_blocking(tmp_path):
    from pyenvmod.operations import stage

    into = tmp_path / "copy"
    into.mkdir()
    fifo = tmp_path / "image.tar.zst"
    os.mkfifo(fifo)
    with pytest.raises(PyenvmodError, match="not a regular file"):
        _within(10, lambda: stage._unpack(fifo, into, 0))
    fifo.unlink()
    (tmp_path / "real.tar.zst").write_bytes(b"")
    fifo.symlink_to(tmp_path / "real.tar.zst")
    with pytest.raises(PyenvmodError, match="cannot read the image"):
        stage._unpack(fifo, into, 0)
