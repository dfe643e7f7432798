"""Where pack finds an environment's trees (staging/image.py's source_for, its base interpreter from the
bin/python link or pyvenv.cfg's home, never by running python), what the stamp reads, and the names
of staging/__init__.py (a copy's ID, which files of the stage folder belong to an environment, the
stamp's spelling, the user), in-process on real folders: a fake base interpreter (bin/pythonX.Y and
lib/pythonX.Y/os.py) is all pack looks for."""

import os
import time
from pathlib import Path

import pytest

from pyenvmod.errors import PyenvmodError
from pyenvmod.records.layout import Layout
from pyenvmod.records.metadata import EnvRecord
from pyenvmod.staging import (copy_id, ensure_private_dir, fnv, idents_named, images_dir, is_copy_of, launcher_dir,
                              read_stamp, user, valid_stamp)
from pyenvmod.staging import image


def _base(path: Path, mm: str = "3.12") -> Path:
    """A fake base interpreter at ``path``: what pack looks for (bin/pythonX.Y, lib/pythonX.Y/os.py)."""
    (path / "bin").mkdir(parents=True)
    (path / "bin" / f"python{mm}").write_text("#!/bin/sh\n")
    (path / "bin" / f"python{mm}").chmod(0o755)
    (path / "lib" / f"python{mm}").mkdir(parents=True)
    (path / "lib" / f"python{mm}" / "os.py").write_text("")
    return path


def _record(prefix: Path, **changes) -> EnvRecord:
    values = dict(name="e", prefix=str(prefix), python="3.12.1", base_python="/usr/bin/python3", backend="uv",
                  module="pyenv/e/py3.12", created="2026-01-01T00:00:00+00:00", owner="me", platform="x")
    values.update(changes)
    return EnvRecord(**values)


def _venv(prefix: Path, link_to: Path | None = None, cfg: str | None = None) -> Path:
    (prefix / "bin").mkdir(parents=True)
    (prefix / "lib" / "python3.12" / "site-packages").mkdir(parents=True)
    if link_to is not None:
        (prefix / "bin" / "python").symlink_to(link_to)
    else:
        (prefix / "bin" / "python").write_text("#!/bin/sh\n")  # a copy, as 'venv --copies' makes
    if cfg is not None:
        (prefix / "pyvenv.cfg").write_text(cfg)
    return prefix


# --- the base interpreter: from the bin/python link, else pyvenv.cfg's home, else a whole installation ---

def test_the_base_is_found_from_the_environments_python_link(tmp_path):
    base = _base(tmp_path / "py")
    prefix = _venv(tmp_path / "env", link_to=base / "bin" / "python3.12",
                   cfg=f"home = {tmp_path / 'elsewhere' / 'bin'}\n")
    source = image.source_for(_record(prefix))
    assert (source.base_prefix, source.base_executable) == (str(base), str(base / "bin" / "python3.12"))
    assert source.python_mm == "3.12" and source.ext_prefix == "" and source.updated == "2026-01-01T00:00:00+00:00"


def test_a_link_to_a_python_without_its_standard_library_is_no_base(tmp_path):
    base = _base(tmp_path / "py")
    (base / "lib" / "python3.12" / "os.py").unlink()
    prefix = _venv(tmp_path / "env", link_to=base / "bin" / "python3.12")
    with pytest.raises(PyenvmodError) as err:
        image.source_for(_record(prefix))
    assert str(err.value).startswith("the base interpreter of 'e' is not found from its bin/python link nor the "
                                     "'home' of its pyvenv.cfg")
    assert str(err.value).endswith("(was it removed?); repair it with 'pyenvmod doctor' first")


@pytest.mark.parametrize("line", ["home = {home}", "home={home}", "  home  =  {home}  ",
                                  "version = 3.12.1\nhome = {home}"])
def test_the_base_is_found_from_the_home_of_pyvenv_cfg_when_python_is_a_copy(tmp_path, line):
    base = _base(tmp_path / "py")
    prefix = _venv(tmp_path / "env", cfg=line.format(home=base / "bin") + "\ninclude-system-site-packages = false\n")
    source = image.source_for(_record(prefix))
    assert (source.base_prefix, source.base_executable) == (str(base), str(base / "bin" / "python3.12"))


def test_only_the_home_key_of_pyvenv_cfg_names_the_base(tmp_path):
    base = _base(tmp_path / "py")
    prefix = _venv(tmp_path / "env", cfg=f"homepage = {base / 'bin'}\nexecutable = {base / 'bin' / 'python3.12'}\n")
    with pytest.raises(PyenvmodError, match="is not found"):
        image.source_for(_record(prefix))


def test_the_first_home_line_of_pyvenv_cfg_is_taken(tmp_path):
    first, second = _base(tmp_path / "first"), _base(tmp_path / "second")
    prefix = _venv(tmp_path / "env", cfg=f"home = {first / 'bin'}\nhome = {second / 'bin'}\n")
    assert image.source_for(_record(prefix)).base_prefix == str(first)


def test_a_relative_home_is_no_base(tmp_path, monkeypatch):
    base = _base(tmp_path / "py")
    monkeypatch.chdir(tmp_path)
    prefix = _venv(tmp_path / "env", cfg="home = py/bin\n")
    with pytest.raises(PyenvmodError, match="is not found"):
        image.source_for(_record(prefix))
    assert base.is_dir()


def test_a_pyvenv_cfg_with_bytes_that_are_no_utf8_is_still_read(tmp_path):
    base = _base(tmp_path / "py")
    prefix = _venv(tmp_path / "env")
    (prefix / "pyvenv.cfg").write_bytes(b"prompt = caf\xe9\nhome = " + os.fsencode(base / "bin") + b"\n")
    assert image.source_for(_record(prefix)).base_prefix == str(base)


def test_a_home_whose_path_holds_an_equals_sign_is_read_whole(tmp_path):
    base = _base(tmp_path / "py=3.12")
    prefix = _venv(tmp_path / "env", cfg=f"home = {base / 'bin'}\n")
    assert image.source_for(_record(prefix)).base_prefix == str(base)


def test_a_pyvenv_cfg_over_64_kib_is_not_read(tmp_path):
    base = _base(tmp_path / "py")
    line = f"home = {base / 'bin'}\n".encode()
    prefix = _venv(tmp_path / "env")
    (prefix / "pyvenv.cfg").write_bytes(line + b"#" * ((64 << 10) - len(line) - 1) + b"\n")  # 64 KiB: read
    assert image.source_for(_record(prefix)).base_prefix == str(base)
    (prefix / "pyvenv.cfg").write_bytes(line + b"#" * ((64 << 10) - len(line)) + b"\n")  # one byte more
    with pytest.raises(PyenvmodError, match="is not found"):
        image.source_for(_record(prefix))


def test_home_names_pythonX_Y_first_then_python3_then_python(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    versioned, three, plain = _base(tmp_path / "a"), _base(tmp_path / "b"), _base(tmp_path / "c")
    (home / "python").symlink_to(plain / "bin" / "python3.12")
    prefix = _venv(tmp_path / "env", cfg=f"home = {home}\n")
    assert image.source_for(_record(prefix)).base_prefix == str(plain)
    (home / "python3").symlink_to(three / "bin" / "python3.12")
    assert image.source_for(_record(prefix)).base_prefix == str(three)
    (home / "python3.12").symlink_to(versioned / "bin" / "python3.12")
    source = image.source_for(_record(prefix))
    assert (source.base_prefix, source.base_executable) == (str(versioned), str(versioned / "bin" / "python3.12"))


def test_a_home_python_without_its_standard_library_is_passed_over(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    broken, good = _base(tmp_path / "broken"), _base(tmp_path / "good")
    (broken / "lib" / "python3.12" / "os.py").unlink()
    (home / "python3.12").symlink_to(broken / "bin" / "python3.12")
    (home / "python3").symlink_to(good / "bin" / "python3.12")
    prefix = _venv(tmp_path / "env", cfg=f"home = {home}\n")
    assert image.source_for(_record(prefix)).base_prefix == str(good)


def test_a_whole_installation_is_its_own_base(tmp_path):
    prefix = _base(tmp_path / "install")
    (prefix / "bin" / "python").symlink_to("python3.12")
    (prefix / "lib" / "python3.12" / "site-packages").mkdir()
    source = image.source_for(_record(prefix))
    assert source.base_prefix == "" and source.base_executable == str(prefix / "bin" / "python3.12")
    assert source.trees() == {"env": str(prefix)}


def test_a_conda_environment_has_no_base_even_with_a_link_to_one(tmp_path):
    base = _base(tmp_path / "py")
    prefix = _venv(tmp_path / "env", link_to=base / "bin" / "python3.12")
    source = image.source_for(_record(prefix, backend="conda"))
    assert (source.base_prefix, source.base_executable) == ("", "")
    assert source.relocations() == {str(prefix): "env"} and source.trees() == {"env": str(prefix)}


def test_an_extended_environment_is_copied_along_only_when_its_prefix_is_known(tmp_path):
    base = _base(tmp_path / "py")
    prefix = _venv(tmp_path / "env", link_to=base / "bin" / "python3.12")
    source = image.source_for(_record(prefix, extends={"name": "b", "prefix": "/shared/b"}, backend="conda"))
    assert source.ext_prefix == "/shared/b"
    assert image.source_for(_record(prefix, extends={"name": "b"})).ext_prefix == ""
    assert image.source_for(_record(prefix, extends={"name": "b", "prefix": ""})).ext_prefix == ""


def test_the_version_is_the_updated_time_once_there_is_one(tmp_path):
    base = _base(tmp_path / "py")
    prefix = _venv(tmp_path / "env", link_to=base / "bin" / "python3.12")
    assert image.source_for(_record(prefix, updated="2026-02-02T00:00:00+00:00")).updated == \
        "2026-02-02T00:00:00+00:00"


def test_what_relocation_rewrites_and_where_each_tree_goes(tmp_path):
    source = image.Source("e", "/t/envs/e", "3.11", "uv", "now", base_prefix="/opt/py", base_executable="/opt/py/x",
                          ext_prefix="/t/envs/b")
    assert source.relocations() == {"/t/envs/e": "env", "/t/envs/b": "ext", "/opt/py/bin/python": "base/bin/python",
                                    "/opt/py/lib/python3.11": "base/lib/python3.11"}
    assert source.trees() == {"env": "/t/envs/e", "base": "/opt/py", "ext": "/t/envs/b"}
    assert source.site_packages() == "/t/envs/e/lib/python3.11/site-packages"
    assert source.site_packages("/t/envs/b") == "/t/envs/b/lib/python3.11/site-packages"


# --- the stamp -----------------------------------------------------------------------------------------

def test_the_stamp_of_a_base_interpreter_that_is_gone_differs_and_is_a_stamp(tmp_path):
    base = _base(tmp_path / "py")
    prefix = _venv(tmp_path / "env", link_to=base / "bin" / "python3.12")
    source = image.source_for(_record(prefix))
    before = image.stamp(source)
    (base / "bin" / "python3.12").unlink()
    after = image.stamp(source)
    assert after != before and valid_stamp(after) == after


def test_the_stamp_of_an_environment_whose_folders_are_gone_is_still_a_stamp(tmp_path):
    source = image.Source("e", str(tmp_path / "gone"), "3.12", "uv", "now")
    assert valid_stamp(image.stamp(source)) == image.stamp(source)
    (tmp_path / "gone").mkdir()
    assert image.stamp(source) != image.stamp(image.Source("e", str(tmp_path / "gone2"), "3.12", "uv", "now"))


def test_the_stamp_sees_a_file_rewritten_in_place_in_the_environment(tmp_path):
    prefix = _venv(tmp_path / "env", link_to=_base(tmp_path / "py") / "bin" / "python3.12")
    (prefix / "bin" / "tool").write_text("")
    source = image.source_for(_record(prefix))
    before = image.stamp(source)
    later = time.time() + 100
    os.utime(prefix / "bin" / "tool", (later, later))  # same names, a new time
    assert image.stamp(source) != before


# --- names: a copy's ID, the files of an environment in the stage folder, the stamp's spelling -----------

def test_the_copy_id_is_fnv_1a_64_of_the_normalised_folder():
    assert fnv("") == "cbf29ce484"  # FNV-1a 64's offset basis
    assert fnv("a") == "af63dc4c86"  # the published test vector af63dc4c8601ec8c
    assert fnv("foobar") == "85944171f7"  # 85944171f73967e8
    assert fnv("/t/\udcff") != fnv("/t/\udcfe")  # a folder name that is no UTF-8: its bytes
    assert copy_id("e", "/t/envs/e/") == f"e-{fnv('/t/envs/e')}"


def test_the_files_of_an_environments_copies_are_named_by_its_id():
    ident = "e-0123456789"
    assert is_copy_of(f"{ident}.0123456789ab", ident) and is_copy_of(f".{ident}.tmp1234", ident)
    assert not is_copy_of(f"{ident}.lock", ident)
    assert not is_copy_of(f"{ident}0.x", ident) and not is_copy_of(f"x{ident}.x", ident)
    assert not is_copy_of(ident, ident) and not is_copy_of(f"..{ident}.x", ident)


def test_the_ids_found_for_a_name_are_those_of_its_copies_whatever_their_folder():
    names = ["e-0123456789.0123456789ab", ".e-0123456789.tmp", "e-abcdef0123.lock", "e-0123456789.old",
             "e-012345678.x", "e-0123456789a.x", "ee-1111111111.x", "e-2222222222", "e-ABCDEF0123.x",
             "xe-3333333333.x", "f-4444444444.x"]
    assert idents_named(names, "e") == ["e-0123456789", "e-abcdef0123"]
    assert idents_named(["aXb-0123456789.x", "a.b-9876543210.x"], "a.b") == ["a.b-9876543210"]


def test_an_environments_image_folder_is_under_images_by_a_valid_name_only(tmp_path):
    layout = Layout(tmp_path / "root", "testarch-testos1")
    assert images_dir(layout, "e") == layout.base / "images" / "e"
    assert launcher_dir(layout, "e") == layout.base / "images" / "e" / "bin"
    with pytest.raises(PyenvmodError):
        images_dir(layout, "../e")


@pytest.mark.parametrize("text, ok", [("0123456789ab", True), ("0123456789a", False), ("0123456789abc", False),
                                      ("0123456789aB", False), ("0123456789ag", False), ("0123456789aX", False),
                                      ("", False),
                                      (" 123456789ab", False)])
def test_a_stamp_is_twelve_lowercase_hex_digits(text, ok):
    assert valid_stamp(text) == (text if ok else "")


def test_a_stamp_that_is_no_text_is_no_stamp():
    assert valid_stamp(None) == "" and valid_stamp(b"0123456789ab") == ""


def test_a_stamp_file_is_read_without_its_line_end_and_anything_else_is_no_stamp(tmp_path):
    (tmp_path / "stamp").write_text("  0123456789ab \n")
    assert read_stamp(tmp_path / "stamp") == "0123456789ab"
    (tmp_path / "stamp").write_bytes(b"0123456789\xff\xfe\n")
    assert read_stamp(tmp_path / "stamp") == ""
    assert read_stamp(tmp_path / "missing") == ""
    (tmp_path / "dir").mkdir()
    assert read_stamp(tmp_path / "dir") == ""


def test_the_user_is_user_else_the_accounts_name(monkeypatch):
    monkeypatch.setenv("USER", "alice")
    monkeypatch.setenv("LOGNAME", "bob")
    assert user() == "alice"
    monkeypatch.setenv("USER", "")
    assert user() == "bob"  # getpass: LOGNAME first
    monkeypatch.delenv("USER")
    assert user() == "bob"


# --- the user's stage folder: what each refusal tells to do --------------------------------------------

def test_a_stage_folder_others_may_write_is_refused_with_what_to_do(tmp_path):
    mine = tmp_path / "pyenvmod-me"
    mine.mkdir()
    mine.chmod(0o777)
    with pytest.raises(PyenvmodError) as err:
        ensure_private_dir(mine)
    assert str(err.value) == (f"{mine} is not a private folder of yours (someone else made it, or others may write "
                              "to it); remove it or set stage_dir (or $TMPDIR) to another folder")


def test_a_stage_folder_that_cannot_be_made_says_to_choose_a_writable_one(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(PyenvmodError) as err:
        ensure_private_dir(tmp_path / "file" / "pyenvmod-me")
    assert str(err.value) == (f"cannot create {tmp_path / 'file' / 'pyenvmod-me'}: Not a directory; set stage_dir "
                              "(or $TMPDIR) to a writable node-local folder")


def test_a_stage_folder_in_a_missing_folder_says_who_must_make_that_one(tmp_path):
    with pytest.raises(PyenvmodError) as err:
        ensure_private_dir(tmp_path / "missing" / "pyenvmod-me")
    missing = tmp_path / "missing"
    assert str(err.value) == (f"cannot create {missing / 'pyenvmod-me'}: the folder {missing} "
                              "does not exist; pyenvmod makes only its own folder in it: the site's admin (stage_dir "
                              "in the site configuration) or you (stage_dir, or $TMPDIR) must point stage_dir at an "
                              "existing node-local folder")
    assert not (tmp_path / "missing").exists()


def test_the_stage_folder_gets_the_users_group(tmp_path):
    if os.getuid() != 0:
        pytest.skip("giving a folder another group needs root")
    mine = tmp_path / "pyenvmod-me"
    mine.mkdir(mode=0o700)
    os.chown(mine, -1, 65534)
    ensure_private_dir(mine)
    assert os.stat(mine).st_gid == os.getegid() and os.stat(mine).st_mode & 0o777 == 0o700


def test_an_image_manifest_that_is_no_json_is_one_clear_error(tmp_path):
    path = tmp_path / "manifest.json"
    path.write_text("{not json")
    with pytest.raises(PyenvmodError) as err:
        image.read_manifest(path)
    assert str(err.value).startswith(f"the image manifest {path} is unreadable (")
    assert str(err.value).endswith("); run 'pyenvmod pack NAME' again")
    path.write_text('{"stamp": "0123456789ab"}')  # fields missing
    with pytest.raises(PyenvmodError, match="is unreadable .*missing"):
        image.read_manifest(path)


def test_the_stamp_sees_a_program_rewritten_beside_a_dangling_link(tmp_path):
    """The entries of bin/ are looked at themselves, never through a link: one whose target is gone
    (a removed console script's, say) hides nothing from the stamp."""
    prefix = _venv(tmp_path / "env", link_to=_base(tmp_path / "py") / "bin" / "python3.12")
    (prefix / "bin" / "gone").symlink_to(tmp_path / "nowhere")
    (prefix / "bin" / "tool").write_text("")
    source = image.source_for(_record(prefix))
    before = image.stamp(source)
    later = time.time() + 100
    os.utime(prefix / "bin" / "tool", (later, later))  # rewritten in place: only its own time changes
    assert image.stamp(source) != before
