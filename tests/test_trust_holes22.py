"""Issue 22, holes 4, 5, 8, 9, 10 and 11, each performed by a real second Unix user (tests/users.py):
alice is the attacking group member, bob the maintainer whose account must stay his own."""

import inspect
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from test_trust_no_tree_code import MPICH_CXX, plant
from users import PLATFORM, PREFIX, group_env, people  # noqa: F401 (fixture)

pytestmark = pytest.mark.slow  # real users, real environments


def as_user(user, code: str, *args):
    result = user.python(code, *map(str, args))
    assert result.returncode == 0, result.stderr
    return result


@pytest.mark.slow
def test_hole4_a_members_pth_does_not_run_as_the_maintainer_running_doctor(people):
    """alice plants a .pth, a sitecustomize and an mpi4py in bob's group environment that records an
    MPI module; bob's doctor (its MPI check) and the other read-only commands must not run them."""
    tree = people.tree("hole4")
    made = people.bob.pyenvmod("--group", tree, "create", "sim", "--modules", "mpich/4.0", "--no-capture",
                               umask=0o002)
    assert made.returncode == 0, made.stderr
    prefix = tree / PLATFORM / "envs" / "sim"
    owned = people.bob.home / "owned-by-alice"
    # alice writes the files herself (the environment's site-packages is the group's)
    code = f"import shutil\nfrom pathlib import Path\nMPICH_CXX = {MPICH_CXX!r}\n{inspect.getsource(plant)}\n" \
           f"plant(Path({str(prefix)!r}), Path({str(owned)!r}))\n"
    result = people.alice.run("/usr/bin/python3", "-c", code)
    assert result.returncode == 0, result.stderr
    for args in (("list",), ("doctor", "sim"), ("export", "sim"), ("prefix", "sim"), ("history", "sim")):
        result = people.bob.pyenvmod("--group", tree, *args)
        assert "Traceback" not in result.stderr, result.stderr
        assert not owned.exists(), f"bob's 'pyenvmod {' '.join(args)}' ran alice's code"
    doctor = people.bob.pyenvmod("--group", tree, "doctor", "sim")
    assert "MPI.cpython-311-x86_64-linux-gnu.so loads " in doctor.stdout, doctor.stdout
