"""Rename an environment: its folder, modulefiles, activation scripts, history and kernels, and
the environments made with ``--extends`` on it.

Interrupted at any point (Ctrl-C, a kill, a crash), the old name or the new one works, never
neither, and running the same rename again finishes it. The steps, in order:

1. NEW's modulefiles and metadata are written; NEW's folder is a placeholder symlink
   (``envs/NEW -> NEW``, resolving to nothing), so NEW is registered but not yet loadable.
2. One atomic exchange (renameat2) swaps the placeholder and the folder: ``envs/NEW`` is the
   environment, ``envs/OLD`` a symlink to it. Both names work from here on.
3. The prefix written into the environment's scripts and pyvenv.cfg, and into the environments
   that extend it, is changed to the new one; the history folder moves (one rename).
4. OLD's modulefiles, metadata, symlink, history and kernels are removed.

A virtual environment embeds its prefix in its scripts; a conda environment embeds it in
too many files to rewrite safely, so conda environments are refused (clone, then delete).
"""

import os
from pathlib import Path

from pyenvmod.modules import modulefiles, stacking
from pyenvmod.records import history, metadata, names, registry
from pyenvmod.runtime import proc
from pyenvmod.trust import files
from pyenvmod.config import Config
from pyenvmod.errors import PyenvmodError
from pyenvmod.records.layout import Layout
from pyenvmod.modules.loaded import is_loaded
from pyenvmod.operations import external_prefix
from pyenvmod.operations.common import load_record, share, tree_for, write_modulefiles
from pyenvmod.staging import images_dir, launchers
from pyenvmod.trust.folders import Folder
from pyenvmod.trust.tree import Tree


def _envs(layout: Layout) -> Folder:
    """The tree's envs folder, held by its descriptor."""
    return Folder.open(layout.root, layout.envs_dir)


def _placeholder(layout: Layout, new: str) -> bool:
    """``envs/NEW`` is the placeholder symlink of step 1."""
    path = layout.prefix(new)
    return os.path.islink(path) and os.readlink(path) == new


def _exchanged(layout: Layout, old: str, new: str) -> bool:
    """Step 2 is done: ``envs/OLD`` is a link to NEW, ``envs/NEW`` the real folder."""
    old_path, new_path = layout.prefix(old), layout.prefix(new)
    return (os.path.islink(old_path) and os.readlink(old_path) == new
            and os.path.isdir(new_path) and not os.path.islink(new_path))


def _resuming(layout: Layout, old_record, new: str) -> bool:
    """NEW is registered by an interrupted rename of this environment (steps 1 to 3)."""
    try:
        new_record = metadata.read(layout.meta_file(new), inside=layout.root)
    except (FileNotFoundError, PyenvmodError):
        return False
    if new_record.prefix != str(layout.prefix(new)) or old_record.prefix != str(layout.prefix(old_record.name)):
        return False
    return _placeholder(layout, new) or _exchanged(layout, old_record.name, new)


def _locks(tree: Tree, config: Config, first: str, second: str):
    """Both names locked, always in the same order (two renames never wait for each other)."""
    import contextlib

    stack = contextlib.ExitStack()
    for name in sorted((first, second)):
        stack.enter_context(tree.lock(name, config["lock_timeout"]))
    return stack


def _dependents(layout: Layout, prefixes: set) -> list:
    found = []
    for other in layout.names():
        try:
            record = metadata.read(layout.meta_file(other), inside=layout.root)
        except (FileNotFoundError, PyenvmodError):
            continue
        if record.extends and record.extends.get("prefix") in prefixes:
            found.append(record)
    return found


def rename(config: Config, old: str, new: str, notify=lambda m: None) -> metadata.EnvRecord:
    names.validate(old)
    names.validate(new)
    if old == new:
        raise PyenvmodError(f"{old!r} already has that name; give a different new name")
    tree = tree_for(config)
    layout = tree.layout
    if not layout.meta_file(new).exists():
        load_record(layout, old)  # the error for an unknown name, before anything is locked
    tree.ensure()
    with proc.interrupts_raise(), _locks(tree, config, old, new):
        if _finished(tree, old, new):
            return load_record(layout, new)
        record = _renamable(layout, old, new)
        moves = record.prefix == str(layout.prefix(old))  # else: adopted, or made with --prefix elsewhere
        new_prefix = str(layout.prefix(new)) if moves else record.prefix
        new_record = record.replace(name=new, prefix=new_prefix, module=layout.module_name(new, record.tag),
                             kernels=[])
        options = modulefiles.options_from(config)
        # 1: NEW registered, not yet loadable
        write_modulefiles(layout, new_record, options)
        if moves and not os.path.lexists(layout.prefix(new)):
            with _envs(layout) as envs:
                envs.symlink(new, new)
        registry.write(tree, new_record)
        # 2: the folder moves, atomically; OLD stays usable through a symlink
        if moves and _placeholder(layout, new):
            with _envs(layout) as envs:
                envs.exchange(old, new)
        # 3: the prefix inside the environment and in the environments extending it
        if moves:
            _rewrite_prefix(tree, Path(new_prefix), record.prefix, new_prefix, old, new)
            # the launchers of step 1 saw only the placeholder: one per program of the folder now there
            launchers.write(layout, new_record, options.get("stage_dir"))
        elif external_prefix.owned(layout, record.prefix, old):
            external_prefix.mark(layout, Path(record.prefix), new)
        for dependent in _dependents(layout, {record.prefix, new_prefix}):
            _repoint(tree, dependent, new_record, options)
        if os.path.isdir(layout.history_dir(old)) and not os.path.lexists(layout.history_dir(new)):
            with Folder.open(layout.root, layout.history_dir(old).parent) as folder:
                folder.rename(old, new)  # one step: it is in one place or the other
        history.add(layout, new, "rename", [old, new], new_record.packages, new_record.requested,
                    new_record.sources)
        share(config, layout, layout.history_dir(new))
        _drop_old(tree, old)
    if record.kernels:
        _move_kernels(config, record, new, notify)
    return load_record(layout, new)


def _renamable(layout, old: str, new: str) -> metadata.EnvRecord:
    """With the locks held: OLD's record (rebuilt from NEW's when an interrupted rename swapped the folders),
    refused when OLD is loaded, NEW is taken or OLD is a conda environment."""
    try:
        record = load_record(layout, old)
    except PyenvmodError:
        if not _exchanged(layout, old, new):
            raise
        # interrupted after the folders were swapped: OLD's folder is now a link to NEW's, which the
        # trust checks refuse as a prefix; NEW's record (checked) says all the rest needs
        base = load_record(layout, new)
        record = base.replace(name=old, prefix=str(layout.prefix(old)), module=layout.module_name(old, base.tag))
    if is_loaded(layout, old):
        raise PyenvmodError(f"{old!r} is loaded in this shell; run 'module unload pyenv/{old}' first, "
                            "then rename")
    resuming = _resuming(layout, record, new)
    if not resuming:
        _check_new_name(layout, record, new)
    if record.backend == "conda" and not record.adopted:
        raise PyenvmodError(f"{old!r} is a conda environment, whose files embed its folder; rename it as "
                            f"'pyenvmod create {new} --clone {old}' then 'pyenvmod delete {old}'")
    return record


def _drop_old(tree: Tree, old: str) -> None:
    """Step 4: OLD goes (its metadata before its symlink: until then, the same rename finishes the job)."""
    layout = tree.layout
    modulefiles.remove(layout, old)
    tree.remove(images_dir(layout, old))  # its image names OLD and its folder: the next pack makes NEW's
    tree.remove(tree.meta_file(old))
    if os.path.islink(layout.prefix(old)):
        with _envs(layout) as envs:
            envs.unlink(old, missing_ok=True)
    files.remove_inside(layout.history_dir(old), layout.root)


def _finished(tree: Tree, old: str, new: str) -> bool:
    """A rename interrupted in its last step (OLD unregistered, its symlink to NEW left): tidy up."""
    layout = tree.layout
    path = layout.prefix(old)
    if layout.meta_file(old).exists() or not layout.meta_file(new).exists():
        return False
    ours = os.path.islink(path) and os.readlink(path) == new
    done = history.entries(layout, new)[-1:]
    if not ours and not (done and done[0].get("action") == "rename" and done[0].get("args") == [old, new]):
        return False
    modulefiles.remove(layout, old)
    tree.remove(images_dir(layout, old))
    if ours:
        with _envs(layout) as envs:
            envs.unlink(old, missing_ok=True)
    files.remove_inside(layout.history_dir(old), layout.root)
    return True


def _check_new_name(layout: Layout, record, new: str) -> None:
    if layout.meta_file(new).exists():
        raise PyenvmodError(f"an environment named {new!r} already exists; choose another name, or delete it "
                            f"first with 'pyenvmod delete {new}'")
    path = layout.prefix(new)
    if os.path.islink(path) and not _placeholder(layout, new):
        with _envs(layout) as envs:  # a symlink left by a finished but interrupted rename away from NEW
            envs.unlink(new, missing_ok=True)
    if os.path.lexists(path) and not _placeholder(layout, new):
        raise PyenvmodError(f"{path} exists (the leftover of an interrupted create?); remove it with "
                            f"'pyenvmod delete {new}', then rename")
    # leftovers of a rename interrupted before NEW was registered
    modulefiles.remove(layout, new)
    files.remove_inside(layout.history_dir(new), layout.root)


def _rewrite_prefix(tree: Tree, prefix: Path, old_prefix: str, new_prefix: str, old: str, new: str) -> None:
    """A venv names its folder in its scripts' #! lines and activation scripts, and in pyvenv.cfg.
    Everything is read and written from the tree's root without following a link: a member who
    swaps the folder or its bin for a link never gets another user's files rewritten."""
    root = tree.root
    try:
        Folder.open(root, prefix / "bin").close()
        has_bin = True
    except (OSError, PyenvmodError):
        has_bin = False
    if has_bin:
        files.replace_in_text_files(prefix / "bin", old_prefix, new_prefix, inside=root)
    cfg = prefix / "pyvenv.cfg"
    try:
        text = files.read_bytes(cfg, 1 << 20, inside=root).decode("utf-8", errors="replace")
    except (OSError, PyenvmodError):
        text = None
    if text is not None:
        lines = []
        for line in text.splitlines():
            key, _, value = line.partition("=")
            if key.strip() == "prompt" and value.strip().strip("'\"") == old:
                line = f"{key}= {value.strip().replace(old, new)}"
            lines.append(line.replace(old_prefix, new_prefix))
        files.write_atomic(cfg, "\n".join(lines) + "\n", inside=root)
    # the prompt the activation scripts show: "(OLD) " (venv), "OLD" / 'OLD' (uv)
    prompts = [(f"({old}) ", f"({new}) "), (f'"{old}"', f'"{new}"'), (f"'{old}'", f"'{new}'"),
               (f'"x{old}"', f'"x{new}"'), (f'={old}"', f'={new}"')]
    if not has_bin:
        return
    with Folder.open(root, prefix / "bin") as bin_dir:
        for script in bin_dir.names():
            if not script.startswith("activate"):
                continue
            try:
                fd = bin_dir.open_file(script)
            except (OSError, PyenvmodError):
                continue  # a link or not a file: never followed
            try:
                mode = os.fstat(fd).st_mode & 0o7777
                with os.fdopen(os.dup(fd), "rb") as fh:
                    text = fh.read().decode("utf-8", errors="replace")
            finally:
                os.close(fd)
            for before, after in prompts:
                text = text.replace(before, after)
            bin_dir.write(script, text, mode=mode)


def _repoint(tree: Tree, dependent, base, options) -> None:
    """An environment made with --extends on the renamed one: its record, hook and modulefiles."""
    layout = tree.layout
    dependent.extends = dict(dependent.extends, name=base.name, prefix=base.prefix, module=base.module)
    if dependent.prefix == str(layout.prefix(dependent.name)) and os.path.isdir(dependent.prefix) \
            and not os.path.islink(dependent.prefix):
        # only a folder the layout names: in a group tree, a record's prefix is anyone's word; written
        # from the root without following a link (a member may swap the folder meanwhile)
        stacking.install_hook(dependent.prefix, dependent.python,
                              str(stacking.site_packages(base.prefix, base.python)), inside=layout.root)
    write_modulefiles(layout, dependent, options)
    registry.write(tree, dependent)


def _move_kernels(config: Config, record, new: str, notify) -> None:
    """A kernel for the new name, the old kernels removed."""
    from pyenvmod.operations import kernel

    try:
        folder = kernel.install(config, new, notify=notify)
        notify(f"Jupyter kernel {folder.name!r} written to {folder}")
    except PyenvmodError as exc:
        notify(f"warning: could not make the kernel for {new!r}: {exc.message}; run 'pyenvmod kernel {new}'")
        return
    for path in kernel.remove_kernels(record):
        notify(f"removed the old kernel {path}")
