"""modulefiles.write / paths / problems / remove / the tree marker, in-process on a real
folder: which files each format selection writes, that stale ones go, and what is a problem."""

import os

import pytest

from pyenvmod.modules import modulefiles, quoting, render
from pyenvmod.trust import files
from pyenvmod.errors import PyenvmodError
from pyenvmod.records.layout import Layout
from pyenvmod.records.metadata import EnvRecord


def record(layout, **overrides) -> EnvRecord:
    values = dict(name="mylab", prefix=str(layout.prefix("mylab")), python="3.12.1",
                  base_python="/usr/bin/python3.12", backend="uv", module="pyenv/mylab/py3.12",
                  created="2026-11-24T10:00:00+00:00", owner="alice", platform=layout.platform,
                  packages={"six": "1.16.0", "pip": "24.0"})
    values.update(overrides)
    return EnvRecord(**values)


@pytest.fixture
def layout(tmp_path):
    layout = Layout(tmp_path / "root", "testarch-testos1")
    layout.ensure()  # the tree exists before anything is written into it
    return layout


def tree(layout):
    return sorted(str(p.relative_to(layout.base)) for p in layout.base.rglob("*") if p.is_file())


EVERY = {"formats": ["lua", "tcl", "bash", "csh", "fish"]}
ALL = ["activate/mylab/activate.csh", "activate/mylab/activate.fish", "activate/mylab/activate.sh",
       "activate/mylab/deactivate.csh", "modules/pyenv/mylab/py3.12", "modules/pyenv/mylab/py3.12.lua"]


def test_paths_of_every_format(layout):
    rec = record(layout)
    got = modulefiles.paths(layout, rec, EVERY)
    assert {k: str(v.relative_to(layout.base)) for k, v in got.items()} == {
        "lua": "modules/pyenv/mylab/py3.12.lua", "tcl": "modules/pyenv/mylab/py3.12",
        "bash": "activate/mylab/activate.sh", "csh": "activate/mylab/activate.csh",
        "csh-deactivate": "activate/mylab/deactivate.csh", "fish": "activate/mylab/activate.fish"}
    assert set(modulefiles.paths(layout, rec, {"formats": ["lua"]})) == {"lua"}
    assert set(modulefiles.paths(layout, rec, {"formats": ["csh", "tcl"]})) == {"tcl", "csh", "csh-deactivate"}
    assert set(modulefiles.paths(layout, rec, {"formats": []})) == {"lua", "tcl"}, "empty: the default"
    assert set(modulefiles.paths(layout, rec)) == {"lua", "tcl"}


def test_write_renders_every_format_and_returns_the_paths(layout):
    rec = record(layout)
    written = modulefiles.write(layout, rec, EVERY)
    assert sorted(str(p.relative_to(layout.base)) for p in written) == ALL == tree(layout)
    lua = (layout.module_dir("mylab") / "py3.12.lua").read_text()
    assert lua == render.render(render.LUA, modulefiles.context(rec, layout.modules_dir))
    sh = (layout.activate_dir("mylab") / "activate.sh").read_text()
    assert quoting.sh(rec.prefix) in sh and "PYENVMOD_LOADED" in sh and "mylab@3.12" in sh
    assert modulefiles.problems(layout, rec, EVERY) == []
    modulefiles.write(layout, rec)
    assert tree(layout) == ALL[-2:], "the default: Lua and Tcl modulefiles only"


def test_write_removes_the_files_of_formats_no_longer_selected(layout):
    rec = record(layout)
    modulefiles.write(layout, rec, EVERY)
    (layout.module_dir("mylab") / "py3.11.lua").write_text("stale")
    modulefiles.write(layout, rec, {"formats": ["lua", "bash"]})
    assert tree(layout) == ["activate/mylab/activate.sh", "modules/pyenv/mylab/py3.12.lua"]
    modulefiles.write(layout, rec, {"formats": ["tcl"]})
    assert tree(layout) == ["modules/pyenv/mylab/py3.12"]
    assert not layout.activate_dir("mylab").exists(), "no script format selected: the folder goes"


def test_options_from_config_and_their_effect(layout, tmp_path):
    config = {"dependencies": "require", "environment": {"B": "2", "A": "x y"}, "templates": [str(tmp_path)],
              "formats": ["lua"], "backend": "uv", "stage_dir": "/scratch/stage"}
    options = modulefiles.options_from(config)
    assert options == {"dependencies": "require", "environment": {"B": "2", "A": "x y"},
                       "templates": [str(tmp_path)], "formats": ["lua"], "stage_dir": "/scratch/stage"}
    (tmp_path / "modulefile.lua.j2").write_text('{% extends "builtin/modulefile.lua.j2" %}\n'
                                               '{% block footer %}-- site {{ dependencies }}\n{% endblock %}\n')
    modulefiles.write(layout, record(layout, modules=["gcc/13"]), options)
    text = (layout.module_dir("mylab") / "py3.12.lua").read_text()
    assert text.endswith("-- site require\n") and 'prereq("gcc/13")' in text


def test_layout_context_adds_what_the_scripts_need(layout):
    rec = record(layout)
    ctx = modulefiles.layout_context(layout, rec, {"environment": {"OMP_NUM_THREADS": 4, "A": "1"}})
    assert ctx["variables"] == ["PATH", "VIRTUAL_ENV", "PYTHONNOUSERSITE", "PYENVMOD_SITE_PATH",
                                "PYENVMOD_LOADED", "A", "OMP_NUM_THREADS"]
    assert ctx["environment"] == {"A": "1", "OMP_NUM_THREADS": "4"}
    assert ctx["loaded"] == "mylab@3.12" and ctx["activate_dir"] == str(layout.activate_dir("mylab"))
    assert ctx["modules_dir"] == str(layout.modules_dir)


def test_context_values(layout):
    rec = record(layout, extends={"name": "base"}, modules=["gcc/13"])
    ctx = modulefiles.context(rec)
    assert ctx["tag"] == "py3.12" and ctx["python_mm"] == "3.12" and ctx["modules_dir"] == ""
    assert ctx["extensions"] == ["six/1.16.0"] and ctx["dependencies"] == "load"
    assert ctx["site_packages"] == f"{rec.prefix}/lib/python3.12/site-packages"
    assert ctx["conda"] is False and ctx["activate_scripts"] == [] and ctx["environment"] == {}
    assert ctx["modules"] == ["gcc/13"] and ctx["modules"] is not rec.modules


def test_problems_name_what_is_missing_or_points_elsewhere(layout):
    rec = record(layout)
    modulefiles.write(layout, rec, EVERY)
    (layout.module_dir("mylab") / "py3.12").unlink()
    lua = layout.module_dir("mylab") / "py3.12.lua"
    lua.write_text(lua.read_text().replace(rec.prefix, "/elsewhere"))
    assert modulefiles.problems(layout, rec) == ["lua modulefile does not point at " + rec.prefix,
                                                 "tcl modulefile missing"]
    (layout.activate_dir("mylab") / "activate.sh").unlink()
    assert len(modulefiles.problems(layout, rec)) == 2, "scripts are not modulefiles"
    assert modulefiles.problems(layout, rec, {"formats": ["tcl"]}) == ["tcl modulefile missing"]


def test_remove_takes_modulefiles_and_scripts(layout):
    rec = record(layout)
    assert modulefiles.remove(layout, "mylab") is False
    modulefiles.write(layout, rec, EVERY)
    assert modulefiles.remove(layout, "mylab") is True
    assert tree(layout) == []
    modulefiles.write(layout, rec, {"formats": ["bash"]})
    assert modulefiles.remove(layout, "mylab") is True, "scripts alone count too"
    modulefiles.write(layout, rec, {"formats": ["lua"]})
    assert modulefiles.remove(layout, "mylab") is True, "modulefiles alone count too"


def test_a_module_folder_linked_out_of_the_root_is_not_followed(layout, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep").write_text("x")
    layout.modules_dir.joinpath("pyenv").mkdir(parents=True)
    os.symlink(outside, layout.module_dir("mylab"))
    modulefiles.remove(layout, "mylab")
    assert (outside / "keep").read_text() == "x" and not os.path.lexists(layout.module_dir("mylab"))


def test_the_tree_marker_is_written_once(layout):
    assert layout.base.is_dir()  # made by the fixture
    path = modulefiles.write_tree_marker(layout, "alice")
    assert path == layout.base / "pyenvmod-tree.conf"
    lines = [ln for ln in path.read_text().splitlines() if not ln.startswith("#")]
    assert lines == ["platform=testarch-testos1", "owner=alice"]
    modulefiles.write_tree_marker(layout, "bob")
    assert "owner=alice" in path.read_text(), "kept once written"


def test_the_tree_marker_refuses_an_owner_that_would_add_a_line(tmp_path):
    layout = Layout(tmp_path / "root", "testarch-testos1")
    layout.base.mkdir(parents=True)
    with pytest.raises(PyenvmodError) as exc:
        modulefiles.write_tree_marker(layout, "alice\nplatform=evil")
    assert "cannot write pyenvmod-tree.conf.j2" in exc.value.message
    assert not (layout.base / "pyenvmod-tree.conf").exists()


def test_context_names_tag_platform_and_the_conda_activate_scripts(layout):
    prefix = layout.prefix("mylab")
    (prefix / "etc" / "conda" / "activate.d").mkdir(parents=True)
    for name in ("b.sh", "a.sh", "c.csh"):
        (prefix / "etc" / "conda" / "activate.d" / name).write_text("")
    ctx = modulefiles.context(record(layout, backend="conda"))
    assert ctx["tag"] == "py3.12" and ctx["platform"] == "testarch-testos1" and ctx["conda"] is True
    assert ctx["activate_scripts"] == [str(prefix / "etc/conda/activate.d/a.sh"),
                                       str(prefix / "etc/conda/activate.d/b.sh")]
    assert modulefiles.context(record(layout))["activate_scripts"] == [], "only conda environments"
    assert modulefiles.context(record(layout), options={"dependencies": "none"})["dependencies"] == "none"


def test_every_modulefile_is_checked_even_after_a_missing_one(layout):
    rec = record(layout)
    modulefiles.write(layout, rec)
    (layout.module_dir("mylab") / "py3.12.lua").unlink()
    tcl = layout.module_dir("mylab") / "py3.12"
    tcl.write_text(tcl.read_text().replace(quoting.tcl(rec.prefix), '"/elsewhere"'))
    assert modulefiles.problems(layout, rec) == ["lua modulefile missing",
                                                 "tcl modulefile does not point at " + rec.prefix]


# --- files that would not change are not written again ---------------------------------------------

def stamps(paths) -> dict:
    return {p: (os.lstat(p).st_ino, os.lstat(p).st_mtime_ns) for p in paths}


def test_files_that_would_not_change_keep_their_inode_and_time(layout):
    rec = record(layout)
    first = stamps(modulefiles.write(layout, rec, EVERY))
    assert stamps(modulefiles.write(layout, rec, EVERY)) == first
    rec.packages["numpy"] = "2.0"  # the modulefiles list it (extensions); the activation scripts do not
    second = stamps(modulefiles.write(layout, rec, EVERY))
    changed = {p.name for p in second if second[p] != first[p]}
    assert changed == {"py3.12.lua"}
    assert "numpy/2.0" in (layout.module_dir("mylab") / "py3.12.lua").read_text()


@pytest.mark.parametrize("spoil", ["text", "mode", "world", "link"])
def test_a_file_that_differs_in_text_or_mode_is_written_again(layout, tmp_path, spoil):
    rec = record(layout)
    modulefiles.write(layout, rec, EVERY)
    path = layout.module_dir("mylab") / "py3.12"
    good = path.read_text()
    if spoil == "text":
        path.write_text(good + "# edited\n")
    elif spoil == "mode":
        path.chmod(0o600)
    elif spoil == "world":
        path.chmod(0o666)
    else:  # the same text behind a symlink: never taken as the file
        (tmp_path / "elsewhere").write_text(good)
        path.unlink()
        path.symlink_to(tmp_path / "elsewhere")
    modulefiles.write(layout, rec, EVERY)
    assert not path.is_symlink() and path.read_text() == good
    assert os.lstat(path).st_mode & 0o777 == 0o666 & ~files.umask() & ~0o002
