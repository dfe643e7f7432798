"""Which environments of a tree are loaded in the calling shell, read from the module system's own record.

Lmod and Environment Modules both keep the paths of the loaded modulefiles in ``_LMFILES_``
(colon-separated, in load order). An environment of this tree is loaded when one of those
paths is a modulefile in its folder ``modules/pyenv/NAME/``. Nothing is read from the files.
"""

import os

from pyenvmod.records.layout import MODULE_FAMILY, Layout


def loaded_names(layout: Layout, environ=None) -> list[str]:
    """Names of this tree's environments that are loaded, in load order, each once."""
    environ = os.environ if environ is None else environ
    family = str(layout.modules_dir / MODULE_FAMILY)
    folders = {os.path.normpath(family), os.path.realpath(family)}
    found = []
    for path in environ.get("_LMFILES_", "").split(":"):
        env_folder = os.path.dirname(os.path.normpath(path)) if path else ""
        if env_folder and os.path.dirname(env_folder) in folders:
            name = os.path.basename(env_folder)
            if name not in found:
                found.append(name)
    return found


def is_loaded(layout: Layout, name: str, environ=None) -> bool:
    return name in loaded_names(layout, environ)
