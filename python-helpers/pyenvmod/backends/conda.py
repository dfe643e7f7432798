"""The conda backend: real conda environments made with py-rattler (solve, download, link,
conda-meta records), no conda installation needed. Channels, channel priority and the package
folder come from configuration; py-rattler is the optional extra ``pyenvmod[conda]``."""

import asyncio
import json
import os
from pathlib import Path

from pyenvmod.runtime import proc
from pyenvmod.backends.base import Backend
from pyenvmod.errors import PyenvmodError


def rattler():
    try:
        import rattler as module
    except ImportError:
        raise PyenvmodError("the conda backend needs py-rattler: pip install 'pyenvmod[conda]' (or pip install "
                            "py-rattler), or use --backend uv") from None
    return module


def validate_specs(specs: list[str]) -> list[str]:
    """conda match specs (numpy, 'numpy>=1.26', numpy=1.26); anything else is refused clearly."""
    r = rattler()
    for spec in specs:
        try:
            if spec.startswith("-"):
                raise ValueError("it starts with '-'")
            r.MatchSpec(spec)
        except Exception as exc:  # rattler raises its own error types
            raise PyenvmodError(f"invalid conda package spec {spec!r} ({str(exc).splitlines()[0]}); give a name "
                                "with an optional version, like numpy or 'numpy>=1.26'") from None
    return specs


class CondaBackend(Backend):
    name = "conda"
    provides_python = True  # the interpreter comes from the channels, not from the machine

    def __init__(self, env=None, channels=(), channel_priority="strict", pkgs_dir=None):
        super().__init__(env)
        self.rattler = rattler()
        self.channels = list(channels)
        self.strict = channel_priority == "strict"
        self.pkgs_dir = pkgs_dir
        self.constraints = []  # match specs that bind a package only if it is installed (the external MPI)
        if not self.channels:
            raise PyenvmodError("the conda backend needs a channel: pass -c CHANNEL (as with conda), or set "
                                "'channels' in the configuration")

    def _installed(self, prefix: Path) -> list:
        meta = Path(prefix) / "conda-meta"
        return [self.rattler.PrefixRecord.from_path(p) for p in sorted(meta.glob("*.json"))] if meta.is_dir() else []

    def _apply(self, prefix: Path, specs: list[str], keep_current: bool, what: str) -> None:
        r = self.rattler
        installed = self._installed(prefix)

        async def run():
            records = await r.solve(
                self.channels, specs, platforms=[str(r.Platform.current()), "noarch"],
                locked_packages=installed if keep_current else None,
                virtual_packages=r.VirtualPackage.detect(),
                channel_priority=r.ChannelPriority.Strict if self.strict else r.ChannelPriority.Disabled,
                constraints=[r.MatchSpec(c) for c in self.constraints] or None)
            await r.install(records, target_prefix=str(prefix), installed_packages=installed or None,
                            cache_dir=Path(self.pkgs_dir) if self.pkgs_dir else None, show_progress=False)

        try:
            asyncio.run(run())
        except KeyboardInterrupt:
            raise
        except Exception as exc:  # rattler's solver and gateway errors
            text = " ".join(str(exc).split())
            raise PyenvmodError(f"{what}: {text[:400]}") from None

    def create(self, prefix: Path, base, prompt: str, python: str = "") -> None:
        spec = f"python {python}.*" if python else "python"
        self._apply(prefix, [spec], False, "could not create the conda environment")

    def _names(self, prefix) -> list[str]:
        return [rec.name.normalized for rec in self._installed(prefix)]

    def install(self, prefix: Path, packages: list[str], layered: bool = False, no_binary=()) -> None:
        if packages:
            validate_specs(packages)
            self._apply(prefix, [*self._names(prefix), *packages], True, "could not install " + ", ".join(packages))

    def upgrade(self, prefix: Path, packages: list[str], layered: bool = False, no_binary=()) -> None:
        names = self._names(prefix)
        self._apply(prefix, [*names, *packages], False, "could not update " + ", ".join(packages or names))

    def uninstall(self, prefix: Path, names: list[str]) -> None:
        keep = [n for n in self._names(prefix) if n not in names]
        self._apply(prefix, keep, True, "could not remove " + ", ".join(names))

    def list_packages(self, prefix: Path) -> list[dict]:
        return [{"name": n, "version": v} for n, v in conda_meta_versions(prefix).items()]

    def check(self, prefix: Path) -> list[str]:
        if not any(Path(prefix).glob("lib/python*/site-packages/pip")):
            return []  # no pip in this conda environment: conda's solve already checked consistency
        return self.pip_check(prefix)

    def python_version(self, prefix: Path) -> str:
        result = proc.run([self.python(prefix), "-I", "-S", "-c",
                           "import sys; print('%d.%d.%d' % sys.version_info[:3])"],
                          env=self.env, what="the environment's python")
        if result.returncode != 0:
            raise PyenvmodError("the conda environment has no working python: add python to the channel or specs")
        return result.stdout.strip()


def conda_meta_versions(prefix) -> dict:
    """{name: version} of the conda packages in an environment, from its conda-meta records
    (read from the files: the environment is not run); unreadable records are passed over."""
    found = {}
    for record in (Path(prefix) / "conda-meta").glob("*.json"):
        try:
            data = json.loads(record.read_text())
            found[data["name"]] = data["version"]
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return dict(sorted(found.items()))
