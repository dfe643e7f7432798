"""The venv backend: the standard library's ``venv`` with pip; always available."""

from pathlib import Path

from pyenvmod.backends.base import Backend
from pyenvmod.pythons import PythonInfo


class VenvBackend(Backend):
    name = "venv"

    def _pip(self, prefix: Path, *args):
        return [self.python(prefix), "-m", "pip", "--disable-pip-version-check", "--no-input", *args]

    def create(self, prefix: Path, base: PythonInfo, prompt: str) -> None:
        self._run(
            [base.executable, "-m", "venv", "--prompt", prompt, prefix],
            what="python -m venv",
            failure="could not create the environment",
        )

    def install(self, prefix: Path, packages: list[str]) -> None:
        if packages:
            self._run(
                self._pip(prefix, "install", "--quiet", *packages),
                what="pip install",
                failure="could not install " + ", ".join(packages),
            )

    def list_packages(self, prefix: Path) -> list[dict]:
        return self._pip_json_list(self._pip(prefix, "list", "--format", "json"))
