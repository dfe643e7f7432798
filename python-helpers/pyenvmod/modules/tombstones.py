"""Tombstones: what stays of a deleted environment's modulefiles while a shell may still have it loaded.

A shell unloads a module with the modulefile at the path its module system recorded
(``_LMFILES_``): if that file is gone, Lmod leaves the variables behind and Environment
Modules refuses. So ``delete`` does not remove the modulefiles: it rewrites them as
tombstones (the same unload, which needs nothing from the deleted prefix; load refused; no
extensions) and hides them from ``module avail``/``spider`` with a ``.modulerc.lua`` (Lmod)
and a ``.modulerc`` (Environment Modules) in their folder.

A tombstone goes (``sweep``, run by every ``delete`` and by ``doctor --fix``) once nothing
can have it loaded any more, as far as pyenvmod can tell on this node:

- the calling shell does not have it loaded (its environment is ours), and
- no other process of this user has it in its environment (``/proc/PID/environ``), and
- no other shell of this user is still running that started before the tombstone was
  written: only such a shell can have loaded it; one started later cannot (load is refused)
  and would show it in its environment if it inherited it.

In a group's tree, other members' shells are out of sight: tombstones stay there (hidden,
a few kilobytes) until the name is created again. Shells on other nodes are out of sight
too: if one still has the module loaded after its tombstone went, ``pyenvmod doctor``
there says so and ``--fix`` writes the tombstone back.
"""

import os
import re
from pathlib import Path

from pyenvmod import __version__
from pyenvmod.modules import modulefiles, render
from pyenvmod.records import names
from pyenvmod.trust import files
from pyenvmod.errors import PyenvmodError
from pyenvmod.records.layout import MODULE_FAMILY, Layout
from pyenvmod.records.metadata import EnvRecord
from pyenvmod.trust.tree import Tree

RC_FILES = {".modulerc.lua": "modulerc.lua.j2", ".modulerc": "modulerc.tcl.j2"}
SHELLS = frozenset({"bash", "sh", "dash", "zsh", "ksh", "mksh", "tcsh", "csh", "fish"})


def is_tombstone(layout: Layout, name: str) -> bool:
    """A module folder left by ``delete``: hidden by its rc file, with no environment behind it."""
    folder = layout.module_dir(name)
    return (os.path.isfile(folder / ".modulerc") and not folder.is_symlink()
            and not os.path.lexists(layout.meta_file(name)) and not os.path.lexists(layout.prefix(name)))


def bury(layout: Layout, record: EnvRecord, options: dict | None = None) -> list[Path]:
    """Replace the modulefiles of ``record`` (deleted) with tombstones, both formats (a shell
    may have loaded either), hidden; its activation scripts go."""
    env = render.environment((options or {}).get("templates", ()))
    context = dict(modulefiles.context(record, layout.modules_dir, options), deleted=True, extensions=[])
    folder = layout.module_dir(record.name)
    texts = {folder / fmt.filename(record.tag): render.render(fmt, context, env) for fmt in render.FORMATS.values()}
    rc_context = {"name": record.name, "modules": [record.module], "pyenvmod_version": __version__}
    for filename, template in RC_FILES.items():
        texts[folder / filename] = render.render_template(template, rc_context, env)
    files.remove_inside(layout.activate_dir(record.name), layout.root)
    if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
        files.remove_inside(folder, layout.root)
    files.make_dirs(layout.root, folder)  # refusing a symlinked folder on the way
    for path in folder.iterdir():
        if path not in texts:
            files.remove_inside(path, layout.root)
    for path, text in texts.items():
        files.write_atomic(path, text, inside=layout.root)
    return list(texts)


def restore(layout: Layout, name: str, tag: str, options: dict | None = None) -> list[Path]:
    """Write the tombstone of ``pyenv/NAME/TAG`` back (a shell still has it loaded, its tombstone
    is gone): everything its unload needs follows from the layout, the name and the tag."""
    names.validate(name)
    if not re.fullmatch(r"py\d+\.\d+", tag):
        raise PyenvmodError(f"pyenv/{name}/{tag} is not a module pyenvmod writes; unload it with 'module unload'")
    python = tag[len("py"):]
    record = EnvRecord(name=name, prefix=str(layout.prefix(name)), python=python, base_python="", backend="",
                       module=Layout.module_name(name, tag), created="", owner="", platform=layout.platform)
    return bury(layout, record, options)


def sweep(layout: Layout, environ=None, shared: bool = False) -> list[str]:
    """Remove the tombstones nothing can have loaded any more; returns their names. In a
    group's tree (``shared``) the other members' shells are out of sight: nothing is removed."""
    environ = os.environ if environ is None else environ
    family = layout.modules_dir / MODULE_FAMILY
    if shared or not family.is_dir():
        return []
    tree = Tree(layout)
    removed = []
    for folder in sorted(family.iterdir()):
        if not is_tombstone(layout, folder.name):
            continue
        try:  # under the name's lock, so a create of the same name cannot interleave; busy: next time
            with tree.lock(folder.name, 0):
                if not is_tombstone(layout, folder.name):
                    continue
                since = os.lstat(folder / ".modulerc").st_mtime
                modulefiles_ = [str(p) for p in folder.iterdir() if not p.name.startswith(".")]
                if not possibly_loaded(modulefiles_, since, environ):
                    files.remove_inside(folder, layout.root)
                    removed.append(folder.name)
        except (PyenvmodError, OSError):
            continue
    return removed


def possibly_loaded(paths: list[str], since: float, environ=None) -> bool:
    """Whether a process of this user on this node may have one of the modulefiles ``paths``
    loaded: see the module docstring."""
    environ = os.environ if environ is None else environ
    wanted = {os.path.normpath(p) for p in paths} | {os.path.realpath(p) for p in paths}

    def names_it(lmfiles: str) -> bool:
        return any(os.path.normpath(p) in wanted for p in lmfiles.split(":") if p)

    if names_it(environ.get("_LMFILES_", "")):
        return True
    me, parent = os.getpid(), os.getppid()  # the calling shell's current environment is ours
    boot, tick = _boot_time(), os.sysconf("SC_CLK_TCK")
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit() or int(entry.name) in (me, parent):
            continue
        try:
            if entry.stat().st_uid != os.getuid():
                continue
            with open(f"/proc/{entry.name}/stat", "rb") as fh:
                stat = fh.read().decode("utf-8", "replace")
            comm = stat[stat.index("(") + 1:stat.rindex(")")]
            started = boot + int(stat[stat.rindex(")") + 2:].split()[19]) / tick
        except (OSError, ValueError, IndexError):
            continue  # gone meanwhile
        if comm.lstrip("-") in SHELLS and started <= since + 1:  # btime has whole seconds
            return True
        try:
            with open(f"/proc/{entry.name}/environ", "rb") as fh:
                variables = fh.read().split(b"\0")
        except OSError:
            continue
        for item in variables:
            if item.startswith(b"_LMFILES_=") and names_it(item[len(b"_LMFILES_="):].decode("utf-8", "replace")):
                return True
    return False


def _boot_time() -> float:
    with open("/proc/stat", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("btime "):
                return float(line.split()[1])
    return 0.0
