"""Issue 23, 'pyenvmod module NAME' in-process (operations/regenerate.py; mutmut credits only calls made in
the test process): the modulefiles and the stacking hooks written again on a private tree with real small
environments, module spider told, an adopted environment's folder left alone, and the refusals."""

import os
import shutil

import pytest

from guardenv import MM, World
from pyenvmod.errors import PyenvmodError
from pyenvmod.modules import stacking
from pyenvmod.records import registry


@pytest.fixture
def world(tmp_path, monkeypatch) -> World:
    return World(tmp_path, monkeypatch)


def _regenerate(world, name):
    from pyenvmod.operations import regenerate

    return regenerate.regenerate(world.config, name)


def test_regenerate_writes_the_modulefiles_and_the_hooks_again_and_tells_spider(world, tmp_path):
    from pyenvmod.modules import modulefiles

    base = world.make("base")
    child = world.make("child", extends=base)
    site = world.site(child.prefix)
    hooks = [site / name for name in stacking.HOOK_FILES]
    for hook in hooks + [site / stacking.BASE_HOOK]:
        hook.unlink()
    stamp = tmp_path / "lmod-stamp"
    world.config.set("lmod_cache_timestamp", str(stamp), "test")
    written = _regenerate(world, "child")
    lua = world.layout.module_dir("child") / f"py{MM}.lua"
    assert written[:len(hooks) + 1] == hooks + [site / stacking.BASE_HOOK]
    assert lua in written and all(os.path.isfile(p) for p in written)
    assert str(world.site(base.prefix)) in (site / stacking.BASE_HOOK).read_text()
    assert modulefiles.problems(world.layout, child, modulefiles.options_from(world.config)) == []
    assert stamp.exists()
    # without a base: only the stacking hooks, no base hook
    assert not (world.site(base.prefix) / stacking.BASE_HOOK).exists()
    written = _regenerate(world, "base")
    assert not (world.site(base.prefix) / stacking.BASE_HOOK).exists()
    assert written[:len(hooks)] == [world.site(base.prefix) / name for name in stacking.HOOK_FILES]
    assert stacking.BASE_HOOK not in [p.name for p in written]


def test_an_adopted_environment_gets_modulefiles_and_nothing_in_its_folder(world, tmp_path):
    import subprocess
    import sys

    prefix = tmp_path / "theirs"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(prefix)], check=True)
    registry.write(world.tree, world.record("ad", prefix=str(prefix), adopted=True))
    before = sorted(os.listdir(world.site(prefix)))
    written = _regenerate(world, "ad")
    assert sorted(os.listdir(world.site(prefix))) == before
    assert written and all(str(p).startswith(str(world.layout.root)) for p in written)


def test_regenerate_refuses_a_missing_folder_and_an_unknown_name(world):
    world.make("a")
    shutil.rmtree(world.layout.prefix("a"))
    with pytest.raises(PyenvmodError) as info:
        _regenerate(world, "a")
    assert info.value.message == (f"the environment 'a' is missing at {world.layout.prefix('a')}; recreate it or "
                                  "run 'pyenvmod delete a'")
    assert not world.layout.module_dir("a").exists()
    with pytest.raises(PyenvmodError) as info:
        _regenerate(world, "nothere")
    assert info.value.message.startswith("no environment named 'nothere' under ")


def test_regenerate_waits_for_the_environments_lock(world):
    world.make("a")
    world.config.set("lock_timeout", 0.2, "test")
    with world.tree.lock("a", 1):
        with pytest.raises(PyenvmodError, match="environment 'a'"):
            _regenerate(world, "a")
    assert not world.layout.module_dir("a").exists()


def test_a_site_packages_folder_swapped_for_a_link_is_never_written_through(world, tmp_path):
    """A group member may replace the environment's site-packages with a link to a folder of theirs (or of the
    victim's): the hooks are written only below the tree, never through the link."""
    record = world.make("a")
    site = world.site(record.prefix)
    elsewhere = tmp_path / "elsewhere"
    site.rename(elsewhere)
    site.symlink_to(elsewhere)
    before = sorted(os.listdir(elsewhere))
    with pytest.raises(PyenvmodError) as info:
        _regenerate(world, "a")
    assert "symlink" in info.value.message or "link" in info.value.message, info.value.message
    assert sorted(os.listdir(elsewhere)) == before
