"""A tombstone written back by 'doctor --fix' (tombstones.restore): from the layout, the name and the tag
alone, the same unload as the one 'delete' wrote, the site's templates used, nothing invented about
the deleted environment. In-process, in a private tree (guardenv.World)."""

import os

import pytest

from guardenv import MM, World

from pyenvmod.errors import PyenvmodError
from pyenvmod.modules import tombstones


@pytest.fixture
def world(tmp_path, monkeypatch):
    return World(tmp_path, monkeypatch)


def texts(folder):
    return {p.name: p.read_text() for p in sorted(folder.iterdir())}


def test_a_restored_tombstone_is_the_one_delete_wrote(world):
    record = world.make("gone")
    folder = world.layout.module_dir("gone")
    record.backend = record.created = record.owner = record.base_python = ""
    record.python = MM  # what the tag says
    written = tombstones.bury(world.layout, record)
    buried = texts(folder)
    for path in written:
        path.unlink()
    restored = tombstones.restore(world.layout, "gone", f"py{MM}")
    assert sorted(restored) == sorted(written) and texts(folder) == buried
    lua = buried[f"py{MM}.lua"]
    assert f"pyenv/gone/py{MM} was deleted; there is nothing to load. Create it again with 'pyenvmod create gone'." \
        in lua
    for field in ("Backend:", "Created:", "Owner:"):  # nothing is known of the deleted environment: nothing shown
        assert f"{field}" in lua and not any(ln.split(field, 1)[1].strip(' "\\n')
                                             for ln in lua.split("\\n") if field in ln)


def test_a_restored_tombstone_uses_the_sites_templates(world, tmp_path):
    site = tmp_path / "site-templates"
    site.mkdir()
    (site / "modulefile.lua.j2").write_text('{% extends "builtin/modulefile.lua.j2" %}\n'
                                            '{% block header %}-- the site header\n{% endblock %}\n')
    tombstones.restore(world.layout, "gone", f"py{MM}", {"templates": [str(site)]})
    assert (world.layout.module_dir("gone") / f"py{MM}.lua").read_text().splitlines()[1] == "-- the site header"
    tombstones.restore(world.layout, "gone", f"py{MM}")
    assert "-- the site header" not in (world.layout.module_dir("gone") / f"py{MM}.lua").read_text()


@pytest.mark.parametrize("tag", ["py3", "3.12", "py3.12.1", "py3.x", "x/py3.12"])
def test_only_a_tag_pyenvmod_writes_is_restored(world, tag):
    with pytest.raises(PyenvmodError) as caught:
        tombstones.restore(world.layout, "gone", tag)
    assert caught.value.message == f"pyenv/gone/{tag} is not a module pyenvmod writes; unload it with 'module unload'"
    assert not world.layout.module_dir("gone").exists()


def test_a_name_with_a_prefix_or_record_left_even_as_a_dangling_link_is_no_tombstone(world, tmp_path):
    record = world.record("gone")
    tombstones.bury(world.layout, record)
    assert tombstones.is_tombstone(world.layout, "gone")
    world.layout.prefix("gone").symlink_to(tmp_path / "missing-prefix")
    assert not tombstones.is_tombstone(world.layout, "gone")
    world.layout.prefix("gone").unlink()
    world.layout.meta_file("gone").parent.mkdir(parents=True, exist_ok=True)
    world.layout.meta_file("gone").symlink_to(tmp_path / "missing-record")
    assert not tombstones.is_tombstone(world.layout, "gone")


def test_a_module_folder_that_is_a_link_is_no_tombstone_and_bury_replaces_the_link(world, tmp_path):
    record = world.record("gone")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / ".modulerc").write_text("kept")
    folder = world.layout.module_dir("gone")
    folder.parent.mkdir(parents=True, exist_ok=True)
    folder.symlink_to(elsewhere)
    assert not tombstones.is_tombstone(world.layout, "gone")
    tombstones.bury(world.layout, record)
    assert not folder.is_symlink() and folder.is_dir() and (elsewhere / ".modulerc").read_text() == "kept"
    assert sorted(os.listdir(elsewhere)) == [".modulerc"]
    assert tombstones.is_tombstone(world.layout, "gone")


def test_bury_replaces_a_file_where_the_module_folder_goes_and_drops_what_it_does_not_write(world):
    record = world.record("gone")
    folder = world.layout.module_dir("gone")
    folder.parent.mkdir(parents=True, exist_ok=True)
    folder.write_text("not a folder")
    written = tombstones.bury(world.layout, record)
    assert folder.is_dir() and sorted(written) == sorted(folder.iterdir())
    (folder / "py3.1.lua").write_text("an older version's modulefile")
    (folder / ".old-rc").write_text("")
    assert sorted(tombstones.bury(world.layout, record)) == sorted(folder.iterdir()) == sorted(written)


def test_a_tombstone_unloads_what_the_live_modulefile_set_up(world):
    record = world.record("gone", packages={"six": "1.16.0"})
    options = {"environment": {"SITE_SCRATCH": "/scratch/x"}}
    tombstones.bury(world.layout, record, options)
    lua = (world.layout.module_dir("gone") / f"py{MM}.lua").read_text()
    assert "SITE_SCRATCH" in lua  # the site's variable, unset again on unload
    assert str(world.layout.modules_dir.parent / "images" / "gone" / "bin") in lua  # pack's launchers, off PATH
    assert "extensions(" not in lua and "six" not in lua  # nothing to offer: no extensions


def test_the_hiding_files_come_from_the_sites_templates_too(world, tmp_path):
    site = tmp_path / "site-templates"
    site.mkdir()
    (site / "modulerc.lua.j2").write_text('-- the site hides {{ modules | join(",") }}\n')
    tombstones.bury(world.layout, world.record("gone"), {"templates": [str(site)]})
    assert (world.layout.module_dir("gone") / ".modulerc.lua").read_text() == f"-- the site hides pyenv/gone/py{MM}\n"
