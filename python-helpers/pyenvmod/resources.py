"""Where the built-in templates and Lmod hooks are: package data when installed, the repo otherwise."""

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent
_IN_REPO = {"templates": "modulefiles-templates", "lmod-hooks": "lmod-hooks"}


def data_dir(kind: str) -> Path:
    installed = _PACKAGE / "data" / kind
    if installed.is_dir():
        return installed
    return _PACKAGE.parent.parent / _IN_REPO[kind]
