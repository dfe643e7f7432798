"""Issue 23, staging: the guards and the cache key of pack and stage, in-process on real folders.
The stage folder's mode and owner, the image stamp's inputs (the environment, the one it extends,
its base interpreter), and an image that is gone while its stamp is current."""

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from guardenv import PYTHON, World
from pyenvmod.errors import PyenvmodError
from pyenvmod.staging import IMAGE_FORMATS, ensure_private_dir, image, images_dir, read_stamp
from test_stage_units import _run, _script, launcher  # noqa: F401  (the launcher fixture)


@pytest.fixture
def world(tmp_path, monkeypatch) -> World:
    return World(tmp_path, monkeypatch)


# --- the stage folder: ours, a folder, and nobody else may write to it -----------------------------

@pytest.mark.parametrize("mode", [0o720, 0o770, 0o702, 0o722])
def test_a_stage_folder_others_or_the_group_may_write_is_refused(tmp_path, mode):
    mine = tmp_path / "local" / "pyenvmod-me"
    mine.parent.mkdir()
    ensure_private_dir(mine)
    mine.chmod(mode)
    with pytest.raises(PyenvmodError, match="not a private folder of yours"):
        ensure_private_dir(mine)


@pytest.mark.parametrize("mode", [0o700, 0o750, 0o755])
def test_a_stage_folder_only_we_may_write_is_accepted(tmp_path, mode):
    mine = tmp_path / "local" / "pyenvmod-me"
    mine.parent.mkdir()
    mine.mkdir(mode=0o700)
    mine.chmod(mode)
    ensure_private_dir(mine)  # no error
    assert mine.stat().st_mode & 0o777 == mode  # and left as it is


def test_a_symlink_to_a_private_folder_is_not_the_stage_folder(tmp_path):
    real = tmp_path / "elsewhere"
    real.mkdir(mode=0o700)
    link = tmp_path / "local" / "pyenvmod-me"
    link.parent.mkdir()
    link.symlink_to(real)  # whoever may write the stage_dir could point it anywhere
    with pytest.raises(PyenvmodError, match="not a private folder of yours"):
        ensure_private_dir(link)
    plain = tmp_path / "local" / "pyenvmod-you"
    plain.write_text("")
    with pytest.raises(PyenvmodError, match="not a private folder of yours"):
        ensure_private_dir(plain)


@pytest.mark.parametrize("mode", [0o770, 0o707])
def test_the_launcher_runs_only_a_copy_of_its_own_user_whoever_may_write_the_stage_folder(launcher, mode):  # noqa: F811
    launcher["top"].mkdir(parents=True, mode=0o700)
    _script(launcher["copy"] / "env" / "bin" / "prog", "planted")
    assert _run(launcher) == ["planted"]  # ours and private: the copy runs
    launcher["top"].chmod(mode)  # a group member may put a copy of their own there
    assert _run(launcher) == ["planted"], "a copy of ours (0700 as pyenvmod makes it) is still ours"
    os.chown(launcher["copy"], 65534, 65534)  # ... and then the copy is theirs
    assert _run(launcher) == ["shared"]
    launcher["top"].chmod(0o755)  # nor is it used where only we may write to the folder above
    assert _run(launcher) == ["shared"]


def test_the_launchers_variables_never_come_from_the_callers_environment(launcher):  # noqa: F811
    from test_stage_units import STAMP

    launcher["top"].mkdir(parents=True, mode=0o700)
    _script(launcher["copy"] / "env" / "bin" / "prog", "staged")
    launcher["stamp"].unlink()  # not packed (any more): no version to use
    env = dict(launcher["env"], want=STAMP, stamp_file="/dev/null", top=str(launcher["top"]))
    assert _run(launcher, env=env) == ["shared"]


def test_the_launcher_ignores_a_stage_folder_that_is_a_symlink(launcher, tmp_path):  # noqa: F811
    real = tmp_path / "real-top"
    real.mkdir(mode=0o700)
    _script(real / launcher["copy"].name / "env" / "bin" / "prog", "planted")
    launcher["top"].parent.mkdir(exist_ok=True)
    launcher["top"].symlink_to(real)  # ours at its end, but not the folder pyenvmod made
    assert _run(launcher) == ["shared"]


# --- the image stamp: every tree the image holds is part of it --------------------------------------

def _trees(tmp_path):
    """An environment, the one it extends, and a base interpreter, as folders."""
    out = {}
    for key in ("env", "ext"):
        prefix = tmp_path / key
        (prefix / "lib" / "python3.12" / "site-packages").mkdir(parents=True)
        (prefix / "bin").mkdir()
        out[key] = prefix
    exe = tmp_path / "base" / "bin" / "python3.12"
    exe.parent.mkdir(parents=True)
    exe.write_text("")
    out["exe"] = exe
    source = image.Source("e", str(out["env"]), "3.12", "uv", "2026-01-01T00:00:00+00:00",
                          base_prefix=str(tmp_path / "base"), base_executable=str(exe), ext_prefix=str(out["ext"]))
    return source, out


@pytest.mark.parametrize("change", [
    "env site-packages", "env bin", "env top", "ext site-packages", "ext bin", "ext top", "ext file time",
    "interpreter", "updated", "ext folder"])
def test_the_stamp_changes_with_every_input(tmp_path, change):
    source, trees = _trees(tmp_path)
    (trees["ext"] / "lib" / "python3.12" / "site-packages" / "six.py").write_text("")
    before = image.stamp(source)
    assert image.stamp(source) == before  # nothing changed: the same version
    later = time.time() + 100
    if change.endswith("site-packages"):
        (trees[change[:3]] / "lib" / "python3.12" / "site-packages" / "new-1.0.dist-info").mkdir()
    elif change.endswith("bin"):
        (trees[change[:3]] / "bin" / "tool").write_text("")
    elif change.endswith("top"):
        (trees[change[:3]] / "uv.lock").write_text("")
    elif change == "ext file time":  # a package of the base rewritten in place (same names)
        os.utime(trees["ext"] / "lib" / "python3.12" / "site-packages" / "six.py", (later, later))
    elif change == "interpreter":  # the base interpreter was rebuilt
        os.utime(trees["exe"], (later, later))
    elif change == "updated":
        source.updated = "2026-01-02T00:00:00+00:00"
    else:  # the environment now extends another folder
        other = tmp_path / "other"
        shutil.copytree(trees["ext"], other, copy_function=shutil.copy2)
        source.ext_prefix = str(other)
    assert image.stamp(source) != before


def test_the_source_of_an_extending_environment_names_its_base_and_interpreter(world):
    base = world.make("base")
    child = world.make("child", extends=base)
    source = image.source_for(child)
    assert source.ext_prefix == base.prefix and source.prefix == child.prefix
    assert source.trees() == {"env": child.prefix, "ext": base.prefix, "base": source.base_prefix}
    real = os.path.realpath(os.path.join(child.prefix, "bin", "python"))
    assert source.base_executable == real and source.base_prefix == os.path.dirname(os.path.dirname(real))
    before = image.stamp(source)
    (world.site(base.prefix) / "added-1.0.dist-info").mkdir()  # a 'pip install' into the base
    assert image.stamp(image.source_for(child)) != before
    assert image.source_for(base).ext_prefix == ""


# --- a deleted image is never current, whatever its stamp says --------------------------------------

def _conda_like(world, name="e"):
    """An environment whose interpreter is inside it (as conda's): its image holds only env/, so packing
    it takes a moment."""
    return world.make(name, backend="conda")


def test_pack_makes_the_image_again_when_it_is_gone_and_its_stamp_current(world):
    from pyenvmod.operations import pack

    _conda_like(world)
    manifest, path = pack.pack(world.config, "e")
    assert manifest is not None and path.is_file()
    assert pack.pack(world.config, "e") == (None, path)  # current: nothing to do
    stamp = read_stamp(path.parent / "stamp")
    path.unlink()  # removed by hand, or a full disk's leftover
    manifest, again = pack.pack(world.config, "e")
    assert manifest is not None and manifest.stamp == stamp and again.is_file()
    assert subprocess.run(["zstd", "-t", "-q", str(again)]).returncode == 0


def test_stage_packs_again_when_the_image_is_gone_and_its_stamp_current(world):
    from pyenvmod.operations import pack, stage

    _conda_like(world)
    _manifest, path = pack.pack(world.config, "e")
    stamp = read_stamp(path.parent / "stamp")
    path.unlink()
    result = stage.stage(world.config, "e")
    assert result["action"] == "staged" and result["packed"] is True and result["stamp"] == stamp
    assert (path.parent / IMAGE_FORMATS["tar"]).is_file()
    copy = result["copy"]
    assert os.path.isfile(os.path.join(copy, "env", "pyvenv.cfg"))
    assert os.path.isdir(os.path.join(copy, "env", "lib", f"python{PYTHON.rsplit('.', 1)[0]}", "site-packages"))


# --- the launcher of an --extends environment: a change to the base makes the copy stale too ----------

def test_the_launcher_leaves_the_copy_once_the_extended_environment_changed(world):
    from pyenvmod.staging import copy_id, launchers

    base = world.make("base")
    child = world.make("child", extends=base)
    folder = launchers.write(world.layout, child, world.config["stage_dir"])
    stamp_file = folder.parent / "stamp"
    stamp = "0123456789ab"
    stamp_file.write_text(stamp + "\n")
    later = time.time() + 5
    os.utime(stamp_file, (later, later))
    top = world.tmp_path / "local" / f"pyenvmod-{os.environ.get('USER') or 'root'}"
    top.mkdir(parents=True, mode=0o700)
    _script(top / f"{copy_id('child', child.prefix)}.{stamp}" / "env" / "bin" / "python", "staged")
    env = {"PATH": "/usr/bin:/bin", "USER": os.environ.get("USER") or "root", "PYENVMOD_STAGE_DIR": str(top.parent)}

    def runs():
        return subprocess.run([str(folder / "python"), "-c", "print('shared')"], env=env, capture_output=True,
                              text=True, check=True).stdout.split()[0]

    assert runs() == "staged"
    os.utime(world.site(base.prefix), (later + 10, later + 10))  # 'pip install' into the base after the pack
    assert runs() == "shared"


# --- more guards of pack and stage: the images folder, the manifest's stamp, the stage folder ---------

def test_pack_never_writes_through_a_symlinked_images_folder(world, tmp_path):
    from pyenvmod.operations import pack

    _conda_like(world)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    images = images_dir(world.layout, "e")
    images.parent.mkdir(parents=True, exist_ok=True)
    images.symlink_to(elsewhere)  # a group member pointed the images folder somewhere
    with pytest.raises((PyenvmodError, OSError)):
        pack.pack(world.config, "e")
    assert list(elsewhere.iterdir()) == []


def test_stage_refuses_a_manifest_whose_stamp_is_a_path(world):
    import json

    from pyenvmod.operations import pack, stage

    _conda_like(world)
    _manifest, path = pack.pack(world.config, "e")
    manifest_file = path.parent / "manifest.json"
    data = json.loads(manifest_file.read_text())
    data["stamp"] = "../../../../tmp/x"  # names the copy's folder: anyone who may repack writes it
    manifest_file.write_text(json.dumps(data))  # the image and its stamp file stay current: not repacked
    with pytest.raises(PyenvmodError, match="has no valid version stamp"):
        stage.stage(world.config, "e")
    assert not (world.tmp_path / "tmp").exists()  # where that stamp leads from the stage folder
    assert [p.name for p in (world.tmp_path / "local").rglob("*") if not p.name.endswith(".lock")] == [
        f"pyenvmod-{os.environ.get('USER') or 'root'}"]


@pytest.mark.parametrize("action", ["stage", "clean"])
def test_stage_and_clean_refuse_a_stage_folder_others_may_write(world, action):
    from pyenvmod.operations import stage
    from pyenvmod.staging import copy_id, stage_root

    record = _conda_like(world)
    source = image.source_for(record)
    root = stage_root(world.config)
    planted = root / f"{copy_id('e', record.prefix)}.{image.stamp(source)}"
    (planted / "env" / "bin").mkdir(parents=True)
    root.chmod(0o770)
    with pytest.raises(PyenvmodError, match="not a private folder of yours"):
        stage.stage(world.config, "e") if action == "stage" else stage.clean(world.config, "e")
    assert planted.is_dir()  # neither used as 'reused' nor removed


def test_the_stage_folder_is_the_configured_one_then_tmpdir_then_tmp(monkeypatch, tmp_path):
    from pyenvmod.staging import stage_dir, stage_root

    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmpdir"))
    monkeypatch.setenv("USER", "alice")
    assert stage_dir({"stage_dir": "/local/site"}) == "/local/site"
    assert stage_dir({"stage_dir": ""}) == str(tmp_path / "tmpdir")
    assert stage_root({"stage_dir": "/local/site"}) == Path("/local/site/pyenvmod-alice")
    monkeypatch.delenv("TMPDIR")
    assert stage_dir({"stage_dir": None}) == "/tmp"


def test_a_copy_is_named_by_the_environments_name_and_folder(tmp_path):
    from pyenvmod.staging import copy_id

    same = copy_id("e", "/tree/a/envs/e")
    assert copy_id("e", "/tree/a/envs/e/") == same and copy_id("e", "/tree/a/envs//e") == same
    assert copy_id("e", "/tree/b/envs/e") != same  # two trees may hold the same name
    assert copy_id("f", "/tree/a/envs/e").split("-", 1)[1] == same.split("-", 1)[1]
    assert copy_id("f", "/tree/a/envs/e") != same


@pytest.mark.parametrize("target", ["a folder", "nothing"])
def test_a_symlinked_launcher_folder_is_replaced_never_followed(tmp_path, target):
    from pyenvmod.records.layout import Layout
    from pyenvmod.records.metadata import EnvRecord
    from pyenvmod.staging import launcher_dir, launchers

    layout = Layout(tmp_path / "root", "testarch-testos1")
    layout.ensure()
    prefix = layout.prefix("e")
    _script(prefix / "bin" / "python", "python")
    rec = EnvRecord(name="e", prefix=str(prefix), python="3.12.1", base_python="/usr/bin/python3", backend="uv",
                    module="pyenv/e/py3.12", created="now", owner="me", platform=layout.platform)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "python").write_text("#!/bin/sh\necho planted\n")
    folder = launcher_dir(layout, "e")
    folder.parent.mkdir(parents=True)
    folder.symlink_to(elsewhere if target == "a folder" else tmp_path / "nothing")  # a link where they go
    assert launchers.write(layout, rec) == folder
    assert not folder.is_symlink() and os.listdir(folder) == ["python"]
    assert "copy" in (folder / "python").read_text()  # a launcher, not the planted script
    assert os.listdir(elsewhere) == ["python"] and (elsewhere / "python").read_text().endswith("planted\n")
    assert os.listdir(folder.parent) == ["bin"]  # nothing left beside it


def test_stage_into_a_stage_dir_that_does_not_exist_names_it_and_makes_nothing(world, monkeypatch):
    """Hole 12: pyenvmod makes only the per-user folder; the stage_dir it goes in is the site's."""
    from pyenvmod import config as config_mod
    from pyenvmod.operations import stage
    from pyenvmod.staging import stage_root

    _conda_like(world)
    missing = world.tmp_path / "nvme" / "scratch"
    monkeypatch.setenv("PYENVMOD_STAGE_DIR", str(missing))
    config = config_mod.load()
    with pytest.raises(PyenvmodError) as refused:
        stage.stage(config, "e")
    assert str(refused.value) == (
        f"cannot create {stage_root(config)}: the folder {missing} does not exist; pyenvmod makes only its own "
        "folder in it: the site's admin (stage_dir in the site configuration) or you (stage_dir, or $TMPDIR) "
        "must point stage_dir at an existing node-local folder")
    assert not (world.tmp_path / "nvme").exists()
    missing.mkdir(parents=True)
    assert stage.stage(config, "e")["action"] == "staged"
    assert [p.name for p in missing.iterdir()] == [stage_root(config).name]
