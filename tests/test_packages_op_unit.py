"""Issue 23, 'pyenvmod install / update / remove' in-process (operations/packages.py; mutmut credits only calls
made in the test process): real uv on a real small environment of a private tree, local wheels only (no
index). What the user is told, what the records say afterwards (requested, packages, sources, history,
modulefiles, the time of the change), the refusals and that nothing changed after them."""

import json
import os
import stat
import subprocess
from pathlib import Path

import pytest

from guardenv import MM, World
from localpkg import write_wheel
from pyenvmod.errors import PyenvmodError
from pyenvmod.records import history, registry


@pytest.fixture
def world(tmp_path, monkeypatch) -> World:
    monkeypatch.setenv("UV_NO_INDEX", "1")
    monkeypatch.setenv("UV_OFFLINE", "1")
    return World(tmp_path, monkeypatch)


def _wheel(folder: Path, name: str, version: str, requires=()) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    return str(folder / write_wheel(str(folder), name, version, {f"{name}.py": f"VERSION = {version!r}\n"},
                                    requires=requires))


def _version(world, name, module) -> str:
    python = world.layout.prefix(name) / "bin" / "python"
    return subprocess.run([str(python), "-c", f"import {module}; print({module}.VERSION)"], capture_output=True,
                          text=True).stdout.strip()


def _unchanged(world, name):
    """The environment's records as they are, to compare after a refusal."""
    return (registry.record(world.tree, name), history.entries(world.layout, name),
            sorted(os.listdir(world.site(world.layout.prefix(name)))))


def test_install_then_update_then_remove_keep_the_records_in_step(world, tmp_path, monkeypatch):
    from pyenvmod.operations import packages

    world.make("a", backend="uv", updated="2000-01-01T00:00:00+00:00")
    one, two = _wheel(tmp_path / "w1", "tinypkg", "1.0"), _wheel(tmp_path / "w2", "tinypkg", "2.0")
    stamp = tmp_path / "lmod-stamp"
    world.config.set("lmod_cache_timestamp", str(stamp), "test")
    said = []
    old = os.umask(0)  # whatever the user's umask, nothing in the environment is left world-writable
    try:
        record, problems = packages.install(world.config, "a", [one], said.append)
    finally:
        os.umask(old)
    assert problems == [] and said == [f"installing {one}"]
    assert _version(world, "a", "tinypkg") == "1.0"
    for folder, _, names in os.walk(world.site(record.prefix)):
        for entry in [folder, *(os.path.join(folder, n) for n in names)]:
            assert not os.lstat(entry).st_mode & stat.S_IWOTH, entry
    assert record.requested == [one] and record.packages["tinypkg"] == "1.0"
    assert record.sources["tinypkg"] == f"tinypkg @ file://{one}"
    assert record.updated != "2000-01-01T00:00:00+00:00" and record.updated.endswith("+00:00")
    assert len(record.updated) == 25  # to the second
    assert registry.record(world.tree, "a") == record
    entry = history.entries(world.layout, "a")[-1]
    assert (entry["action"], entry["args"], entry["packages"]["tinypkg"]) == ("install", [one], "1.0")
    modulefile = (world.layout.module_dir("a") / f"py{MM}.lua").read_text()
    assert '"tinypkg/1.0"' in modulefile and stamp.exists()

    said.clear()
    record, _ = packages.update(world.config, "a", [], said.append)  # the requested ones
    assert said == [f"updating {one}"] and history.entries(world.layout, "a")[-1]["args"] == []
    assert history.entries(world.layout, "a")[-1]["action"] == "update"

    said.clear()
    record, _ = packages.remove(world.config, "a", ["TinyPkg"], said.append)
    assert said == ["removing tinypkg"] and record.requested == [] and "tinypkg" not in record.packages
    assert _version(world, "a", "tinypkg") == ""
    entry = history.entries(world.layout, "a")[-1]
    assert (entry["action"], entry["args"]) == ("remove", ["TinyPkg"])
    assert '"tinypkg/' not in (world.layout.module_dir("a") / f"py{MM}.lua").read_text()


def test_the_same_package_from_another_wheel_replaces_its_request(world, tmp_path):
    """'install ./tinypkg-2.0.whl' after './tinypkg-1.0.whl' (or after 'tinypkg==1.0'): one request for
    tinypkg, the new one; two would make every later update (and a rollback) ask uv for both."""
    from pyenvmod.operations import packages

    world.make("a", backend="uv")
    one, two = _wheel(tmp_path / "w1", "tinypkg", "1.0"), _wheel(tmp_path / "w2", "tinypkg", "2.0")
    packages.install(world.config, "a", [one])
    record, _ = packages.install(world.config, "a", [two])
    assert record.requested == [two] and _version(world, "a", "tinypkg") == "2.0"
    said = []
    packages.update(world.config, "a", [], said.append)
    assert said == [f"updating {two}"] and _version(world, "a", "tinypkg") == "2.0"
    record, _ = packages.install(world.config, "a", [one, _wheel(tmp_path / "w3", "otherpkg", "1.0")])
    assert record.requested == [one, str(tmp_path / "w3" / "otherpkg-1.0-py3-none-any.whl")]


def test_a_rebuild_removes_the_installed_build_first(world, tmp_path):
    from pyenvmod.operations import packages

    world.make("a", backend="uv")
    one = _wheel(tmp_path / "w1", "tinypkg", "1.0")
    other = _wheel(tmp_path / "w3", "otherpkg", "1.0")
    packages.install(world.config, "a", [one])
    said = []
    record, _ = packages.install(world.config, "a", [one, other], said.append, no_binary=["srcpkg"], rebuild=True)
    assert said == ["rebuilding tinypkg: removing the installed build first", f"installing {one} {other}"]
    assert record.no_binary == ["srcpkg"] and record.requested == [one, other]
    # asked again with another no-binary name: both kept, each once
    record, _ = packages.install(world.config, "a", [other], said.append, no_binary=["more", "srcpkg"])
    assert record.no_binary == ["srcpkg", "more"]
    assert said[-1] == f"installing {other}"  # not a rebuild: nothing removed first
    # removed by the wheel it came from and by name, in one go
    record, _ = packages.remove(world.config, "a", [one, "OtherPkg"], said.append)
    assert said[-1] == "removing tinypkg otherpkg" and record.requested == []


def test_install_refusals_change_nothing(world, tmp_path):
    from pyenvmod.operations import packages

    world.make("a", backend="uv")
    before = _unchanged(world, "a")
    with pytest.raises(PyenvmodError) as info:
        packages.install(world.config, "a", [])
    assert info.value.message == "name at least one package to install"
    with pytest.raises(PyenvmodError) as info:
        packages.install(world.config, "a", ["tinypkg"], no_binary=["bad name!"])
    with pytest.raises(PyenvmodError):
        packages.install(world.config, "a", ["not a spec (("])
    world.config.set("allowed_sources", ["https://pypi.org/simple"], "test")
    with pytest.raises(PyenvmodError) as info:
        packages.install(world.config, "a", ["pkg @ file:///data/pkg-1.0-py3-none-any.whl"])
    assert "is not an allowed package source" in info.value.message
    assert _unchanged(world, "a") == before
    with pytest.raises(PyenvmodError) as info:
        packages.remove(world.config, "a", [])
    assert info.value.message == "name at least one package to remove"


def test_an_adopted_or_broken_environment_is_not_changed(world, tmp_path):
    from pyenvmod.operations import packages

    prefix = tmp_path / "theirs"
    subprocess.run(["python3", "-m", "venv", "--without-pip", str(prefix)], check=True)
    registry.write(world.tree, world.record("ad", prefix=str(prefix), adopted=True))
    wheel = _wheel(tmp_path / "w", "tinypkg", "1.0")
    for change in (lambda n: packages.install(world.config, n, [wheel]), lambda n: packages.update(world.config, n, []),
                   lambda n: packages.remove(world.config, n, ["tinypkg"])):
        with pytest.raises(PyenvmodError) as info:
            change("ad")
        assert info.value.message == ("'ad' was adopted: pyenvmod does not change it; change it with its own tools, "
                                      "then run 'pyenvmod module ad'")
    world.make("b", backend="uv")
    os.unlink(world.layout.prefix("b") / "bin" / "python")
    with pytest.raises(PyenvmodError) as info:
        packages.install(world.config, "b", [wheel])
    assert info.value.message == (f"the environment 'b' at {world.layout.prefix('b')} is missing or broken; "
                                  "see 'pyenvmod list'")
    assert not list(world.site(prefix).glob("tinypkg*"))


def test_update_without_requested_packages_and_remove_of_what_is_not_there(world, tmp_path):
    from pyenvmod.operations import packages

    base = world.make("base", backend="uv")
    packages.install(world.config, "base", [_wheel(tmp_path / "b", "basepkg", "1.0")])
    world.make("child", backend="uv", extends=registry.record(world.tree, "base"))
    before = _unchanged(world, "child")
    with pytest.raises(PyenvmodError) as info:
        packages.update(world.config, "child", [])
    assert info.value.message == ("'child' has no requested packages to update; name the packages to update")
    with pytest.raises(PyenvmodError) as info:
        packages.remove(world.config, "child", ["basepkg", "nothere"])
    assert info.value.message == ("basepkg, nothere is not installed in 'child' (it comes from the base 'base'); "
                                  "see 'pyenvmod export' for what is")
    with pytest.raises(PyenvmodError) as info:
        packages.remove(world.config, "base", ["nothere"])
    assert info.value.message == "nothere is not installed in 'base'; see 'pyenvmod export' for what is"
    assert _unchanged(world, "child") == before
    assert base.prefix == str(world.layout.prefix("base"))


def test_a_package_installed_from_a_folder_is_named_by_what_it_installed(world, tmp_path):
    from pyenvmod.operations import packages

    record = world.record("a", sources={"tools": f"tools @ file://{tmp_path}/tools"})
    assert packages._canonical(f"-e {tmp_path}/tools/", record) == "tools"
    assert packages._canonical(f"{tmp_path}/tools", record) == "tools"
    assert packages._canonical(f"{tmp_path}/new", record) == f"{tmp_path}/new"  # not installed yet: itself
    assert packages._canonical(f"{tmp_path}/tools", None) == f"{tmp_path}/tools"
    assert packages._canonical("Foo_Bar>=1") == "foo-bar"


def test_the_own_distributions_of_a_conda_environment_are_its_conda_packages(world):
    from pyenvmod.operations import packages

    record = world.make("c", backend="conda")
    (Path(record.prefix) / "conda-meta").mkdir()
    (Path(record.prefix) / "conda-meta" / "numpy-1.0-0.json").write_text(json.dumps({"name": "numpy", "version": "1"}))
    from test_guards_installed import dist

    dist(world.site(record.prefix), "pippkg", "1.0")
    assert packages._own_distributions(record) == {"numpy"}
    plain = world.make("v")
    dist(world.site(plain.prefix), "Foo_Bar", "1.0")
    assert packages._own_distributions(plain) == {"foo-bar"}
