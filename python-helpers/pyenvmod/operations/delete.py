"""Delete an environment: modulefiles first (nothing points at a missing env), then metadata, then the prefix.

Only paths computed from the root are removed, never a path read from metadata,
and no symlink is followed inside or out of the root (see tree.py).
"""

import os

from pyenvmod import modulefiles, names, proc
from pyenvmod.config import Config
from pyenvmod.errors import PyenvmodError
from pyenvmod.operations.common import tree_for
from pyenvmod.operations.kernel import remove_kernels


def _pieces(tree, name: str) -> tuple:
    return (tree.meta_file(name), tree.prefix(name), tree.module_dir(name))


def delete(config: Config, name: str, confirm=lambda name, prefix: True) -> bool:
    """Remove environment ``name``; ``confirm(name, prefix)`` may say no. Returns whether removed
    (of two racing deletes, only the one that removed it says so)."""
    names.validate(name)
    tree = tree_for(config)
    layout = tree.layout
    prefix = tree.prefix(name)
    if not any(os.path.lexists(p) for p in _pieces(tree, name)):
        raise PyenvmodError(f"no environment named {name!r} under {layout.base}; see 'pyenvmod list'")
    dependents = _extended_by(tree, str(prefix))
    if dependents:
        raise PyenvmodError(
            f"{name!r} is the base of {', '.join(repr(d) for d in dependents)} (created with --extends); "
            "delete those first"
        )
    if not confirm(name, prefix):
        return False
    tree.ensure()
    for folder in (layout.envs_dir, layout.meta_dir, layout.module_dir(name).parent,
                   layout.history_dir(name).parent, layout.activate_dir(name).parent):
        tree.check_dir(folder)  # refuse a symlinked folder before anything is removed
    with proc.interrupts_raise(), tree.lock(name, config["lock_timeout"]):
        if not any(os.path.lexists(p) for p in _pieces(tree, name)):
            raise PyenvmodError(f"no environment named {name!r} under {layout.base}: another process deleted "
                                "it meanwhile")
        try:
            remove_kernels(tree.record(name))
        except (FileNotFoundError, PyenvmodError):
            pass  # a leftover without (readable) metadata has no kernels we know of
        modulefiles.remove(layout, name)
        tree.remove(tree.meta_file(name))
        tree.remove(prefix)
        tree.remove(tree.history_dir(name))
    return True


def _extended_by(tree, prefix: str) -> list[str]:
    found = []
    for other in tree.names():
        try:
            record = tree.record(other)
        except (FileNotFoundError, PyenvmodError):
            continue  # a broken record blocks nothing
        if record.extends and os.path.normpath(record.extends["prefix"]) == os.path.normpath(prefix):
            found.append(other)
    return found
