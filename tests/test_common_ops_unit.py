"""Issue 23, operations/common.py in-process: the launchers written beside the modulefiles, a record
loaded by name, and the change made outside pyenvmod that a reading command records (or says it
could not), on a private tree with real small environments (``venv --without-pip``)."""

import os

import pytest

from guardenv import World
from pyenvmod.errors import PyenvmodError
from pyenvmod.records import history, registry


@pytest.fixture
def world(tmp_path, monkeypatch) -> World:
    return World(tmp_path, monkeypatch)


def _dist(site, name, version):
    """A whole distribution (METADATA, a module, a RECORD listing both), as an install outside pyenvmod leaves."""
    folder = site / f"{name}-{version}.dist-info"
    folder.mkdir(parents=True)
    (folder / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    (site / f"{name}.py").write_text("")
    (folder / "RECORD").write_text(f"{name}.py,,\n{folder.name}/METADATA,,\n{folder.name}/RECORD,,\n")


def test_write_modulefiles_writes_the_launchers_with_the_configured_stage_folder(world, tmp_path):
    from pyenvmod.modules import modulefiles
    from pyenvmod.operations import common
    from pyenvmod.staging import launchers

    record = world.make("withlaunchers")
    world.config.set("formats", ["lua", "bash"], "test")  # the configured formats, not the default ones
    written = common.write_modulefiles(world.layout, record, modulefiles.options_from(world.config))
    assert written and all(p.is_file() for p in written)
    assert sorted(p.parent for p in written) == [world.layout.activate_dir("withlaunchers"),
                                                 world.layout.module_dir("withlaunchers")]
    folder = launchers.launcher_dir(world.layout, "withlaunchers")
    python = folder / "python"
    assert python.is_file() and os.access(python, os.X_OK)
    assert str(tmp_path / "local") in python.read_text()  # PYENVMOD_STAGE_DIR, the node-local folder


def test_load_record_checks_the_name_and_says_when_there_is_none(world):
    from pyenvmod.operations import common

    world.make("present")
    assert common.load_record(world.layout, "present").name == "present"
    with pytest.raises(PyenvmodError) as info:
        common.load_record(world.layout, "../present")
    assert "../present" in info.value.message and "no environment named" not in info.value.message
    with pytest.raises(PyenvmodError) as info:
        common.load_record(world.layout, "presnt")
    assert info.value.message == (f"no environment named 'presnt' under {world.layout.base}; did you mean "
                                  "'present'? see 'pyenvmod list'")


def test_reconcile_now_records_a_change_made_outside_once(world):
    from pyenvmod.operations import common

    record = world.make("e")
    said = []
    assert common.reconcile_now(world.config, world.layout, "e", said.append) == []  # nothing changed
    assert said == [] and [x["action"] for x in history.entries(world.layout, "e")] == []
    _dist(world.site(record.prefix), "handmade", "1.2")
    lines = common.reconcile_now(world.config, world.layout, "e", said.append)
    assert lines == ["added handmade 1.2"]
    assert said == ["'e' was changed outside pyenvmod since its last change (recorded in its history): "
                    "added handmade 1.2"]
    after = registry.record(world.tree, "e")
    assert after.packages == {"handmade": "1.2"} and after.requested == ["handmade"]
    assert [x["action"] for x in history.entries(world.layout, "e")] == ["outside"]
    said.clear()
    assert common.reconcile_now(world.config, world.layout, "e", said.append) == [] and said == []


def test_reconcile_now_warns_when_the_change_cannot_be_recorded(world):
    from pyenvmod.operations import common
    from pyenvmod.trust import locking

    record = world.make("e")
    _dist(world.site(record.prefix), "handmade", "1.2")
    world.config.set("lock_timeout", 0, "test")
    said = []
    lock = world.layout.lock_file("e")
    with locking.locked(lock, 5, "the test"):  # another command holds the environment
        assert common.reconcile_now(world.config, world.layout, "e", said.append) == []
    assert len(said) == 1
    assert said[0].startswith("warning: 'e' was changed outside pyenvmod, but that could not be recorded: "
                              "environment 'e' is busy: ")
    assert str(lock) in said[0]
    assert registry.record(world.tree, "e").packages == {}  # nothing recorded
    assert history.entries(world.layout, "e") == []
    # a lock that cannot be opened at all (an OSError, not pyenvmod's own error)
    said.clear()
    lock.unlink()
    lock.mkdir()
    assert common.reconcile_now(world.config, world.layout, "e", said.append) == []
    assert len(said) == 1 and said[0].startswith("warning: 'e' was changed outside pyenvmod, but that could not "
                                                 "be recorded: ")
    assert "None" not in said[0] and said[0] != ("warning: 'e' was changed outside pyenvmod, but that could not "
                                                 "be recorded: ")


def test_read_condarc_reads_utf8_whatever_the_locale(tmp_path, monkeypatch):
    import locale

    from pyenvmod.operations.common import read_condarc

    path = tmp_path / "rc"
    path.write_text("channels: [café]\n", encoding="utf-8")
    monkeypatch.setenv("CONDARC", str(path))
    saved = locale.setlocale(locale.LC_CTYPE)
    locale.setlocale(locale.LC_CTYPE, "C")  # an ASCII locale, as a batch job's may be
    try:
        assert read_condarc() == {"channels": ["café"]}
    finally:
        locale.setlocale(locale.LC_CTYPE, saved)


def test_read_condarc_reads_its_first_megabyte_and_caps_what_aliases_expand_to(tmp_path, monkeypatch):
    from pyenvmod.operations.common import read_condarc

    path = tmp_path / "rc"
    monkeypatch.setenv("CONDARC", str(path))
    # what comes after the first 1,000,000 characters is not read: here, a setting after a long comment
    path.write_text("#" * 999_999 + "\n" + "channel_priority: strict\n")
    assert read_condarc() == {}
    # a mapping of one list of n values stands for n + 3 values; more than 10,000 is refused
    path.write_text("channels: [" + ", ".join(["a"] * 9_997) + "]\n")
    assert read_condarc() == {"channels": ["a"] * 9_997}
    path.write_text("channels: [" + ", ".join(["a"] * 9_998) + "]\n")
    with pytest.raises(PyenvmodError) as info:
        read_condarc()
    assert info.value.message == (f"{path}: the YAML expands to more than 10000 values (aliases repeated inside "
                                  "each other?); write the values out without '*' aliases")


def test_an_unknown_name_suggests_at_most_three_close_names(world):
    from pyenvmod.operations import common

    for name in ("proj1", "proj2", "proj3", "proj4"):
        registry.write(world.tree, world.record(name))
    message = common.unknown_name(world.layout, "proj").message
    suggested = message.split("did you mean ", 1)[1].split("? ", 1)[0].split(" or ")
    assert len(suggested) == 3 and set(suggested) < {"'proj1'", "'proj2'", "'proj3'", "'proj4'"}


def test_backend_for_conda_gives_its_helpers_the_configured_caches(world, tmp_path):
    from pyenvmod.operations import common

    world.config.set("cache_dir", str(tmp_path / "caches"), "test")
    conda = common.backend_for(world.config, "conda", ["x"])
    assert conda.env["PIP_CACHE_DIR"] == str(tmp_path / "caches" / "pip")  # pip inside a conda environment
    assert conda.pkgs_dir == str(tmp_path / "caches" / "conda-pkgs")
