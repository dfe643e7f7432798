"""Issue 23, operations/create.py in-process, second part: what a create made is removed again when a
late step fails (its history, its registration: no modulefile left pointing at nothing), a spec's
modules loaded with a real Lmod and recorded, a package a module provides not installed again, the
values a plan takes from the configuration, and a create in a group tree. Real small environments
(uv offline, local wheels) on a private tree under tmp_path."""

import os
import re
import shutil
import subprocess
import sys

import pytest

from guardenv import MM, World
from modsys import Lmod, require
from test_operations_unit import _nothing_made, _request, _wheel
from pyenvmod.errors import PyenvmodError
from pyenvmod.records import history, registry


@pytest.fixture
def world(tmp_path, monkeypatch) -> World:
    return World(tmp_path, monkeypatch)


def _immutable(path):
    """chattr +i (root cannot change the folder either); skipped where the filesystem has no such flag."""
    require(shutil.which("chattr") is not None and os.geteuid() == 0, "chattr as root", "run the tests as root")
    if subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode != 0:
        pytest.skip("this filesystem has no immutable flag")


def _mutable(path):
    subprocess.run(["chattr", "-i", str(path)], capture_output=True)


def test_a_create_that_cannot_write_its_history_leaves_no_modulefile_nor_folder(world, tmp_path):
    from pyenvmod.operations import create

    histories = world.layout.history_dir("x").parent
    histories.mkdir(parents=True, exist_ok=True)
    _immutable(histories)
    try:
        with pytest.raises(OSError):
            create.create(world.config, _request(name="late", packages=[_wheel(tmp_path / "w", "tinypkg")]))
    finally:
        _mutable(histories)
    _nothing_made(world, "late")
    assert not os.path.lexists(world.layout.activate_dir("late"))


def test_a_create_at_a_prefix_that_cannot_register_leaves_the_folder_empty_and_nothing_else(world, tmp_path):
    """Its registration is the last step: the history and modulefiles written before it are removed again,
    and the user's folder is left as it was (there, empty)."""
    from pyenvmod.operations import create

    folder = tmp_path / "mine"
    folder.mkdir(mode=0o755)
    meta = world.layout.meta_dir
    _immutable(meta)
    said = []
    try:
        with pytest.raises(OSError):
            create.create(world.config, _request(name="ext", location=str(folder)), said.append)
    finally:
        _mutable(meta)
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


def test_a_specs_modules_are_loaded_recorded_and_what_they_provide_not_installed(world, lmod, tmp_path):
    from pyenvmod.operations import create
    from pyenvmod.packages import spec as spec_mod

    path = tmp_path / "environment.yml"
    path.write_text("dependencies:\n  - pip:\n    - tinypkg\npyenvmod:\n  modules: [bundle/1]\n")
    said = []
    record = create.create(world.config, _request(name="mods", spec=spec_mod.read(str(path))), said.append)
    assert said[0] == "loading bundle/1 with Lmod before building"
    assert "tinypkg 1.0 comes from the module bundle/1: not installed again" in said
    assert not any(s.startswith("installing") for s in said)  # nothing left to install
    assert os.environ["LOADEDMODULES"].split(":") == ["bundle/1"]
    assert record.modules == ["bundle/1"]
    assert record.module_paths == [str(lmod)] and record.module_files == [str(lmod / "bundle" / "1.lua")]
    assert "tinypkg" not in record.packages  # the module's, not the environment's
    assert not list(world.site(record.prefix).glob("tinypkg*"))


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
    record = create.create(world.config, _request(name="ours", no_binary=["idna", "six"]))
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", record.created)
    assert record.pyenvmod_version == __version__ and record.owner
    assert record.no_binary == ["six", "idna"] and record.channels == [] and record.mpi is None
    assert (record.modules, record.module_paths, record.module_files) == ([], [], [])
    assert registry.record(world.tree, "ours") == record
    entries = history.entries(world.layout, "ours")
    assert len(entries) == 1 and entries[0]["action"] == "create" and entries[0]["args"] == []
    python = os.path.join(record.prefix, "bin", "python")
    assert os.stat(record.prefix).st_gid == other_gid
    assert os.lstat(python).st_gid == other_gid or os.stat(python).st_gid == other_gid
    cfg = os.stat(os.path.join(record.prefix, "pyvenv.cfg"))
    assert cfg.st_gid == other_gid and cfg.st_mode & 0o060 == 0o060
    assert record.module == f"pyenv/ours/py{MM}"
