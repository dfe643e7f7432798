"""The metadata record of one environment, stored as JSON; writing it registers the environment."""

import json
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path

from pyenvmod import files
from pyenvmod.errors import PyenvmodError

SCHEMA_VERSION = 1


@dataclass
class EnvRecord:
    name: str
    prefix: str
    python: str  # full version, e.g. 3.12.1
    base_python: str  # the interpreter the environment was made from
    backend: str
    module: str  # pyenv/NAME/TAG
    created: str  # ISO 8601, UTC
    owner: str
    platform: str
    description: str = ""
    requested: list = field(default_factory=list)  # packages as the user asked for them
    extends: dict | None = None  # the base environment: name, prefix, module, modules_dir, python
    modules: list = field(default_factory=list)  # modules loaded at create time (compiler, MPI, ...)
    module_paths: list = field(default_factory=list)  # the MODULEPATH folders holding those modules
    kernels: list = field(default_factory=list)  # Jupyter kernelspec folders written for it
    channels: list = field(default_factory=list)  # conda backend: the channels it was made from
    adopted: bool = False  # registered with 'pyenvmod adopt': pyenvmod never changes or removes it
    no_binary: list = field(default_factory=list)  # packages built from source (--no-binary)
    mpi: dict | None = None  # the MPI of its recorded modules at create time (mpi.Mpi): module, library, ...
    packages: dict = field(default_factory=dict)  # the locked package set: {name: version}
    sources: dict = field(default_factory=dict)  # packages not from an index: {name: "name @ url"}
    updated: str = ""  # ISO 8601, UTC: the last change made through pyenvmod
    pyenvmod_version: str = ""
    schema: int = SCHEMA_VERSION

    @property
    def tag(self) -> str:
        return self.module.rsplit("/", 1)[-1]

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, ensure_ascii=False) + "\n"


def read(path: Path) -> EnvRecord:
    """Read a record; a damaged file gives an error that names it and the fix."""
    fix = "repair it by hand or delete it and run 'pyenvmod doctor'"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PyenvmodError(f"metadata file {path} is unreadable ({exc}); {fix}") from None
    known = {f.name for f in fields(EnvRecord)}
    required = {f.name for f in fields(EnvRecord) if f.default is f.default_factory is MISSING}
    if not isinstance(data, dict) or not required <= data.keys():
        raise PyenvmodError(f"metadata file {path} is incomplete or corrupt; {fix}")
    try:
        record = EnvRecord(**{k: v for k, v in data.items() if k in known})
    except TypeError as exc:
        raise PyenvmodError(f"metadata file {path} is corrupt ({exc}); {fix}") from None
    if record.name != path.stem:
        raise PyenvmodError(f"metadata file {path} describes {record.name!r}, not {path.stem!r}; {fix}")
    return record


def write(path: Path, record: EnvRecord) -> None:
    """Write atomically: readers see the old file or the new one, never half of one."""
    files.write_atomic(path, record.to_json())
