"""Issue 23, 'pyenvmod list NAME' in-process (operations/env_packages.py; mutmut credits only calls made in
the test process): where each package of an environment comes from (requested, dependency, base, outside,
module), read from real dist-info folders and conda-meta records on a private tree, and from a real Lmod
module that puts a site-packages folder on PYTHONPATH."""

import json
import os
import pwd

import pytest

from guardenv import World
from modsys import Lmod
from test_guards_installed import dist
from pyenvmod.records import registry


@pytest.fixture
def world(tmp_path, monkeypatch) -> World:
    return World(tmp_path, monkeypatch)


def _listed(world, name) -> list:
    from pyenvmod.operations import env_packages

    record, found = env_packages.packages(world.config, name)
    assert record.name == name
    return [(p.name, p.version, p.source) for p in found]


def _conda_meta(prefix, name, version):
    meta = os.path.join(prefix, "conda-meta")
    os.makedirs(meta, exist_ok=True)
    with open(os.path.join(meta, f"{name}-{version}-0.json"), "w") as fh:
        json.dump({"name": name, "version": version}, fh)


def test_each_package_is_requested_a_dependency_or_changed_outside(world):
    record = world.make("a", requested=["Foo_Bar>=1", "numpy"],
                        packages={"foo-bar": "1.0", "numpy": "1.26.4", "idna": "3.6", "six": "1.0"})
    site = world.site(record.prefix)
    dist(site, "Foo_Bar", "1.0")       # requested, as recorded (names compared canonically)
    dist(site, "numpy", "2.0.0")       # requested, but another version than recorded: changed outside
    dist(site, "idna", "3.6")          # recorded, not requested: a dependency
    dist(site, "handpkg", "0.1")       # not recorded at all: installed outside pyenvmod
    assert _listed(world, "a") == [("Foo_Bar", "1.0", "requested"), ("handpkg", "0.1", "outside"),
                                   ("idna", "3.6", "dependency"), ("numpy", "2.0.0", "outside")]


def test_an_adopted_environment_has_only_requested_and_outside_packages(world, tmp_path):
    prefix = tmp_path / "theirs"
    import subprocess
    import sys

    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(prefix)], check=True)
    record = world.record("ad", prefix=str(prefix), adopted=True, requested=["numpy"], packages={"numpy": "1.0"})
    registry.write(world.tree, record)
    dist(world.site(prefix), "numpy", "2.0")  # another version than recorded: still what was asked for
    dist(world.site(prefix), "idna", "3.6")
    assert _listed(world, "ad") == [("idna", "3.6", "outside"), ("numpy", "2.0", "requested")]


def test_a_base_package_is_listed_as_the_bases_unless_the_environment_has_its_own(world):
    base = world.make("base")
    dist(world.site(base.prefix), "basepkg", "1.0")
    dist(world.site(base.prefix), "shared", "1.0")
    child = world.make("child", extends=base, requested=["shared"], packages={"shared": "2.0"})
    dist(world.site(child.prefix), "shared", "2.0")
    assert _listed(world, "child") == [("basepkg", "1.0", "base"), ("shared", "2.0", "requested")]


def test_a_conda_environment_reads_conda_meta_first_and_its_match_specs(world):
    record = world.make("c", backend="conda", requested=["numpy=1.26", "libxml2 2.9.*", "pkg>=1.0=py_0",
                                                         "other<2=py_0", "Plain_Name"],
                        packages={"numpy": "1.26.4", "libxml2": "2.9.14", "pkg": "1.0", "other": "1.5",
                                  "plain-name": "3", "pydep": "0.1"})
    for name, version in [("numpy", "1.26.4"), ("libxml2", "2.9.14"), ("pkg", "1.0"), ("other", "1.5"),
                          ("plain-name", "3")]:
        _conda_meta(record.prefix, name, version)
    site = world.site(record.prefix)
    dist(site, "numpy", "9.9")  # the same name as a pip distribution: conda's record wins
    dist(site, "pydep", "0.1")  # pip-installed only
    assert _listed(world, "c") == [("libxml2", "2.9.14", "requested"), ("numpy", "1.26.4", "requested"),
                                   ("other", "1.5", "requested"), ("pkg", "1.0", "requested"),
                                   ("plain-name", "3", "requested"), ("pydep", "0.1", "dependency")]


def test_a_package_installed_from_a_folder_or_url_is_requested(world, tmp_path):
    tools = tmp_path / "tools"
    tools.mkdir()
    record = world.make("a", requested=[f"-e {tools}", "git+https://example.org/repo@v1", "pinned @ https://x/p.whl"],
                        packages={"tools": "0.1", "vcspkg": "1.0", "pinned": "2", "dep": "1"},
                        sources={"tools": f"tools @ file://{tools}", "vcspkg": "vcspkg @ git+https://example.org/repo@abc",
                                 "pinned": "pinned @ https://x/p.whl"})
    site = world.site(record.prefix)
    for name, version in record.packages.items():
        dist(site, name, version)
    assert _listed(world, "a") == [("dep", "1", "dependency"), ("pinned", "2", "requested"),
                                   ("tools", "0.1", "requested"), ("vcspkg", "1.0", "requested")]


def test_the_packages_installed_from_a_folder_or_url_spec(tmp_path):
    from pyenvmod.operations.env_packages import installed_from

    sources = {"a": "a @ git+https://h/repo@abc123", "b": "b @ https://h/b-1.0.whl", "c": f"c @ file://{tmp_path}/c/",
               "d": "d @ git+https://h/other@abc123", "e": "e @ file:///data/e@2"}
    assert installed_from("git+https://h/repo@v1", sources) == {"a"}   # asked for at a ref, recorded at a commit
    assert installed_from("git+https://h/repo", sources) == {"a"}      # asked for without a ref
    assert installed_from("git+https://h/repo@abc123", sources) == {"a"}
    assert installed_from("https://h/b-1.0.whl#sha256=00", sources) == {"b"}  # the fragment is not the source
    assert installed_from(f"-e {tmp_path}/c", sources) == {"c"}          # a trailing / is the same folder
    assert installed_from(f"{tmp_path}/c/", sources) == {"c"}
    assert installed_from("https://h/repo", sources) == set()           # not a VCS URL: no ref is cut
    assert installed_from("file:///data/e@2", sources) == {"e"}
    assert installed_from("numpy", sources) == set()                    # from the index: none
    assert installed_from("not a spec ((", sources) == set()
    assert installed_from("git+https://h/none@v1", sources) == set()
    # a URL's trailing / and its fragment are not part of the source; the last '@' alone cuts a VCS ref
    more = {"d": "d @ https://h/dirX", "u": "u @ git+https://git@h/repo@abc", "f": "f @ file:///data/a+b",
            "w": "w @ https://h/w.whl#a"}
    assert installed_from("https://h/dirX/", more) == {"d"}
    assert installed_from("git+https://git@h/repo@v2", more) == {"u"}
    assert installed_from("file:///data/a+b@2", more) == set()  # not a VCS URL: '@2' is part of the path
    assert installed_from("https://h/w.whl#a#b", more) == set()  # the first '#' starts the fragment
    # only the scheme (before the first '://') tells a VCS URL: a '+' later in the URL does not
    assert installed_from("https://h/a+b?u=http://x@2", {"q": "q @ https://h/a+b?u=http://x"}) == set()


def test_the_json_of_a_package_names_its_module_only_for_a_modules_one():
    from pyenvmod.operations.env_packages import Package

    assert Package("numpy", "1.0", "requested").as_dict() == {"name": "numpy", "version": "1.0", "source": "requested"}
    assert Package("numpy", "1.26", "module", "SciPy/1", "2.0").as_dict() == {
        "name": "numpy", "version": "1.26", "source": "module", "module": "SciPy/1", "shadows": "2.0"}
    assert Package("numpy", "1.26", "module", "SciPy/1").as_dict()["shadows"] is None


def test_a_package_a_recorded_module_puts_first_on_sys_path_is_the_modules(world, tmp_path, monkeypatch):
    Lmod().require()
    monkeypatch.setenv("LMOD_CMD", Lmod.modulecmd())
    from pyenvmod.packages import module_packages

    bundle = tmp_path / "bundle" / "site-packages"
    dist(bundle, "numpy", "1.26.4")
    dist(bundle, "scipy", "1.11")
    tree = tmp_path / "modulefiles" / "SciPy"
    tree.mkdir(parents=True)
    (tree / "1.lua").write_text(f'prepend_path("PYTHONPATH", "{bundle}")\n')
    monkeypatch.setenv("MODULEPATH", str(tmp_path / "modulefiles"))
    module_packages._SHOWN.clear()
    try:
        record = world.make("a", modules=["SciPy/1"], requested=["numpy"], packages={"numpy": "2.0.0"})
        dist(world.site(record.prefix), "numpy", "2.0.0")
        from pyenvmod.operations import env_packages

        _, found = env_packages.packages(world.config, "a")
        assert [p.as_dict() for p in found] == [
            {"name": "numpy", "version": "1.26.4", "source": "module", "module": "SciPy/1", "shadows": "2.0.0"},
            {"name": "scipy", "version": "1.11", "source": "module", "module": "SciPy/1", "shadows": None}]
        # a module another user may have written is shown only when the site trusts its owner (module_owners)
        os.chown(tree / "1.lua", 1, 1)
        module_packages._SHOWN.clear()
        assert [p.source for p in env_packages.packages(world.config, "a")[1]] == ["requested"]
        world.config.set("module_owners", [pwd.getpwuid(1).pw_name], "test")
        module_packages._SHOWN.clear()
        assert [p.source for p in env_packages.packages(world.config, "a")[1]] == ["module", "module"]
        # a conda environment's own packages come first: the modules' are not listed
        conda = world.make("c", backend="conda", modules=["SciPy/1"])
        assert env_packages.packages(world.config, "c")[1] == []
    finally:
        module_packages._SHOWN.clear()
