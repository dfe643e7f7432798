"""A tree's records, checked: which environments a tree holds, read and written through its ``Tree``.

A record is the one file a group member can forge that names paths. Every path in it is checked
against the tree's layout before anything uses it (``check``): its prefix must be the folder the
layout gives (after resolving symlinks), an adopted environment's must lie outside the tree, one made
with ``create --prefix`` must carry its owner's marker; the base it extends must be an environment of
a pyenvmod tree and that tree's modules folder; its kernels must be kernelspec folders of its name.
The paths and the file reads are the trust package's (``trust.tree``); the rules are the records'.
"""

import os
from pathlib import Path

from pyenvmod.errors import PyenvmodError
from pyenvmod.records import metadata, names
from pyenvmod.records.layout import Layout
from pyenvmod.trust.tree import Tree


def tree_of_prefix(prefix: Path) -> Tree:
    """The tree holding an environment folder ``ROOT/PLATFORM/envs/NAME`` (a group's, a site's)."""
    prefix = Path(os.path.normpath(os.path.abspath(prefix)))
    if prefix.parent.name != "envs":
        raise PyenvmodError(f"{prefix} is not an environment folder of a pyenvmod tree "
                            "(ROOT/PLATFORM/envs/NAME)")
    base = prefix.parent.parent
    names.validate(prefix.name)
    return Tree(Layout(base.parent, names.validate_platform(base.name)))


def record(tree: Tree, name: str) -> metadata.EnvRecord:
    """The checked record of ``name`` (FileNotFoundError when it has none): its schema, and
    every path in it, as ``check`` says."""
    path = tree.meta_file(name)
    found = metadata.read(path, inside=tree.root)
    return check(tree, found, path)


def check(tree: Tree, record: metadata.EnvRecord, source: Path) -> metadata.EnvRecord:
    """Paths a record names are the layout's, or refused naming ``source``:
    its prefix (adopted environments: anywhere, pyenvmod never writes there), its base's
    prefix and modules folder (``TREE/envs/NAME`` and ``TREE/modules`` of one tree), its
    kernels (``.../kernels/pyenv-NAME`` folders)."""
    fix = "repair or delete it"
    derived = tree.layout.prefix(record.name)
    if record.adopted:
        if tree.inside(record.prefix):
            raise PyenvmodError(f"metadata file {source}: an adopted environment's prefix {record.prefix} "
                                f"lies inside the tree; {fix}")
    elif external(tree, record):
        pass  # made with 'create --prefix': its folder's marker, written by this user, names it
    elif not tree.same_place(record.prefix, derived):
        raise PyenvmodError(f"metadata file {source}: prefix {record.prefix} is not the folder of "
                            f"{record.name!r} in this tree ({derived}); {fix}")
    else:
        record.prefix = str(derived)  # from here on, the path the layout gives
    if record.platform != tree.layout.platform:
        raise PyenvmodError(f"metadata file {source}: platform {record.platform!r} is not this tree's "
                            f"{tree.layout.platform!r}; {fix}")
    if record.extends:
        base = Path(os.path.normpath(record.extends["prefix"]))
        ok = (os.path.isabs(record.extends["prefix"]) and base.name == record.extends["name"]
              and base.parent.name == "envs"
              and os.path.normpath(record.extends["modules_dir"]) == str(base.parent.parent / "modules")
              and record.extends["module"].startswith(f"pyenv/{record.extends['name']}/"))
        if not ok:
            raise PyenvmodError(f"metadata file {source}: extends names {record.extends['prefix']} and "
                                f"{record.extends['modules_dir']}, which are not an environment of a "
                                f"pyenvmod tree and that tree's modules folder; {fix}")
    for path in record.kernels:
        kernel = Path(path)
        if not kernel.is_absolute() or kernel.name != names.kernel_name(record.name) \
                or kernel.parent.name != "kernels" or ".." in kernel.parts:
            raise PyenvmodError(f"metadata file {source}: kernel {path} is not a kernelspec folder of "
                                f"{record.name!r} (.../kernels/{names.kernel_name(record.name)}); {fix}")
    return record


def external(tree: Tree, record: metadata.EnvRecord) -> bool:
    """An environment made with ``create --prefix`` in a private tree: outside the tree, and its
    folder holds a marker naming this tree and environment, owned by the calling user."""
    return (not tree.shared and os.path.isabs(record.prefix) and not tree.inside(record.prefix)
            and tree.owns_prefix(record.prefix, record.name))


def write_anchor(tree: Tree, record: metadata.EnvRecord) -> Path:
    """The folder writes into an environment are anchored at (no symlinked folder below it is
    followed): the tree, or the environment's own folder when it was made with --prefix."""
    return Path(record.prefix) if external(tree, record) else tree.root


def write(tree: Tree, record: metadata.EnvRecord) -> None:
    """Register ``record``: its metadata file, written through the tree."""
    metadata.write(tree.meta_file(record.name), record, inside=tree.root)
