"""Roll an environment back to an earlier state from its history.

The recorded package set is rebuilt beside the current environment (same backend and
base interpreter, every package pinned), its scripts are pointed at the final prefix,
and only then are the two folders swapped. A failed rebuild removes the new folder and
leaves the working environment untouched.
"""

import os
import shlex
from datetime import datetime, timezone

from pyenvmod.backends import pythons
from pyenvmod.modules import modulefiles, stacking
from pyenvmod.packages import outside, sources
from pyenvmod.records import history, registry
from pyenvmod.runtime import proc
from pyenvmod.trust import files
from pyenvmod.modules import spider_cache
from pyenvmod.config import Config
from pyenvmod.errors import PyenvmodError
from pyenvmod.operations.common import backend_for, load_record, tree_for, write_modulefiles
from pyenvmod.operations.packages import _build_flags
from pyenvmod.packages.installed import pins, snapshot

SEEDED = ("pip",)  # comes with the new environment itself


def _target(layout, record, name: str, to: int) -> dict:
    """History entry ``to`` of an environment that can be rolled back; refused with the way to do it
    instead for an adopted, conda or --prefix environment, or an entry that does not exist."""
    if record.adopted:
        raise PyenvmodError(f"{name!r} was adopted: pyenvmod does not change it, so it cannot roll it back")
    if record.backend == "conda":
        raise PyenvmodError(f"{name!r} is a conda environment, whose files name their own folder: it cannot be "
                            f"rebuilt beside itself; export an entry's state and create it again instead")
    if record.prefix != str(layout.prefix(name)):
        raise PyenvmodError(f"{name!r} lives at {record.prefix} (create --prefix): it is rolled back by "
                            f"exporting an entry's state and creating it again")
    entries = {e["n"]: e for e in history.entries(layout, name)}
    if to not in entries:
        known = ", ".join(map(str, sorted(entries))) or "none"
        raise PyenvmodError(f"{name!r} has no history entry {to} (entries: {known}); "
                            f"see 'pyenvmod history {shlex.quote(name)}'")
    return entries[to]


def rollback(config: Config, name: str, to: int, notify=lambda m: None):
    tree = tree_for(config)
    layout = tree.layout
    load_record(layout, name)
    with proc.interrupts_raise(), tree.lock(name, config["lock_timeout"]):
        record = load_record(layout, name)
        target = _target(layout, record, name, to)
        backend = backend_for(config, record.backend, record.channels)
        outside.reconcile(config, layout, record, backend, notify)  # so that state is in the history too
        prefix = tree.prefix(name)
        staging = layout.envs_dir / f".{name}.rollback"
        tree.check_dir(layout.envs_dir)
        tree.remove(staging)  # a leftover of an interrupted rollback
        base = pythons.probe(record.base_python)
        if base is None or base.major_minor != ".".join(record.python.split(".")[:2]):
            raise PyenvmodError(f"the base interpreter of {name!r} ({record.base_python}) is gone or changed; "
                                "create the environment again from an export instead")
        pinned = pins(target["packages"], target.get("sources", {}), skip=SEEDED)
        sources.check(config, pinned)
        flags = _build_flags(config, record, backend, list(pinned), notify)  # MPI-linked ones against its MPI
        try:
            notify(f"rebuilding {name!r} as of history entry {to} beside the current one")
            backend.create(staging, base, prompt=name)
            base_site = (str(stacking.site_packages(record.extends["prefix"], record.extends["python"]))
                         if record.extends else None)
            stacking.install_hook(str(staging), record.python, base_site, inside=layout.root)
            if pinned:
                backend.install(staging, pinned, layered=bool(record.extends), no_binary=flags)
            files.replace_in_text_files(staging / "bin", str(staging), str(prefix),
                                        inside=files.below(staging, layout.root))
            files.replace_in_text_files(staging, str(staging), str(prefix),  # pyvenv.cfg
                                        inside=files.below(staging, layout.root))
            files.no_world_write(staging, inside=files.below(staging, layout.root))
        except BaseException:
            tree.remove(staging)
            raise
        tree.check_dir(layout.envs_dir)
        if os.path.islink(prefix) or os.path.islink(staging):
            tree.remove(staging)  # the rebuilt copy (or the link put in its place): not left in the tree
            raise PyenvmodError(f"{prefix} or {staging} was replaced by a symlink meanwhile; nothing was swapped")
        files.exchange(prefix, staging)  # the rebuilt state is now at prefix, the old one at staging
        try:
            snapshot(record, backend)
            record.requested = list(target.get("requested", record.requested))
            record.updated = datetime.now(timezone.utc).isoformat(timespec="seconds")
            write_modulefiles(layout, record, modulefiles.options_from(config))
            registry.write(tree, record)
            history.add(layout, name, "rollback", [f"--to {to}"], record.packages, record.requested,
                        record.sources)
        finally:
            tree.remove(staging)
    spider_cache.refresh(config, layout)
    return record
