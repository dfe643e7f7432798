"""A private pyenvmod tree in this process, with real small environments (``venv --without-pip``):
for the fast tests of issue 23 that call the operations in-process (tests/test_guards_*.py)."""

import os
import subprocess
import sys
from pathlib import Path

from pyenvmod import config as config_mod
from pyenvmod.modules import stacking
from pyenvmod.records import metadata, registry
from pyenvmod.operations.common import tree_for

PYTHON = "%d.%d.%d" % sys.version_info[:3]
MM = "%d.%d" % sys.version_info[:2]


class World:
    """``config``, ``tree`` and ``layout`` of a tree under ``tmp_path``; ``make`` adds environments."""

    def __init__(self, tmp_path: Path, monkeypatch):
        for var in ("LMOD_CMD", "MODULES_CMD", "LOADEDMODULES", "_LMFILES_", "MODULEPATH", "PYENVMOD_LOADED",
                    "TMPDIR"):
            monkeypatch.delenv(var, raising=False)
        home = tmp_path / "home"
        home.mkdir()
        monkeypatch.setenv("HOME", str(home))
        monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
        monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
        monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local" / "share"))
        monkeypatch.setenv("PYENVMOD_SITE_CONFIG", str(tmp_path / "no-site-config.yaml"))
        monkeypatch.setenv("PYENVMOD_ROOT", str(tmp_path / "root"))
        monkeypatch.setenv("PYENVMOD_STAGE_DIR", str(tmp_path / "local"))
        (tmp_path / "local").mkdir()  # the site's node-local folder: pyenvmod makes only its own in it
        self.tmp_path = tmp_path
        self.config = config_mod.load()
        self.tree = tree_for(self.config)
        self.tree.ensure()
        self.layout = self.tree.layout

    def record(self, name: str, **changes) -> metadata.EnvRecord:
        values = dict(name=name, prefix=str(self.layout.prefix(name)), python=PYTHON, base_python=sys.executable,
                      backend="venv", module=f"pyenv/{name}/py{MM}", created="2026-01-01T00:00:00+00:00",
                      owner=os.environ.get("USER", "root"), platform=self.layout.platform)
        values.update(changes)
        return metadata.EnvRecord(**values)

    def make(self, name: str, extends: metadata.EnvRecord | None = None, **changes) -> metadata.EnvRecord:
        """A real venv (no pip) at the layout's folder of ``name``, registered; with ``extends``, layered
        on that environment as 'create --extends' leaves it (its base hook names the base's site-packages)."""
        prefix = self.layout.prefix(name)
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(prefix)], check=True)
        if extends is not None:
            changes["extends"] = {"name": extends.name, "prefix": extends.prefix,
                                  "modules_dir": str(self.layout.modules_dir), "module": extends.module,
                                  "python": extends.python}
            stacking.install_hook(str(prefix), PYTHON, str(stacking.site_packages(extends.prefix, PYTHON)))
        record = self.record(name, **changes)
        registry.write(self.tree, record)
        return registry.record(self.tree, name)

    def site(self, prefix) -> Path:
        return stacking.site_packages(str(prefix), PYTHON)
