"""module spider stays right with Lmod's caches (issue 13, item 3), with real Lmod caches:
a user cache (written by Lmod itself when a command takes over LMOD_SHORT_TIME) and a system
cache (lmodrc.lua with a cache folder and timestamp, built by update_lmod_system_cache_files)."""

import json
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from modsys import Lmod, run_bash

pytestmark = [pytest.mark.modsys, pytest.mark.slow]

UPDATE = "/usr/share/lmod/lmod/libexec/update_lmod_system_cache_files"


def spider_checks(cli, env, setup: str, cache_check: str):
    """create alpha (cached), then beta, install into alpha, delete beta: spider sees each change."""
    lmod = Lmod().require()
    cli("create", "alpha", "-p", "six")
    modules = cli("modulepath").stdout.strip()
    script = f"""{lmod.init()}
module use {shlex.quote(modules)}
{setup}
{cache_check}
echo @@stale; module spider beta 2>&1; module avail 2>&1 | grep -c pyenv/beta
pyenvmod create beta >/dev/null || exit 12
echo @@created; module spider pyenv/beta 2>&1; module avail 2>&1 | grep -c pyenv/beta
pyenvmod install alpha iniconfig >/dev/null || exit 13
echo @@installed; module spider iniconfig 2>&1
pyenvmod delete beta --yes >/dev/null || exit 14
echo @@deleted; module spider beta 2>&1; module avail 2>&1 | grep -c pyenv/beta; module load pyenv/beta; echo "rc=$?"
"""
    result = run_bash(script, env, timeout=900)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    parts = {}
    for name in ("stale", "created", "installed", "deleted"):
        parts[name] = " ".join(out.split(f"@@{name}\n")[1].split("@@")[0].split())
    return parts


def assert_spider_follows(parts):
    assert "pyenv/beta/py" in parts["created"] and parts["created"].endswith(" 1")
    assert "pyenv/alpha/py" in parts["installed"] and "iniconfig" in parts["installed"]
    assert "pyenv/beta/py" not in parts["deleted"] and "rc=0" not in parts["deleted"]
    assert parts["deleted"].split(" rc=")[0].endswith(" 0")


def test_the_users_lmod_cache_is_refreshed(cli, env, home):
    # LMOD_SHORT_TIME=0: Lmod writes the user cache on the first avail, as it does on a slow file system
    parts = spider_checks(cli, env, "LMOD_SHORT_TIME=0 module avail >/dev/null 2>&1",
                          f"ls {home}/.lmod.d/.cache/spiderT*.lua >/dev/null || exit 11")
    assert_spider_follows(parts)


def system_cache(tmp_path: Path, env: dict) -> dict:
    cache, stamp, rc = tmp_path / "lmod-cache", tmp_path / "lmod-timestamp", tmp_path / "lmodrc.lua"
    cache.mkdir()
    rc.write_text(f'scDescriptT = {{ {{ ["dir"] = "{cache}", ["timestamp"] = "{stamp}" }} }}\n')
    return {"cache": cache, "stamp": stamp, "env": dict(env, LMOD_RC=str(rc), LMOD_SHORT_TIME="100000")}


@pytest.mark.parametrize("how", ["command", "timestamp"])
def test_a_site_system_cache_is_refreshed(cli, env, tmp_path, how):
    site = system_cache(tmp_path, env)
    build = f"{UPDATE} -d {site['cache']} -t {site['stamp']} $MODULEPATH"
    setting = {"command": {"PYENVMOD_LMOD_CACHE_UPDATE": build.replace("$MODULEPATH", "{modules}")},
               "timestamp": {"PYENVMOD_LMOD_CACHE_TIMESTAMP": str(site["stamp"])}}[how]
    modules = cli("modulepath").stdout.strip()
    cli.env = dict(site["env"], **{k: v.replace("{modules}", modules) for k, v in setting.items()})
    parts = spider_checks(cli, cli.env, f"{build} || exit 10",
                          f"ls {site['cache']}/spiderT.lua >/dev/null || exit 11")
    assert parts["stale"].endswith(" 0")  # before any change, the new name is in no cache
    assert_spider_follows(parts)
    assert not list(Path(env["HOME"]).glob(".lmod.d/.cache/spiderT*"))  # the system cache answered


def test_without_the_settings_the_system_cache_goes_stale(cli, env, tmp_path):
    """The control: what the settings fix (so the tests above test pyenvmod, not Lmod)."""
    site = system_cache(tmp_path, env)
    cli.env = site["env"]
    parts = spider_checks(cli, cli.env, f"{UPDATE} -d {site['cache']} -t {site['stamp']} $MODULEPATH || exit 10",
                          f"ls {site['cache']}/spiderT.lua >/dev/null || exit 11")
    assert parts["created"].endswith(" 0")  # beta created, but the cache does not know it


def test_a_failing_cache_command_is_a_warning_not_a_failure(cli, env):
    result = cli("create", "alpha", extra_env={"PYENVMOD_LMOD_CACHE_UPDATE": "false"})
    assert "pyenvmod: warning: lmod_cache_update failed" in result.stderr
    assert [r["name"] for r in json.loads(cli("list", "--json").stdout)] == ["alpha"]


def test_only_a_user_cache_listing_this_tree_is_invalidated(tmp_path):
    from pyenvmod.records.layout import Layout
    from pyenvmod.modules.spider_cache import user_caches

    layout = Layout(tmp_path / "root", "p")
    cache = tmp_path / "home" / ".lmod.d" / ".cache"
    cache.mkdir(parents=True)
    (cache / "spiderT.x86_64_Linux.lua").write_text('spiderT = {\n  ["/opt/site/modules"] = {},\n}\n')
    assert user_caches(layout, str(tmp_path / "home")) == []
    (cache / "spiderT.x86_64_Linux.lua").write_text(f'spiderT = {{\n  ["{layout.modules_dir}"] = {{}},\n}}\n')
    assert user_caches(layout, str(tmp_path / "home")) == [cache]


def test_every_command_that_changes_modules_refreshes(cli, env, home, root, tmp_path):
    """Each of them marks the user's cache invalid (Lmod's own marker) and touches the site stamp."""
    stamp = tmp_path / "stamp"
    cli.env = dict(env, PYENVMOD_LMOD_CACHE_TIMESTAMP=str(stamp))
    cli("create", "alpha")
    foreign = tmp_path / "foreign"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(foreign)], check=True)
    cache = home / ".lmod.d" / ".cache"
    cache.mkdir(parents=True)
    modules = cli("modulepath").stdout.strip()
    for command in (["module", "alpha"], ["install", "alpha", "iniconfig"], ["update", "alpha"],
                    ["remove", "alpha", "iniconfig"], ["rollback", "alpha", "--to", "1"],
                    ["adopt", foreign, "--name", "beta"], ["delete", "alpha", "--yes"]):
        (cache / "spiderT.x86_64_Linux.lua").write_text(f'spiderT = {{\n  ["{modules}"] = {{}},\n}}\n')
        (cache / "invalidated").unlink(missing_ok=True)
        stamp.unlink(missing_ok=True)
        cli(*command)
        assert (cache / "invalidated").is_file(), command
        assert stamp.is_file(), command
