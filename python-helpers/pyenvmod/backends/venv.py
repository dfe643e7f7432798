"""The venv backend: the standard library's ``venv`` with pip; always available."""

from pathlib import Path

from pyenvmod.backends.base import Backend
from pyenvmod.backends.pythons import PythonInfo


class VenvBackend(Backend):
    name = "venv"

    def create(self, prefix: Path, base: PythonInfo, prompt: str) -> None:
        self._run(
            [base.executable, "-m", "venv", "--prompt", prompt, prefix],
            what="python -m venv",
            failure="could not create the environment",
        )

    def install(self, prefix: Path, packages: list[str], layered: bool = False, no_binary=()) -> None:
        if packages:
            self.pip_install(prefix, packages, no_binary)

    def list_packages(self, prefix: Path) -> list[dict]:
        # only the environment's own site-packages (not a base it extends), read from the files
        return self.files_list(prefix)
