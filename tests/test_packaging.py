"""A plain (non-editable) 'pip install .' into a fresh venv carries the templates and hooks."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from modsys import REPO

# slow: pip-installs pyenvmod into a fresh venv
pytestmark = pytest.mark.slow


def test_plain_pip_install_works_from_a_fresh_venv(tmp_path, env):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", venv], check=True)
    install = subprocess.run([venv / "bin" / "pip", "install", "--quiet", str(REPO)], capture_output=True,
                             text=True, env={**env, "PATH": env["PATH"]}, timeout=600, cwd=tmp_path)
    assert install.returncode == 0, install.stderr
    site = subprocess.run([venv / "bin" / "python", "-c",
                           "import pyenvmod, pathlib; print(pathlib.Path(pyenvmod.__file__).parent)"],
                          capture_output=True, text=True, cwd=tmp_path).stdout.strip()
    assert "site-packages" in site
    for relative in ("data/templates/modulefile.lua.j2", "data/templates/modulefile.tcl.j2",
                     "data/lmod-hooks/README.md"):
        assert (Path(site) / relative).is_file(), relative
    assert (venv / "share" / "man" / "man1" / "pyenvmod.1").is_file(), "the man page is installed"
    run_env = dict(env, PATH=f"{venv / 'bin'}:/usr/bin:/bin")
    created = subprocess.run([venv / "bin" / "pyenvmod", "create", "alpha"], env=run_env, capture_output=True,
                             text=True, cwd=tmp_path)
    assert created.returncode == 0, created.stderr
    (entry,) = json.loads(subprocess.run([venv / "bin" / "pyenvmod", "list", "--json"], env=run_env,
                                         capture_output=True, text=True, cwd=tmp_path).stdout)
    assert entry["health"] == "ok"
