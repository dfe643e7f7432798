"""Keeping Lmod's spider caches from hiding a change (modules/spider_cache.py), in-process on real
folders and real commands: which user caches list the tree, the site's update command run without a
shell, the timestamp file set to the next whole second, and every failure a one-line warning.
tests/test_spider_cache.py runs the same with real Lmod caches (slow tier)."""

import os
import time

import pytest

from pyenvmod.modules import spider_cache
from pyenvmod.records.layout import Layout


@pytest.fixture
def tree(tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    layout = Layout(tmp_path / "root", "x86_64-test")
    layout.modules_dir.mkdir(parents=True)
    return layout, home


def cache(home, folder, name, text):
    path = home / ".lmod.d" / folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_only_the_user_caches_naming_this_tree_count(tree, tmp_path):
    layout, home = tree
    listed = f'mpathMapT = {{ ["{layout.modules_dir}"] = {{}} }}\n'
    cache(home, ".cache", "spiderT.x86_64_Linux.lua", "-- nothing of ours\n")
    cache(home, ".cache", "spiderT.old.lua", listed)
    cache(home, "__cache__", "spiderT.x86_64_Linux.lua", listed)
    cache(home, "other", "spiderT.x86_64_Linux.lua", listed)
    assert spider_cache.user_caches(layout) == [home / ".lmod.d" / ".cache", home / ".lmod.d" / "__cache__"]
    assert spider_cache.user_caches(layout, home=str(tmp_path)) == []


@pytest.mark.parametrize("name", ["spiderT.lua.old", "xspiderT.lua", "spiderT.luac", "moduleT.lua"])
def test_other_files_of_the_cache_folder_are_not_read(tree, name):
    layout, home = tree
    cache(home, ".cache", name, f'"{layout.modules_dir}"')
    assert spider_cache.user_caches(layout) == []


def test_a_cache_naming_the_trees_real_path_counts(tree, tmp_path):
    layout, home = tree
    os.symlink(tmp_path / "root", tmp_path / "link")
    linked = Layout(tmp_path / "link", "x86_64-test")
    cache(home, ".cache", "spiderT.a.lua", f'"{os.path.realpath(linked.modules_dir)}"')
    assert spider_cache.user_caches(linked) == [home / ".lmod.d" / ".cache"]
    cache(home, "__cache__", "spiderT.a.lua", f"{layout.modules_dir}/more")  # not the folder, quoted
    assert spider_cache.user_caches(layout) == [home / ".lmod.d" / ".cache"]


def test_a_fifo_in_the_cache_folder_is_passed_over(tree):
    layout, home = tree
    folder = home / ".lmod.d" / ".cache"
    folder.mkdir(parents=True)
    os.mkfifo(folder / "spiderT.a.lua")
    cache(home, ".cache", "spiderT.b.lua", f'"{layout.modules_dir}"')
    assert spider_cache.user_caches(layout) == [folder]


def refresh(layout, **config):
    warned = []
    done = spider_cache.refresh({"lmod_cache_update": "", "lmod_cache_timestamp": "", **config}, layout,
                                warned.append)
    return done, warned


def test_a_user_cache_listing_the_tree_is_invalidated(tree):
    layout, home = tree
    cache(home, ".cache", "spiderT.a.lua", f'"{layout.modules_dir}"')
    cache(home, "__cache__", "spiderT.a.lua", "-- another tree\n")
    done, warned = refresh(layout)
    folder = home / ".lmod.d" / ".cache"
    assert done == [f"invalidated the Lmod user cache {folder}"] and warned == []
    assert (folder / "invalidated").is_file() and not (home / ".lmod.d" / "__cache__" / "invalidated").exists()


def test_the_sites_update_command_runs_without_a_shell(tree, tmp_path):
    layout, _ = tree
    script = tmp_path / "update"
    script.write_text('#!/bin/sh\nprintf "%s\\n" "$@" > "$(dirname "$0")/args"\n')
    script.chmod(0o755)
    command = f"{script} -d '/a dir' $MODULEPATH"
    done, warned = refresh(layout, lmod_cache_update=command)
    assert done == [f"ran {command}"] and warned == []
    assert (tmp_path / "args").read_text().splitlines() == ["-d", "/a dir", "$MODULEPATH"]


def test_a_failing_update_command_is_a_warning_with_its_last_line(tree, tmp_path):
    layout, _ = tree
    done, warned = refresh(layout, lmod_cache_update="sh -c 'echo first >&2; echo last words >&2; exit 3'")
    assert done == [] and warned == ["lmod_cache_update failed (3: last words); 'module spider' may be stale "
                                     "until the site rebuilds its cache"]
    done, warned = refresh(layout, lmod_cache_update="false")
    assert warned == ["lmod_cache_update failed (1: no message); 'module spider' may be stale until the site "
                      "rebuilds its cache"]


@pytest.mark.parametrize("command", ["/no/such/command -x", "'unclosed"])
def test_an_update_command_that_cannot_run_names_the_setting(tree, command):
    layout, _ = tree
    done, warned = refresh(layout, lmod_cache_update=command)
    assert done == [] and len(warned) == 1
    assert warned[0].startswith(f"lmod_cache_update {command!r} cannot run (") and warned[0].endswith(
        "); fix the setting")


def test_the_timestamp_is_set_to_the_next_whole_second(tree, tmp_path, monkeypatch):
    layout, _ = tree
    monkeypatch.setenv("STAMPS", str(tmp_path / "stamps"))
    (tmp_path / "stamps").mkdir()
    start = int(time.time())
    done, warned = refresh(layout, lmod_cache_timestamp="$STAMPS/system.txt")
    stamp = tmp_path / "stamps" / "system.txt"
    assert done == [f"touched {stamp}"] and warned == [] and stamp.read_text() == ""
    assert start + 1 <= stamp.stat().st_mtime <= int(time.time()) + 1 and stamp.stat().st_mtime == \
        int(stamp.stat().st_mtime)
    stamp.write_text("kept")
    refresh(layout, lmod_cache_timestamp=str(stamp))
    assert stamp.read_text() == "kept"  # appended to, never emptied


def test_the_timestamp_path_may_start_with_the_home_folder(tree):
    layout, home = tree
    done, _ = refresh(layout, lmod_cache_timestamp="~/stamp")
    assert done == [f"touched {home}/stamp"] and (home / "stamp").is_file()


def test_a_timestamp_that_cannot_be_touched_is_a_warning(tree, tmp_path):
    layout, _ = tree
    done, warned = refresh(layout, lmod_cache_timestamp=str(tmp_path / "missing" / "stamp"))
    assert done == [] and warned == [f"cannot touch lmod_cache_timestamp {tmp_path}/missing/stamp: No such file or "
                                     "directory; 'module spider' may be stale until the site rebuilds its cache"]


def test_warnings_go_to_stderr_by_default(tree, capsys):
    layout, _ = tree
    assert spider_cache.refresh({"lmod_cache_update": "false", "lmod_cache_timestamp": ""}, layout) == []
    assert capsys.readouterr().err == ("pyenvmod: warning: lmod_cache_update failed (1: no message); 'module "
                                       "spider' may be stale until the site rebuilds its cache\n")


def test_a_cache_folder_is_listed_once_however_many_of_its_caches_name_the_tree(tree):
    layout, home = tree
    for name in ("spiderT.a.lua", "spiderT.b.lua"):
        cache(home, ".cache", name, f'"{layout.modules_dir}"')
    assert spider_cache.user_caches(layout) == [home / ".lmod.d" / ".cache"]


def test_a_cache_with_bytes_that_are_not_utf8_is_still_read(tree):
    layout, home = tree
    path = cache(home, ".cache", "spiderT.a.lua", "")
    path.write_bytes(b'-- caf\xe9\n"' + os.fsencode(layout.modules_dir) + b'"\n')
    assert spider_cache.user_caches(layout) == [home / ".lmod.d" / ".cache"]


def test_a_cache_larger_than_256_mib_is_passed_over(tree):
    layout, home = tree
    path = cache(home, ".cache", "spiderT.a.lua", "")
    named = f'"{layout.modules_dir}"'.encode()
    with open(path, "wb") as fh:  # sparse: nothing is written but the end
        fh.seek((256 << 20) + 1 - len(named))
        fh.write(named)
    assert path.stat().st_size == (256 << 20) + 1
    assert spider_cache.user_caches(layout) == []


def test_a_user_cache_that_cannot_be_invalidated_is_a_warning_naming_the_fix(tree, tmp_path):
    layout, home = tree
    cache(home, ".cache", "spiderT.a.lua", f'"{layout.modules_dir}"')
    folder = home / ".lmod.d" / ".cache"
    (folder / "invalidated").symlink_to(tmp_path / "missing" / "marker")  # a dangling link: cannot be made
    done, warned = refresh(layout)
    assert done == [] and warned == [f"cannot invalidate the Lmod user cache {folder}: No such file or directory; "
                                     f"run 'rm -rf {folder}'"]


def test_the_update_command_reads_nothing_of_pyenvmods_input(tree, tmp_path):
    layout, _ = tree
    read, write = os.pipe()
    os.write(write, b"typed by the user\n")
    saved = os.dup(0)
    os.dup2(read, 0)
    try:
        done, warned = refresh(layout, lmod_cache_update=f"sh -c 'read line && echo \"$line\" > {tmp_path}/stolen'")
    finally:
        os.dup2(saved, 0)
        for fd in (saved, read, write):
            os.close(fd)
    assert not (tmp_path / "stolen").exists()
    assert done == [] and warned == ["lmod_cache_update failed (1: no message); 'module spider' may be stale until "
                                     "the site rebuilds its cache"]


def test_a_cache_naming_the_tree_by_the_linked_path_counts(tree, tmp_path):
    _, home = tree
    os.symlink(tmp_path / "root", tmp_path / "link")
    linked = Layout(tmp_path / "link", "x86_64-test")
    cache(home, ".cache", "spiderT.a.lua", f'"{linked.modules_dir}"')
    assert spider_cache.user_caches(linked) == [home / ".lmod.d" / ".cache"]


def test_without_the_dot_cache_folder_the_other_is_still_read(tree):
    layout, home = tree
    cache(home, "__cache__", "spiderT.a.lua", f'"{layout.modules_dir}"')
    assert spider_cache.user_caches(layout) == [home / ".lmod.d" / "__cache__"]


def test_files_that_cannot_be_read_do_not_end_the_search_of_their_folder(tree):
    layout, home = tree
    folder = home / ".lmod.d" / ".cache"
    folder.mkdir(parents=True)
    for letter in "abcdefghijklmnopqrstuvwxy":  # whatever order the folder lists them in, most come first
        os.mkfifo(folder / f"spiderT.{letter}.lua")
    cache(home, ".cache", "spiderT.z.lua", f'"{layout.modules_dir}"')
    assert spider_cache.user_caches(layout) == [folder]
