"""What a record may lead pack and stage to read outside the tree (issue 22, hole 5).

A record in a group tree is anyone's word: a member can write ``adopted: true, prefix: /home/BOB``, or an
``extends`` naming a maintainer's private environment, and the maintainer's ``pack`` would then copy that
home or that environment into an image the whole group reads. So before packing:

- an adopted environment's folder must prove that it belongs to the record's owner and was registered
  under this tree and name: the marker ``create --prefix`` and ``adopt`` write (``.pyenvmod-prefix.json``,
  naming the tree and the environment), a regular file owned by the owner of the folder, in a folder
  that owner holds and nobody else may write; that owner is the record's owner;
- an environment a group environment extends must lie in the same tree, or in a tree every user may
  read (a site's): never in a private one (a home folder of 0700), which its owner did not share.

Only reading (lstat, a capped read of the marker): nothing here writes or runs anything.
"""

import json
import os
import stat
from pathlib import Path

from pyenvmod.errors import PyenvmodError
from pyenvmod.trust.tree import PREFIX_MARKER

MARKER_MAX_BYTES = 4096


def _owner_uid(name: str):
    import pwd

    try:
        return pwd.getpwnam(name).pw_uid
    except KeyError:
        return None


def proven(tree_base, prefix: str, name: str, owner: str) -> str:
    """'' when the folder ``prefix`` proves it is ``name``'s of the tree at ``tree_base``, registered by
    ``owner``; else why not (one clause)."""
    from pyenvmod.trust import files, private_files

    try:
        st = os.lstat(prefix)
    except OSError as exc:
        return f"its folder {prefix} cannot be read ({exc.strerror})"
    if not stat.S_ISDIR(st.st_mode):
        return f"{prefix} is not a folder"
    uid = _owner_uid(owner)
    if uid is None or st.st_uid != uid:
        return f"the folder {prefix} does not belong to the record's owner {owner!r}"
    try:
        private_files._writable_by_others(st, f"the folder {prefix}", f"chmod go-w {prefix}")
    except PyenvmodError:
        return f"others may write the folder {prefix}"
    marker = os.path.join(prefix, PREFIX_MARKER)
    try:
        data = json.loads(files.read_bytes(marker, MARKER_MAX_BYTES).decode("utf-8"))
        mst = os.lstat(marker)
    except (OSError, ValueError, PyenvmodError):
        return f"the folder {prefix} has no readable marker {PREFIX_MARKER} (written by 'adopt' and " \
               "'create --prefix')"
    if mst.st_uid != uid:
        return f"the marker in {prefix} was not written by {owner!r}"
    if not (isinstance(data, dict) and data.get("tree") == str(tree_base) and data.get("name") == name):
        return f"the marker in {prefix} names another tree or environment"
    return ""


def _private_above(path: str) -> str:
    """The first folder from / down to ``path`` that others may not enter or read, or ''."""
    current = Path(path)
    chain = [*reversed(current.parents), current]
    for folder in chain:
        try:
            st = os.stat(folder)
        except OSError:
            return str(folder)
        if st.st_mode & 0o005 != 0o005:
            return str(folder)
    return ""


def check_for_pack(tree, record) -> None:
    """Refuse (one line) to pack ``record`` of a group tree when its adopted folder is not proven, or
    it extends an environment of another tree that is private."""
    if not tree.shared:
        return  # a private tree's records are its owner's own word
    base = tree.layout.base
    if record.adopted:
        why = proven(base, record.prefix, record.name, record.owner)
        if why:
            raise PyenvmodError(f"{record.name!r} is adopted from {record.prefix}, but {why}: pyenvmod packs an "
                                "adopted folder into a group image only when its owner registered it; its owner "
                                f"adopts it again ('pyenvmod --group ... adopt {record.prefix}')")
    if record.extends and record.extends.get("prefix"):
        ext = os.path.normpath(record.extends["prefix"])
        if not tree.inside(ext):
            private = _private_above(ext)
            if private:
                raise PyenvmodError(f"{record.name!r} extends {ext}, in a private place ({private} is not open to "
                                    "others): a group image never carries another tree's private environment; "
                                    "recreate it extending an environment of this group's tree or the site's")
