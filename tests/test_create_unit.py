"""Issue 23, operations/create.py in-process, second part: what a create made is removed again when a
late step fails (its history, its registration: no modulefile left pointing at nothing), a spec's
modules loaded with a real Lmod and recorded, a package a module provides not installed again, the
values a plan takes from the configuration, and a create in a group tree. Real small environments
(uv offline, local wheels) on a private tree under tmp_path."""

import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from guardenv import MM, World
from immutable import immutable
from modsys import Lmod, require
from test_operations_unit import _nothing_made, _request, _wheel, uv_cache  # noqa: F401 (a fixture)
from pyenvmod.errors import PyenvmodError
from pyenvmod.records import history, registry


@pytest.fixture
def world(tmp_path, monkeypatch, uv_cache) -> World:
    made = World(tmp_path, monkeypatch)
    monkeypatch.setenv("UV_CACHE_DIR", uv_cache)
    return made


def test_a_create_that_cannot_write_its_history_leaves_no_modulefile_nor_folder(world, tmp_path):
    from pyenvmod.operations import create

    histories = world.layout.history_dir("x").parent
    histories.mkdir(parents=True, exist_ok=True)
    with immutable(histories), pytest.raises(OSError):
        create.create(world.config, _request(name="late", packages=[_wheel(tmp_path / "w", "tinypkg")]))
    _nothing_made(world, "late")
    assert not os.path.lexists(world.layout.activate_dir("late"))


def test_a_create_at_a_prefix_that_cannot_register_leaves_the_folder_empty_and_nothing_else(world, tmp_path):
    """Its registration is the last step: the history and modulefiles written before it are removed again,
    and the user's folder is left as it was (there, empty)."""
    from pyenvmod.operations import create

    folder = tmp_path / "mine"
    folder.mkdir(mode=0o755)
    meta = world.layout.meta_dir
    said = []
    with immutable(meta), pytest.raises(OSError):
        create.create(world.config, _request(name="ext", location=str(folder)), said.append)
    assert said[0].startswith("creating 'ext' with uv from Python ")
    assert folder.is_dir() and list(folder.iterdir()) == []
    _nothing_made(world, "ext")
    assert not os.path.lexists(world.layout.activate_dir("ext")) and "ext" not in world.layout.names()


def test_a_plan_takes_the_python_and_no_binary_of_the_configuration(world):
    from pyenvmod.operations import create

    world.config.set("python", sys.executable, "test")
    world.config.set("no_binary", ["six", "attrs"], "test")
    plan = create.plan(world.config, _request(name="c", python="", no_binary=["idna", "six"]))
    assert plan.base.executable in (sys.executable, os.path.realpath(sys.executable))
    assert plan.no_binary == ["six", "attrs", "idna"]
    assert plan.channels == [] and plan.modules == [] and plan.from_modules == []
    world.config.set("python", "no-such-python-9.99", "test")
    with pytest.raises(PyenvmodError):
        create.plan(world.config, _request(name="c", python=""))
    # --extends: the base's interpreter, not the configured one (none is looked up)
    plan = create.plan(world.config, _request(name="c", python="", extends="base"))
    assert plan.base is None


def test_a_bad_description_is_named_after_where_it_came_from(world, tmp_path):
    from pyenvmod.operations import create
    from pyenvmod.packages import spec as spec_mod

    bad = "red\x1b[31m"
    with pytest.raises(PyenvmodError) as info:
        create.plan(world.config, _request(name="c", description=bad))
    assert info.value.message.startswith("--description")
    path = tmp_path / "environment.yml"
    path.write_text('dependencies:\n  - pip:\n    - six\npyenvmod:\n  description: "red\\e[31m"\n')
    spec = spec_mod.read(str(path))
    assert spec.description == bad
    with pytest.raises(PyenvmodError) as info:
        create.plan(world.config, _request(name="c", spec=spec))
    assert info.value.message == (f"{spec.source}: the description holds control characters ('\\x1b'); give "
                                  "plain text")
    with pytest.raises(PyenvmodError) as info:  # given on the command line, it wins and is named so
        create.plan(world.config, _request(name="c", spec=spec, description=bad + "!"))
    assert info.value.message.startswith("--description")


def test_a_full_export_creates_with_what_was_asked_for_originally(world, tmp_path):
    from pyenvmod.operations import create
    from pyenvmod.packages import spec as spec_mod

    wheel = _wheel(tmp_path / "w", "tinypkg")
    path = tmp_path / "environment.yml"
    path.write_text(f"dependencies:\n  - pip:\n    - {wheel}\npyenvmod:\n  requested: [tinypkg]\n")
    spec = spec_mod.read(str(path))
    assert spec.requested == ["tinypkg"]
    plan = create.plan(world.config, _request(name="c", spec=spec, packages=["six"]))
    assert plan.requested == ["tinypkg", "six"] and plan.packages == [wheel, "six"]
    path.write_text(f"dependencies:\n  - pip:\n    - {wheel}\npyenvmod:\n  requested: ['not a spec!']\n")
    with pytest.raises(PyenvmodError):
        create.plan(world.config, _request(name="c", spec=spec_mod.read(str(path))))
    # a conda export: its conda entries are the packages, what was asked for checked as conda specs
    path.write_text("dependencies:\n  - numpy=1.26\n  - scipy\npyenvmod:\n  requested: [numpy]\n")
    plan = create.plan(world.config, _request(name="c", spec=spec_mod.read(str(path)), channels=["x"]))
    assert (plan.backend_name, plan.packages, plan.requested) == ("conda", ["numpy=1.26", "scipy"], ["numpy"])
    path.write_text("dependencies:\n  - numpy=1.26\npyenvmod:\n  requested: ['numpy;rm']\n")
    with pytest.raises(PyenvmodError):
        create.plan(world.config, _request(name="c", spec=spec_mod.read(str(path)), channels=["x"]))


# --- modules: a spec's loaded with Lmod, recorded, and what they provide not installed again ------------

@pytest.fixture
def lmod(world, tmp_path, monkeypatch):
    """Lmod set up in this process, with a module bundle/1 that puts a site-packages holding tinypkg 1.0
    on PYTHONPATH; this process's environment restored afterwards (a load changes it)."""
    from test_guards_installed import dist
    from pyenvmod.packages import module_packages

    Lmod().require()
    tree = tmp_path / "site-modules"
    site = tmp_path / "bundle" / "site-packages"
    dist(site, "tinypkg", "1.0", files=["tinypkg.py"])
    (tree / "bundle").mkdir(parents=True)
    (tree / "bundle" / "1.lua").write_text(f'prepend_path("PYTHONPATH", "{site}")\n')
    monkeypatch.setenv("LMOD_CMD", Lmod.modulecmd())
    monkeypatch.setenv("MODULEPATH", str(tree))
    module_packages._SHOWN.clear()
    saved = dict(os.environ)
    yield tree
    os.environ.clear()
    os.environ.update(saved)
    module_packages._SHOWN.clear()


def test_a_specs_modules_are_loaded_recorded_and_what_they_provide_not_installed(world, lmod, tmp_path, monkeypatch):
    from pyenvmod.operations import common, create
    from pyenvmod.packages import spec as spec_mod

    from pyenvmod import config as config_mod
    from pyenvmod.modules import modulefiles

    user = _wheel(tmp_path / "w", "usestiny", requires=["tinypkg>=1"])
    path = tmp_path / "environment.yml"
    path.write_text(f"dependencies:\n  - pip:\n    - tinypkg\n    - {user}\npyenvmod:\n  modules: [bundle/1]\n")
    fresh = tmp_path / "fresh-root"  # a tree not made yet: the create makes it, with its marker
    monkeypatch.setenv("PYENVMOD_ROOT", str(fresh))
    config = config_mod.load()
    said = []
    record = create.create(config, _request(name="mods", spec=spec_mod.read(str(path))), said.append)
    layout = common.layout_for(config)
    marker = (layout.base / modulefiles.TREE_MARKER).read_text()
    assert f"platform={layout.platform}\n" in marker and f"owner={record.owner}\n" in marker
    assert registry.record(common.tree_for(config), "mods").prefix == record.prefix
    assert said[0] == "loading bundle/1 with Lmod before building"
    assert "tinypkg 1.0 comes from the module bundle/1: not installed again" in said
    assert said[said.index("tinypkg 1.0 comes from the module bundle/1: not installed again") + 1] == \
        f"installing {user}"  # its requirement is the module's: not installed either
    assert not any(s.startswith("warning") for s in said)
    assert os.environ["LOADEDMODULES"].split(":") == ["bundle/1"]
    assert record.modules == ["bundle/1"]
    assert record.module_paths == [str(lmod)] and record.module_files == [str(lmod / "bundle" / "1.lua")]
    assert "tinypkg" not in record.packages and record.packages["usestiny"] == "1.0"
    assert not list(world.site(record.prefix).glob("tinypkg*"))  # the module's, not the environment's


def test_modules_given_with_the_request_are_planned_without_being_loaded(world, lmod):
    from pyenvmod.operations import create

    said = []
    plan = create.plan(world.config, _request(name="given", modules=["bundle/1"], packages=["tinypkg", "six"]),
                       said.append)
    assert said == [] and "bundle/1" not in os.environ.get("LOADEDMODULES", "")
    assert plan.modules == ["bundle/1"]
    assert [(p.name, p.version, p.module) for p in plan.from_modules] == [("tinypkg", "1.0", "bundle/1")]
    assert plan.module_satisfied == plan.from_modules and plan.packages == ["tinypkg", "six"]
    plan = create.plan(world.config, _request(name="given", modules=["bundle/1"], packages=["six"]))
    assert plan.module_satisfied == [] and len(plan.from_modules) == 1


# --- a group tree ----------------------------------------------------------------------------------------

def test_a_create_in_a_group_tree_records_when_and_with_what_and_hands_it_to_the_group(world):
    from pyenvmod import __version__
    from pyenvmod.operations import create

    other_gid = next(g for g in (100, 1000, 50, 10) if g != os.getgid())
    os.chown(world.layout.root, -1, other_gid)
    world.config.group = "lab"
    world.config.set("no_binary", ["six"], "test")
    spider = world.tmp_path / "spider-updated"
    world.config.set("lmod_cache_update", f"touch {spider}", "test")  # the site's command, run after a create
    wheel = _wheel(world.tmp_path / "w", "tinypkg")
    old_umask = os.umask(0)  # a careless shell: nothing may end up world-writable all the same
    try:
        record = create.create(world.config, _request(name="ours", no_binary=["idna", "six"], packages=[wheel]))
    finally:
        os.umask(old_umask)
    assert spider.exists()
    writable = [p for p in [Path(record.prefix), *Path(record.prefix).rglob("*")]
                if not p.is_symlink() and p.lstat().st_mode & 0o002]
    assert writable == []
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", record.created)
    assert record.pyenvmod_version == __version__ and record.owner
    assert record.no_binary == ["six", "idna"] and record.channels == [] and record.mpi is None
    assert (record.modules, record.module_paths, record.module_files) == ([], [], [])
    assert registry.record(world.tree, "ours") == record
    entries = history.entries(world.layout, "ours")
    assert len(entries) == 1 and entries[0]["action"] == "create" and entries[0]["args"] == [wheel]
    assert entries[0]["packages"] == record.packages and entries[0]["packages"]["tinypkg"] == "1.0"
    assert entries[0]["requested"] == [wheel] and entries[0]["sources"] == record.sources
    python = os.path.join(record.prefix, "bin", "python")
    assert os.stat(record.prefix).st_gid == other_gid
    assert os.lstat(python).st_gid == other_gid or os.stat(python).st_gid == other_gid
    cfg = os.stat(os.path.join(record.prefix, "pyvenv.cfg"))
    assert cfg.st_gid == other_gid and cfg.st_mode & 0o060 == 0o060
    assert record.module == f"pyenv/ours/py{MM}"


# --- plan: what each backend takes from the configuration, and what it refuses ---------------------------

def test_a_conda_plan_takes_its_channels_from_the_request_the_configuration_or_condarc(world, tmp_path, monkeypatch):
    from pyenvmod.operations import create

    condarc = tmp_path / "condarc"
    condarc.write_text("channels: [from-rc]\n")
    monkeypatch.setenv("CONDARC", str(condarc))
    world.config.set("no_binary", ["six"], "test")
    plan = create.plan(world.config, _request(name="c", backend="conda", python="3.99", packages=["numpy"]))
    assert (plan.channels, plan.no_binary, plan.base, plan.packages) == (["from-rc"], [], None, ["numpy"])
    world.config.set("channels", ["configured"], "test")
    assert create.plan(world.config, _request(name="c", backend="conda")).channels == ["configured"]
    assert create.plan(world.config, _request(name="c", backend="conda", channels=["given"])).channels == ["given"]
    world.config.set("allowed_sources", ["https://conda.example.org/"], "test")
    with pytest.raises(PyenvmodError) as info:
        create.plan(world.config, _request(name="c", backend="conda", channels=["given"]))
    assert info.value.message == ("the channel given (https://conda.anaconda.org/given) is not an allowed package "
                                  "source; the site allows: https://conda.example.org/")


def test_a_plan_refuses_a_package_from_a_source_the_site_does_not_allow(world, tmp_path, monkeypatch):
    from pyenvmod.operations import create

    monkeypatch.chdir(tmp_path)
    wheel = _wheel(tmp_path / "w", "tinypkg")
    relative = os.path.relpath(wheel, tmp_path)
    plan = create.plan(world.config, _request(name="c", packages=[relative]))
    assert plan.packages == [wheel]  # a path is made absolute (the helpers run elsewhere)
    world.config.set("allowed_sources", ["https://pypi.example.org/simple"], "test")
    world.config.set("index_url", "https://pypi.example.org/simple", "test")
    with pytest.raises(PyenvmodError) as info:
        create.plan(world.config, _request(name="c", packages=[relative]))
    assert info.value.message.startswith(f"{wheel!r} comes from file://")
    assert create.plan(world.config, _request(name="c", packages=["six"])).packages == ["six"]


def test_a_spec_with_conda_entries_is_refused_by_the_venv_backend_too(world, tmp_path):
    from pyenvmod.operations import create
    from pyenvmod.packages import spec as spec_mod

    path = tmp_path / "environment.yml"
    path.write_text("dependencies:\n  - numpy\n")
    with pytest.raises(PyenvmodError) as info:
        create.plan(world.config, _request(name="c", spec=spec_mod.read(str(path)), backend="venv"))
    assert info.value.message.startswith(f"{path} has conda-only entries the venv backend cannot install: numpy;")


def test_a_plan_records_the_loaded_modules_unless_told_not_to(world, monkeypatch):
    from pyenvmod.operations import create

    monkeypatch.setenv("LOADEDMODULES", "gcc/12:StdEnv/2023:openmpi/4")
    assert create.plan(world.config, _request(name="c")).modules == ["gcc/12", "openmpi/4"]  # StdEnv: excluded
    assert create.plan(world.config, _request(name="c", capture=False, modules=["cuda/12"])).modules == ["cuda/12"]
    world.config.set("capture_exclude", ["gcc"], "test")
    assert create.plan(world.config, _request(name="c", modules=["gcc/13"])).modules == \
        ["StdEnv/2023", "openmpi/4", "gcc/13"]


def test_the_conda_backend_takes_a_python_version_only(world):
    from pyenvmod.operations import common, create

    backend = common.backend_for(world.config, "conda", ["x"])
    for wanted, refused in (("3.12.1", True), ("python3", True), ("3.12", False), ("", False)):
        plan = create.plan(world.config, _request(name="c", backend="conda", channels=["x"], python=wanted))
        if refused:
            with pytest.raises(PyenvmodError) as info:
                create._base_of(world.config, plan, backend, world.layout)
            assert info.value.message == (f"--python {wanted}: the conda backend takes a version like 3.12 (the "
                                          "interpreter comes from the channels)")
        else:
            assert create._base_of(world.config, plan, backend, world.layout) == (None, None, None)


def test_a_spec_module_with_a_bad_name_is_refused_before_anything_is_loaded(world, lmod, tmp_path):
    from pyenvmod.operations import create
    from pyenvmod.packages import spec as spec_mod

    path = tmp_path / "environment.yml"
    path.write_text("dependencies:\n  - pip:\n    - six\npyenvmod:\n  modules: [bundle/1, '--force']\n")
    said = []
    with pytest.raises(PyenvmodError) as info:
        create.plan(world.config, _request(name="c", spec=spec_mod.read(str(path))), said.append)
    assert info.value.message == ("invalid module name '--force': give a module as NAME or NAME/VERSION, without "
                                  "spaces, quotes or shell characters")
    assert "bundle/1" not in os.environ.get("LOADEDMODULES", "")


def test_a_tombstone_is_replaced_quietly_and_other_leftovers_are_cleared_with_a_note(world):
    """Under the lock, before the build: a deleted environment's tombstone (which lets loaded shells unload it)
    is no leftover; modulefiles without a record are."""
    from pyenvmod.operations import create, delete

    world.make("again")
    assert delete.delete(world.config, "again")
    said = []
    assert create._claim_prefix(world.tree, "again", None, said.append) == world.layout.prefix("again")
    assert said == []
    stray = world.layout.module_dir("stray")
    stray.mkdir(parents=True)
    (stray / f"py{MM}.lua").write_text("-- left by an interrupted create\n")
    assert create._claim_prefix(world.tree, "stray", None, said.append) == world.layout.prefix("stray")
    assert said == ["removed the leftover of an interrupted create of 'stray'"] and not stray.exists()


def test_an_extending_environment_installs_with_its_base_in_view(world, tmp_path):
    """--extends: what the base has is not installed again (pip sees the whole sys.path; uv would see only
    the environment's own site-packages and install the base's packages a second time)."""
    from pyenvmod.operations import create

    base = create.create(world.config, _request(name="base", packages=[_wheel(tmp_path / "w", "tinypkg")]))
    user = _wheel(tmp_path / "w", "usestiny", requires=["tinypkg"])
    child = create.create(world.config, _request(name="child", python="", extends="base", packages=[user]))
    assert child.packages["usestiny"] == "1.0" and "tinypkg" not in child.packages
    assert base.packages["tinypkg"] == "1.0"
    assert not list(world.site(child.prefix).glob("tinypkg*"))
    out = subprocess.run([os.path.join(child.prefix, "bin", "python"), "-c",
                          "import tinypkg, usestiny; print(tinypkg.__file__)"],
                         capture_output=True, text=True, check=True).stdout
    assert out.startswith(str(world.site(base.prefix)))


def test_no_binary_reaches_the_installer(world, tmp_path):
    """A package to be built from source: its wheel is refused (uv says so), and nothing is left."""
    from pyenvmod.operations import create

    wheel = _wheel(tmp_path / "w", "tinypkg")
    with pytest.raises(PyenvmodError) as info:
        create.create(world.config, _request(name="src", packages=[wheel], no_binary=["tinypkg"]))
    assert "no-binary" in info.value.message
    _nothing_made(world, "src")


def test_a_python_module_loaded_for_the_version_is_recorded(world, lmod, tmp_path):
    """python_from: modules: --python 3.12 loads the site's Python module, which the environment records."""
    from test_pythons_unit import REAL
    from pyenvmod.operations import create

    require(os.path.exists(REAL["3.12"]), "pyenv's 3.12", "tests/setup")
    bindir = tmp_path / "python-bin"
    bindir.mkdir()
    (bindir / "python3.12").symlink_to(REAL["3.12"])
    (lmod / "Python").mkdir()
    (lmod / "Python" / "3.12.1.lua").write_text(f'prepend_path("PATH", "{bindir}")\n')
    world.config.set("python_from", "modules", "test")
    said = []
    plan = create.plan(world.config, _request(name="c", python="3.12", modules=["bundle/1"]), said.append)
    assert said == ["loading the Python module Python/3.12.1 with Lmod for Python 3.12"]
    assert plan.base.version == "3.12.1" and plan.modules == ["bundle/1", "Python/3.12.1"]


# --- modules: two of them, a site's module builder, what a module's package needs -------------------------

def _module(lmod, tmp_path, name, *dists):
    """Module ``name`` (folder/version) of the lmod fixture's tree, putting a site-packages on PYTHONPATH that
    holds ``dists``: (name, version, *requirements) each."""
    from test_guards_installed import dist

    site = tmp_path / name.replace("/", "-") / "site-packages"
    site.mkdir(parents=True)
    for dist_name, version, *requires in dists:
        dist(site, dist_name, version, *requires, files=[f"{dist_name}.py"])
    (lmod / name).parent.mkdir(parents=True, exist_ok=True)
    (lmod / f"{name}.lua").write_text(f'prepend_path("PYTHONPATH", "{site}")\n')
    return lmod / f"{name}.lua"


def test_a_spec_with_two_modules_loads_both_and_says_so(world, lmod, tmp_path):
    from pyenvmod.operations import create
    from pyenvmod.packages import spec as spec_mod

    _module(lmod, tmp_path, "extra/2", ("extrapkg", "2.0"))
    path = tmp_path / "environment.yml"
    path.write_text("dependencies:\n  - pip:\n    - six\npyenvmod:\n  modules: [bundle/1, extra/2]\n")
    said = []
    plan = create.plan(world.config, _request(name="two", spec=spec_mod.read(str(path))), said.append)
    assert said == ["loading bundle/1 extra/2 with Lmod before building"]
    assert os.environ["LOADEDMODULES"].split(":") == ["bundle/1", "extra/2"]
    assert plan.modules == ["bundle/1", "extra/2"]
    assert sorted((p.name, p.module) for p in plan.from_modules) == [("extrapkg", "extra/2"), ("tinypkg", "bundle/1")]


def test_a_module_the_sites_builder_wrote_counts_only_when_the_site_trusts_that_account(world, lmod):
    """The modulefile belongs to another account (the one that builds the site's modules): what it provides is
    read only when the configuration's module_owners names that account; otherwise it is not run at all."""
    import pwd

    from pyenvmod.operations import create
    from pyenvmod.packages import module_packages

    os.chown(lmod / "bundle" / "1.lua", pwd.getpwnam("nobody").pw_uid, -1)
    request = _request(name="built", modules=["bundle/1"], packages=["tinypkg"])
    plan = create.plan(world.config, request)
    assert plan.from_modules == [] and plan.module_satisfied == []
    module_packages._SHOWN.clear()
    world.config.set("module_owners", ["nobody"], "site")
    plan = create.plan(world.config, request)
    assert [(p.name, p.version, p.module) for p in plan.from_modules] == [("tinypkg", "1.0", "bundle/1")]
    assert plan.module_satisfied == plan.from_modules


def test_a_create_with_a_module_installs_the_rest_in_one_go_and_warns_of_the_modules_broken_package(
        world, lmod, tmp_path):
    """Two packages go to the installer together (the line names both); the module's own package needs one
    nobody has: the environment is made, with a warning naming it."""
    from pyenvmod.operations import create

    _module(lmod, tmp_path, "broken/1", ("brokenpkg", "1.0", "ghostpkg>=1"))
    first, second = _wheel(tmp_path / "w", "usestiny", requires=["tinypkg"]), _wheel(tmp_path / "w", "otherpkg")
    said = []
    record = create.create(world.config, _request(name="both", modules=["bundle/1", "broken/1"],
                                                  packages=[first, second]), said.append)
    assert f"installing {first} {second}" in said
    assert said[-1] == "warning: broken requirements in 'both': brokenpkg 1.0 requires ghostpkg, which is not installed."
    assert record.packages["usestiny"] == record.packages["otherpkg"] == "1.0" and "tinypkg" not in record.packages


def test_a_package_needing_another_version_than_the_modules_is_refused_and_nothing_is_left(world, lmod, tmp_path):
    """The installer leaves tinypkg out (the module provides it), but the package asks for a version the module
    does not have: the module's copy would be imported, so the create is refused and undone."""
    from pyenvmod.operations import create

    needs = _wheel(tmp_path / "w", "needsnewer", requires=["tinypkg>=2"])
    with pytest.raises(PyenvmodError) as info:
        create.create(world.config, _request(name="newer", modules=["bundle/1"], packages=[needs]))
    assert info.value.message == ("needsnewer 1.0 needs tinypkg>=2, but the module bundle/1 gives tinypkg 1.0, which "
                                  "comes first on sys.path (PYTHONPATH); ask for a needsnewer version that works with "
                                  "it, or make the environment without bundle/1")
    _nothing_made(world, "newer")


def test_a_create_writes_no_hook_through_its_folder_swapped_for_a_link(world, tmp_path, monkeypatch):
    """The new environment's folder replaced by a link (a group member, while uv ran) just before its hooks are
    written: nothing is written through the link, the create is undone and the linked folder left alone."""
    from pyenvmod.modules import stacking
    from pyenvmod.operations import create

    moved = tmp_path / "moved"
    install_hook = stacking.install_hook

    def swap_then_hook(prefix, *args, **kwargs):
        os.rename(prefix, moved)
        os.symlink(moved, prefix)
        return install_hook(prefix, *args, **kwargs)

    monkeypatch.setattr(stacking, "install_hook", swap_then_hook)
    site = moved / "lib" / f"python{MM}" / "site-packages"
    with pytest.raises(PyenvmodError) as info:
        create.create(world.config, _request(name="swapped"))
    assert info.value.message.startswith(f"refusing {world.layout.prefix('swapped')}: it is a symlink")
    assert site.is_dir() and not [n for n in os.listdir(site) if "pyenvmod" in n]  # no hook written there
    _nothing_made(world, "swapped")


def test_a_create_whose_folder_is_swapped_for_a_link_while_the_helper_makes_it_is_undone(world, tmp_path,
                                                                                       monkeypatch):
    from pyenvmod.operations import common, create

    moved = tmp_path / "moved"
    backend_for = common.backend_for

    def swapping_backend(*args, **kwargs):
        backend = backend_for(*args, **kwargs)
        made = backend.create

        def create_then_swap(prefix, *a, **k):
            made(prefix, *a, **k)
            os.rename(prefix, moved)
            os.symlink(moved, prefix)

        backend.create = create_then_swap
        return backend

    monkeypatch.setattr(create, "backend_for", swapping_backend)
    with pytest.raises(PyenvmodError) as info:
        create.create(world.config, _request(name="swapped"))
    assert info.value.message == (f"{world.layout.prefix('swapped')} was replaced by a symlink during the create; "
                                  "nothing was kept")
    assert (moved / "bin" / "python").exists() and not [n for n in os.listdir(moved) if "pyenvmod" in n]
    _nothing_made(world, "swapped")


def test_a_create_whose_envs_folder_is_swapped_for_a_link_while_it_installs_is_undone(world, tmp_path,
                                                                                    monkeypatch):
    """In a group tree a member may replace envs/ (the folder above it is the group's) while another's create
    runs: what was built through the link is never made safe, shared or registered; the create is undone."""
    from pyenvmod.operations import create
    from pyenvmod.packages import installed

    moved = tmp_path / "theirs"
    snapshot = installed.snapshot

    def swap_then_snapshot(record, backend):
        os.rename(world.layout.envs_dir, moved)
        os.symlink(moved, world.layout.envs_dir)
        (moved / "swapped" / "theirs.txt").write_text("")
        os.chmod(moved / "swapped" / "theirs.txt", 0o666)
        return snapshot(record, backend)

    monkeypatch.setattr(installed, "snapshot", swap_then_snapshot)
    with pytest.raises(PyenvmodError) as info:
        create.create(world.config, _request(name="swapped"))
    assert info.value.message.startswith(f"refusing {world.layout.envs_dir}: it is a symlink"), info.value.message
    assert not os.path.lexists(world.layout.meta_file("swapped"))
    assert not os.path.lexists(world.layout.module_dir("swapped"))
    assert stat.S_IMODE(os.stat(moved / "swapped" / "theirs.txt").st_mode) == 0o666  # nothing done through it
