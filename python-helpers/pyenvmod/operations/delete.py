"""Delete an environment: modulefiles first (nothing points at a missing env), then metadata, then the prefix.

Only paths computed from the root are removed, never a path read from metadata,
and no symlink is followed inside or out of the root (see tree.py). An environment loaded in
the calling shell is refused unless forced; the modulefiles become tombstones (tombstones.py)
so that any shell that has it loaded can still unload it.
"""

import os

from pyenvmod.modules import loaded, modulefiles, spider_cache, tombstones
from pyenvmod.records import names, registry
from pyenvmod.runtime import proc
from pyenvmod.config import Config
from pyenvmod.errors import PyenvmodError
from pyenvmod.operations import external_prefix
from pyenvmod.operations.common import tree_for, unknown_name
from pyenvmod.operations.kernel import remove_kernels


def _present(tree, name: str) -> bool:
    """Anything of ``name`` left but a tombstone (which only lets loaded shells unload it)."""
    if os.path.lexists(tree.meta_file(name)) or os.path.lexists(tree.prefix(name)):
        return True
    return os.path.lexists(tree.module_dir(name)) and not tombstones.is_tombstone(tree.layout, name)


def delete(config: Config, name: str, confirm=lambda name, prefix: True, force: bool = False) -> bool:
    """Remove environment ``name``; ``confirm(name, prefix)`` may say no. Returns whether removed
    (of two racing deletes, only the one that removed it says so)."""
    names.validate(name)
    tree = tree_for(config)
    layout = tree.layout
    prefix = tree.prefix(name)
    if not _present(tree, name):
        raise unknown_name(layout, name)
    if not force and loaded.is_loaded(layout, name):
        raise PyenvmodError(f"{name!r} is loaded in this shell; run 'module unload pyenv/{name}' first, "
                            "or pass --force (the shell can still unload it afterwards)")
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
        if not _present(tree, name):
            raise PyenvmodError(f"no environment named {name!r} under {layout.base}: another process deleted "
                                "it meanwhile")
        try:
            record = registry.record(tree, name)
            remove_kernels(record)
        except (FileNotFoundError, PyenvmodError):
            record = None  # a leftover without (readable) metadata has no kernels we know of
        if record is not None and os.path.isdir(layout.module_dir(name)):
            tombstones.bury(layout, record, modulefiles.options_from(config))
        else:
            modulefiles.remove(layout, name)
        tree.remove(tree.meta_file(name))  # from here on it is gone: the rest is finished as far as it can be
        left = []  # what other members made in a group tree and we may not remove (their 0755 folders)
        tree.remove(prefix, left)
        if left and os.path.lexists(prefix):  # what is left goes aside: the name is free, nothing lists it
            prefix = _set_aside(layout, name)
        if record is not None:
            external_prefix.remove(layout, record)  # made with create --prefix: only if provably its folder
        tree.remove(tree.history_dir(name), left)
        tree.remove(layout.base / "images" / name, left)  # 'pyenvmod pack': image, launchers
    tombstones.sweep(layout, shared=bool(config.group))
    spider_cache.refresh(config, layout)
    if left:
        import shlex

        first, reason = left[0]
        more = f" and {len(left) - 1} more" if len(left) > 1 else ""
        if str(first).startswith(str(layout.prefix(name)) + "/"):  # it was moved aside with its folder
            first = str(prefix) + str(first)[len(str(layout.prefix(name))):]
        raise PyenvmodError(f"deleted {name!r}, but {first} ({reason}){more} could not be removed: another member "
                            f"made it; ask them, or the tree's owner, to run 'rm -rf {shlex.quote(str(prefix))}'")
    return True


def _set_aside(layout, name: str):
    """Rename the environment folder ``envs/NAME`` to a hidden ``envs/.NAME.deleted-XXXXXXXX``."""
    import secrets

    from pyenvmod.trust.folders import Folder

    aside = f".{name}.deleted-{secrets.token_hex(4)}"
    with Folder.open(layout.root, layout.envs_dir) as envs:
        envs.rename_new(name, aside)
    return layout.envs_dir / aside


def _extended_by(tree, prefix: str) -> list[str]:
    found = []
    for other in tree.names():
        try:
            record = registry.record(tree, other)
        except (FileNotFoundError, PyenvmodError):
            continue  # a broken record blocks nothing
        if record.extends and os.path.normpath(record.extends["prefix"]) == os.path.normpath(prefix):
            found.append(other)
    return found
