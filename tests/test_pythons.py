"""Finding the base interpreter: versions, paths, commands; broken shims are passed over."""

import os
import sys

import pytest

from pyenvmod.backends import pythons
from pyenvmod.errors import PyenvmodError


@pytest.fixture
def broken_python(tmp_path, monkeypatch):
    """A 'python3' and 'python3.X' that do not run (like a pyenv shim outside its project), first on PATH."""
    bindir = tmp_path / "shims"
    bindir.mkdir()
    major_minor = "%d.%d" % sys.version_info[:2]
    for name in ("python3", f"python{major_minor}"):
        script = bindir / name
        script.write_text("#!/bin/sh\necho 'pyenv: command not found' >&2\nexit 127\n")
        script.chmod(0o755)
    real = os.path.dirname(os.path.realpath(sys.executable))
    monkeypatch.setenv("PATH", f"{bindir}:{real}:/usr/bin:/bin")
    return major_minor


def test_a_command_skips_a_broken_shim(broken_python):
    info = pythons.resolve("python3")
    assert os.path.isabs(info.executable) and "shims" not in info.executable


def test_a_version_skips_a_broken_shim(broken_python):
    info = pythons.resolve(broken_python)
    assert info.major_minor == broken_python and "shims" not in info.executable


def test_a_path_gives_the_base_interpreter_of_a_venv(tmp_path):
    import venv

    venv.create(tmp_path / "v", with_pip=False)
    info = pythons.resolve(str(tmp_path / "v" / "bin" / "python"))
    assert not info.executable.startswith(str(tmp_path)), "a venv's python resolves to its base"
    assert info.version == "%d.%d.%d" % sys.version_info[:3]


@pytest.mark.parametrize("spec", ["2.1", "/nonexistent/python", "no-such-python-cmd", "/etc/passwd"])
def test_not_found(spec):
    with pytest.raises(PyenvmodError) as exc:
        pythons.resolve(spec)
    assert "--python" in exc.value.message
