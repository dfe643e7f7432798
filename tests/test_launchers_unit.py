"""The launchers of an environment (staging/launchers.py), in-process on real folders: which programs
get one, what each launcher is told (the environment's and the extended one's site-packages, the
stamp file, the stage folder pack was given), and the folder's mode; each launcher run by the real
/bin/sh. tests/test_stage_units.py covers when they are written again, test_guards_staging.py a
symlinked launcher folder."""

import os
import subprocess
import time
from pathlib import Path

import pytest

from pyenvmod.records.layout import Layout
from pyenvmod.records.metadata import EnvRecord
from pyenvmod.staging import copy_id, images_dir, launchers
from pyenvmod.trust import files

STAMP = "0123456789ab"
USER = os.environ.get("USER") or "root"


def _script(path: Path, text: str, mode: int = 0o755) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!/bin/sh\necho {text} \"$@\"\n")
    path.chmod(mode)
    return path


def _layout(tmp_path) -> Layout:
    layout = Layout(tmp_path / "root", "testarch-testos1")
    layout.ensure()
    return layout


def _record(layout, name="e", **changes) -> EnvRecord:
    values = dict(name=name, prefix=str(layout.prefix(name)), python="3.12.1", base_python="/usr/bin/python3",
                  backend="uv", module=f"pyenv/{name}/py3.12", created="now", owner="me", platform=layout.platform)
    values.update(changes)
    return EnvRecord(**values)


# --- which programs get a launcher ---------------------------------------------------------------------

def test_every_runnable_program_of_the_environment_gets_a_launcher_and_nothing_else(tmp_path):
    bin_dir = tmp_path / "env" / "bin"
    for name in ("python", "pip", "zeta-tool", "activate", "activate.fish", "deactivate", "bad\tname"):
        _script(bin_dir / name, name)
    _script(bin_dir / "Activate.ps1", "ps", mode=0o644)  # not runnable
    _script(bin_dir / "README", "readme", mode=0o644)
    (bin_dir / "subdir").mkdir(mode=0o755)  # a folder one may enter is no program
    (bin_dir / "python3").symlink_to("python")
    (bin_dir / "dangling").symlink_to("nowhere")
    assert launchers.programs(str(tmp_path / "env")) == ["pip", "python", "python3", "zeta-tool"]


def test_an_environment_without_a_bin_folder_has_no_programs(tmp_path):
    assert launchers.programs(str(tmp_path / "missing")) == []
    (tmp_path / "file").mkdir()
    (tmp_path / "file" / "bin").write_text("not a folder\n")
    assert launchers.programs(str(tmp_path / "file")) == []


# --- what a written launcher does, by the real shell ----------------------------------------------------

@pytest.fixture
def staged(tmp_path):
    """Environment 'e' extending 'base', its launchers written by launchers.write with a configured stage
    folder, a current stamp, and a copy of that version in the user's private stage folder."""
    layout = _layout(tmp_path)
    base = layout.prefix("base")
    base_site = base / "lib" / "python3.12" / "site-packages"
    base_site.mkdir(parents=True)
    prefix = layout.prefix("e")
    site = prefix / "lib" / "python3.12" / "site-packages"
    site.mkdir(parents=True)
    _script(prefix / "bin" / "prog", "shared")
    _script(prefix / "bin" / "pip", "shared-pip")
    record = _record(layout, extends={"name": "base", "prefix": str(base)})
    stage_dir = tmp_path / "node-local"
    folder = launchers.write(layout, record, str(stage_dir))
    stamp = images_dir(layout, "e") / "stamp"
    stamp.write_text(STAMP + "\n")
    later = time.time() + 5
    os.utime(stamp, (later, later))
    top = stage_dir / f"pyenvmod-{USER}"
    top.mkdir(parents=True, mode=0o700)
    copy = top / f"{copy_id('e', str(prefix))}.{STAMP}"
    _script(copy / "env" / "bin" / "prog", "copy")
    _script(copy / "env" / "bin" / "pip", "copy-pip")
    return {"folder": folder, "stamp": stamp, "site": site, "base_site": base_site, "later": later, "copy": copy}


def _run(folder: Path, program: str, *args, **env) -> str:
    environ = {"PATH": "/usr/bin:/bin", "USER": USER, **env}
    return subprocess.run([str(folder / program), *args], env=environ, capture_output=True, text=True,
                          check=True).stdout.strip()


def test_a_launcher_runs_the_copy_in_the_stage_folder_pack_was_given(staged):
    assert _run(staged["folder"], "prog", "a b") == "copy a b"
    assert _run(staged["folder"], "pip", "install") == "shared-pip install"  # pip: always the shared one
    # without the configured folder the launcher looks in $TMPDIR, where there is no copy
    text = (staged["folder"] / "prog").read_text()
    assert str(staged["copy"].parent.parent) in text


def test_a_launcher_leaves_the_copy_once_the_environment_changed(staged):
    os.utime(staged["site"], (staged["later"] + 10, staged["later"] + 10))  # 'pip install' after the pack
    assert _run(staged["folder"], "prog") == "shared"


def test_a_launcher_leaves_the_copy_once_the_environment_it_extends_changed(staged):
    os.utime(staged["base_site"], (staged["later"] + 10, staged["later"] + 10))
    assert _run(staged["folder"], "prog") == "shared"


def test_a_launcher_reads_the_stamp_of_its_own_environment(staged):
    staged["stamp"].write_text("ba9876543210\n")  # a newer version packed, not staged here
    os.utime(staged["stamp"], (staged["later"], staged["later"]))
    assert _run(staged["folder"], "prog") == "shared"


def test_without_a_configured_stage_folder_the_launcher_looks_in_tmpdir(tmp_path):
    layout = _layout(tmp_path)
    prefix = layout.prefix("e")
    (prefix / "lib" / "python3.12" / "site-packages").mkdir(parents=True)
    _script(prefix / "bin" / "prog", "shared")
    folder = launchers.write(layout, _record(layout))
    stamp = images_dir(layout, "e") / "stamp"
    stamp.write_text(STAMP + "\n")
    later = time.time() + 5
    os.utime(stamp, (later, later))
    top = tmp_path / "tmpdir" / f"pyenvmod-{USER}"
    top.mkdir(parents=True, mode=0o700)
    _script(top / f"{copy_id('e', str(prefix))}.{STAMP}" / "env" / "bin" / "prog", "copy")
    assert _run(folder, "prog", TMPDIR=str(tmp_path / "tmpdir")) == "copy"
    assert _run(folder, "prog", TMPDIR=str(tmp_path / "elsewhere")) == "shared"


# --- the folder: its mode, its group bit, nothing left beside it ----------------------------------------

@pytest.mark.parametrize("umask", [0o022, 0o002, 0o077])
def test_the_launchers_and_their_folder_get_the_mode_the_umask_allows(tmp_path, umask):
    layout = _layout(tmp_path)
    prefix = layout.prefix("e")
    _script(prefix / "bin" / "python", "python")
    old = os.umask(umask)
    try:
        folder = launchers.write(layout, _record(layout))
        expected = 0o775 & ~umask
        assert os.stat(folder.parent).st_mode & 0o7777 == 0o777 & ~umask  # images/NAME, made for them
        assert os.stat(folder).st_mode & 0o7777 == expected
        assert os.stat(folder / "python").st_mode & 0o7777 == expected
        first = os.lstat(folder).st_ino
        assert launchers.write(layout, _record(layout)) == folder and os.lstat(folder).st_ino == first  # current
    finally:
        os.umask(old)


@pytest.mark.parametrize("setgid", [True, False])
@pytest.mark.parametrize("umask", [0o022, 0o027])
def test_the_launcher_folder_keeps_the_group_bit_of_the_folder_it_is_in_and_nothing_else(tmp_path, setgid, umask):
    layout = _layout(tmp_path)
    prefix = layout.prefix("e")
    _script(prefix / "bin" / "python", "python")
    images = images_dir(layout, "e")
    images.mkdir(parents=True)
    images.chmod(0o2755 if setgid else 0o755)  # made by a maintainer whose umask differs from ours
    old = os.umask(umask)
    try:
        folder = launchers.write(layout, _record(layout))
    finally:
        os.umask(old)
    assert os.stat(folder).st_mode & 0o7777 == (0o2000 if setgid else 0) | (0o775 & ~umask)


def test_a_new_set_of_launchers_replaces_the_old_folder_and_leaves_nothing_beside_it(tmp_path):
    layout = _layout(tmp_path)
    prefix = layout.prefix("e")
    _script(prefix / "bin" / "python", "python")
    folder = launchers.write(layout, _record(layout))
    (folder / "stale").write_text("left from an older version\n")
    _script(prefix / "bin" / "tool", "tool")
    assert launchers.write(layout, _record(layout)) == folder
    assert sorted(os.listdir(folder)) == ["python", "tool"]
    assert os.listdir(folder.parent) == ["bin"]
    assert (folder / "tool").read_text() == (folder / "python").read_text()
    assert f"# Generated by pyenvmod for the environment e:" in (folder / "tool").read_text()


def test_a_launcher_folder_that_is_a_symlink_to_a_current_set_is_never_taken_as_current(tmp_path):
    layout = _layout(tmp_path)
    prefix = layout.prefix("e")
    _script(prefix / "bin" / "python", "python")
    folder = launchers.write(layout, _record(layout))
    aside = folder.parent / "aside"
    os.rename(folder, aside)
    folder.symlink_to("aside")  # the same launchers, behind a link a member could re-point
    launchers.write(layout, _record(layout))
    assert not folder.is_symlink() and os.listdir(folder) == ["python"]
    assert sorted(os.listdir(aside)) == ["python"]


def test_a_launcher_folder_that_is_a_file_is_replaced(tmp_path):
    layout = _layout(tmp_path)
    prefix = layout.prefix("e")
    _script(prefix / "bin" / "python", "python")
    folder = images_dir(layout, "e") / "bin"
    folder.parent.mkdir(parents=True)
    folder.write_text("not a folder\n")
    assert launchers.write(layout, _record(layout)) == folder
    assert folder.is_dir() and os.listdir(folder) == ["python"] and os.listdir(folder.parent) == ["bin"]


def test_the_launcher_of_a_program_gone_from_the_environment_is_removed(tmp_path):
    layout = _layout(tmp_path)
    prefix = layout.prefix("e")
    _script(prefix / "bin" / "python", "python")
    _script(prefix / "bin" / "tool", "tool")
    folder = launchers.write(layout, _record(layout))
    (prefix / "bin" / "tool").unlink()  # 'pip uninstall' of the package that had it
    launchers.write(layout, _record(layout))
    assert os.listdir(folder) == ["python"]


def test_launchers_behind_a_linked_image_folder_are_never_taken_as_current(tmp_path):
    """images/NAME a link to a folder holding the very launchers: never current (a member could re-point
    it), and never written through."""
    from pyenvmod.errors import PyenvmodError

    layout = _layout(tmp_path)
    prefix = layout.prefix("e")
    _script(prefix / "bin" / "python", "python")
    folder = launchers.write(layout, _record(layout))
    elsewhere = tmp_path / "elsewhere"
    os.rename(folder.parent, elsewhere)
    folder.parent.symlink_to(elsewhere)
    before = (elsewhere / "bin" / "python").read_text()
    with pytest.raises(PyenvmodError, match="symlink"):
        launchers.write(layout, _record(layout))
    assert os.listdir(elsewhere) == ["bin"] and (elsewhere / "bin" / "python").read_text() == before
