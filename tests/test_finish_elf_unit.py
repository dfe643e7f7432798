"""finish.py's reading of an ELF file's dynamic section (which RUNPATH becomes an RPATH), on ELF files
built here byte by byte as the format lays them out (program headers, PT_LOAD segments mapping
addresses to file offsets, a PT_DYNAMIC of (tag, value) pairs, a string table): each rule of
runpath_tag_at with two files that differ in it. test_finish_unit.py runs real interpreters."""

import os
import struct
import sys

import pytest

from pyenvmod.errors import PyenvmodError
from pyenvmod.staging import finish

DT_NULL, DT_STRTAB, DT_RPATH, DT_RUNPATH, DT_NEEDED = 0, 5, 15, 29, 1


def elf(dynamic, strings: bytes = b"\0$ORIGIN/../lib\0/usr/lib\0", loads=((0x400000, 0, 0x10000),),
        phentsize: int = 56, ident: bytes = b"\x7fELF\x02\x01", strtab_vaddr=None, extra_phdrs=0):
    """An ELF file whose string table sits at file offset 0x800 (address strtab_vaddr, by default the
    first load's address + 0x800) and whose dynamic section of ``dynamic`` [(tag, value)] at 0x400."""
    phoff, dyn_at, str_at = 0x40, 0x400, 0x800
    data = bytearray(0x1000)
    data[:len(ident)] = ident
    struct.pack_into("<Q", data, 0x20, phoff)
    phdrs = [(6, 0, 0, 0, 0, 0)] * extra_phdrs  # PT_PHDR entries first: neither load nor dynamic
    phdrs += [(1, 5, off, vaddr, vaddr, size) for vaddr, off, size in loads]
    phdrs.append((2, 6, dyn_at, 0, 0, 16 * len(dynamic)))
    struct.pack_into("<HH", data, 0x36, phentsize, len(phdrs))
    for i, (p_type, flags, off, vaddr, paddr, size) in enumerate(phdrs):
        struct.pack_into("<IIQQQQ", data, phoff + i * phentsize, p_type, flags, off, vaddr, paddr, size)
    if strtab_vaddr is None:
        strtab_vaddr = loads[0][0] + str_at - loads[0][1]
    for i, (tag, value) in enumerate(dynamic):
        struct.pack_into("<qQ", data, dyn_at + 16 * i, tag, strtab_vaddr if tag == DT_STRTAB else value)
    data[str_at:str_at + len(strings)] = strings
    return bytes(data)


ORIGIN, USR = 1, 16  # offsets of "$ORIGIN/../lib" and "/usr/lib" in the default string table


def test_a_runpath_starting_with_origin_is_found_at_its_tag():
    data = elf([(DT_NEEDED, USR), (DT_STRTAB, 0), (DT_RUNPATH, ORIGIN), (DT_NULL, 0)])
    assert finish.runpath_tag_at(data) == 0x400 + 32
    changed = finish.origin_rpath(data)
    assert changed == data[:0x420] + struct.pack("<q", DT_RPATH) + data[0x428:]
    assert finish.runpath_tag_at(changed) is None and finish.origin_rpath(changed) is None  # an RPATH now


def test_the_string_table_may_come_after_the_runpath():
    assert finish.runpath_tag_at(elf([(DT_RUNPATH, ORIGIN), (DT_STRTAB, 0), (DT_NULL, 0)])) == 0x400


def test_a_runpath_elsewhere_or_no_runpath_is_left_alone():
    assert finish.runpath_tag_at(elf([(DT_STRTAB, 0), (DT_RUNPATH, USR), (DT_NULL, 0)])) is None
    assert finish.runpath_tag_at(elf([(DT_STRTAB, 0), (DT_NEEDED, ORIGIN), (DT_NULL, 0)])) is None
    assert finish.origin_rpath(elf([(DT_STRTAB, 0), (DT_NULL, 0)])) is None
    # "$ORIGIN" without a folder after it, or "$ORIGINAL/": not the copy's own folder
    for text in (b"\0$ORIGIN\0", b"\0$ORIGINAL/\0", b"\0$ORIGIN:/x\0"):
        assert finish.runpath_tag_at(elf([(DT_STRTAB, 0), (DT_RUNPATH, 1), (DT_NULL, 0)], strings=text)) is None


def test_a_file_that_already_has_an_rpath_is_left_alone_wherever_it_is():
    assert finish.runpath_tag_at(elf([(DT_STRTAB, 0), (DT_RUNPATH, ORIGIN), (DT_RPATH, USR), (DT_NULL, 0)])) is None
    assert finish.runpath_tag_at(elf([(DT_RPATH, USR), (DT_STRTAB, 0), (DT_RUNPATH, ORIGIN), (DT_NULL, 0)])) is None


def test_entries_after_the_end_of_the_dynamic_section_are_not_read():
    assert finish.runpath_tag_at(elf([(DT_STRTAB, 0), (DT_NULL, 0), (DT_RUNPATH, ORIGIN)])) is None
    # an RPATH after the end does not count either
    assert finish.runpath_tag_at(elf([(DT_STRTAB, 0), (DT_RUNPATH, ORIGIN), (DT_NULL, 0), (DT_RPATH, USR)])) == \
        0x400 + 16
    # the section's size bounds it too: a RUNPATH past it is not read
    data = bytearray(elf([(DT_STRTAB, 0), (DT_NEEDED, USR)]))
    struct.pack_into("<qQ", data, 0x400 + 32, DT_RUNPATH, ORIGIN)
    assert finish.runpath_tag_at(bytes(data)) is None


@pytest.mark.parametrize("ident", [b"\x7fELF\x01\x01", b"\x7fELF\x02\x02", b"\x7fELG\x02\x01", b"#!/bin/sh\n"])
def test_only_64_bit_little_endian_elf_files_are_read(ident):
    assert finish.runpath_tag_at(elf([(DT_STRTAB, 0), (DT_RUNPATH, ORIGIN), (DT_NULL, 0)], ident=ident)) is None


def test_a_file_without_a_dynamic_section_or_with_its_strings_outside_every_segment_is_left_alone():
    data = bytearray(elf([(DT_STRTAB, 0), (DT_RUNPATH, ORIGIN), (DT_NULL, 0)]))
    struct.pack_into("<I", data, 0x40 + 56, 7)  # the PT_DYNAMIC header made a PT_TLS
    assert finish.runpath_tag_at(bytes(data)) is None
    assert finish.runpath_tag_at(elf([(DT_STRTAB, 0), (DT_RUNPATH, ORIGIN), (DT_NULL, 0)],
                                     strtab_vaddr=0x400000 + 0x10000)) is None  # just past the one load
    assert finish.runpath_tag_at(elf([(DT_RUNPATH, ORIGIN), (DT_NULL, 0)])) is None  # no string table


def test_the_string_table_is_found_through_the_segment_that_maps_its_address():
    # two loads: the table's address is in the second, whose file offset differs from its address
    loads = ((0x400000, 0, 0x600), (0x800000, 0x600, 0x1000))
    data = elf([(DT_STRTAB, 0), (DT_RUNPATH, ORIGIN), (DT_NULL, 0)], loads=loads, strtab_vaddr=0x800000 + 0x200)
    assert finish.runpath_tag_at(data) == 0x410
    # the first address of a segment is in it; the address just past the first segment is not
    data = elf([(DT_STRTAB, 0), (DT_RUNPATH, ORIGIN), (DT_NULL, 0)], loads=((0x400800, 0x800, 0x100),),
               strtab_vaddr=0x400800)
    assert finish.runpath_tag_at(data) == 0x410
    data = elf([(DT_STRTAB, 0), (DT_RUNPATH, ORIGIN), (DT_NULL, 0)],
               loads=((0x400000, 0, 0x800), (0x900000, 0x800, 0x100)), strtab_vaddr=0x400800)
    assert finish.runpath_tag_at(data) is None


def test_program_headers_are_read_at_their_offset_and_spacing():
    dynamic = [(DT_STRTAB, 0), (DT_RUNPATH, ORIGIN), (DT_NULL, 0)]
    assert finish.runpath_tag_at(elf(dynamic, phentsize=64, extra_phdrs=1)) == 0x410
    data = bytearray(elf(dynamic))
    struct.pack_into("<Q", data, 0x20, 0x200)  # the program headers moved: none found there
    assert finish.runpath_tag_at(bytes(data)) is None


def test_a_file_cut_short_is_left_alone():
    data = elf([(DT_STRTAB, 0), (DT_RUNPATH, ORIGIN), (DT_NULL, 0)])
    assert finish.runpath_tag_at(data[:0x408]) is None  # inside the dynamic section
    assert finish.runpath_tag_at(data[:0x50]) is None  # inside the program headers
    assert finish.runpath_tag_at(b"\x7fELF\x02\x01") is None


# --- which files of the copy are looked at -------------------------------------------------------------

def test_only_the_copys_python_programs_get_an_rpath_never_through_a_link(tmp_path):
    data = elf([(DT_STRTAB, 0), (DT_RUNPATH, ORIGIN), (DT_NULL, 0)])
    for rel in ("base/bin/python3.12", "env/bin/python", "env/bin/tool", "base/lib/python3.12",
                "other/bin/python"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(data)
    outside = tmp_path / "outside"
    outside.write_bytes(data)
    (tmp_path / "env" / "bin" / "python3").symlink_to(outside)
    (tmp_path / "base" / "bin" / "python-dir").mkdir()
    finish._own_libpython(tmp_path)
    changed = {rel for rel in ("base/bin/python3.12", "env/bin/python", "env/bin/tool", "base/lib/python3.12",
                               "other/bin/python", "outside") if (tmp_path / rel).read_bytes() != data}
    assert changed == {"base/bin/python3.12", "env/bin/python"}
    assert finish.runpath_tag_at((tmp_path / "env" / "bin" / "python").read_bytes()) is None
    assert os.path.getsize(tmp_path / "env" / "bin" / "python") == len(data)


def test_the_pip_programs_are_only_pip_pip3_and_pip3_x(tmp_path):
    from test_finish_unit import manifest

    bin_dir = tmp_path / "env" / "bin"
    bin_dir.mkdir(parents=True)
    names = ("pip", "pip3", "pip3.12", "pip3.1x", "pip2", "pipx", "xpip", "pip3.", "pip-run")
    for name in names:
        (bin_dir / name).write_text("original\n")
    (bin_dir / "pip3.13").symlink_to("pip")
    finish._pip_to_shared(tmp_path, manifest(), finish.render.environment())
    rewritten = sorted(n for n in names if (bin_dir / n).read_text() != "original\n")
    assert rewritten == ["pip", "pip3", "pip3.12"]
    assert (bin_dir / "pip3.13").is_symlink()


def test_pip_is_never_pointed_at_the_shared_environment_through_a_linked_folder(tmp_path):
    """A copy whose pip package is a link to a folder outside it (an image may hold links): refused, the
    file outside never rewritten."""
    from test_finish_unit import manifest

    outside = tmp_path / "outside" / "pip"
    outside.mkdir(parents=True)
    (outside / "__main__.py").write_text("original\n")
    copy = tmp_path / "copy"
    site = copy / "env" / "lib" / "python3.12" / "site-packages"
    site.mkdir(parents=True)
    (site / "pip").symlink_to(outside)
    with pytest.raises(PyenvmodError, match="is a symlink to outside"):
        finish._pip_to_shared(copy, manifest(), finish.render.environment())
    assert (outside / "__main__.py").read_text() == "original\n"
    assert os.listdir(outside) == ["__main__.py"]


def test_the_pip_programs_are_never_rewritten_through_a_linked_bin_folder(tmp_path):
    from test_finish_unit import manifest

    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "pip").write_text("original\n")
    copy = tmp_path / "copy"
    (copy / "env").mkdir(parents=True)
    (copy / "env" / "bin").symlink_to(outside)
    with pytest.raises(PyenvmodError, match="is a symlink to outside"):
        finish._pip_to_shared(copy, manifest(), finish.render.environment())
    assert (outside / "pip").read_text() == "original\n" and os.listdir(outside) == ["pip"]


def test_a_rewritten_file_that_does_not_compile_leaves_stage_quiet(tmp_path, capfd):
    """The copy's interpreter compiles the rewritten files; what it says (a file that does not compile
    is compiled by Python at start-up instead) never reaches the user's job output."""
    from test_finish_unit import manifest

    python = tmp_path / "copy" / "base" / "bin" / "python3.12"
    python.parent.mkdir(parents=True)
    python.write_text(f"#!/bin/sh\necho said on stdout; echo said on stderr >&2; exec {sys.executable} \"$@\"\n")
    python.chmod(0o755)
    hook = tmp_path / "copy" / "hook.py"
    hook.write_text("def broken(:\n")
    finish.finish(tmp_path / "copy", manifest(trees={}), [str(hook)])
    out, err = capfd.readouterr()
    assert (out, err) == ("", "")


def test_the_rewritten_files_are_compiled_isolated_without_site(tmp_path, monkeypatch):
    """The copy's interpreter (here a conda-like copy: the environment's own python) runs neither a .pth
    file of the copy's site-packages nor a module of the caller's PYTHONPATH while it compiles."""
    import subprocess

    from test_finish_unit import manifest

    copy = tmp_path / "copy"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(copy / "env")], check=True)
    site = next((copy / "env" / "lib").glob("python*/site-packages"))
    ran = tmp_path / "ran"
    (site / "evil.pth").write_text(f"import os; open({str(ran) + '-pth'!r}, 'w')\n")
    shadow = tmp_path / "shadow"
    shadow.mkdir()
    (shadow / "py_compile.py").write_text(f"open({str(ran) + '-path'!r}, 'w')\n")
    monkeypatch.setenv("PYTHONPATH", str(shadow))
    hook = site / "_pyenvmod_stack.py"
    hook.write_text("VALUE = 1\n")
    finish.finish(copy, manifest(trees={}, python_mm="0.0"), [str(hook)])
    assert [p.name for p in (site / "__pycache__").iterdir()] == [f"_pyenvmod_stack.{sys.implementation.cache_tag}.pyc"]
    assert not (tmp_path / "ran-pth").exists() and not (tmp_path / "ran-path").exists()
