"""staging/relocate.py in-process on real files (issue 23, the staging round): which files pack lists
for relocation, what stage writes into each of them, and that a file is rewritten through its folder,
never through a link, keeping its mode, and only when it changes."""

import os

import pytest

from pyenvmod.errors import PyenvmodError
from pyenvmod.staging import relocate

OLD = b"/old/envs/e"


# --- holders(): the files pack lists ----------------------------------------------------------------

@pytest.mark.parametrize("arcname", ["env/m.pyc", "env/__pycache__/m.cpython-312.opt-1.pyc", "env/m.pyo"])
def test_bytecode_is_never_listed_even_as_text(arcname):
    assert relocate.holders(arcname, OLD + b"/bin/python\n", [OLD]) is False
    assert relocate.holders(arcname + ".txt", OLD + b"/bin/python\n", [OLD]) is True  # only the suffix counts


def test_a_prefix_at_the_first_byte_or_named_second_is_found():
    assert relocate.holders("env/a.pth", OLD + b"/lib\n", [OLD]) is True  # found at offset 0
    assert relocate.holders("env/a.pth", b"/base/lib\n", [OLD, b"/base"]) is True  # the second needle
    assert relocate.holders("env/a.pth", b"/else/lib\n", [OLD, b"/base"]) is False
    assert relocate.holders("env/a.pth", b"x" + OLD, [OLD], end=len(OLD)) is False  # past ``end``: not there


def test_a_binary_is_listed_only_when_it_is_elf():
    assert relocate.holders("env/lib/x.so", b"\x7fELF\0\0" + OLD + b"\0", [OLD]) is True
    assert relocate.holders("env/lib/x.so", b"\x7fELG\0\0" + OLD + b"\0", [OLD]) is False
    assert relocate.holders("env/x.npy", b"\x93NUMPY\0" + OLD, [OLD]) is False


@pytest.mark.parametrize("nul_at, end, text", [
    (8191, None, False), (8192, None, True),  # only the first 8 KB are looked at
    (8191, 10000, False), (8192, 10000, True),  # ``end`` past 8 KB: still the first 8 KB
    (99, 100, False), (100, 100, True),  # a buffer: nothing past ``end``
    (0, None, False)])
def test_a_file_is_text_when_its_first_8_kb_hold_no_nul(nul_at, end, text):
    data = bytearray(b"a" * 9000)
    data[nul_at] = 0
    assert relocate.is_text(data, end) is text
    assert relocate.is_text(bytes(data), end) is text


def test_needles_are_the_old_prefixes_as_bytes_in_order():
    assert relocate.needles({"/old/envs/e": "env", "/opt/py/bin/python": "base/bin/python"}) == [
        OLD, b"/opt/py/bin/python"]


# --- relative_runpath(): the interpreter finds the copied libpython --------------------------------

def test_a_runpath_as_long_as_the_origin_path_is_replaced():
    base = "/opt/py312"  # BASE/lib\0 is exactly as long as $ORIGIN/../lib\0
    assert len(base + "/lib\0") == len("$ORIGIN/../lib\0")
    data = b"\x7fELF\0" + base.encode() + b"/lib\0tail"
    assert relocate.relative_runpath(data, base) == b"\x7fELF\0$ORIGIN/../lib\0tail"
    buffer = bytearray(data)
    assert relocate.relative_runpath(buffer, base) is buffer and bytes(buffer) == b"\x7fELF\0$ORIGIN/../lib\0tail"


def test_a_runpath_shorter_than_the_origin_path_is_left_alone():
    base = "/opt/py31"  # one byte short: $ORIGIN/../lib would overwrite what follows
    data = b"\x7fELF\0" + base.encode() + b"/lib\0tail"
    assert relocate.relative_runpath(data, base) == data
    assert bytes(relocate.relative_runpath(bytearray(data), base)) == data


def test_every_runpath_in_a_buffer_is_replaced_up_to_its_end():
    base = "/opt/python/3.12"
    one = base.encode() + b"/lib\0"
    new = b"$ORIGIN/../lib".ljust(len(one), b"\0")
    data = bytearray(b"\x7fELF" + one + b"x" + one + b"z" + one + one + b"yy")
    end = len(data) - 2 - len(one)
    assert relocate.relative_runpath(data, base, end=end) is data
    assert bytes(data) == b"\x7fELF" + new + b"x" + new + b"z" + new + one + b"yy"  # the fourth is past ``end``
    data = bytearray(b"\x7fELF" + one + one)
    relocate.relative_runpath(data, base, "../../lib")
    assert bytes(data) == b"\x7fELF" + (b"$ORIGIN/../../lib".ljust(len(one), b"\0")) * 2


# --- rewrite(): what stage writes -------------------------------------------------------------------

def _file(tmp_path, name, data, mode=0o644):
    path = tmp_path / "copy" / "env" / "bin" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    path.chmod(mode)
    return path


def test_the_longest_old_prefix_is_replaced_first(tmp_path):
    path = _file(tmp_path, "tool", b"#!/old/envs/e/bin/python\n# /old/x\n")
    mapping = {"/old": "/short", "/old/envs/e": "/new/copy/env"}  # the shorter one listed first
    assert relocate.rewrite(str(path), mapping) is True
    assert path.read_bytes() == b"#!/new/copy/env/bin/python\n# /short/x\n"


def test_an_absent_longer_prefix_does_not_stop_the_shorter_ones(tmp_path):
    path = _file(tmp_path, "tool", b"#!/base/bin/python\n")
    assert relocate.rewrite(str(path), {"/old/envs/e": "/new/env", "/base": "/new/base"}) is True
    assert path.read_bytes() == b"#!/new/base/bin/python\n"


def test_the_mode_is_kept_and_an_unchanged_file_is_not_written(tmp_path):
    tool = _file(tmp_path, "tool", b"#!/old/envs/e/bin/python\n", 0o750)
    plain = _file(tmp_path, "plain", b"#!/usr/bin/python3\n", 0o640)
    inode = plain.stat().st_ino
    mapping = {"/old/envs/e": "/n"}
    assert relocate.rewrite(str(tool), mapping, inside=tmp_path / "copy") is True
    assert tool.read_bytes() == b"#!/n/bin/python\n" and tool.stat().st_mode & 0o777 == 0o750
    assert relocate.rewrite(str(plain), mapping, inside=tmp_path / "copy") is True
    assert plain.stat().st_ino == inode and plain.stat().st_mode & 0o777 == 0o640  # left as it was


def test_elf_strings_keep_their_length_every_one_of_them(tmp_path):
    data = b"\x7fELF\0/old/envs/e/lib:/old/envs/e/x\0mid\0/old/envs/e"  # the last string runs to the end
    path = _file(tmp_path, "x.so", data, 0o755)
    assert relocate.rewrite(str(path), {"/old/envs/e": "/n/e"}) is True
    out = path.read_bytes()
    assert len(out) == len(data)
    assert out == b"\x7fELF\0/n/e/lib:/n/e/x" + b"\0" * 14 + b"\0mid\0/n/e" + b"\0" * 7


def test_a_binary_that_is_not_elf_or_has_no_room_is_reported_incomplete(tmp_path):
    blob = b"\x93NUMPY\0/old/envs/e\0"
    path = _file(tmp_path, "data.npy", blob)
    assert relocate.rewrite(str(path), {"/old/envs/e": "/n"}) is False
    assert path.read_bytes() == blob  # never cut or padded: not a NUL-terminated string table
    elf = b"\x7fELF\0/old/envs/e/lib\0/base/lib\0"
    path = _file(tmp_path, "x.so", elf)
    assert relocate.rewrite(str(path), {"/old/envs/e": "/a/much/longer/new/prefix", "/base": "/b"}) is False
    assert path.read_bytes() == b"\x7fELF\0/old/envs/e/lib\0/b/lib\0\0\0\0"  # the one with room, done


def test_a_file_in_a_linked_folder_is_never_rewritten(tmp_path):
    real = tmp_path / "elsewhere"
    real.mkdir()
    (real / "tool").write_bytes(b"#!/old/envs/e/bin/python\n")
    copy = tmp_path / "copy"
    copy.mkdir()
    (copy / "bin").symlink_to(real)  # a link in the image: its folder is not the copy's
    with pytest.raises(PyenvmodError):
        relocate.rewrite(str(copy / "bin" / "tool"), {"/old/envs/e": "/n"}, inside=copy)
    with pytest.raises(PyenvmodError):
        relocate.rewrite(str(copy / "bin" / "tool"), {"/old/envs/e": "/n"})  # its own folder a link
    assert (real / "tool").read_bytes() == b"#!/old/envs/e/bin/python\n"
    (copy / "tool").symlink_to(real / "tool")
    with pytest.raises(OSError):
        relocate.rewrite(str(copy / "tool"), {"/old/envs/e": "/n"}, inside=copy)  # the file itself a link
    assert (real / "tool").read_bytes() == b"#!/old/envs/e/bin/python\n"
    assert os.path.islink(copy / "tool")


def test_an_elf_string_with_a_new_path_of_the_same_length_is_rewritten(tmp_path):
    data = b"\x7fELF\0/old/envs/e/lib\0"
    path = _file(tmp_path, "x.so", data, 0o755)
    assert relocate.rewrite(str(path), {"/old/envs/e": "/new/envs/x"}) is True
    assert path.read_bytes() == b"\x7fELF\0/new/envs/x/lib\0"


def test_a_runpath_only_past_the_end_of_a_buffer_is_left_alone():
    base = "/opt/python/3.12"
    data = bytearray(b"\x7fELF" + b"x" * 8 + base.encode() + b"/lib\0")
    relocate.relative_runpath(data, base, end=12)  # the rest: an earlier, larger file's bytes
    assert bytes(data) == b"\x7fELF" + b"x" * 8 + base.encode() + b"/lib\0"
