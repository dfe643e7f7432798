"""Environment specs: read (create --file) and written (export).

Formats:
- pyenvmod's export: an environment.yml that conda can also read (name, channels,
  dependencies with python=X.Y and a pip: list) plus a ``pyenvmod:`` block;
- a plain conda environment.yml: with the uv/venv backends only ``python`` and the
  ``pip:`` part can be installed, other (conda) entries are listed in the error;
- a requirements.txt: one requirement per line.
"""

import re
from dataclasses import dataclass, field
from pathlib import Path

from pyenvmod.packages import requirements
from pyenvmod.errors import PyenvmodError

_PYTHON = re.compile(r"python\s*(?:=|==|>=|~=)?\s*(\d+\.\d+)(?:\.\d+)?(?:\.\*)?\s*\Z")


@dataclass
class Spec:
    source: str
    python: str = ""  # major.minor, or "" when the spec does not say
    packages: list = field(default_factory=list)
    modules: list = field(default_factory=list)
    conda_only: list = field(default_factory=list)
    backend: str = ""
    description: str = ""
    no_binary: list = field(default_factory=list)
    channels: list = field(default_factory=list)
    requested: list | None = None  # a pyenvmod export: what was asked for (None: every package listed)


def read(path: str) -> Spec:
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise PyenvmodError(f"cannot read the spec {path}: {exc.strerror}") from None
    if file.suffix in (".yml", ".yaml"):
        return _from_yaml(text, path)
    return _from_requirements(text, path)


def _from_requirements(text: str, path: str) -> Spec:
    packages = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        option, _, value = line.partition(" ")
        if option in ("-e", "--editable") and value.strip():
            packages.append(requirements.EDITABLE + value.strip())  # an editable folder, as pip reads it
            continue
        if line.startswith("-"):
            raise PyenvmodError(f"{path}:{number}: option lines ({line.split()[0]}) are not supported; "
                                "give one requirement per line (indexes belong in the site's pip configuration)")
        packages.append(line)
    packages = requirements.absolute_paths(packages)
    _validate(packages, path)
    return Spec(source=path, packages=packages)


def _from_yaml(text: str, path: str) -> Spec:
    import yaml

    from pyenvmod import yaml_files

    try:
        data = yaml_files.load(text, path) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else path
        raise PyenvmodError(f"{where}: not valid YAML ({getattr(exc, 'problem', exc)})") from None
    if not isinstance(data, dict) or not isinstance(data.get("dependencies", []), list):
        raise PyenvmodError(f"{path}: not an environment spec (expected a mapping with a 'dependencies' list)")
    spec = Spec(source=path, channels=[str(c) for c in data.get("channels") or []])
    for item in data.get("dependencies") or []:
        if isinstance(item, dict) and list(item) == ["pip"] and isinstance(item["pip"], list):
            spec.packages += [str(p) for p in item["pip"]]
        elif isinstance(item, str) and _PYTHON.match(item.strip()):
            spec.python = _PYTHON.match(item.strip()).group(1)
        elif isinstance(item, str) and item.strip() in ("pip", "python"):
            continue
        else:
            spec.conda_only.append(str(item))
    extra = data.get("pyenvmod") or {}
    if not isinstance(extra, dict):
        raise PyenvmodError(f"{path}: the 'pyenvmod' block must be a mapping")
    spec.modules = [str(m) for m in extra.get("modules") or []]
    spec.backend = str(extra.get("backend") or "")
    spec.description = str(extra.get("description") or "")
    spec.no_binary = [str(n) for n in extra.get("no_binary") or []]
    if isinstance(extra.get("requested"), list):
        spec.requested = [str(r) for r in extra["requested"]]
    if extra.get("python") and not spec.python:
        spec.python = ".".join(str(extra["python"]).split(".")[:2])
    spec.packages = requirements.absolute_paths(spec.packages)
    _validate(spec.packages, path)
    return spec


def _validate(packages, path):
    try:
        requirements.validate(packages)
    except PyenvmodError as exc:
        raise PyenvmodError(f"{path}: {exc.message}") from None
