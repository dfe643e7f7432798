"""Delete an environment: modulefiles first (nothing points at a missing env), then metadata, then the prefix.

Only paths computed from the root are removed, never a path read from metadata,
and no symlink is followed out of the root.
"""

import os

from pyenvmod import files, locking, metadata, modulefiles, names, proc
from pyenvmod.config import Config
from pyenvmod.errors import PyenvmodError
from pyenvmod.operations.common import layout_for
from pyenvmod.operations.kernel import remove_kernels


def delete(config: Config, name: str, confirm=lambda name, prefix: True) -> bool:
    """Remove environment ``name``; ``confirm(name, prefix)`` may say no. Returns whether removed."""
    names.validate(name)
    layout = layout_for(config)
    prefix = layout.prefix(name)
    pieces = (layout.meta_file(name), prefix, layout.module_dir(name))
    if not any(os.path.lexists(p) for p in pieces):
        raise PyenvmodError(f"no environment named {name!r} under {layout.base}; see 'pyenvmod list'")
    dependents = _extended_by(layout, str(prefix))
    if dependents:
        raise PyenvmodError(
            f"{name!r} is the base of {', '.join(repr(d) for d in dependents)} (created with --extends); "
            "delete those first"
        )
    if not confirm(name, prefix):
        return False
    layout.ensure(shared=bool(config.group))
    with proc.interrupts_raise(), locking.locked(layout.lock_file(name), config["lock_timeout"], f"environment {name!r}"):
        try:
            remove_kernels(metadata.read(layout.meta_file(name)))
        except (FileNotFoundError, PyenvmodError):
            pass  # a leftover without (readable) metadata has no kernels we know of
        modulefiles.remove(layout, name)
        files.remove_inside(layout.meta_file(name), layout.root)
        files.remove_inside(prefix, layout.root)
        files.remove_inside(layout.history_dir(name), layout.root)
        files.remove_inside(layout.base / "images" / name, layout.root)  # 'pyenvmod pack': image, launchers
    return True


def _extended_by(layout, prefix: str) -> list[str]:
    found = []
    for other in layout.names():
        try:
            record = metadata.read(layout.meta_file(other))
        except (FileNotFoundError, PyenvmodError):
            continue
        if record.extends and record.extends.get("prefix") == prefix:
            found.append(other)
    return found
