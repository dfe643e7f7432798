"""Research groups' shared trees: --group, setgid group-writable folders, use, list --all."""

import grp
import json
import os
import shlex
import stat

import pytest

from conftest import Cli, assert_one_line_error, clean_env
from modsys import run_bash


@pytest.fixture
def group_dir(tmp_path):
    """A shared folder owned by a group other than ours, as a project space would be."""
    folder = tmp_path / "project-lab"
    folder.mkdir()
    gid = grp.getgrnam("users").gr_gid if "users" in {g.gr_name for g in grp.getgrall()} else os.getgid()
    os.chown(folder, -1, gid)
    return folder, gid


def test_group_tree_is_setgid_group_owned_and_never_world_writable(cli, group_dir):
    folder, gid = group_dir
    cli("--group", folder, "create", "shared", "-p", "six")
    for path in [folder, *folder.rglob("*")]:
        st = os.lstat(path)
        if stat.S_ISLNK(st.st_mode):
            continue
        assert st.st_gid == gid, path
        assert not st.st_mode & stat.S_IWOTH, path
        assert st.st_mode & stat.S_IRGRP, path
        if stat.S_ISDIR(st.st_mode):
            assert st.st_mode & stat.S_ISGID and st.st_mode & stat.S_IWGRP, path
    (entry,) = json.loads(cli("--group", folder, "list", "--json").stdout)
    assert entry["prefix"].startswith(str(folder))


@pytest.mark.slow
def test_a_colleague_uses_and_loads_a_group_environment(modsys, cli, group_dir, tmp_path):
    folder, _ = group_dir
    cli("--group", folder, "create", "shared", "-p", "six")
    colleague = clean_env(tmp_path / "colleague")
    line = Cli(colleague)("use", folder).stdout.strip()
    assert line == f"module use {shlex.quote(str(folder / next(folder.iterdir()).name / 'modules'))}"
    result = run_bash(f"{modsys.init()}\n{line}\nmodule load pyenv/shared || exit 11\n"
                      "python -c 'import six, sys; print(sys.prefix)'", colleague)
    assert result.returncode == 0 and result.stdout.strip().startswith(str(folder)), result.stderr


@pytest.mark.slow
def test_named_groups_list_all_with_owners(cli, home, group_dir):
    folder, _ = group_dir
    config = home / ".config" / "pyenvmod" / "config.yaml"
    config.parent.mkdir(parents=True)
    config.write_text(f"groups:\n  lab: {folder}\n")
    cli("create", "mine")
    cli("--group", "lab", "create", "shared")
    data = json.loads(cli("list", "--all", "--json").stdout)
    assert sorted((e["tree"], e["name"]) for e in data) == [("lab", "shared"), ("own", "mine")]
    table = cli("list", "--all").stdout.splitlines()
    assert table[0].split()[:3] == ["TREE", "OWNER", "NAME"]
    owner = data[0]["owner"]
    assert any(ln.split()[:3] == ["lab", owner, "shared"] for ln in table[1:])
    assert [e["name"] for e in json.loads(cli("list", "--json").stdout)] == ["mine"]
    assert cli("use", "lab").stdout.strip().startswith(f"module use {folder}/")
    assert_one_line_error(cli("--group", "nolab", "list", check=False), "--group nolab", "lab")
