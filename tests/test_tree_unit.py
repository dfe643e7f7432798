"""tree.py in-process (mutation scope of the trust code): the paths a tree hands out, which recorded
paths it accepts (records/registry.py, which checks them with the tree), and that its files and locks go through the descriptor walks. Real folders and
symlinks; the attacks through the command line, as a second Unix user, are in test_trust_*.py."""

import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pyenvmod.records import metadata, registry
from pyenvmod.errors import PyenvmodError
from pyenvmod.records.layout import Layout
from pyenvmod.operations import external_prefix
from pyenvmod.staging import images_dir
from pyenvmod.trust.tree import HISTORY_MAX_BYTES, Tree

PLATFORM = "x86_64-t17"


def record(tree: Tree, name="alpha", **changes) -> metadata.EnvRecord:
    values = dict(name=name, prefix=str(tree.layout.prefix(name)), python="3.12.1", base_python="/usr/bin/python3",
                  backend="venv", module=f"pyenv/{name}/py3.12", created="2026-01-01T00:00:00Z", owner="me",
                  platform=PLATFORM)
    values.update(changes)
    return metadata.EnvRecord(**values)


@pytest.fixture
def tree(tmp_path) -> Tree:
    t = Tree(Layout(tmp_path / "root", PLATFORM))
    t.ensure()
    t.layout.prefix("alpha").mkdir()
    return t


def test_history_cap():
    assert HISTORY_MAX_BYTES == 4 * 1024 * 1024


def test_tree_for_is_the_configured_root_and_this_platform(tmp_path, monkeypatch):
    from pyenvmod import config as config_mod
    from pyenvmod.operations.common import tree_for
    from pyenvmod.records import platform_tag

    monkeypatch.setenv("PYENVMOD_ROOT", str(tmp_path / "r"))
    monkeypatch.setenv("PYENVMOD_PLATFORM", PLATFORM)
    platform_tag.current.cache_clear()  # current() is cached: computed again here and after the test
    try:
        config = config_mod.load()
        t = tree_for(config)
        config.group = tmp_path / "group"  # what --group sets
        shared = tree_for(config)
    finally:
        platform_tag.current.cache_clear()
    assert (t.layout.root, t.layout.platform, t.shared) == (tmp_path / "r", PLATFORM, False)
    assert shared.shared is True and shared.layout == t.layout
    assert Tree(Layout(tmp_path, PLATFORM)).shared is False


def test_of_prefix(tmp_path):
    t = registry.tree_of_prefix(f"{tmp_path}/root/{PLATFORM}/envs/alpha/")
    assert (t.layout.root, t.layout.platform, t.shared) == (tmp_path / "root", PLATFORM, False)
    t = registry.tree_of_prefix(tmp_path / "x" / ".." / "root" / PLATFORM / "envs" / "beta")
    assert t.layout.root == tmp_path / "root"
    with pytest.raises(PyenvmodError) as err:
        registry.tree_of_prefix(tmp_path / "root" / PLATFORM / "other" / "alpha")
    assert str(err.value) == (f"{tmp_path}/root/{PLATFORM}/other/alpha is not an environment folder of a "
                              "pyenvmod tree (ROOT/PLATFORM/envs/NAME)")
    with pytest.raises(PyenvmodError, match="invalid platform tag"):
        registry.tree_of_prefix(tmp_path / "root" / "bad platform" / "envs" / "alpha")
    with pytest.raises(PyenvmodError, match="invalid"):
        registry.tree_of_prefix(tmp_path / "root" / PLATFORM / "envs" / "-bad name")


def test_paths_come_from_the_layout_for_valid_names_only(tree):
    base = tree.layout.base
    assert tree.root == tree.layout.root
    assert tree.prefix("alpha") == base / "envs" / "alpha"
    assert tree.meta_file("alpha") == base / "meta" / "alpha.json"
    assert tree.history_dir("alpha") == base / "history" / "alpha"
    assert tree.module_dir("alpha") == base / "modules" / "pyenv" / "alpha"
    assert tree.activate_dir("alpha") == base / "activate" / "alpha"
    assert images_dir(tree.layout, "alpha") == base / "images" / "alpha"
    for method in (tree.prefix, tree.meta_file, tree.history_dir, tree.module_dir, tree.activate_dir,
                   lambda name: images_dir(tree.layout, name)):
        with pytest.raises(PyenvmodError, match="invalid"):
            method("../escape")
    with pytest.raises(PyenvmodError, match="invalid"):
        with tree.lock("../escape", 1):
            pass
    assert tree.names() == ["alpha"]


def test_inside(tree, tmp_path):
    base = tree.layout.base
    assert tree.inside(base / "envs" / "alpha")
    assert tree.inside(base / "envs")
    assert not tree.inside(base)
    assert not tree.inside(tmp_path)
    assert not tree.inside(str(base) + "x")
    (tmp_path / "outlink").symlink_to(base / "envs")
    assert tree.inside(tmp_path / "outlink")
    assert tree.inside(tmp_path / "outlink" / "alpha")
    (base / "envs" / "escape").symlink_to(tmp_path)
    assert not tree.inside(base / "envs" / "escape")
    assert not tree.inside(base / "envs" / "escape" / "x")


def test_same_place(tree, tmp_path):
    derived = tree.layout.prefix("alpha")
    assert tree.same_place(str(derived), derived)
    assert tree.same_place(f"{tree.layout.base}/envs/../envs/alpha", derived)
    (tmp_path / "alias").symlink_to(derived)
    assert tree.same_place(str(tmp_path / "alias"), derived)  # the same folder by another name
    assert not tree.same_place(str(tree.layout.prefix("beta")), derived)
    (tmp_path / "elsewhere").mkdir()
    os.rmdir(derived)
    derived.symlink_to(tmp_path / "elsewhere")
    assert not tree.same_place(str(tmp_path / "elsewhere"), derived)  # a symlinked folder is never it
    assert not tree.same_place(str(derived), derived)
    derived.unlink()
    derived.symlink_to(tree.layout.envs_dir / "beta")
    (tree.layout.envs_dir / "beta").mkdir()
    assert not tree.same_place(str(derived), derived)  # symlinked even when it points inside


def test_files_go_through_the_descriptor_walks(tree, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    history = tree.history_dir("alpha")
    assert tree.mkdir(history) == history and history.is_dir()
    assert not stat.S_IMODE(os.stat(history).st_mode) & 0o002
    tree.check_dir(history)
    tree.check_dir(tree.layout.base / "missing" / "deeper")  # missing is fine
    tree.write(history / "1.json", "{}", mode=0o640)
    assert (history / "1.json").read_text() == "{}"
    assert stat.S_IMODE(os.stat(history / "1.json").st_mode) == 0o640
    assert tree.read(history / "1.json", 2) == b"{}"
    with pytest.raises(PyenvmodError, match="larger than 1 bytes"):
        tree.read(history / "1.json", 1)
    assert tree.remove(history / "1.json") is True
    assert tree.remove(history / "1.json") is False
    tree.write(history / "2.json", "{}")
    assert tree.remove(history) is True and not history.exists()  # a folder, with what it holds
    with pytest.raises(PyenvmodError, match="the root"):
        tree.remove(tree.root)
    with pytest.raises(PyenvmodError, match="outside the tree"):
        tree.write(outside / "f.txt", "x")
    (tree.layout.base / "activate").symlink_to(outside)
    for call in (lambda: tree.check_dir(tree.activate_dir("alpha")),
                 lambda: tree.mkdir(tree.activate_dir("alpha")),
                 lambda: tree.write(tree.activate_dir("alpha"), "x"),
                 lambda: tree.read(tree.activate_dir("alpha") / "f", 10),
                 lambda: tree.remove(tree.activate_dir("alpha"))):
        with pytest.raises(PyenvmodError, match="never follows links"):
            call()
    assert list(outside.iterdir()) == []


def test_lock_is_inside_and_shared(tmp_path):
    t = Tree(Layout(tmp_path / "root", PLATFORM), shared=True)
    t.ensure()
    assert stat.S_IMODE(os.stat(t.layout.locks_dir).st_mode) & 0o3070 == 0o3070
    assert stat.S_IMODE(os.stat(t.layout.envs_dir).st_mode) & 0o2070 == 0o2070
    with t.lock("alpha", 1):
        assert t.layout.lock_file("alpha").is_file()
    assert stat.S_IMODE(os.stat(t.layout.lock_file("alpha")).st_mode) & 0o060 == 0o060
    (tmp_path / "outside").mkdir()
    os.rename(t.layout.locks_dir, tmp_path / "gone")
    t.layout.locks_dir.symlink_to(tmp_path / "outside")
    with pytest.raises(PyenvmodError, match="never follows links"):
        with t.lock("beta", 1):
            pass
    assert list((tmp_path / "outside").iterdir()) == []


def test_record_round_trip_and_prefix_normalised(tree):
    registry.write(tree, record(tree))
    assert json.loads(tree.meta_file("alpha").read_text())["name"] == "alpha"
    got = registry.record(tree, "alpha")
    assert got.prefix == str(tree.layout.prefix("alpha"))
    with pytest.raises(FileNotFoundError):
        registry.record(tree, "beta")
    rec = record(tree, prefix=f"{tree.layout.base}/envs/../envs/alpha/")
    assert registry.check(tree, rec, Path("src")).prefix == str(tree.layout.prefix("alpha"))
    (tree.root / "alias").symlink_to(tree.layout.prefix("alpha"))
    rec = record(tree, prefix=str(tree.root / "alias"))
    assert registry.check(tree, rec, Path("src")).prefix == str(tree.layout.prefix("alpha"))


def test_record_with_another_prefix_is_refused(tree, tmp_path):
    src = tree.meta_file("alpha")
    for prefix in (str(tmp_path), str(tree.layout.prefix("beta")), "relative/path"):
        with pytest.raises(PyenvmodError) as err:
            registry.check(tree, record(tree, prefix=prefix), src)
        assert str(err.value) == (f"metadata file {src}: prefix {prefix} is not the folder of 'alpha' in this tree "
                                  f"({tree.layout.prefix('alpha')}); repair or delete it")


def test_record_of_another_platform_is_refused(tree):
    src = tree.meta_file("alpha")
    with pytest.raises(PyenvmodError) as err:
        registry.check(tree, record(tree, platform="aarch64-other"), src)
    assert str(err.value) == (f"metadata file {src}: platform 'aarch64-other' is not this tree's '{PLATFORM}'; "
                              "repair or delete it")


def test_adopted_prefix_must_lie_outside(tree, tmp_path):
    src = tree.meta_file("alpha")
    rec = record(tree, adopted=True, prefix=str(tmp_path / "conda" / "envs" / "x"))
    assert registry.check(tree, rec, src).prefix == str(tmp_path / "conda" / "envs" / "x")  # left as recorded
    inside = str(tree.layout.prefix("alpha"))
    with pytest.raises(PyenvmodError) as err:
        registry.check(tree, record(tree, adopted=True, prefix=inside), src)
    assert str(err.value) == (f"metadata file {src}: an adopted environment's prefix {inside} lies inside the tree; "
                              "repair or delete it")


def extends(base_tree_root: Path, name="base", **changes) -> dict:
    value = dict(name=name, prefix=f"{base_tree_root}/{PLATFORM}/envs/{name}",
                 modules_dir=f"{base_tree_root}/{PLATFORM}/modules", module=f"pyenv/{name}/py3.12", python="3.12.1")
    value.update(changes)
    return value


def test_extends_is_an_environment_of_a_tree(tree, tmp_path):
    src = tree.meta_file("alpha")
    good = extends(tmp_path / "site")
    assert registry.check(tree, record(tree, extends=good), src).extends == good
    assert registry.check(tree, record(tree, extends=extends(tmp_path / "site", prefix=good["prefix"] + "/")), src)
    assert registry.check(tree, record(tree, extends=extends(tmp_path / "site",
                                                          modules_dir=good["modules_dir"] + "/")), src)
    bad = [
        extends(tmp_path / "site", prefix=f"site/{PLATFORM}/envs/base"),  # relative
        extends(tmp_path / "site", name="other", module="pyenv/other/py3.12", prefix=good["prefix"]),  # the name is not the folder's
        extends(tmp_path / "site", prefix=f"{tmp_path}/site/{PLATFORM}/elsewhere/base"),
        extends(tmp_path / "site", modules_dir=f"{tmp_path}/site/{PLATFORM}/modules/pyenv"),
        extends(tmp_path / "site", modules_dir=f"{tmp_path}/other/{PLATFORM}/modules"),
        extends(tmp_path / "site", module="pyenv/other/py3.12"),
        extends(tmp_path / "site", module="pyenv/base"),
        extends(tmp_path / "site", module="x/pyenv/base/py3.12"),
    ]
    for value in bad:
        with pytest.raises(PyenvmodError) as err:
            registry.check(tree, record(tree, extends=value), src)
        assert str(err.value) == (f"metadata file {src}: extends names {value['prefix']} and {value['modules_dir']}, "
                                  "which are not an environment of a pyenvmod tree and that tree's modules folder; "
                                  "repair or delete it"), value


def test_kernels_are_kernelspec_folders_of_the_environment(tree, tmp_path):
    src = tree.meta_file("Alpha.x")
    tree.layout.prefix("Alpha.x").mkdir()
    good = [f"{tmp_path}/share/jupyter/kernels/pyenv-alpha.x", "/usr/local/share/jupyter/kernels/pyenv-alpha.x"]
    assert registry.check(tree, record(tree, name="Alpha.x", kernels=good), src).kernels == good
    for bad in ("share/jupyter/kernels/pyenv-alpha.x", f"{tmp_path}/kernels/pyenv-beta",
                f"{tmp_path}/kernelz/pyenv-alpha.x", f"{tmp_path}/kernels/../kernels/pyenv-alpha.x",
                "/kernels/pyenv-alpha.x/../kernels/pyenv-alpha.x"):
        with pytest.raises(PyenvmodError) as err:
            registry.check(tree, record(tree, name="Alpha.x", kernels=[good[0], bad]), src)
        assert str(err.value) == (f"metadata file {src}: kernel {bad} is not a kernelspec folder of 'Alpha.x' "
                                  "(.../kernels/pyenv-alpha.x); repair or delete it"), bad


def test_an_external_prefix_needs_its_own_marker(tree, tmp_path):
    src = tree.meta_file("alpha")
    folder = tmp_path / "mine" / "alpha"
    folder.mkdir(parents=True)
    rec = record(tree, prefix=str(folder))
    with pytest.raises(PyenvmodError, match="is not the folder of"):
        registry.check(tree, rec, src)  # no marker
    assert registry.write_anchor(tree, rec) == tree.root
    external_prefix.mark(tree.layout, folder, "alpha")
    assert registry.check(tree, rec, src).prefix == str(folder)  # accepted as recorded
    assert registry.write_anchor(tree, rec) == folder
    assert registry.write_anchor(tree, record(tree)) == tree.root
    shared = Tree(tree.layout, shared=True)
    with pytest.raises(PyenvmodError, match="is not the folder of"):
        registry.check(shared, record(tree, prefix=str(folder)), src)  # never in a group tree
    assert registry.write_anchor(shared, rec) == shared.root
    # a marker inside the tree does not make a foreign folder the environment's
    other = tree.layout.envs_dir / "other"
    other.mkdir()
    external_prefix.mark(tree.layout, other, "alpha")
    with pytest.raises(PyenvmodError, match="is not the folder of"):
        registry.check(tree, record(tree, prefix=str(other)), src)
    relative = record(tree, prefix=os.path.relpath(folder))
    with pytest.raises(PyenvmodError, match="is not the folder of"):
        registry.check(tree, relative, src)


def test_records_are_read_and_written_inside_the_tree_only(tree, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "alpha.json").write_text(record(tree).to_json())
    os.rmdir(tree.layout.meta_dir)
    tree.layout.meta_dir.symlink_to(outside)
    with pytest.raises(PyenvmodError, match="never follows links"):
        registry.record(tree, "alpha")
    with pytest.raises(PyenvmodError, match="never follows links"):
        registry.write(tree, record(tree, description="planted"))
    assert "planted" not in (outside / "alpha.json").read_text()


def test_a_bad_record_is_named_by_its_file(tree):
    registry.write(tree, record(tree, platform="aarch64-other"))
    with pytest.raises(PyenvmodError) as err:
        registry.record(tree, "alpha")
    assert str(err.value).startswith(f"metadata file {tree.meta_file('alpha')}: platform 'aarch64-other'")


def test_a_busy_lock_waits_its_time_and_names_the_environment(tree):
    lock = tree.layout.lock_file("alpha")
    holder = subprocess.Popen([sys.executable, "-c", "import fcntl, sys; f = open(sys.argv[1], 'a'); "
                               "fcntl.flock(f, fcntl.LOCK_EX); print('held', flush=True); sys.stdin.read()", str(lock)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "held\n"
        start = time.monotonic()
        with pytest.raises(PyenvmodError) as err:
            with tree.lock("alpha", 0.3):
                pass
        assert time.monotonic() - start >= 0.25
        assert str(err.value).startswith("environment 'alpha' is busy:")
    finally:
        holder.stdin.close()
        holder.wait(timeout=10)
    with tree.lock("alpha", 0):  # free again once the holder is gone
        assert lock.is_file()


def test_remove_names_what_it_cannot_remove_and_removes_the_rest():
    """``left``: what a group member left that the caller may not remove is collected with its
    reason while the rest goes; without it the first failure is raised. In-process as another
    effective uid (nobody), put back after: root may remove anything."""
    import tempfile

    if os.geteuid() != 0:
        pytest.fail("needs root (to act as another uid)") if os.environ.get("CI") == "true" \
            else pytest.skip("needs root")
    top = Path(tempfile.mkdtemp(prefix="tree-remove-"))  # not below tmp_path, which nobody may enter
    try:
        top.chmod(0o755)
        env = top / PLATFORM / "envs" / "alpha"
        theirs = env / "theirs"
        theirs.mkdir(parents=True)
        (theirs / "f").write_text("x")
        (env / "mine").write_text("x")
        for path in (env, env / "mine"):
            os.chown(path, 65534, 65534)
        tree = Tree(Layout(top, PLATFORM))
        left = []
        os.setegid(65534)
        os.seteuid(65534)
        try:
            removed = tree.remove(env, left)
            with pytest.raises(PermissionError):
                tree.remove(env)
        finally:
            os.seteuid(0)
            os.setegid(0)
        assert removed is True
        assert sorted(left) == [(str(env), "Permission denied"), (str(theirs), "Directory not empty"),
                                (str(theirs / "f"), "Permission denied")]
        assert sorted(p.name for p in env.iterdir()) == ["theirs"]
    finally:
        import shutil

        shutil.rmtree(top)
