"""Which environments are loaded: read from _LMFILES_, as both module systems keep it."""

from pathlib import Path

from pyenvmod.records.layout import Layout
from pyenvmod.modules.loaded import is_loaded, loaded_names


def test_loaded_names_come_from_modulefiles_of_this_tree(tmp_path):
    layout = Layout(tmp_path / "root", "x86_64-test")
    mine = layout.modules_dir / "pyenv"
    other = tmp_path / "other" / "modules" / "pyenv"
    lmfiles = ":".join([
        "/opt/modules/gcc/13.2.lua",
        f"{mine}/a/py3.12.lua",
        f"{other}/b/py3.12.lua",           # another tree's environment
        f"{mine}/c/py3.12",                # a Tcl modulefile
        f"{mine}/a/py3.12.lua",            # listed twice: reported once
        f"{layout.modules_dir}/d.lua",     # not under pyenv/NAME/
    ])
    environ = {"_LMFILES_": lmfiles}
    assert loaded_names(layout, environ) == ["a", "c"]
    assert is_loaded(layout, "a", environ) and is_loaded(layout, "c", environ)
    assert not is_loaded(layout, "b", environ) and not is_loaded(layout, "d", environ)


def test_nothing_loaded_without_lmfiles(tmp_path):
    layout = Layout(tmp_path, "p")
    assert loaded_names(layout, {}) == []
    assert loaded_names(layout, {"_LMFILES_": ""}) == []


def test_a_symlinked_root_still_matches(tmp_path):
    real = tmp_path / "real"
    (real / "p" / "modules" / "pyenv" / "a").mkdir(parents=True)
    link = tmp_path / "link"
    link.symlink_to(real)
    layout = Layout(link, "p")
    environ = {"_LMFILES_": str(real / "p" / "modules" / "pyenv" / "a" / "py3.12.lua")}
    assert loaded_names(layout, environ) == ["a"]
    assert not is_loaded(Layout(Path(tmp_path / "elsewhere"), "p"), "a", environ)


def test_without_an_environment_the_callers_own_is_read(tmp_path, monkeypatch):
    layout = Layout(tmp_path, "p")
    monkeypatch.setenv("_LMFILES_", f"{layout.modules_dir}/pyenv/a/py3.12.lua")
    assert loaded_names(layout) == ["a"] and is_loaded(layout, "a")
