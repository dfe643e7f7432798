"""The metadata record of one environment, stored as JSON; writing it registers the environment."""

import json
import re
from pathlib import Path

from pyenvmod.trust import files
from pyenvmod.errors import PyenvmodError

SCHEMA_VERSION = 1


REQUIRED = object()  # a field without a default: every record names it

# The record's fields, in the order they are written, with their defaults (a list or a mapping is
# copied for each record).
FIELDS = {
    "name": REQUIRED,
    "prefix": REQUIRED,
    "python": REQUIRED,  # full version, e.g. 3.12.1
    "base_python": REQUIRED,  # the interpreter the environment was made from
    "backend": REQUIRED,
    "module": REQUIRED,  # pyenv/NAME/TAG
    "created": REQUIRED,  # ISO 8601, UTC
    "owner": REQUIRED,
    "platform": REQUIRED,
    "description": "",
    "requested": [],  # packages as the user asked for them
    "extends": None,  # the base environment: name, prefix, module, modules_dir, python
    "modules": [],  # modules loaded at create time (compiler, MPI, ...)
    "module_paths": [],  # the MODULEPATH folders holding those modules
    "module_files": [],  # beside "modules": the modulefile each was loaded from at create time ("" if not loaded)
    "kernels": [],  # Jupyter kernelspec folders written for it
    "channels": [],  # conda backend: the channels it was made from
    "adopted": False,  # registered with 'pyenvmod adopt': pyenvmod never changes or removes it
    "no_binary": [],  # packages built from source (--no-binary)
    "mpi": None,  # the MPI of its recorded modules at create time (mpi.Mpi): module, library, ...
    "packages": {},  # the locked package set: {name: version}
    "sources": {},  # packages not from an index: {name: "name @ url"}
    "updated": "",  # ISO 8601, UTC: the last change made through pyenvmod
    "pyenvmod_version": "",
    "schema": SCHEMA_VERSION,
}


def _copied(value):
    """A copy of JSON-like data: lists and mappings are new, all the way down."""
    if isinstance(value, list):
        return [_copied(v) for v in value]
    if isinstance(value, dict):
        return {k: _copied(v) for k, v in value.items()}
    return value


class EnvRecord:
    """The record of one environment: an attribute per field of ``FIELDS``, given by keyword. A plain
    class, not a dataclass: importing dataclasses took a tenth of a command's start-up (issue 14)."""

    __slots__ = tuple(FIELDS)

    def __init__(self, **values):
        unknown = values.keys() - FIELDS.keys()
        if unknown:
            raise TypeError(f"EnvRecord has no field {', '.join(sorted(unknown))}")
        for key, default in FIELDS.items():
            if key in values:
                setattr(self, key, values[key])
            elif default is REQUIRED:
                raise TypeError(f"EnvRecord needs {key}")
            else:
                setattr(self, key, _copied(default))

    def __eq__(self, other):
        return type(other) is EnvRecord and all(getattr(self, k) == getattr(other, k) for k in FIELDS)

    __hash__ = None  # changed in place: never a dict key

    def __repr__(self):
        return f"EnvRecord({', '.join(f'{k}={getattr(self, k)!r}' for k in FIELDS)})"

    def to_dict(self) -> dict:
        """Every field, in order; lists and mappings copied."""
        return {k: _copied(getattr(self, k)) for k in FIELDS}

    def replace(self, **changes) -> "EnvRecord":
        """A new record: this one with ``changes``."""
        return EnvRecord(**{**self.to_dict(), **changes})

    @property
    def tag(self) -> str:
        return self.module.rsplit("/", 1)[-1]

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n"


MAX_BYTES = 4 << 20  # a record of thousands of packages is well below this
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_TEXT_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # a description may hold tabs and line breaks
_VERSION = re.compile(r"\d+\.\d+(\.\d+)?[A-Za-z0-9.+]*\Z", re.ASCII)
_STR_LIST = "a list of texts"
_STR_MAP = "a mapping of texts to texts"
FIX = "repair it by hand or delete it and run 'pyenvmod doctor'"


def _is_str_list(v):
    return isinstance(v, list) and all(isinstance(x, str) for x in v)


def _is_str_map(v):
    return isinstance(v, dict) and all(isinstance(k, str) and isinstance(x, str) for k, x in v.items())


# field: (check, what it must be). Every field is checked before a record is used.
SCHEMA = {
    "name": (lambda v: isinstance(v, str), "a text"),
    "prefix": (lambda v: isinstance(v, str) and v.startswith("/"), "an absolute path"),
    "python": (lambda v: isinstance(v, str) and _VERSION.match(v), "a Python version like 3.12.1"),
    "base_python": (lambda v: isinstance(v, str), "a text"),
    "backend": (lambda v: v in ("uv", "venv", "conda"), "one of uv, venv, conda"),
    "module": (lambda v: isinstance(v, str), "a text"),
    "created": (lambda v: isinstance(v, str), "a text"),
    "owner": (lambda v: isinstance(v, str), "a text"),
    "platform": (lambda v: isinstance(v, str), "a text"),
    "description": (lambda v: isinstance(v, str), "a text"),
    "requested": (_is_str_list, _STR_LIST),
    "extends": (lambda v: v is None or (_is_str_map(v) and
                                        {"name", "prefix", "module", "modules_dir", "python"} <= v.keys()),
                "null or a mapping with name, prefix, module, modules_dir and python"),
    "modules": (_is_str_list, _STR_LIST),
    "mpi": (lambda v: v is None or _is_str_map(v), "null or a mapping of texts (module, mpicc, library, ...)"),
    "module_paths": (_is_str_list, _STR_LIST),
    "module_files": (_is_str_list, _STR_LIST),
    "kernels": (_is_str_list, _STR_LIST),
    "channels": (_is_str_list, _STR_LIST),
    "adopted": (lambda v: isinstance(v, bool), "true or false"),
    "no_binary": (_is_str_list, _STR_LIST),
    "packages": (_is_str_map, _STR_MAP),
    "sources": (_is_str_map, _STR_MAP),
    "updated": (lambda v: isinstance(v, str), "a text"),
    "pyenvmod_version": (lambda v: isinstance(v, str), "a text"),
    "schema": (lambda v: isinstance(v, int) and not isinstance(v, bool), "a number"),
}


def _texts(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from _texts(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _texts(item)


def parse(data: bytes, path: Path) -> EnvRecord:
    """A record from the bytes of ``path``, every field checked against ``SCHEMA``; anything
    else (wrong types, control characters, a name that is not the file's) is refused with
    an error naming the file."""
    from pyenvmod.records import names

    path = Path(path)
    try:
        data = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        why = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
        raise PyenvmodError(f"metadata file {path} is corrupt: unreadable JSON ({why}); {FIX}") from None
    if not isinstance(data, dict):
        raise PyenvmodError(f"metadata file {path} is corrupt: not a JSON object; {FIX}")
    known = set(FIELDS)
    required = {k for k, default in FIELDS.items() if default is REQUIRED}
    if not required <= data.keys():
        raise PyenvmodError(f"metadata file {path} is incomplete or corrupt (missing "
                            f"{', '.join(sorted(required - data.keys()))}); {FIX}")
    values = {k: v for k, v in data.items() if k in known}
    for key, value in values.items():
        check, wanted = SCHEMA[key]
        if not check(value):
            raise PyenvmodError(f"metadata file {path} is corrupt: {key} must be {wanted}; {FIX}")
        control = _TEXT_CONTROL if key == "description" else _CONTROL
        if any(control.search(text) for text in _texts(value)):
            raise PyenvmodError(f"metadata file {path}: {key} holds control characters; {FIX}")
    record = EnvRecord(**values)
    if record.name != path.stem:
        raise PyenvmodError(f"metadata file {path} describes {record.name!r}, not {path.stem!r}; {FIX}")
    try:
        names.validate(record.name)
        if record.extends:
            names.validate(record.extends["name"])
    except PyenvmodError as exc:
        raise PyenvmodError(f"metadata file {path}: {exc.message}") from None
    if record.extends and not _VERSION.match(record.extends["python"]):
        raise PyenvmodError(f"metadata file {path}: extends.python must be a Python version; {FIX}")
    wanted_module = f"pyenv/{record.name}/py{'.'.join(record.python.split('.')[:2])}"
    if record.module != wanted_module:
        raise PyenvmodError(f"metadata file {path}: module must be {wanted_module}; {FIX}")
    return record


def read(path: Path, inside=None) -> EnvRecord:
    """Read a record (a regular file, never through a symlink, at most ``MAX_BYTES``); a damaged
    file gives an error that names it and the fix. ``inside``: the tree it belongs to."""
    try:
        data = files.read_bytes(path, MAX_BYTES, inside=inside)
    except FileNotFoundError:
        raise
    except PyenvmodError as exc:
        raise PyenvmodError(f"metadata file {exc.message}; {FIX}") from None
    except OSError as exc:
        raise PyenvmodError(f"metadata file {path} is unreadable ({exc.strerror}); {FIX}") from None
    return parse(data, path)


def write(path: Path, record: EnvRecord, inside=None) -> None:
    """Write atomically: readers see the old file or the new one, never half of one.
    ``inside``: the tree it belongs to (no symlinked folder on the way is followed)."""
    files.write_atomic(path, record.to_json(), inside=inside)
