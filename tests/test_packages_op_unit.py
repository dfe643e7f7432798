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
    assert (entry["requested"], entry["sources"]) == ([one], {"tinypkg": f"tinypkg @ file://{one}"})
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
    # a URL names the package installed from it too; a recorded source may end in '/', a folder's name in X
    record = world.record("a", sources={"tools": "tools @ git+https://example.org/tools.git",
                                        "mytools": f"mytools @ file://{tmp_path}/mytools/",
                                        "tx": f"tx @ file://{tmp_path}/TX"})
    assert packages._canonical("git+https://example.org/tools.git", record) == "tools"
    assert packages._canonical(f"{tmp_path}/mytools", record) == "mytools"
    assert packages._canonical(f"file://{tmp_path}/mytools/", record) == "mytools"
    assert packages._canonical(f"{tmp_path}/TX", record) == "tx"
    assert packages._canonical(f"{tmp_path}/T", record) == f"{tmp_path}/T"


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


# --- permissions after a change: what it wrote, or everything when that cannot be told ---------------------

def _other_gid() -> int:
    return next(g for g in (100, 1000, 50, 10) if g != os.getgid())


def _package_wheel(folder: Path, name: str, version: str) -> str:
    """A wheel of a package folder: its files lie below site-packages' top level."""
    folder.mkdir(parents=True, exist_ok=True)
    return str(folder / write_wheel(str(folder), name, version, {f"{name}/__init__.py": f"VERSION = {version!r}\n"}))


def _mode(path) -> tuple:
    st = os.lstat(path)
    return stat.S_IMODE(st.st_mode), st.st_gid


def _group_tree(world) -> int:
    gid = _other_gid()
    os.chown(world.layout.root, -1, gid)
    world.config.group = "lab"
    return gid


def test_in_a_group_tree_what_an_install_wrote_goes_to_the_group_and_nothing_else_is_walked(world, tmp_path):
    from pyenvmod.operations import packages

    gid = _group_tree(world)
    world.make("a", backend="uv")
    packages.install(world.config, "a", [_package_wheel(tmp_path / "w1", "oldpkg", "1.0")])
    site = world.site(world.layout.prefix("a"))
    old = site / "oldpkg" / "__init__.py"
    os.chown(old, -1, os.getgid())
    os.chmod(old, 0o600)
    before = _mode(old)
    umask = os.umask(0o077)  # the member's own umask: the group gets the owner's permissions all the same
    try:
        packages.install(world.config, "a", [_package_wheel(tmp_path / "w2", "newpkg", "1.0")])
    finally:
        os.umask(umask)
    assert _mode(site / "newpkg" / "__init__.py") == (0o660, gid)
    assert _mode(site / "newpkg") == (0o770, gid)
    assert _mode(site)[1] == gid
    assert _mode(old) == before  # the earlier package's file: not this change's


def test_a_distribution_without_a_readable_record_has_the_whole_environment_settled(world, tmp_path):
    """Half installed by hand (no RECORD): what the change wrote cannot be told, so every file of the
    environment is checked (write for others taken off; in a group tree, the group's)."""
    from pyenvmod.operations import packages
    from test_guards_installed import dist

    gid = _group_tree(world)  # a group tree's installs copy files (no hard link to the user's cache)
    other = world.site(world.make("b", backend="uv").prefix) / "theirs.txt"
    other.write_text("")
    os.chmod(other, 0o606)
    world.make("a", backend="uv")
    packages.install(world.config, "a", [_package_wheel(tmp_path / "w1", "oldpkg", "1.0")])
    site = world.site(world.layout.prefix("a"))
    old = site / "oldpkg" / "__init__.py"
    os.chown(old, -1, os.getgid())
    os.chmod(old, 0o606)
    dist(site, "handpkg", "1.0", record=False)
    packages.install(world.config, "a", [_package_wheel(tmp_path / "w2", "newpkg", "1.0")])
    assert _mode(old) == (0o664, gid)
    assert _mode(site / "newpkg" / "__init__.py")[1] == gid
    assert _mode(other) == (0o606, os.getgid())  # another environment: not this change's
    # in a user's own tree: only write for others taken off, the group left as it is
    world.config.group = ""
    os.chmod(old, 0o606)
    os.chown(old, -1, os.getgid())
    dist(site, "hand2", "1.0", record=False)
    packages.install(world.config, "a", [_package_wheel(tmp_path / "w3", "thirdpkg", "1.0")])
    assert _mode(old) == (0o604, os.getgid())


# --- packages a recorded module provides (on PYTHONPATH): the module's, never a second copy here ----------

@pytest.fixture
def numpy_module(world, tmp_path, monkeypatch):
    """SciPy/1, a real Lmod module of the site's software account (uid 1, trusted by module_owners) that
    puts numpy 1.26.4 on PYTHONPATH."""
    import pwd

    from modsys import Lmod
    from pyenvmod.packages import module_packages
    from test_guards_installed import dist

    Lmod().require()
    monkeypatch.setenv("LMOD_CMD", Lmod.modulecmd())
    bundle = tmp_path / "bundle" / "site-packages"
    dist(bundle, "numpy", "1.26.4")
    tree = tmp_path / "modulefiles" / "SciPy"
    tree.mkdir(parents=True)
    (tree / "1.lua").write_text(f'prepend_path("PYTHONPATH", "{bundle}")\n')
    os.chown(tree / "1.lua", 1, 1)
    world.config.set("module_owners", [pwd.getpwuid(1).pw_name], "test")
    monkeypatch.setenv("MODULEPATH", str(tmp_path / "modulefiles"))
    module_packages._SHOWN.clear()
    yield "SciPy/1"
    module_packages._SHOWN.clear()


def test_a_package_of_a_recorded_module_is_neither_installed_nor_updated_here(world, tmp_path, numpy_module,
                                                                            monkeypatch):
    from pyenvmod.operations import packages

    world.make("a", backend="uv", modules=[numpy_module])
    # tinypkg needs numpy: offline, with no numpy wheel, only the module's copy can satisfy it
    one = _wheel(tmp_path / "w1", "tinypkg", "1.0", requires=["numpy"])
    said = []
    record, problems = packages.install(world.config, "a", ["numpy>=1.2", one], said.append)
    assert said == ["numpy 1.26.4 comes from the module SciPy/1: not installed again", f"installing {one}"]
    assert record.requested == ["numpy>=1.2", one] and "numpy" not in record.packages and problems == []
    assert not list(world.site(record.prefix).glob("numpy*"))
    said.clear()
    record, _ = packages.update(world.config, "a", [], said.append)
    assert said == ["numpy 1.26.4 comes from the module SciPy/1: not updated here", f"updating {one}"]
    said.clear()
    record, _ = packages.update(world.config, "a", ["NumPy"], said.append)  # the module's alone: nothing to run
    assert said == ["numpy 1.26.4 comes from the module SciPy/1: not updated here"]
    assert history.entries(world.layout, "a")[-1]["action"] == "update"
    _wheel(tmp_path / "links", "newpkg", "1.0")
    monkeypatch.setenv("UV_FIND_LINKS", str(tmp_path / "links"))
    world.make("b", backend="uv", modules=[numpy_module])
    record, _ = packages.update(world.config, "b", [], file_specs=["numpy", "newpkg"])  # the module's is not asked
    assert record.requested == ["newpkg"]
    before = _unchanged(world, "a")
    for change in (packages.install, packages.update):
        with pytest.raises(PyenvmodError) as info:
            change(world.config, "a", ["numpy>=2"])
        assert info.value.message.startswith("numpy>=2 conflicts with numpy 1.26.4 from the module SciPy/1")
    assert _unchanged(world, "a") == before


def test_update_builds_what_the_environment_builds_from_source_and_names_every_target(world, tmp_path):
    """A package recorded as built from source (install --no-binary) is never updated from a wheel."""
    from pyenvmod.operations import packages

    world.make("a", backend="uv")
    one, other = _wheel(tmp_path / "w1", "tinypkg", "1.0"), _wheel(tmp_path / "w2", "otherpkg", "1.0")
    said = []
    packages.install(world.config, "a", [one, other])
    packages.update(world.config, "a", [], said.append)
    assert said == [f"updating {one} {other}"]
    said.clear()
    packages.install(world.config, "a", [one, other], said.append, rebuild=True)
    assert said == ["rebuilding tinypkg otherpkg: removing the installed build first", f"installing {one} {other}"]
    said.clear()
    packages.install(world.config, "a", [other], said.append, no_binary=["tinypkg"])
    assert said == [f"installing {other}"]  # installed already, and no rebuild asked for: nothing removed
    with pytest.raises(PyenvmodError) as info:
        packages.update(world.config, "a", [_wheel(tmp_path / "w3", "tinypkg", "2.0")])
    assert info.value.message.startswith("could not update ") and "pre-built wheels is disabled" in info.value.message
    assert _version(world, "a", "tinypkg") == "1.0"


def test_update_in_an_extends_environment_finds_what_the_base_has(world, tmp_path):
    """The base's packages count as installed (pip over the whole sys.path): an update whose new version
    needs one of them installs nothing of the base's again (uv, which sees only the environment's own
    site-packages, would look for it, and offline find nothing)."""
    import pip

    from pyenvmod.operations import packages

    base = world.make("base", backend="uv")
    os.symlink(os.path.dirname(pip.__file__), world.site(base.prefix) / "pip")  # the pip a base is made with
    packages.install(world.config, "base", [_wheel(tmp_path / "b", "basepkg", "1.0")])
    world.make("child", backend="uv", extends=registry.record(world.tree, "base"))
    packages.install(world.config, "child", [_wheel(tmp_path / "c1", "childpkg", "1.0", requires=["basepkg"])])
    two = _wheel(tmp_path / "c2", "childpkg", "2.0", requires=["basepkg"])
    record, problems = packages.update(world.config, "child", [two])
    assert _version(world, "child", "childpkg") == "2.0" and problems == []
    assert not list(world.site(record.prefix).glob("basepkg*"))


# --- a conda environment: conda match specs, conda-meta, the allowed channels -------------------------------

def test_a_conda_environment_names_its_packages_by_conda_match_specs(world):
    from pyenvmod.operations import packages

    record = world.make("c", backend="conda", channels=["conda-forge"])
    assert packages._canonical("NumPy>=1.26", record) == "numpy"
    assert packages._canonical("libxml2 2.9.*", record) == "libxml2"
    assert packages._canonical("Foo_Bar=1.0", record) == "foo_bar"  # conda's name: '_' stays
    assert packages._canonical("Foo_Bar==1.0", world.make("v")) == "foo-bar"  # PEP 503's


def test_a_conda_environment_refuses_what_is_no_conda_spec_a_channel_outside_the_policy_or_not_installed(world):
    from pyenvmod.operations import packages

    record = world.make("c", backend="conda", channels=["conda-forge"], packages={"numpy": "1.26.4"})
    (Path(record.prefix) / "conda-meta").mkdir()
    (Path(record.prefix) / "conda-meta" / "numpy-1.26.4-0.json").write_text(
        json.dumps({"name": "numpy", "version": "1.26.4"}))
    before = _unchanged(world, "c")
    with pytest.raises(PyenvmodError) as info:
        packages.remove(world.config, "c", ["scipy=1.11", "NumPy"])  # a conda match spec, not PEP 508
    assert info.value.message == "scipy is not installed in 'c'; see 'pyenvmod export' for what is"
    with pytest.raises(PyenvmodError) as info:
        packages.remove(world.config, "c", ["--force"])
    assert info.value.message.startswith("invalid conda package spec '--force' (it starts with '-')")
    with pytest.raises(PyenvmodError) as info:
        packages.update(world.config, "c", ["NumPy", "scipy=1.11"])
    assert info.value.message == ("not installed in 'c': scipy=1.11; update changes what is there: install it with "
                                  "'pyenvmod install c scipy=1.11'")
    world.config.set("allowed_sources", ["https://pypi.org/simple"], "test")
    with pytest.raises(PyenvmodError) as info:
        packages.remove(world.config, "c", ["numpy"])
    assert info.value.message == ("the channel conda-forge (https://conda.anaconda.org/conda-forge) is not an allowed "
                                  "package source; the site allows: https://pypi.org/simple")
    assert _unchanged(world, "c") == before


def test_update_of_a_package_that_is_not_installed_is_refused_and_changes_nothing(world, tmp_path, monkeypatch):
    """update changes what is there (conda does the same): a name it does not have would be installed and
    never recorded as asked for. What a base of an --extends chain has is there; a folder or file is
    known by name only once built, so it is never refused here."""
    import pip

    from pyenvmod.operations import packages

    a = world.make("a", backend="uv")
    packages.install(world.config, "a", [_wheel(tmp_path / "w1", "tinypkg", "1.0")])
    before = _unchanged(world, "a")
    with pytest.raises(PyenvmodError) as info:
        packages.update(world.config, "a", ["tinypkg", "Other_Pkg>=2", "more"])
    assert info.value.message == ("not installed in 'a': Other_Pkg>=2, more; update changes what is there: install "
                                  "it with 'pyenvmod install a 'Other_Pkg>=2' more'")
    assert _unchanged(world, "a") == before
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "pyproject.toml").write_text(  # a backend nobody has: uv fails, after pyenvmod let it by
        '[build-system]\nrequires = ["no-such-backend-for-pyenvmod"]\nbuild-backend = "nothing"\n')
    with pytest.raises(PyenvmodError) as info:  # an editable folder: known by name only once built, left to uv
        packages.update(world.config, "a", [f"-e {tmp_path / 'src'}"])
    assert info.value.message.startswith("could not update -e, "), info.value.message
    two = _wheel(tmp_path / "w2", "tinypkg", "2.0")
    packages.update(world.config, "a", [two])  # a file: its name is read when it is installed
    assert _version(world, "a", "tinypkg") == "2.0"

    packages.install(world.config, "a", [_wheel(tmp_path / "b1", "basepkg", "1.0")])
    os.symlink(os.path.dirname(pip.__file__), world.site(a.prefix) / "pip")  # the pip a base is made with
    world.make("mid", backend="uv", extends=registry.record(world.tree, "a"))
    world.make("top", backend="uv", extends=registry.record(world.tree, "mid"))
    before = _unchanged(world, "top")
    with pytest.raises(PyenvmodError) as info:
        packages.update(world.config, "top", ["nothere"])
    assert info.value.message == ("not installed in 'top' nor in its bases: nothere; update changes what is there: "
                                  "install it with 'pyenvmod install top nothere'")
    assert _unchanged(world, "top") == before
    _wheel(tmp_path / "links", "basepkg", "2.0")
    monkeypatch.setenv("PIP_FIND_LINKS", str(tmp_path / "links"))  # an update over a base is pip's
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    packages.update(world.config, "top", ["basepkg"])  # the base of its base has it
    assert _version(world, "top", "basepkg") == "2.0" and _version(world, "a", "basepkg") == "1.0"


def test_update_from_a_file_installs_what_it_adds_and_records_it_as_asked_for(world, tmp_path, monkeypatch):
    """update --file brings the environment up to the file, as conda env update -f: a package the file adds
    is installed and recorded as asked for (a later update updates it); what was asked for before stays."""
    from pyenvmod.operations import packages

    world.make("a", backend="uv")
    one = _wheel(tmp_path / "w1", "tinypkg", "1.0")
    packages.install(world.config, "a", [one])
    _wheel(tmp_path / "links", "tinypkg", "2.0")
    _wheel(tmp_path / "links", "newpkg", "1.0")
    monkeypatch.setenv("UV_FIND_LINKS", str(tmp_path / "links"))
    said = []
    record, problems = packages.update(world.config, "a", [], said.append, file_specs=["TinyPkg>=2", "NewPkg"])
    assert said == ["updating TinyPkg>=2 NewPkg"] and problems == []
    assert (_version(world, "a", "tinypkg"), _version(world, "a", "newpkg")) == ("2.0", "1.0")
    assert registry.record(world.tree, "a").requested == [one, "NewPkg"]
    assert history.entries(world.layout, "a")[-1]["args"] == ["TinyPkg>=2", "NewPkg"]
    with pytest.raises(PyenvmodError) as info:  # named on the command line, it must be there
        packages.update(world.config, "a", ["otherpkg"], file_specs=["newpkg"])
    assert info.value.message.startswith("not installed in 'a': otherpkg; ")


def test_pip_of_a_chain_of_extends_sees_each_base_once_in_order_and_runs_no_hook(world):
    """pip runs under -I -S (no .pth file runs): its boot reads each base hook itself, as site.py would
    (only 'import' lines), following a chain to its end and ending a loop of hooks written by hand."""
    from pyenvmod.modules import stacking
    from pyenvmod.operations.common import backend_for

    x = world.make("x")
    y = world.make("y", extends=x)
    z = world.make("z", extends=y)
    site = {e.name: world.site(e.prefix) for e in (x, y, z)}
    (site["x"] / stacking.BASE_HOOK).write_text(  # back to the top: a loop; and a line site.py adds as a folder
        f"addsitedir({str(world.tmp_path / 'not-run')!r})\nimport site; site.addsitedir({str(site['z'])!r})\n")
    (site["x"] / "pip").mkdir()
    (site["x"] / "pip" / "__main__.py").write_text("import json, sys; print(json.dumps(sys.path))\n")
    backend = backend_for(world.config, "venv", [])
    out = subprocess.run(backend.pip(z.prefix), capture_output=True, text=True, timeout=60)
    path = json.loads(out.stdout)
    assert path[-3:] == [str(site["z"]), str(site["y"]), str(site["x"])]
    assert str(world.tmp_path / "not-run") not in path and path.count(str(site["z"])) == 1


# --- an environment that recorded an MPI module: loaded before the install, MPI-linked packages built ------

@pytest.fixture
def mpich_module(world, tmp_path, monkeypatch):
    """mpich/4.0, a real Lmod module over Debian's mpich; this process's environment restored afterwards
    (the install loads the module into it)."""
    import shutil

    from modsys import Lmod, require
    from mpienv import mpich_module_tree

    require(shutil.which("mpicc.mpich") is not None, "Debian's mpich", "apt-get install mpich libmpich-dev")
    Lmod().require()
    tree, bindir = mpich_module_tree(tmp_path / "site", "4.0")
    monkeypatch.delenv("MPICC", raising=False)
    monkeypatch.setenv("LMOD_CMD", Lmod.modulecmd())
    monkeypatch.setenv("MODULEPATH", str(tree))
    monkeypatch.setenv("UV_CACHE_DIR", str(tmp_path / "uv-cache"))
    saved = dict(os.environ)

    def unload():
        os.environ.clear()
        os.environ.update(saved)

    yield unload
    unload()


def test_an_install_loads_the_recorded_mpi_and_builds_what_links_it_from_source(world, tmp_path, mpich_module):
    from pyenvmod.operations import packages

    world.make("a", backend="uv", modules=["mpich/4.0"])
    tiny = _wheel(tmp_path / "w", "tinypkg", "1.0")
    said = []
    packages.install(world.config, "a", [tiny], said.append)
    assert said == ["loading mpich/4.0 with Lmod before building (the environment's modules)", f"installing {tiny}"]
    assert os.environ["LOADEDMODULES"] == "mpich/4.0"
    # the MPI's own cache: nothing built against another MPI is taken from it
    assert [p.parent.name for p in tmp_path.glob("uv-cache-mpi/*")] == ["uv-cache-mpi"]
    mpich_module()  # a new command, the module not loaded: an update loads it too
    said.clear()
    packages.update(world.config, "a", [], said.append)
    assert said == ["loading mpich/4.0 with Lmod before building (the environment's modules)", f"updating {tiny}"]
    said.clear()
    with pytest.raises(PyenvmodError) as info:  # mpi4py links MPI: its binary wheel would bring its own
        packages.install(world.config, "a", ["mpi4py @ file://" + _wheel(tmp_path / "m", "mpi4py", "4.0")],
                         said.append)
    assert said[0].startswith("building mpi4py from source against mpich/4.0")
    assert "conflicts with `--no-binary`" in info.value.message


def test_each_change_first_records_what_was_changed_outside_pyenvmod(world, tmp_path):
    from pyenvmod.operations import packages
    from test_guards_installed import dist

    world.make("a", backend="uv")
    site = world.site(world.layout.prefix("a"))
    one = _wheel(tmp_path / "w1", "tinypkg", "1.0")
    for n, change in enumerate([lambda said: packages.install(world.config, "a", [one], said.append),
                                lambda said: packages.update(world.config, "a", [one], said.append),
                                lambda said: packages.remove(world.config, "a", ["tinypkg"], said.append)]):
        dist(site, f"hand{n}", "1.0")
        said = []
        change(said)
        assert said[0] == f"'a' was changed outside pyenvmod since its last change (recorded in its history): added hand{n} 1.0"
    assert [e["action"] for e in history.entries(world.layout, "a")][-2:] == ["outside", "remove"]


def test_an_install_writes_the_modulefile_from_the_sites_own_templates(world, tmp_path):
    from pyenvmod.operations import packages

    site = tmp_path / "site-templates"
    site.mkdir()
    text = (Path(__file__).resolve().parent.parent / "modulefiles-templates" / "modulefile.lua.j2").read_text()
    (site / "modulefile.lua.j2").write_text(text + "-- the site's own template\n")
    world.config.set("templates", [str(site)], "test")
    world.make("a", backend="uv")
    packages.install(world.config, "a", [_wheel(tmp_path / "w", "tinypkg", "1.0")])
    assert "-- the site's own template" in (world.layout.module_dir("a") / f"py{MM}.lua").read_text()


def test_a_parallel_h5py_gets_the_uv_toml_only_where_uv_builds_it(world, tmp_path, mpich_module, monkeypatch):
    """h5py against the module's MPI and a parallel HDF5: uv gets a uv.toml that builds it with the
    environment's mpi4py; an --extends environment installs with pip, which reads no uv.toml."""
    import pip

    from pyenvmod.operations import packages

    hdf5 = "/usr/lib/x86_64-linux-gnu/hdf5/mpich"
    if not os.path.exists(os.path.join(hdf5, "include", "H5pubconf.h")):
        pytest.skip("Debian's parallel HDF5 (libhdf5-mpich-dev) is not installed")
    monkeypatch.setenv("HDF5_DIR", hdf5)
    monkeypatch.setenv("PIP_NO_INDEX", "1")  # pip, too, finds nothing it is not given
    base = world.make("base", backend="uv", modules=["mpich/4.0"])
    os.symlink(os.path.dirname(pip.__file__), world.site(base.prefix) / "pip")  # the pip a base is made with
    world.make("child", backend="uv", modules=["mpich/4.0"], extends=registry.record(world.tree, "base"))
    h5py = "h5py @ file://" + _wheel(tmp_path / "h", "h5py", "3.0")
    toml = tmp_path / "uv-cache-mpi" / "pyenvmod-h5py-uv.toml"
    with pytest.raises(PyenvmodError) as info:  # the mpi4py it builds with is not to be found here
        packages.install(world.config, "child", [h5py])
    assert info.value.message.startswith("could not install h5py @ file://") and "mpi4py" in info.value.message
    assert not toml.exists()
    with pytest.raises(PyenvmodError) as info:
        packages.install(world.config, "base", [h5py])
    assert info.value.message.startswith("could not install h5py @ file://") and "mpi4py" in info.value.message
    assert toml.exists()


def test_a_conda_environment_installs_its_own_copy_of_what_a_recorded_module_provides(world, tmp_path,
                                                                                     numpy_module):
    """conda's packages come first in a conda environment: a module's numpy is not counted as installed
    (here the conda install is tried, from a local channel that has nothing)."""
    from pyenvmod.operations import packages

    channel = tmp_path / "channel"
    channel.mkdir()
    world.make("c", backend="conda", channels=[str(channel)], modules=[numpy_module])
    said = []
    with pytest.raises(PyenvmodError) as info:
        packages.install(world.config, "c", ["numpy"], said.append)
    assert said[-1] == "installing numpy" and info.value.message.startswith("could not install numpy: ")
    with pytest.raises(PyenvmodError) as info:  # nor is it the environment's to update
        packages.update(world.config, "c", ["numpy"])
    assert info.value.message.startswith("not installed in 'c': numpy; ")


def _conda_channel(folder: Path) -> Path:
    """A local conda channel with no packages: a removal solves offline against it."""
    import rattler

    for subdir in ("noarch", str(rattler.Platform.current())):
        (folder / subdir).mkdir(parents=True)
        (folder / subdir / "repodata.json").write_text(json.dumps({"info": {"subdir": subdir}, "packages": {},
                                                                  "packages.conda": {}}))
    return folder


def _conda_package(prefix: str, channel: Path, name: str, version: str, path: str) -> None:
    """A conda package as an install leaves it: its file, and its record in conda-meta listing it."""
    (Path(prefix) / path).parent.mkdir(parents=True, exist_ok=True)
    (Path(prefix) / path).write_text("x")
    record = {"name": name, "version": version, "build": "0", "build_number": 0, "subdir": "noarch", "depends": [],
              "files": [path], "paths_data": {"paths_version": 1, "paths": [
                  {"_path": path, "path_type": "hardlink", "size_in_bytes": 1}]},
              "channel": str(channel), "fn": f"{name}-{version}-0.conda",
              "url": f"file://{channel}/noarch/{name}-{version}-0.conda", "requested_spec": name}
    (Path(prefix) / "conda-meta").mkdir(exist_ok=True)
    (Path(prefix) / "conda-meta" / f"{name}-{version}-0.json").write_text(json.dumps(record))


def test_a_conda_removal_settles_the_whole_environment_and_records_it(world, tmp_path):
    """conda's packages have no RECORD to tell what a change wrote: after one, every file of the
    environment is checked (write for others taken off; in a group tree, the group's)."""
    from pyenvmod.operations import packages

    gid = _group_tree(world)
    channel = _conda_channel(tmp_path / "channel")
    record = world.make("c", backend="conda", channels=[str(channel)], requested=["numpy", "scipy"],
                        packages={"numpy": "1.26.4", "scipy": "1.11.0"})
    _conda_package(record.prefix, channel, "numpy", "1.26.4", "share/numpy/data.txt")
    _conda_package(record.prefix, channel, "scipy", "1.11.0", "share/scipy/data.txt")
    loose = Path(record.prefix) / "share" / "scipy" / "data.txt"
    os.chmod(loose, 0o606)
    said = []
    record, problems = packages.remove(world.config, "c", ["NumPy>=1"], said.append)
    assert said == ["removing numpy"] and problems == []
    assert not (Path(record.prefix) / "share" / "numpy" / "data.txt").exists()
    assert (record.requested, record.packages) == (["scipy"], {"scipy": "1.11.0"})
    assert history.entries(world.layout, "c")[-1]["args"] == ["NumPy>=1"]
    assert _mode(loose) == (0o664, gid)


def test_the_settling_after_a_change_never_follows_a_folder_swapped_for_a_link_meanwhile(world, tmp_path):
    """In a group tree a member may swap the tree's folder of environments for a link while the change
    runs: the permission walk reaches the environment from the tree's root, so it changes nothing there."""
    from pyenvmod.operations import packages

    channel = _conda_channel(tmp_path / "channel")
    record = world.make("c", backend="conda", channels=[str(channel)], requested=["numpy"],
                        packages={"numpy": "1.26.4", "scipy": "1.11.0"})
    _conda_package(record.prefix, channel, "numpy", "1.26.4", "share/numpy/data.txt")
    _conda_package(record.prefix, channel, "scipy", "1.11.0", "share/scipy/data.txt")
    elsewhere = tmp_path / "elsewhere"
    loose = elsewhere / "c" / "share" / "scipy" / "data.txt"

    def swap_in_a_link(message):
        os.rename(world.layout.envs_dir, elsewhere)
        os.symlink(elsewhere, world.layout.envs_dir)
        os.chmod(loose, 0o606)

    packages.remove(world.config, "c", ["numpy"], swap_in_a_link)
    assert not (elsewhere / "c" / "share" / "numpy" / "data.txt").exists()  # the removal itself went through
    assert _mode(loose)[0] == 0o606
