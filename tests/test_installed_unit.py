"""What is installed, read from real dist-info folders (packages/installed.py), and a change made by
hand recorded as its own history entry (outside.reconcile): in-process, on a real small venv in a
private tree (guardenv.World), no uv or pip run."""

import json

import pytest

from guardenv import PYTHON, World
from test_guards_installed import dist

from pyenvmod.records import registry
from pyenvmod import backends
from pyenvmod.packages import installed, outside
from pyenvmod.records import history, metadata


def direct_url(folder, data):
    (folder / "direct_url.json").write_text(data if isinstance(data, str) else json.dumps(data))


def test_dist_name_is_the_canonical_project_name_of_the_folder(tmp_path):
    assert installed.dist_name(tmp_path / "Foo_Bar.Baz-1.0.dist-info") == "foo-bar-baz"
    assert installed.dist_name(tmp_path / "name_with-dash-2.0rc1.dist-info") == "name-with-dash"


def test_direct_sources_name_the_url_or_the_commit(tmp_path):
    prefix = tmp_path / "env"
    from pyenvmod.modules import stacking

    site = stacking.site_packages(str(prefix), PYTHON)
    direct_url(dist(site, "Local_Tool", "1.0"), {"url": "file:///src/tool", "dir_info": {}})
    direct_url(dist(site, "gitpkg", "0.1"), {"url": "https://example.org/g.git",
                                               "vcs_info": {"vcs": "git", "commit_id": "abc123"}})
    direct_url(dist(site, "broken", "1"), "{not json")
    direct_url(dist(site, "nourl", "1"), {"dir_info": {}})
    direct_url(dist(site, "badvcs", "1"), {"url": "https://x", "vcs_info": {"vcs": "git"}})
    direct_url(dist(site, "listed", "1"), [1, 2])
    dist(site, "plain", "1")
    assert installed.direct_sources(prefix, PYTHON) == {
        "local-tool": "local-tool @ file:///src/tool",
        "gitpkg": "gitpkg @ git+https://example.org/g.git@abc123",
    }


def test_pins_rebuild_the_set_from_sources_or_exact_versions():
    packages = {"Zeta": "1.0", "pip": "24.0", "alpha": "2.0", "Local_Tool": "1.0"}
    sources = {"local-tool": "local-tool @ file:///src/tool"}
    assert installed.pins(packages, sources) == ["local-tool @ file:///src/tool", "Zeta==1.0", "alpha==2.0"]
    assert installed.pins({"pip": "24.0", "a": "1"}, {}, skip=()) == ["a==1", "pip==24.0"]


def test_dist_versions_and_the_backends_listing_read_the_metadata(tmp_path):
    prefix = tmp_path / "env"
    from pyenvmod.modules import stacking

    site = stacking.site_packages(str(prefix), PYTHON)
    dist(site, "Requests", "2.32.3")
    dist(site, "idna", "3.10")
    assert installed.dist_versions(prefix) == {"Requests": "2.32.3", "idna": "3.10"}
    assert list(installed.dist_versions(prefix)) == ["Requests", "idna"]
    assert installed.locked_set(backends.get("uv", {}), prefix) == {"idna": "3.10", "requests": "2.32.3"}
    assert installed.locked_set(backends.get("venv", {}), prefix) == {"Requests": "2.32.3", "idna": "3.10"}
    record = metadata.EnvRecord(name="e", prefix=str(prefix), python=PYTHON, base_python="", backend="venv",
                                module="pyenv/e/py3", created="", owner="", platform="p", packages={"x": "1"},
                                sources={"x": "x @ file:///old"})
    direct_url(site / "idna-3.10.dist-info", {"url": "file:///src/idna"})
    installed.snapshot(record, backends.get("venv", {}))
    assert record.packages == {"Requests": "2.32.3", "idna": "3.10"}
    assert record.sources == {"idna": "idna @ file:///src/idna"}


# ---- a change made by hand ------------------------------------------------------------------------

@pytest.fixture
def world(tmp_path, monkeypatch):
    world = World(tmp_path, monkeypatch)
    record = world.make("e", packages={"idna": "3.10", "six": "1.16.0", "keep": "1.0"},
                        requested=["six>=1", "keep", "Extra-Thing"])
    site = world.site(record.prefix)
    for name, version in record.packages.items():
        dist(site, name, version, files=[f"{name}/__init__.py"])
    world.e = registry.record(world.tree, "e")
    world.e_site = site
    return world


def reconcile(world, record):
    told = []
    lines = outside.reconcile(world.config, world.layout, record, backends.get("venv", {}), told.append)
    return lines, told


def test_nothing_changed_by_hand_records_nothing(world):
    before = history.entries(world.layout, "e")
    assert reconcile(world, world.e) == ([], [])
    assert history.entries(world.layout, "e") == before


def test_a_change_by_hand_is_its_own_history_entry_and_what_was_asked_for_counts_as_requested(world):
    import shutil

    site = world.e_site
    shutil.rmtree(site / "six-1.16.0.dist-info")
    shutil.rmtree(site / "idna-3.10.dist-info")
    dist(site, "idna", "3.11", files=["idna/__init__.py"])
    dist(site, "requests", "2.32.3", "idna", "charset-normalizer", files=["requests/__init__.py"])
    dist(site, "charset_normalizer", "3.4.0", files=["charset_normalizer/__init__.py"])
    dist(site, "pip", "24.0", files=["pip/__init__.py"])
    direct_url(dist(site, "Local_Tool", "1.0", files=["local_tool/__init__.py"]), {"url": "file:///src/tool"})
    old_updated = world.e.updated
    lines, told = reconcile(world, world.e)
    assert lines == ["added charset-normalizer 3.4.0", "idna 3.10 -> 3.11", "added local-tool 1.0", "added pip 24.0",
                     "added requests 2.32.3", "removed six 1.16.0"]
    assert told == ["'e' was changed outside pyenvmod since its last change (recorded in its history): "
                    + ", ".join(lines)]
    stored = registry.record(world.tree, "e")
    # requested: what nothing else needs, not pip; six is gone from it; a folder's package by its URL
    assert stored.requested == ["keep", "Extra-Thing", "local-tool @ file:///src/tool", "requests"]
    assert stored.packages == {"Local_Tool": "1.0", "charset_normalizer": "3.4.0", "idna": "3.11", "keep": "1.0",
                               "pip": "24.0", "requests": "2.32.3"}
    assert stored.sources == {"local-tool": "local-tool @ file:///src/tool"}
    assert stored.updated and stored.updated != old_updated
    last = history.entries(world.layout, "e")[-1]
    assert last["action"] == outside.ACTION == "outside"
    assert last["packages"] == stored.packages and last["requested"] == stored.requested
    assert last["sources"] == stored.sources
    assert reconcile(world, stored) == ([], [])  # recorded: the next command finds nothing new


def test_a_package_asked_for_already_is_not_requested_twice(world):
    dist(world.e_site, "extra_thing", "2.0", files=["extra_thing/__init__.py"])
    lines, _ = reconcile(world, world.e)
    assert lines == ["added extra-thing 2.0"]
    assert registry.record(world.tree, "e").requested == ["six>=1", "keep", "Extra-Thing"]


@pytest.mark.parametrize("kind", ["conda", "adopted"])
def test_conda_and_adopted_environments_are_never_reconciled(world, kind):
    dist(world.e_site, "newpkg", "1.0", files=["newpkg/__init__.py"])
    record = world.e
    if kind == "conda":
        record.backend = "conda"
    else:
        record.adopted = True
    assert outside.differences(record) is None
    assert reconcile(world, record) == ([], [])


def test_a_difference_in_spelling_only_is_no_change(world):
    record = world.e
    record.packages = {"IDNA": "3.10", "Six": "1.16.0", "keep": "1.0"}
    assert outside.differences(record) is None
    record.packages = {"idna": "3.10", "six": "1.16.0"}
    live, required = outside.differences(record)
    assert live == {"idna": "3.10", "six": "1.16.0", "keep": "1.0"} and required == {}


def test_describe_spells_each_kind_of_change():
    assert outside.describe({"A": "1.0", "b": "2", "c": "3"}, {"a": "1.0", "b": "2.1", "d": "4"}) == \
        ["b 2 -> 2.1", "removed c 3", "added d 4"]


def test_pins_skip_pip_and_go_on_with_the_names_after_it():
    assert installed.pins({"numpy": "2.0", "pip": "24.0", "six": "1.16.0"}, {}) == ["numpy==2.0", "six==1.16.0"]


def test_a_change_by_hand_writes_the_modulefiles_the_site_chose_and_a_utc_time(world):
    from pyenvmod.modules import modulefiles

    world.config.set("formats", ["lua"], "test")  # the site writes Lmod modulefiles only
    every = modulefiles.paths(world.layout, world.e, None)
    for path in every.values():
        path.unlink(missing_ok=True)
    dist(world.e_site, "newpkg", "1.0", files=["newpkg/__init__.py"])
    assert reconcile(world, world.e)[0] == ["added newpkg 1.0"]
    chosen = modulefiles.paths(world.layout, world.e, modulefiles.options_from(world.config))
    assert sorted(chosen) != sorted(every)  # the choice leaves some format out
    assert sorted(p for p in every.values() if p.exists()) == sorted(chosen.values())
    stored = registry.record(world.tree, "e")
    assert stored.updated.endswith("+00:00") and len(stored.updated) == 25  # UTC, to the second


def test_a_request_that_is_no_requirement_is_known_by_its_own_text():
    """A requested spec that packaging cannot read (a path, say) still has a name to compare."""
    assert outside._requested_name("Some_Tool") == "some-tool"
    assert outside._requested_name("My_Tools dir!") == "my-tools dir!"


def test_a_change_by_hand_leaves_the_launchers_running_the_copy_in_the_stage_folder_the_site_chose(tmp_path,
                                                                                                    monkeypatch):
    """A plain 'pip install', then 'pyenvmod stage' (a current image and copy in the configured stage folder),
    then a command that records the change: the launchers it writes again still find that copy."""
    import os
    import subprocess

    from test_pack_unit import _venv_on_fake_base
    from pyenvmod.operations import stage
    from pyenvmod.staging import launcher_dir

    world = World(tmp_path, monkeypatch)
    record, _base = _venv_on_fake_base(world)  # 'e', nothing recorded in it yet
    prefix = record.prefix
    site = world.site(prefix)
    dist(site, "where", "1.0", files=["../../../bin/where"])  # its program says which copy runs
    (site / "../../../bin/where").write_text('#!/bin/sh\necho "$0"\n')
    os.chmod(site / "../../../bin/where", 0o755)
    copy = stage.stage(world.config, "e")["copy"]
    monkeypatch.delenv("PYENVMOD_STAGE_DIR")  # from now on only the configuration names the folder
    (tmp_path / "elsewhere").mkdir()
    environ = {"PATH": "/usr/bin:/bin", "USER": os.environ.get("USER") or "root", "TMPDIR": str(tmp_path / "elsewhere")}

    def runs():
        return subprocess.run([str(launcher_dir(world.layout, "e") / "where")], env=environ, capture_output=True,
                              text=True, check=True).stdout.strip()

    assert runs() == f"{copy}/env/bin/where"
    world.config.set("stage_dir", str(tmp_path / "local"), "test")
    told = []
    assert outside.reconcile(world.config, world.layout, registry.record(world.tree, "e"),
                             backends.get("venv", {}), told.append) == ["added where 1.0"]
    assert runs() == f"{copy}/env/bin/where"
