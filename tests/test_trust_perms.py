"""Hole 6, permissions: never world-writable whatever the umask (000 included, for root too); in a
group tree a second maintainer can take the lock; the group umask never leaks into $HOME."""

import grp
import os
import stat
import subprocess
from pathlib import Path

import pytest

from users import PLATFORM, PREFIX, group_env, people  # noqa: F401 (fixture)

pytestmark = pytest.mark.slow


def world_writable(top: Path) -> list[str]:
    found = []
    for path in [top, *top.rglob("*")]:
        st = os.lstat(path)
        if not stat.S_ISLNK(st.st_mode) and st.st_mode & stat.S_IWOTH:
            found.append(f"{path} {stat.filemode(st.st_mode)}")
    return found


def test_umask_000_as_a_user_leaves_nothing_world_writable(people):
    root = people.bob.home / "pyenvmod"
    result = people.bob.pyenvmod("create", "loose", umask=0)
    assert result.returncode == 0, result.stderr
    base = root / PLATFORM
    for folder in (root, base, base / "modules", base / "meta", base / "locks", base / "history",
                   base / "envs" / "loose"):
        assert folder.is_dir(), folder
    assert world_writable(root) == []
    assert os.stat(base / "locks").st_mode & stat.S_ISVTX


def test_umask_000_as_root_leaves_nothing_world_writable(env, root):
    result = subprocess.run(["pyenvmod", "create", "loose"], env=env, capture_output=True, text=True,
                            preexec_fn=lambda: os.umask(0), timeout=300)
    assert result.returncode == 0, result.stderr
    assert world_writable(root) == []
    assert root.stat().st_mode & 0o777 == 0o775


def test_a_second_maintainer_takes_the_lock_of_a_group_environment(people):
    base = group_env(people, "perms-lock")
    lock = base / "locks" / "shared.lock"
    st = lock.stat()
    assert st.st_uid == people.bob.uid and st.st_gid == people.gid and stat.S_IMODE(st.st_mode) == 0o664
    result = people.alice.pyenvmod("--group", base.parent, "module", "shared")
    assert result.returncode == 0, result.stderr
    # a lock file left 0644 by an older pyenvmod: still lockable (read-only), and its owner repairs it
    os.chmod(lock, 0o644)
    result = people.alice.pyenvmod("--group", base.parent, "module", "shared")
    assert result.returncode == 0, result.stderr
    assert people.bob.pyenvmod("--group", base.parent, "module", "shared").returncode == 0
    assert stat.S_IMODE(lock.stat().st_mode) == 0o664


def test_a_group_tree_made_under_umask_000_is_group_but_never_world_writable(people):
    tree = people.tree("perms-group-000")
    result = people.alice.pyenvmod("--group", tree, "create", "shared", umask=0)
    assert result.returncode == 0, result.stderr
    assert world_writable(tree) == []
    lab = grp.getgrgid(people.gid).gr_name
    assert all(grp.getgrgid(os.lstat(p).st_gid).gr_name == lab for p in tree.rglob("*") if not p.is_symlink())


def test_the_group_umask_does_not_leak_into_kernelspecs_under_home(people):
    base = group_env(people, "perms-kernel")
    # ipykernel 'installed' (the folder is what pyenvmod looks for): nothing to download
    site = base / "envs" / "shared" / "lib" / "python3.11" / "site-packages"
    assert people.bob.run("mkdir", site / "ipykernel").returncode == 0
    result = people.bob.pyenvmod("--group", base.parent, "kernel", "shared")
    assert result.returncode == 0, result.stderr
    data = people.bob.home / ".local" / "share" / "jupyter"
    folder = data / "kernels" / "pyenv-shared"
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in [data, data / "kernels", folder, *folder.iterdir()]}
    assert modes == {"jupyter": 0o755, "kernels": 0o755, "pyenv-shared": 0o755, "launcher": 0o755,
                     "kernel.json": 0o644}, modes
