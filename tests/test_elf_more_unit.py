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


def test_an_include_line_takes_several_patterns_after_a_space_or_a_tab(tmp_path):
    """As glibc's ldconfig reads it: each word after 'include' is a pattern of its own."""
    (tmp_path / "x.conf").write_text("/opt/x\n")
    (tmp_path / "y.conf").write_text("/opt/y\n")
    (tmp_path / "z.conf").write_text("/opt/z\n")
    conf = tmp_path / "ld.so.conf"
    conf.write_text(f"include x.conf  {tmp_path}/y.conf\ninclude\tz.conf\ninclude_not z.conf\nincludez.conf\n")
    assert elf._ld_so_conf(str(conf)) == ["/opt/x", "/opt/y", "/opt/z"]


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


@pytest.mark.parametrize("wide", [True, False], ids=["elf64", "elf32"])
@pytest.mark.parametrize("little", [True, False], ids=["le", "be"])
def test_a_machine_number_above_0x7fff_is_matched_unsigned(tmp_path, little, wide):
    """e_machine is an unsigned 16-bit number; unofficial ones (0x9026, Alpha) have the top bit set."""
    (tmp_path / "lib").mkdir()
    build(tmp_path / "lib" / "libm1.so", machine=0x9026, little=little, wide=wide)
    ext = build(tmp_path / "ext.so", needed=["libm1.so"], runpath=str(tmp_path / "lib"), machine=0x9026,
                little=little, wide=wide)
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


# ---- the layout of one ELF64 little-endian object of build(needed=["libx.so"]) ----------------------
# program headers at 64 (PT_LOAD) and 120 (PT_DYNAMIC), 56 bytes each: p_type 0, p_offset 8, p_vaddr 16,
# p_paddr 24, p_filesz 32; dynamic entries at 176, 16 bytes each: DT_NEEDED, DT_STRTAB, DT_STRSZ, DT_NULL;
# the string table "\0libx.so\0" at 240, mapped at 0x1000 + 240.
LOAD, DYN, ENTRIES, STRINGS = 64, 120, 176, 240


def test_a_dynamic_section_at_offset_0_or_of_size_0_is_read_as_what_it_is(tmp_path):
    """Offset 0 and size 0 lie inside the file: what is read there has no string table."""
    refused(patched(tmp_path, "empty", [("<Q", DYN + 32, 0)]), "a dynamic section without a string table")
    refused(patched(tmp_path, "at0", [("<Q", DYN + 8, 0)]), "a dynamic section without a string table")


def test_a_dynamic_section_past_the_end_is_refused_naming_the_file(tmp_path):
    refused(patched(tmp_path, "long", [("<Q", DYN + 32, 1 << 20)]), "a header points outside the file")


def test_program_headers_that_end_at_the_last_byte_are_read(tmp_path):
    data = bytearray(build(tmp_path / "src.so", needed=["libx.so"]).read_bytes())
    struct.pack_into("<Q", data, 0x20, len(data))  # e_phoff: a copy of the headers appended at the end
    data += data[LOAD:LOAD + 2 * 56]
    (tmp_path / "tail.so").write_bytes(bytes(data))
    assert elf.dynamic(tmp_path / "tail.so").needed == ["libx.so"]


def test_up_to_4096_program_headers_are_read(tmp_path):
    data = bytearray(build(tmp_path / "src.so", needed=["libx.so"]).read_bytes())
    data += bytes(64 + 4097 * 56)  # the headers after the first two are PT_NULL
    for count, name in ((4096, "most.so"), (4097, "over.so")):
        struct.pack_into("<H", data, 0x38, count)
        (tmp_path / name).write_bytes(bytes(data))
    assert elf.dynamic(tmp_path / "most.so").needed == ["libx.so"]
    refused(tmp_path / "over.so", "implausible program headers")


@pytest.mark.parametrize("wide", [True, False], ids=["elf64", "elf32"])
def test_the_segment_is_placed_by_its_virtual_address_not_its_physical_one(tmp_path, wide):
    offset = 24 if wide else 12  # p_paddr of the PT_LOAD header
    load = 64 if wide else 52
    edits = [("<Q" if wide else "<I", load + offset, 0x5000)]
    assert elf.dynamic(patched(tmp_path, "paddr", edits, wide=wide)).needed == ["libx.so"]


@pytest.mark.parametrize("wide, vaddr", [(True, 0xFFFF_FFFF_8000_0000), (False, 0x8000_0000)], ids=["elf64", "elf32"])
def test_addresses_with_the_top_bit_set_are_unsigned(tmp_path, wide, vaddr):
    lib = build(tmp_path / "high.so", needed=["libx.so", "liby.so"], wide=wide, vaddr=vaddr)
    assert elf.dynamic(lib).needed == ["libx.so", "liby.so"]


def test_a_segment_mapped_from_a_later_offset_of_the_file(tmp_path):
    """The string table's file offset is its address minus the segment's address plus the segment's offset."""
    lib = patched(tmp_path, "shifted", [("<Q", LOAD + 8, 0x10), ("<Q", LOAD + 16, 0x1010), ("<Q", LOAD + 32, 239)])
    assert elf.dynamic(lib).needed == ["libx.so"]


def test_a_string_table_at_the_first_byte_of_a_segment_is_in_it_and_at_its_end_is_not(tmp_path):
    first = patched(tmp_path, "first", [("<Q", LOAD + 8, STRINGS), ("<Q", LOAD + 16, 0x1000 + STRINGS),
                                        ("<Q", LOAD + 32, 9)])
    assert elf.dynamic(first).needed == ["libx.so"]
    refused(patched(tmp_path, "end", [("<Q", LOAD + 32, STRINGS)]), "its string table is outside every loaded segment")


def test_names_are_bounded_by_the_string_tables_size(tmp_path):
    # a name starting at the table's size
    refused(patched(tmp_path, "at", [("<Q", ENTRIES + 8, 9)]), "a name outside its string table")
    # the table's size cut before the last name's terminator (which the file still has after it)
    refused(patched(tmp_path, "cut", [("<Q", ENTRIES + 32 + 8, 8)]), "an unterminated or too long name")
    # no DT_STRSZ: an empty table, even for a name at index 0
    refused(patched(tmp_path, "nosz", [("<q", ENTRIES + 32, 99), ("<Q", ENTRIES + 8, 0)]),
            "a name outside its string table")


def test_a_name_that_is_not_utf8_is_read_with_a_replacement_character(tmp_path):
    lib = patched(tmp_path, "latin", [("<B", STRINGS + 1, 0xFF)])
    assert elf.dynamic(lib).needed == ["\ufffdibx.so"]


def test_the_soname_is_empty_without_dt_soname_and_the_libraries_own_with_it():
    import subprocess

    from test_elf_unit import MPICH_CXX

    assert elf.dynamic(MPICH_CXX).soname == "libmpichcxx.so.12"
    readelf = subprocess.run(["readelf", "-d", "/usr/bin/ls"], capture_output=True, text=True, check=True).stdout
    assert "SONAME" not in readelf and elf.dynamic("/usr/bin/ls").soname == ""


def test_ld_so_conf_is_read_up_to_one_mebibyte_and_a_comment_ends_at_its_first_hash(tmp_path):
    conf = tmp_path / "ld.so.conf"
    conf.write_text("/opt/a # one # two\n" + "#" * (1 << 20) + "\n/opt/late\n")
    assert elf._ld_so_conf(str(conf)) == ["/opt/a"]


def test_a_library_only_etc_ld_so_conf_names_is_found(tmp_path):
    """/etc/ld.so.conf is read by default (Debian's names the folder of fakeroot's libraries)."""
    import glob

    extra = [line.strip() for conf in glob.glob("/etc/ld.so.conf.d/*.conf") for line in open(conf)
             if line.startswith("/") and line.strip() not in elf.DEFAULT_DIRS]
    found = [(folder, name) for folder in extra if os.path.isdir(folder) for name in sorted(os.listdir(folder))
             if name.endswith(".so") and elf._matches(os.path.join(folder, name), 2, 62)]
    if not found:
        pytest.skip("no library in a folder that only /etc/ld.so.conf names")
    folder, name = found[0]
    ext = build(tmp_path / "ext.so", needed=[name])
    assert elf.resolve(ext, {}) == [(name, os.path.join(folder, name))]


def test_a_needed_library_named_by_a_relative_path_is_opened_from_the_working_folder(tmp_path, monkeypatch):
    """As ld.so does: a name with a slash is never searched for."""
    (tmp_path / "lib").mkdir()
    build(tmp_path / "lib" / "libm1.so")
    ext = build(tmp_path / "ext.so", needed=["lib/libm1.so"])
    monkeypatch.chdir("/")
    assert elf.resolve(ext, {"LD_LIBRARY_PATH": str(tmp_path)}) == [("lib/libm1.so", "not found")]
    monkeypatch.chdir(tmp_path)
    assert elf.resolve(ext, {}) == [("lib/libm1.so", "lib/libm1.so")]
