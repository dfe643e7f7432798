"""The uv backend (default): ``uv venv --seed`` and ``uv pip``, from the ``uv`` package's binary."""

import os
import sys
from pathlib import Path

from pyenvmod.backends.base import Backend
from pyenvmod.errors import PyenvmodError
from pyenvmod.backends.pythons import PythonInfo


def uv_binary() -> str:
    """The uv that came with pyenvmod (its Python package's binary)."""
    if sys.prefix != sys.base_prefix:  # pyenvmod in a virtual environment: find_uv_bin's first place,
        here = os.path.join(sys.prefix, "bin", "uv")  # without its import of sysconfig
        if os.path.isfile(here):
            return here
    try:
        from uv import find_uv_bin
    except ImportError:
        raise PyenvmodError("the uv backend needs the 'uv' package; pip install uv, or use --backend venv") from None
    try:
        return find_uv_bin()
    except FileNotFoundError:
        raise PyenvmodError("the uv package is installed without its binary; reinstall uv or use --backend venv") from None


class UvBackend(Backend):
    name = "uv"

    def __init__(self, env=None):
        super().__init__(env)
        # Never fetch an interpreter from the internet: environments use the site's Pythons.
        self.env.setdefault("UV_PYTHON_DOWNLOADS", "never")
        # A build's own output, line by line as it comes ("DEBUG ..." lines of uv's build frontend, and only
        # those): the progress line shows the last one, so a long source build is seen to move (progress.py).
        self.env.setdefault("RUST_LOG", "uv_build_frontend=debug")
        self.uv = uv_binary()

    def create(self, prefix: Path, base: PythonInfo, prompt: str) -> None:
        self._run(
            [self.uv, "venv", "--quiet", "--no-project", "--seed", "--prompt", prompt,
             "--python", base.executable, prefix],
            what="uv venv",
            failure="could not create the environment",
        )

    def install(self, prefix: Path, packages: list[str], layered: bool = False, no_binary=()) -> None:
        if not packages:
            return
        if layered:
            # uv looks only at the environment's own site-packages and would copy the
            # base's packages in again; pip sees the whole sys.path.
            self.pip_install(prefix, packages, no_binary)
        else:
            with self._excludes() as excludes:
                self._run(
                    [self.uv, "pip", "install", "--python", self.python(prefix), *self.no_binary_args(no_binary),
                     *excludes, *packages],
                    what="uv pip install",
                    failure="could not install " + ", ".join(packages),
                )

    def _excludes(self):
        """``--excludes FILE`` naming the packages the recorded modules provide: uv reads only the
        environment's own site-packages, and would install a second copy that PYTHONPATH hides."""
        import contextlib
        import tempfile

        names = sorted({p.key for p in self.module_packages})
        if not names:
            return contextlib.nullcontext([])

        @contextlib.contextmanager
        def written():
            with tempfile.NamedTemporaryFile("w", prefix="pyenvmod-excludes-", suffix=".txt") as fh:
                fh.write("\n".join(names) + "\n")
                fh.flush()
                yield ["--excludes", fh.name]

        return written()

    def upgrade(self, prefix: Path, packages: list[str], layered: bool = False, no_binary=()) -> None:
        if layered:
            return super().upgrade(prefix, packages, layered, no_binary)
        with self._excludes() as excludes:
            self._run([self.uv, "pip", "install", "--upgrade", "--python", self.python(prefix),
                       *self.no_binary_args(no_binary), *excludes, *packages],
                      what="uv pip install --upgrade", failure="could not update " + ", ".join(packages))

    def uninstall(self, prefix: Path, names: list[str]) -> None:
        self._run([self.uv, "pip", "uninstall", "--python", self.python(prefix), *names],
                  what="uv pip uninstall", failure="could not remove " + ", ".join(names))

    def list_packages(self, prefix: Path) -> list[dict]:
        # read from the files, named as uv pip list names them (canonical names)
        return self.files_list(prefix, canonical=True)
