"""The parsed configuration files kept between commands (config_cache.py): a command whose
configuration file is unchanged does not import the YAML parser, gets the same settings with the
same origins, and everything else (a changed file, a tampered cache, values JSON cannot hold, a file
that became writable by others) is read the slow way or refused as before."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pyenvmod import config, config_cache

SHOW = ("import json, sys\nfrom pyenvmod import config\nc = config.load()\n"
        "print(json.dumps({'yaml': 'yaml' in sys.modules, 'values': c.values, 'origins': c.origins,"
        " 'locked': c.locked}))")


def show(env) -> dict:
    result = subprocess.run([sys.executable, "-c", SHOW], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture
def site(env, tmp_path) -> Path:
    path = Path(env["PYENVMOD_SITE_CONFIG"])
    path.write_text("backend: venv\nlock_timeout: 7\nno_binary: [mpi4py, h5py]\n")  # locks nothing
    path.chmod(0o644)
    env["XDG_CACHE_HOME"] = str(tmp_path / "cache")
    return path


def test_an_unchanged_file_is_read_without_the_yaml_parser(env, site, tmp_path):
    first = show(env)
    assert first["yaml"] is True
    assert first["values"]["backend"] == "venv" and first["values"]["no_binary"] == ["mpi4py", "h5py"]
    assert first["origins"]["lock_timeout"] == f"{site}:2" and first["locked"] == {}
    second = show(env)
    assert second["yaml"] is False
    assert {k: second[k] for k in ("values", "origins", "locked")} == {k: first[k] for k in ("values", "origins",
                                                                                             "locked")}
    cache = tmp_path / "cache" / "pyenvmod" / "config.json"
    assert cache.stat().st_mode & 0o777 == 0o600 and cache.parent.stat().st_mode & 0o777 == 0o700


def test_a_changed_file_is_parsed_again_even_with_the_same_size_and_time(env, site):
    show(env)
    stat = site.stat()
    site.write_text(site.read_text().replace("lock_timeout: 7", "lock_timeout: 8"))
    os.utime(site, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # same size, same time: only the text differs
    got = show(env)
    assert got["yaml"] is True and got["values"]["lock_timeout"] == 8


@pytest.mark.parametrize("tamper", [
    "not json",
    json.dumps(["a list"]),
    "{PATH: {\"text\": TEXT, \"entries\": \"not a list\"}}",
    "{PATH: {\"text\": TEXT, \"entries\": [[\"backend\", \"uv\"]]}}",  # an entry without its line
    "{PATH: {\"text\": \"other text\", \"entries\": [[\"backend\", \"uv\", \"x:1\"]]}}",
])
def test_a_cache_that_is_not_what_pyenvmod_wrote_is_ignored(env, site, tamper):
    show(env)
    cache = Path(env["XDG_CACHE_HOME"]) / "pyenvmod" / "config.json"
    cache.write_text(tamper.replace("PATH", json.dumps(str(site))).replace("TEXT", json.dumps(site.read_text())))
    got = show(env)
    assert got["yaml"] is True and got["values"]["backend"] == "venv"
    assert show(env)["yaml"] is False, "written again, right"


def test_a_cached_file_still_passes_the_trust_check(env, site):
    show(env)
    site.chmod(0o666)
    result = subprocess.run([sys.executable, "-c", SHOW], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0 and "configuration file" in result.stderr


def test_invalid_yaml_is_never_cached(env, site):
    site.write_text("backend: [unclosed\n")
    for _ in range(2):
        result = subprocess.run([sys.executable, "-c", SHOW], env=env, capture_output=True, text=True, timeout=60)
        assert result.returncode != 0 and "not valid YAML" in result.stderr
    assert not (Path(env["XDG_CACHE_HOME"]) / "pyenvmod" / "config.json").exists()


def test_values_json_cannot_hold_exactly_are_not_kept(tmp_path, monkeypatch):
    import datetime

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    config_cache.keep("/etc/a.yaml", "when: 2026-01-01\n", [("when", datetime.date(2026, 1, 1), "/etc/a.yaml:1")])
    config_cache.keep("/etc/b.yaml", "environment: {1: x}\n", [("environment", {1: "x"}, "/etc/b.yaml:1")])
    assert config_cache.entries("/etc/a.yaml", "when: 2026-01-01\n") is None
    assert config_cache.entries("/etc/b.yaml", "environment: {1: x}\n") is None
    config_cache.keep("/etc/c.yaml", "kernel: true\n", [("kernel", True, "/etc/c.yaml:1")])
    assert config_cache.entries("/etc/c.yaml", "kernel: true\n") == [("kernel", True, "/etc/c.yaml:1")]
    assert config_cache.entries("/etc/c.yaml", "kernel: false\n") is None


def test_only_the_newest_files_are_kept(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    for n in range(config_cache.KEPT + 3):
        config_cache.keep(f"/etc/{n}.yaml", "kernel: true\n", [("kernel", True, f"/etc/{n}.yaml:1")])
    kept = json.loads(config_cache.cache_file().read_text())
    assert list(kept) == [f"/etc/{n}.yaml" for n in range(3, config_cache.KEPT + 3)]


def test_a_cache_folder_that_cannot_be_written_costs_only_time(tmp_path, monkeypatch):
    blocker = tmp_path / "cache"
    blocker.write_text("a file where the folder would go")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    monkeypatch.setenv("PYENVMOD_SITE_CONFIG", str(tmp_path / "site.yaml"))
    (tmp_path / "site.yaml").write_text("lock_timeout: 9\n")
    assert config.load()["lock_timeout"] == 9


def test_a_symlinked_cache_is_not_read(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    elsewhere = tmp_path / "elsewhere.json"
    elsewhere.write_text(json.dumps({"/etc/x.yaml": {"text": "t", "entries": [["backend", "uv", "x:1"]]}}))
    config_cache.cache_file().parent.mkdir(parents=True)
    config_cache.cache_file().symlink_to(elsewhere)
    assert config_cache.entries("/etc/x.yaml", "t") is None


# --- in-process, where the mutation run can see them ------------------------------------------------

def test_the_cache_is_the_users_own_private_file(tmp_path, monkeypatch):
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert config_cache.cache_file() == tmp_path / ".cache" / "pyenvmod" / "config.json"
    config_cache.keep("/etc/a.yaml", "kernel: true\n", [("kernel", True, "/etc/a.yaml:1")])
    assert (tmp_path / ".cache" / "pyenvmod").stat().st_mode & 0o777 == 0o700
    assert config_cache.cache_file().stat().st_mode & 0o777 == 0o600
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert config_cache.cache_file() == tmp_path / "xdg" / "pyenvmod" / "config.json"


@pytest.mark.parametrize("content", [
    '["a list"]',
    '{"/etc/a.yaml": {"text": "t", "entries": [["kernel", true]]}}',  # an entry without its line
    '{"/etc/a.yaml": {"text": "t", "entries": [["kernel", true, 1]]}}',  # a line that is no text
    '{"/etc/a.yaml": {"text": "t", "entries": ["kernel"]}}',
    '{"/etc/a.yaml": ["t"]}',
])
def test_entries_refuse_what_pyenvmod_did_not_write(tmp_path, monkeypatch, content):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    config_cache.cache_file().parent.mkdir(parents=True)
    config_cache.cache_file().write_text(content)
    assert config_cache.entries("/etc/a.yaml", "t") is None
    config_cache.keep("/etc/a.yaml", "t", [("kernel", True, "/etc/a.yaml:1")])  # and is replaced
    assert config_cache.entries("/etc/a.yaml", "t") == [("kernel", True, "/etc/a.yaml:1")]


def test_a_file_kept_again_counts_as_the_newest(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    config_cache.keep("/etc/site.yaml", "kernel: true\n", [("kernel", True, "/etc/site.yaml:1")])
    for n in range(config_cache.KEPT - 1):
        config_cache.keep(f"/etc/{n}.yaml", "kernel: true\n", [("kernel", True, f"/etc/{n}.yaml:1")])
    config_cache.keep("/etc/site.yaml", "kernel: false\n", [("kernel", False, "/etc/site.yaml:1")])
    config_cache.keep("/etc/new.yaml", "kernel: true\n", [("kernel", True, "/etc/new.yaml:1")])
    assert config_cache.entries("/etc/site.yaml", "kernel: false\n") == [("kernel", False, "/etc/site.yaml:1")]
    assert config_cache.entries("/etc/0.yaml", "kernel: true\n") is None  # the oldest went instead
