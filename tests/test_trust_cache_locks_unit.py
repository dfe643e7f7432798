"""Issue 22, holes 9 and 10, in-process: files in the user's cache folder are used only when they
are the user's own (private_files.read_own), and a key the site locked stays locked whatever the
user's cache or environment says (config.site_files, config._read_file).

The same attacks by a real second user are in test_trust_holes22.py. Ownership is varied with
chown, so these run as root (CI does)."""

import json
import os
from pathlib import Path

import pytest

from pyenvmod import config, config_cache
from pyenvmod.backends import pythons
from pyenvmod.trust import private_files
from pyenvmod.errors import PyenvmodError

ME, OTHER = 12345, 23456  # the user running pyenvmod (os.getuid is patched) and another one


@pytest.fixture
def as_me(tmp_path, monkeypatch):  # tmp_path first: pytest makes it with the real uid
    if os.geteuid() != 0:
        if os.environ.get("CI") == "true":
            pytest.fail("these tests chown files to other users: run them as root (CI does)")
        pytest.skip("needs root to chown")
    monkeypatch.setattr(os, "getuid", lambda: ME)


def _own_cache(tmp_path, name="config.json", text="{}", owner=ME, mode=0o600, folder_owner=ME, folder_mode=0o700):
    folder = tmp_path / "cache" / "pyenvmod"
    folder.mkdir(parents=True, exist_ok=True)
    os.chown(folder, folder_owner, folder_owner)
    folder.chmod(folder_mode)
    path = folder / name
    path.write_text(text)
    os.chown(path, owner, owner)
    path.chmod(mode)
    return path


def test_read_own_takes_the_users_private_file(as_me, tmp_path):
    path = _own_cache(tmp_path, text='{"a": 1}')
    assert private_files.read_own(path, 100, "cache") == b'{"a": 1}'
    with pytest.raises(FileNotFoundError):
        private_files.read_own(path.with_name("absent"), 100, "cache")


@pytest.mark.parametrize("change, fragment", [
    ({"owner": OTHER}, "belongs to uid 23456, not to you"),
    ({"mode": 0o620}, "writable by its group"),
    ({"mode": 0o606}, "writable by anyone"),
    ({"folder_owner": OTHER}, "belongs to uid 23456, not to you"),
    ({"folder_mode": 0o777}, "writable by anyone"),
])
def test_read_own_refuses_what_another_user_made_or_may_change(as_me, tmp_path, change, fragment):
    path = _own_cache(tmp_path, **change)
    with pytest.raises(PyenvmodError) as caught:
        private_files.read_own(path, 100, "configuration cache")
    assert fragment in str(caught.value) and "\n" not in str(caught.value)


def test_read_own_refuses_links_fifos_and_huge_files_without_blocking(as_me, tmp_path):
    path = _own_cache(tmp_path, text="x" * 101)
    with pytest.raises(PyenvmodError, match="larger than 100 bytes"):
        private_files.read_own(path, 100, "cache")
    link = path.with_name("link")
    link.symlink_to(path)
    with pytest.raises(PyenvmodError, match="symlink"):
        private_files.read_own(link, 1000, "cache")
    fifo = path.with_name("fifo")
    os.mkfifo(fifo)
    with pytest.raises(PyenvmodError, match="not a regular file"):
        private_files.read_own(fifo, 1000, "cache")


def test_a_sticky_shared_folder_holding_the_cache_is_fine(as_me, tmp_path):
    path = _own_cache(tmp_path, folder_owner=0, folder_mode=0o1777)
    assert private_files.read_own(path, 100, "cache") == b"{}"


def test_the_configuration_cache_of_another_user_is_ignored_and_not_written(as_me, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    planted = {"/etc/u.yaml": {"text": "t", "entries": [["lmod_cache_update", "touch /tmp/owned", "x:1"]]}}
    path = _own_cache(tmp_path, text=json.dumps(planted), owner=OTHER, folder_owner=OTHER, folder_mode=0o755)
    assert config_cache.entries("/etc/u.yaml", "t") is None
    config_cache.keep("/etc/mine.yaml", "kernel: true\n", [("kernel", True, "/etc/mine.yaml:1")])
    assert json.loads(path.read_text()) == planted  # nothing of ours went into their folder
    # the same file, ours: used
    os.chown(path, ME, ME)
    os.chown(path.parent, ME, ME)
    assert config_cache.entries("/etc/u.yaml", "t") == [("lmod_cache_update", "touch /tmp/owned", "x:1")]


def test_the_interpreter_cache_of_another_user_is_ignored(as_me, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    real = os.path.realpath("/usr/bin/python3")  # a base interpreter: its probe is cached
    key = pythons._cache_key(real)
    assert key is not None
    planted = {key: {"executable": "/tmp/planted/python3", "version": "3.99.0"}}
    path = _own_cache(tmp_path, name="pythons.json", text=json.dumps(planted), owner=OTHER)
    info = pythons.probe(real)
    assert info.executable != "/tmp/planted/python3" and info.version != "3.99.0"
    assert json.loads(path.read_text())[key] == {"executable": info.executable, "version": info.version}
    path.write_text(json.dumps(planted))
    os.chown(path, ME, ME)  # ours: its answer is taken (the cache still works)
    assert pythons.probe(real).version == "3.99.0"


# --- hole 10: locks ---------------------------------------------------------------------------------

SITE = "allowed_sources: [pypi]\nlocked: [allowed_sources]\n"


@pytest.fixture
def fixed_site(tmp_path, monkeypatch):
    """The site's fixed file (SITE_FILE) locking allowed_sources, and the user's own cache folder."""
    site = tmp_path / "etc" / "config.yaml"
    site.parent.mkdir()
    site.write_text(SITE)
    monkeypatch.setattr(config, "SITE_FILE", str(site))
    monkeypatch.delenv("PYENVMOD_SITE_CONFIG", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    return site


def test_a_forged_cache_entry_for_the_site_file_does_not_drop_a_lock(fixed_site):
    loaded = config.load()
    assert loaded["allowed_sources"] == ["pypi"] and "allowed_sources" in loaded.locked
    # the user writes an entry for the site file's very text that leaves the lock out
    forged = {str(fixed_site): {"text": SITE, "entries": [["allowed_sources", ["anything"], f"{fixed_site}:1"]]}}
    config_cache.cache_file().parent.mkdir(parents=True, exist_ok=True)
    config_cache.cache_file().write_text(json.dumps(forged))
    config_cache.cache_file().chmod(0o600)
    loaded = config.load()
    assert loaded["allowed_sources"] == ["pypi"] and "allowed_sources" in loaded.locked


def test_a_lock_spelled_with_an_escape_is_not_taken_from_the_cache_either(fixed_site):
    text = 'allowed_sources: [pypi]\n"lock\\x65d": [allowed_sources]\n'
    fixed_site.write_text(text)
    assert "allowed_sources" in config.load().locked
    forged = {str(fixed_site): {"text": text, "entries": [["allowed_sources", ["x"], f"{fixed_site}:1"]]}}
    config_cache.cache_file().parent.mkdir(parents=True, exist_ok=True)
    config_cache.cache_file().write_text(json.dumps(forged))
    assert "allowed_sources" in config.load().locked


def test_a_site_file_that_locks_nothing_is_still_cached(fixed_site):
    fixed_site.write_text("kernel: true\n")
    config.load()
    assert config_cache.entries(fixed_site, "kernel: true\n") == [("kernel", True, f"{fixed_site}:1")]


@pytest.mark.parametrize("override", ["/nonexistent/config.yaml", "EMPTY"])
def test_the_site_config_variable_cannot_drop_the_fixed_site_file(fixed_site, monkeypatch, tmp_path, override):
    if override == "EMPTY":
        override = str(tmp_path / "empty.yaml")
        Path(override).write_text("kernel: true\n")
    monkeypatch.setenv("PYENVMOD_SITE_CONFIG", override)
    loaded = config.load()
    assert loaded["allowed_sources"] == ["pypi"] and loaded.locked["allowed_sources"] == f"{fixed_site}:2"


def test_the_site_config_variable_adds_a_file_that_may_lock_more_but_not_unlock(fixed_site, monkeypatch, tmp_path):
    extra = tmp_path / "test-site.yaml"
    extra.write_text("backend: venv\nlocked: [backend]\n")
    monkeypatch.setenv("PYENVMOD_SITE_CONFIG", str(extra))
    loaded = config.load()
    assert loaded["backend"] == "venv" and set(loaded.locked) == {"allowed_sources", "backend"}
    extra.write_text("allowed_sources: [anything]\n")
    with pytest.raises(PyenvmodError, match="'allowed_sources' is locked by the site"):
        config.load()


def test_the_site_files_are_the_fixed_ones_then_the_variables(monkeypatch, tmp_path):
    import sys

    monkeypatch.delenv("PYENVMOD_SITE_CONFIG", raising=False)
    fixed = [Path(config.SITE_FILE), Path(sys.prefix) / "etc" / "pyenvmod" / "config.yaml"]
    assert config.site_files() == fixed
    monkeypatch.setenv("PYENVMOD_SITE_CONFIG", str(tmp_path / "x.yaml"))
    assert config.site_files() == [*fixed, tmp_path / "x.yaml"]
    monkeypatch.setenv("PYENVMOD_SITE_CONFIG", config.SITE_FILE)
    assert config.site_files() == fixed


@pytest.mark.parametrize("owner, mode, expected", [
    (ME, 0o700, True), (0, 0o755, True), (OTHER, 0o700, False), (ME, 0o770, False), (ME, 0o703, False),
])
def test_a_cache_is_written_only_into_a_folder_of_the_users_that_others_cannot_write(as_me, tmp_path, owner,
                                                                                      mode, expected):
    folder = tmp_path / "cache"
    folder.mkdir()
    os.chown(folder, owner, owner)
    folder.chmod(mode)
    assert private_files.own_folder(folder, "cache folder") is expected
    assert private_files.own_folder(tmp_path / "absent", "cache folder") is False


def test_read_own_takes_exactly_its_cap_and_says_each_refusal_word_for_word(as_me, tmp_path):
    path = _own_cache(tmp_path, text="x" * 100)
    assert private_files.read_own(path, 100, "cache") == b"x" * 100  # the cap itself is fine

    def refusal(target, limit=100):
        with pytest.raises(PyenvmodError) as caught:
            private_files.read_own(target, limit, "cache")
        return str(caught.value)

    assert refusal(path, 99) == f"the cache {path} is larger than 99 bytes; remove it"
    link = path.with_name("link")
    link.symlink_to(path)
    assert refusal(link) == f"the cache {link} is a symlink; pyenvmod does not follow it: remove it"
    fifo = path.with_name("fifo")
    os.mkfifo(fifo)
    assert refusal(fifo) == f"the cache {fifo} is not a regular file; remove it"
    os.chown(path, OTHER, OTHER)
    assert refusal(path) == (f"the cache {path} belongs to uid {OTHER}, not to you: pyenvmod does not use what "
                             "others put in your cache; remove it, or set XDG_CACHE_HOME to a folder of your own")
    os.chown(path, 0, 0)  # root's: fine
    assert private_files.read_own(path, 100, "cache") == b"x" * 100
    os.chown(path, ME, ME)
    path.chmod(0o620)
    assert refusal(path) == (f"the cache {path} is writable by its group (mode 0620), so others could change "
                             f"what pyenvmod does; make it private: rm {path}")
    path.chmod(0o600)
    os.chown(path.parent, OTHER, OTHER)
    assert refusal(path) == (f"the folder of the cache {path.parent} belongs to uid {OTHER}, not to you: pyenvmod "
                             "does not use what others put in your cache; remove it, or set XDG_CACHE_HOME to a "
                             "folder of your own")
    os.chown(path.parent, ME, ME)
    path.parent.chmod(0o777)
    assert refusal(path) == (f"the folder {path.parent} holding the cache is writable by anyone (mode 0777), so "
                             f"others could change what pyenvmod does; make it private: chmod go-w {path.parent}")


def test_read_own_caps_a_file_whose_size_is_not_known(as_me):
    """/proc files say they are empty: the cap holds for what is read, not only for the size."""
    with pytest.raises(PyenvmodError) as caught:
        private_files.read_own("/proc/self/status", 10, "cache")
    assert str(caught.value) == "the cache /proc/self/status is larger than 10 bytes; remove it"
