"""Delete an environment: modulefiles first (nothing points at a missing env), then metadata, then the prefix.

Only paths computed from the root are removed, never a path read from metadata,
and no symlink is followed out of the root.
"""

import os

from pyenvmod import files, locking, modulefiles, names, proc
from pyenvmod.config import Config
from pyenvmod.errors import PyenvmodError
from pyenvmod.operations.common import layout_for


def delete(config: Config, name: str, confirm=lambda name, prefix: True) -> bool:
    """Remove environment ``name``; ``confirm(name, prefix)`` may say no. Returns whether removed."""
    names.validate(name)
    layout = layout_for(config)
    prefix = layout.prefix(name)
    pieces = (layout.meta_file(name), prefix, layout.module_dir(name))
    if not any(os.path.lexists(p) for p in pieces):
        raise PyenvmodError(f"no environment named {name!r} under {layout.base}; see 'pyenvmod list'")
    if not confirm(name, prefix):
        return False
    layout.ensure()
    with proc.interrupts_raise(), locking.locked(layout.lock_file(name), config["lock_timeout"], f"environment {name!r}"):
        modulefiles.remove(layout, name)
        files.remove_inside(layout.meta_file(name), layout.root)
        files.remove_inside(prefix, layout.root)
    return True
