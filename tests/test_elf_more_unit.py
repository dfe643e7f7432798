"""packages/elf.py beyond tests/test_elf_unit.py: every refusal word for word, /etc/ld.so.conf's
include lines, the loader's order with both an RPATH and a RUNPATH, ${ORIGIN}, and a needed library
named by its path. In-process on real files (the minimal objects of test_elf_unit.build)."""

import os
import struct

import pytest

from test_elf_unit import build

from pyenvmod.packages import elf


def refused(path, why):
    with pytest.raises(elf.ElfError) as caught:
        elf.dynamic(path)
    assert caught.value.message == (f"{path}: {why}; it is not a shared library pyenvmod can read (reinstall the "
                                    "package that owns it)")


def patched(tmp_path, name, edits, **kw):
    data = bytearray(build(tmp_path / f"{name}.src", needed=["libx.so"], **kw).read_bytes())
    for fmt, offset, value in edits:
        struct.pack_into(fmt, data, offset, value)
    (tmp_path / name).write_bytes(bytes(data))
    return tmp_path / name


def test_every_refusal_word_for_word(tmp_path):
    (tmp_path / "folder").mkdir()
    refused(tmp_path / "folder", "not a regular file")
    (tmp_path / "text").write_text("#!/bin/sh\n" * 4)
    refused(tmp_path / "text", "no ELF header")
    (tmp_path / "short").write_bytes(b"\x7fELF\x02\x01")
    refused(tmp_path / "short", "no ELF header")
    (tmp_path / "head").write_bytes(b"\x7fELF\x02\x01\x01" + bytes(9))
    refused(tmp_path / "head", "a header points outside the file")
    (tmp_path / "order").write_bytes(b"\x7fELF\x02\x03\x01" + bytes(200))
    refused(tmp_path / "order", "an unknown ELF class or byte order")
    ok = build(tmp_path / "ok.so", needed=["libx.so"]).read_bytes()
    # e_phentsize smaller than a program header
    refused(patched(tmp_path, "phent", [("<H", 0x36, 8)]), "implausible program headers")
    # the PT_DYNAMIC header made a PT_NOTE (4): no dynamic section
    refused(patched(tmp_path, "static", [("<I", 64 + 56, 4)]), "no dynamic section (a static executable or an "
                                                                "object file)")
    # DT_STRTAB made DT_NULL-free padding (tag 99): no string table
    dyn_off = 64 + 2 * 56
    refused(patched(tmp_path, "nostr", [("<q", dyn_off + 16, 99)]), "a dynamic section without a string table")
    # the string table's address moved outside the segment
    refused(patched(tmp_path, "outside", [("<Q", dyn_off + 16 + 8, 0x900000)]),
            "its string table is outside every loaded segment")
    # a name offset at the string table's size
    refused(patched(tmp_path, "name", [("<Q", dyn_off + 8, 1 << 20)]), "a name outside its string table")
    assert len(ok) > 0


def test_a_name_at_the_last_byte_of_the_string_table_is_read(tmp_path):
    lib = build(tmp_path / "ok.so", needed=["a", "libz.so.1"])
    assert elf.dynamic(lib).needed == ["a", "libz.so.1"]


def test_ld_so_conf_follows_its_includes_in_order(tmp_path):
    conf = tmp_path / "ld.so.conf"
    (tmp_path / "ld.so.conf.d").mkdir()
    (tmp_path / "ld.so.conf.d" / "b.conf").write_text("/opt/b # after a\n")
    (tmp_path / "ld.so.conf.d" / "a.conf").write_text("# comment\n/opt/a\nnot/a/path\n")
    (tmp_path / "abs.conf").write_text(f"include {tmp_path}/deeper.conf\n")
    (tmp_path / "deeper.conf").write_text("/opt/deep\n")
    conf.write_bytes(b"/opt/first#x\ninclude ld.so.conf.d/*.conf\ninclude\ninclude " + str(tmp_path).encode()
                     + b"/abs.conf\n/opt/\xff/last\n")
    assert elf._ld_so_conf(str(conf)) == ["/opt/first", "/opt/a", "/opt/b", "/opt/deep", "/opt/\ufffd/last"]
    assert elf._ld_so_conf(str(tmp_path / "missing.conf")) == []


def test_includes_stop_after_four_levels(tmp_path):
    for level in range(7):
        (tmp_path / f"{level}.conf").write_text(f"/opt/{level}\ninclude {level + 1}.conf\n")
    assert elf._ld_so_conf(str(tmp_path / "0.conf")) == ["/opt/0", "/opt/1", "/opt/2", "/opt/3", "/opt/4"]
    assert elf._ld_so_conf(str(tmp_path / "0.conf"), 3) == ["/opt/0", "/opt/1"]


def test_with_a_runpath_the_rpath_is_not_searched(tmp_path):
    for folder in ("r", "run"):
        (tmp_path / folder).mkdir()
        build(tmp_path / folder / "libm1.so")
    ext = build(tmp_path / "ext.so", needed=["libm1.so"], rpath=f"{tmp_path}/r", runpath="${ORIGIN}/run")
    assert elf.resolve(ext, {}) == [("libm1.so", f"{tmp_path}/run/libm1.so")]
    ext = build(tmp_path / "ext2.so", needed=["libm1.so"], rpath=f"/nowhere:{tmp_path}/r")
    assert elf.resolve(ext, {"LD_LIBRARY_PATH": f"::{tmp_path}/run"}) == [("libm1.so", f"{tmp_path}/r/libm1.so")]
    assert elf.dynamic(ext).rpath == ["/nowhere", f"{tmp_path}/r"]


def test_a_needed_library_named_by_its_path(tmp_path):
    good = build(tmp_path / "libgood.so")
    build(tmp_path / "libother.so", wide=False)
    ext = build(tmp_path / "ext.so", needed=[str(good), str(tmp_path / "libother.so"), str(tmp_path / "none.so")])
    assert elf.resolve(ext, {}) == [(str(good), str(good)), (str(tmp_path / "libother.so"), "not found"),
                                    (str(tmp_path / "none.so"), "not found")]


def test_the_process_environment_is_used_by_default(tmp_path, monkeypatch):
    (tmp_path / "lib").mkdir()
    build(tmp_path / "lib" / "libq.so")
    ext = build(tmp_path / "ext.so", needed=["libq.so"])
    monkeypatch.setenv("LD_LIBRARY_PATH", str(tmp_path / "lib"))
    assert elf.resolve(ext) == [("libq.so", f"{tmp_path}/lib/libq.so")]


def test_a_fifo_a_folder_or_a_cut_file_on_the_search_path_is_passed_over_without_blocking(tmp_path):
    """The loader takes only a whole ELF file: a FIFO (opened without blocking), a folder and a file cut
    after its ELF class byte that sit first on the search path are passed over for the real library."""
    import os
    import threading

    for folder in ("fifo", "dir", "cut", "real"):
        (tmp_path / folder).mkdir()
    os.mkfifo(tmp_path / "fifo" / "libm1.so")
    (tmp_path / "dir" / "libm1.so").mkdir()
    (tmp_path / "cut" / "libm1.so").write_bytes(b"\x7fELF\x02\x01")
    build(tmp_path / "real" / "libm1.so")
    ext = build(tmp_path / "ext.so", needed=["libm1.so"])
    path = ":".join(str(tmp_path / f) for f in ("fifo", "dir", "cut", "real"))
    done = []
    worker = threading.Thread(target=lambda: done.append(elf.resolve(ext, {"LD_LIBRARY_PATH": path})), daemon=True)
    worker.start()
    worker.join(10)
    assert done == [[("libm1.so", f"{tmp_path}/real/libm1.so")]], "resolve blocked on a FIFO or took a non-library"


@pytest.mark.parametrize("little", [True, False], ids=["le", "be"])
def test_a_machine_number_above_0x7fff_is_matched_unsigned(tmp_path, little):
    """e_machine is an unsigned 16-bit number; unofficial ones (0x9026, Alpha) have the top bit set."""
    (tmp_path / "lib").mkdir()
    build(tmp_path / "lib" / "libm1.so", machine=0x9026, little=little)
    ext = build(tmp_path / "ext.so", needed=["libm1.so"], runpath=str(tmp_path / "lib"), machine=0x9026,
                little=little)
    assert elf.dynamic(ext).machine == 0x9026
    assert elf.resolve(ext, {}) == [("libm1.so", f"{tmp_path}/lib/libm1.so")]


def test_a_file_over_the_size_limit_is_refused_and_one_at_it_is_read(tmp_path):
    """Sparse files: no disk is used for the gigabyte."""
    big = tmp_path / "big.so"
    data = build(tmp_path / "ok.so", needed=["libx.so"]).read_bytes()
    big.write_bytes(data)
    os.truncate(big, elf.MAX_BYTES)
    assert elf.dynamic(big).needed == ["libx.so"]
    os.truncate(big, elf.MAX_BYTES + 1)
    refused(big, f"larger than {elf.MAX_BYTES} bytes")
