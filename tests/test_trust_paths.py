"""Hole 1, paths from metadata: a group member (alice) rewrites a shared environment's record so
that its paths name the maintainer's (bob's) private files; bob's commands refuse, one line naming
the file, and nothing of bob's changes. Real users, real group tree, real CLI."""

import json
import os

import pytest

from conftest import assert_one_line_error
from users import PLATFORM, forge, group_env, people, snapshot, victim  # noqa: F401 (fixture)

pytestmark = pytest.mark.slow


def forged_prefix(people, label: str, name: str = "shared"):
    """bob's group tree LABEL with the environment NAME, whose record alice has pointed at a folder
    in bob's home: returns (platform folder, the record, bob's folder, a snapshot of it)."""
    base = group_env(people, label, name)
    target = victim(people.bob)
    before = snapshot(target)
    meta = base / "meta" / f"{name}.json"
    forge(people.alice, meta, prefix=str(target))
    return base, meta, target, before


def test_module_refuses_a_prefix_in_the_maintainers_home(people):
    base, meta, target, before = forged_prefix(people, "paths-module")
    result = people.bob.pyenvmod("--group", base.parent, "module", "shared")
    assert_one_line_error(result, str(meta), "prefix", str(target))
    assert snapshot(target) == before  # no stacking hook written into bob's folder


@pytest.mark.parametrize("command", [("install", "six"), ("update",), ("remove", "six"), ("rollback", "--to", "1"),
                                     ("kernel",)])
def test_changing_commands_refuse_a_forged_prefix(people, command):
    base, meta, target, before = forged_prefix(people, "paths-" + command[0])
    result = people.bob.pyenvmod("--group", base.parent, command[0], "shared", *command[1:])
    assert_one_line_error(result, str(meta), "prefix")
    assert snapshot(target) == before


def test_forged_kernels_never_lead_delete_into_the_maintainers_files(people):
    base = group_env(people, "paths-kernels", "shared", "other")
    kernels = people.bob.home / ".local" / "share" / "jupyter" / "kernels"
    mine = kernels / "pyenv-shared"  # bob's own kernel folder, of another environment
    assert people.bob.run("mkdir", "-p", mine).returncode == 0
    assert people.bob.run("sh", "-c", f"echo '{{}}' > {mine}/kernel.json").returncode == 0
    before = snapshot(people.bob.home / ".local")
    # a path that is not a kernelspec folder of the environment: the record is refused
    forge(people.alice, base / "meta" / "other.json", kernels=[str(kernels)])
    (row,) = [e for e in json.loads(people.bob.pyenvmod("--group", base.parent, "list", "--json").stdout)
              if e["name"] == "other"]
    assert row["health"] == "broken" and "kernel" in row["problems"][0]
    # the right shape, but bob's folder does not start this environment: kept
    forge(people.alice, base / "meta" / "shared.json", kernels=[str(mine)])
    for name in ("shared", "other"):
        result = people.bob.pyenvmod("--group", base.parent, "delete", name, "--yes")
        assert result.returncode == 0, result.stderr
    assert snapshot(people.bob.home / ".local") == before
    assert not (base / "envs" / "shared").exists() and not (base / "envs" / "other").exists()


def test_forged_extends_is_a_broken_row_and_module_refuses(people):
    base = group_env(people, "paths-extends", "shared", "fine")
    target = victim(people.bob)
    before = snapshot(target)
    meta = base / "meta" / "shared.json"
    forge(people.alice, meta, extends={"name": "victim", "prefix": str(target), "module": "pyenv/victim/py3.11",
                                       "modules_dir": str(people.bob.home), "python": "3.11.2"})
    listed = people.bob.pyenvmod("--group", base.parent, "list", "--json")
    assert listed.returncode == 0, listed.stderr
    rows = {e["name"]: e for e in json.loads(listed.stdout)}
    assert rows["fine"]["health"] == "ok"
    assert rows["shared"]["health"] == "broken" and str(meta) in rows["shared"]["problems"][0]
    assert_one_line_error(people.bob.pyenvmod("--group", base.parent, "module", "shared"), str(meta), "extends")
    assert snapshot(target) == before


def test_a_symlinked_history_folder_is_refused_and_delete_removes_only_the_link(people):
    base = group_env(people, "paths-history")
    target = victim(people.bob)
    before = snapshot(target)
    history = base / "history" / "shared"
    assert people.alice.run("sh", "-c", f"rm -rf {history} && ln -s {target} {history}").returncode == 0
    assert_one_line_error(people.bob.pyenvmod("--group", base.parent, "history", "shared"), str(history),
                          "symlink")
    result = people.bob.pyenvmod("--group", base.parent, "delete", "shared", "--yes")
    assert result.returncode == 0, result.stderr
    assert not os.path.lexists(history)
    assert snapshot(target) == before


def test_extends_of_a_group_environment_with_a_forged_record_is_refused(people):
    base, meta, _, _ = forged_prefix(people, "paths-base", "base")
    result = people.bob.pyenvmod("create", "mine", "--extends", base / "envs" / "base")
    assert_one_line_error(result, str(meta), "prefix")
    assert not (people.bob.home / "pyenvmod" / PLATFORM / "meta" / "mine.json").exists()


def test_doctor_fix_never_acts_on_a_forged_prefix(people):
    base, meta, target, before = forged_prefix(people, "paths-doctor")
    result = people.bob.pyenvmod("--group", base.parent, "doctor", "--fix", "--yes")
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr, result.stderr
    assert str(meta) in result.stdout
    assert snapshot(target) == before
    assert (base / "envs" / "shared" / "bin" / "python").exists()


def test_export_and_clone_of_a_forged_group_record_are_refused(people):
    base = group_env(people, "paths-export")
    meta = base / "meta" / "shared.json"
    forge(people.alice, meta, prefix=str(people.bob.home))
    for args in (("export", base / "envs" / "shared"), ("create", "copy", "--clone", base / "envs" / "shared")):
        assert_one_line_error(people.bob.pyenvmod(*args), str(meta), "prefix")
