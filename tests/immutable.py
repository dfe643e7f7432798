"""An immutable file or folder for a test (chattr +i: root cannot change it either), made mutable again
afterwards; the test is skipped where the filesystem has no such flag."""

import contextlib
import os
import shutil
import subprocess

import pytest

from modsys import require


@contextlib.contextmanager
def immutable(path):
    require(shutil.which("chattr") is not None and os.geteuid() == 0, "chattr as root", "run the tests as root")
    if subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode != 0:
        pytest.skip("this filesystem has no immutable flag")
    try:
        yield path
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True, capture_output=True)
