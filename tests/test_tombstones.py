"""Tombstone modulefiles (tombstones.py): load refused, unload exactly as the live modulefile,
hidden; and which processes can still have a module loaded."""

import os
import shutil
import subprocess
import time

import pytest

import lmod_fake
import tcl_fake
from modsys import require
from pyenvmod.modules import modulefiles, render, tombstones
from pyenvmod.records.layout import Layout
from test_render import lua, lua_expected, record, tcl_expected  # noqa: F401 (lua is a fixture)


def tomb(fmt, rec):
    context = dict(modulefiles.context(rec), deleted=True, extensions=[])
    return render.render(render.FORMATS[fmt], context)


def test_lua_tombstone_refuses_load_and_unloads_like_the_live_modulefile(lua, tmp_path):  # noqa: F811
    rec = record(prefix=str(tmp_path), packages={"six": "1.16.0"})
    text = tomb("lua", rec)
    assert "extensions(" not in text
    calls, error = lmod_fake.run_modulefile(lua, text, mode="load", existing_dirs=[str(tmp_path)])
    assert error and error.startswith("LmodError: pyenv/mylab/py3.12 was deleted; there is nothing to load. Create "
                                      "it again with 'pyenvmod create mylab'.\n")
    calls, error = lmod_fake.run_modulefile(lua, text, mode="unload")
    assert error is None
    assert [c for c in calls if c[0] not in ("whatis", "help")] == lua_expected(rec)


def test_tcl_tombstone_refuses_load_and_unloads_like_the_live_modulefile(tmp_path):
    require(shutil.which("tclsh") is not None, "tclsh", "apt-get install tcl")
    rec = record(prefix=str(tmp_path))
    calls, error = tcl_fake.run_modulefile(tomb("tcl", rec), mode="load")
    assert error == "break: pyenv/mylab/py3.12 was deleted; there is nothing to load. Create it again with " \
                    "'pyenvmod create mylab'."
    calls, error = tcl_fake.run_modulefile(tomb("tcl", rec), mode="unload")
    assert error is None
    assert [c for c in calls if c[0] not in ("module-whatis", "puts")] == tcl_expected(rec)


def test_bury_hides_the_tombstones_and_removes_the_activation_scripts(tmp_path):
    layout = Layout(tmp_path / "root", "p")
    layout.ensure()  # the tree exists before anything is written into it
    rec = record(prefix=str(layout.prefix("mylab")))
    modulefiles.write(layout, rec, {"formats": ["lua", "tcl", "bash"]})
    assert layout.activate_dir("mylab").is_dir()
    written = tombstones.bury(layout, rec, {"formats": ["lua"]})
    folder = layout.module_dir("mylab")
    assert sorted(p.name for p in folder.iterdir()) == [".modulerc", ".modulerc.lua", "py3.12", "py3.12.lua"]
    assert sorted(written) == sorted(folder.iterdir())
    assert 'hide_version("pyenv/mylab/py3.12")' in (folder / ".modulerc.lua").read_text()
    assert 'module-hide "pyenv/mylab/py3.12"' in (folder / ".modulerc").read_text()
    assert not layout.activate_dir("mylab").exists()
    assert tombstones.is_tombstone(layout, "mylab")
    layout.meta_dir.mkdir(parents=True, exist_ok=True)
    layout.meta_file("mylab").write_text("{}")  # the name exists again: not a tombstone
    assert not tombstones.is_tombstone(layout, "mylab")


def test_restore_writes_a_tombstone_from_the_name_and_tag_only(tmp_path):
    layout = Layout(tmp_path / "root", "p")
    layout.ensure()
    tombstones.restore(layout, "mylab", "py3.11")
    text = (layout.module_dir("mylab") / "py3.11.lua").read_text()
    assert f'"{layout.prefix("mylab")}"' in text and '"3.11"' in text and "was deleted" in text
    from pyenvmod.errors import PyenvmodError

    with pytest.raises(PyenvmodError, match="not a module pyenvmod writes"):
        tombstones.restore(layout, "mylab", "latest")
    with pytest.raises(PyenvmodError):
        tombstones.restore(layout, "../x", "py3.11")


def test_possibly_loaded_sees_a_process_with_the_module_in_its_environment(tmp_path):
    path = str(tmp_path / "py3.12.lua")
    since = 0.0  # no shell started before it: only the environment can say
    assert not tombstones.possibly_loaded([path], since, {})
    assert tombstones.possibly_loaded([path], since, {"_LMFILES_": f"/x.lua:{path}"})
    child = subprocess.Popen(["sleep", "30"], env=dict(os.environ, _LMFILES_=path))
    try:
        time.sleep(0.2)
        assert tombstones.possibly_loaded([path], since, {})
    finally:
        child.kill()
        child.wait()
    assert not tombstones.possibly_loaded([path], since, {})
