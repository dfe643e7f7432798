"""Issue 23, 'pyenvmod list' in-process (operations/listing.py; mutmut credits only calls made in the test
process): on a private tree with real small environments, each kind of entry a user sees (ok, broken,
incomplete, being created), its problems, the fix printed beside each, and the JSON of --json."""

import fcntl
import json
import os
import shutil
import subprocess
import sys

import pytest

from guardenv import MM, PYTHON, World
from pyenvmod.records import registry


@pytest.fixture
def world(tmp_path, monkeypatch) -> World:
    return World(tmp_path, monkeypatch)


def _with_modulefiles(world, record):
    from pyenvmod.modules import modulefiles
    from pyenvmod.operations.common import write_modulefiles

    write_modulefiles(world.layout, record, modulefiles.options_from(world.config))
    return record


def _entries(world) -> dict:
    from pyenvmod.operations import listing

    return {e.name: e for e in listing.entries(world.config)}


def test_a_healthy_environment_is_ok_and_its_json_has_every_field(world):
    base = _with_modulefiles(world, world.make("base", description="the base"))
    child = _with_modulefiles(world, world.make("child", extends=base, modules=["gcc/12"]))
    found = _entries(world)
    assert list(found) == ["base", "child"]
    entry = found["child"]
    assert (entry.state, entry.problems, entry.fixes) == ("ok", [], [])
    data = entry.as_dict()
    assert data == {"name": "child", "prefix": child.prefix, "python": PYTHON, "backend": "venv",
                    "module": f"pyenv/child/py{MM}", "created": "2026-01-01T00:00:00+00:00",
                    "description": child.description, "owner": child.owner, "base_python": sys.executable,
                    "platform": world.layout.platform, "extends": "base", "modules": ["gcc/12"], "kernels": [],
                    "health": "ok", "problems": [], "fixes": []}
    json.dumps(data)  # what --json prints
    assert found["base"].as_dict()["extends"] is None and found["base"].as_dict()["description"] == "the base"


def test_an_entry_without_a_record_has_empty_fields_in_json(world):
    (world.layout.envs_dir / "left").mkdir()
    data = _entries(world)["left"].as_dict()
    assert {k: data[k] for k in ("name", "prefix", "python", "backend", "module", "created")} == {
        "name": "left", "prefix": None, "python": None, "backend": None, "module": None, "created": None}
    assert data["health"] == "incomplete" and data["fixes"] == ["pyenvmod delete left"]
    assert "description" not in data and "extends" not in data


def test_a_leftover_folder_is_incomplete_and_says_how_to_remove_it(world):
    (world.layout.envs_dir / "left").mkdir()
    _with_modulefiles(world, world.make("next"))  # listed after it
    assert [(n, e.state) for n, e in _entries(world).items()] == [("left", "incomplete"), ("next", "ok")]
    entry = _entries(world)["left"]
    assert entry.record is None and entry.state == "incomplete"
    assert entry.problems == [f"leftover of an interrupted create at {world.layout.prefix('left')}; "
                              "'pyenvmod delete left' removes it"]


def test_a_folder_whose_lock_is_held_is_being_created(world):
    (world.layout.envs_dir / "busy").mkdir()
    world.tree.ensure()
    lock = world.layout.lock_file("busy")
    fd = os.open(lock, os.O_CREAT | os.O_RDWR, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        entry = _entries(world)["busy"]
        assert (entry.state, entry.problems, entry.fixes) == (
            "creating", ["being created or changed by another process"], ["wait for it to finish"])
    finally:
        os.close(fd)
    assert _entries(world)["busy"].state == "incomplete"  # released: a leftover


def test_a_name_pyenvmod_would_not_make_is_broken_and_never_touched(world):
    (world.layout.envs_dir / "bad name").mkdir()
    world.layout.meta_file("two words").write_text("{}")
    (world.layout.envs_dir / "two words").mkdir()
    found = _entries(world)
    from pyenvmod.records import names

    entry = found["bad name"]
    assert entry.state == "broken" and entry.record is None
    assert entry.problems == [f"not a valid environment name ({names.RULE}); pyenvmod does not touch it: "
                              f"remove it by hand (rm -r '{world.layout.prefix('bad name')}')"]
    assert entry.fixes == ["remove it by hand (the message names what to remove)"]
    # both its metadata and its folder are named, metadata first
    assert found["two words"].problems[0].endswith(
        f"(rm -r '{world.layout.meta_file('two words')}' '{world.layout.prefix('two words')}')")
    assert os.path.isdir(world.layout.prefix("bad name"))


def test_a_damaged_metadata_file_is_one_broken_entry_and_the_others_are_listed(world):
    _with_modulefiles(world, world.make("a"))
    _with_modulefiles(world, world.make("c"))
    world.layout.meta_file("b").write_text("{not json")
    found = _entries(world)
    assert [(n, e.state) for n, e in found.items()] == [("a", "ok"), ("b", "broken"), ("c", "ok")]
    problem = found["b"].problems[0]
    assert problem.startswith(f"metadata file {world.layout.meta_file('b')}")
    assert found["b"].fixes == ["repair the file by hand, or delete it and run pyenvmod doctor --fix"]


def test_a_metadata_file_that_cannot_be_opened_is_named_with_the_reason(world):
    _with_modulefiles(world, world.make("a"))
    meta = world.layout.meta_file("a")
    os.unlink(meta)
    os.symlink(world.tmp_path / "nowhere.json", meta)  # a link is never followed
    entry = _entries(world)["a"]
    assert entry.state == "broken" and entry.problems[0].startswith(f"metadata file {meta}")


def test_a_missing_folder_and_a_missing_interpreter_are_told_apart(world):
    gone = _with_modulefiles(world, world.make("gone"))
    nopy = _with_modulefiles(world, world.make("nopy"))
    shutil.rmtree(gone.prefix)
    os.unlink(os.path.join(nopy.prefix, "bin", "python"))
    found = _entries(world)
    assert found["gone"].problems[0] == f"environment folder {gone.prefix} is missing"
    assert found["nopy"].problems == [f"interpreter missing (was {sys.executable} removed?)"]
    assert found["nopy"].state == found["gone"].state == "broken"
    for entry in (found["gone"], found["nopy"]):
        assert entry.fixes[0] == (f"recreate it from an export (pyenvmod create {entry.name} --file FILE), or "
                                  f"pyenvmod delete {entry.name}; pyenvmod doctor --fix removes its modulefiles")


def test_an_environment_whose_base_is_gone_says_so(world):
    base = _with_modulefiles(world, world.make("base"))
    _with_modulefiles(world, world.make("child", extends=base))
    os.unlink(os.path.join(base.prefix, "bin", "python"))
    entry = _entries(world)["child"]
    assert entry.state == "broken"
    assert entry.problems == [f"its base environment 'base' at {base.prefix} is gone"]
    assert entry.fixes == ["recreate the base, or pyenvmod delete child"]


def test_missing_modulefiles_and_kernels_are_problems_with_their_fixes(world, tmp_path):
    world.make("a")  # no modulefiles written
    entry = _entries(world)["a"]
    assert entry.state == "broken" and entry.problems and all("modulefile" in p for p in entry.problems)
    assert set(entry.fixes) == {"pyenvmod module a   (writes its modulefiles again)"}
    record = _with_modulefiles(world, registry.record(world.tree, "a"))
    record.kernels = [str(tmp_path / "kernels" / "pyenv-a")]
    registry.write(world.tree, record)
    entry = _entries(world)["a"]
    assert entry.problems == [f"kernel {tmp_path / 'kernels' / 'pyenv-a'} is missing"]
    assert entry.fixes == ["pyenvmod kernel a   (or pyenvmod kernel a --remove)"]


def test_the_fix_of_each_kind_of_problem_is_chosen_by_its_kind_not_its_words(world):
    from pyenvmod.operations.listing import Problem, fix_for

    def fix(kind, text="x"):
        return fix_for("x", Problem(kind, text))

    assert fix("an unknown kind", "kernel /k is missing") == "pyenvmod doctor explains it"
    assert fix("busy") == "wait for it to finish"
    assert fix("folder") == fix("interpreter") == ("recreate it from an export (pyenvmod create x --file FILE), or "
                                                   "pyenvmod delete x; pyenvmod doctor --fix removes its modulefiles")
    assert fix("modulefiles", "environment folder /p is missing") == "pyenvmod module x   (writes its modulefiles again)"
    assert fix("kernel") == "pyenvmod kernel x   (or pyenvmod kernel x --remove)"
    assert fix("base") == "recreate the base, or pyenvmod delete x"
    assert fix("leftover") == "pyenvmod delete x"
    assert fix("metadata") == "repair the file by hand, or delete it and run pyenvmod doctor --fix"
    assert fix("name") == "remove it by hand (the message names what to remove)"


@pytest.mark.parametrize("name", ["kernel-dev", "my-modulefiles"])
def test_the_fix_follows_the_problem_not_the_words_of_a_name_or_path_in_it(world, name):
    """A name (or a folder on the way) that holds the words of another problem's fix does not pick that fix:
    'kernel-dev' with its folder gone must be recreated, not given a kernel."""
    _with_modulefiles(world, world.make(name))
    shutil.rmtree(world.layout.prefix(name))
    entry = _entries(world)[name]
    assert entry.problems == [f"environment folder {world.layout.prefix(name)} is missing"]
    assert entry.fixes == [f"recreate it from an export (pyenvmod create {name} --file FILE), or pyenvmod delete "
                           f"{name}; pyenvmod doctor --fix removes its modulefiles"]


def test_only_the_modulefile_formats_the_site_chose_are_checked(world):
    world.config.set("formats", ["lua"], "test")
    _with_modulefiles(world, world.make("a"))  # written: lua only
    assert _entries(world)["a"].problems == []
    world.config.set("formats", ["lua", "tcl"], "test")
    assert _entries(world)["a"].problems == ["tcl modulefile missing"]
