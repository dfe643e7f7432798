"""Keep Lmod's spider caches from hiding what pyenvmod just changed.

Once Lmod has a spider cache, ``module spider`` and ``module avail`` answer from it: a new
environment or package is not found, a deleted one is still listed. After every change to a
tree's modulefiles (create, adopt, install, update, remove, delete, rollback, module, rename) an operation
calls ``refresh(config, layout)``, which

- invalidates the user's own cache (``~/.lmod.d/.cache``) when it covers this tree, the way
  Lmod's own tools do: the ``invalidated`` marker beside it makes Lmod rebuild it;
- runs the site's ``lmod_cache_update`` command (e.g. ``update_lmod_system_cache_files -d
  DIR -t FILE $MODULEPATH``), if configured, without a shell;
- touches the site's ``lmod_cache_timestamp`` file, if configured: Lmod trusts a system cache
  only while it is newer than that file, so it walks the folders until the site rebuilds it.

A failure here never undoes the change: it is a warning naming the setting to fix.
"""

import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

from pyenvmod.trust import files
from pyenvmod.errors import PyenvmodError
from pyenvmod.records.layout import Layout

SPIDER_MAX_BYTES = 256 << 20  # Lmod's spider cache of a large site is tens of MB
USER_CACHE_DIRS = (".cache", "__cache__")  # Lmod's name for it, with and without LMOD_USE_DOT_FILES


def refresh(config, layout: Layout, warn=None) -> list[str]:
    """Refresh what may list this tree's modules; returns what was done (one line each). ``config`` is the
    configuration (config.Config), read for lmod_cache_update and lmod_cache_timestamp."""
    warn = warn or (lambda message: print(f"pyenvmod: warning: {message}", file=sys.stderr))
    done = []
    for folder in user_caches(layout):
        try:
            (folder / "invalidated").touch()
            done.append(f"invalidated the Lmod user cache {folder}")
        except OSError as exc:
            warn(f"cannot invalidate the Lmod user cache {folder}: {exc.strerror}; run 'rm -rf {folder}'")
    command = config["lmod_cache_update"]
    if command:
        try:
            result = subprocess.run(shlex.split(command), stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                    timeout=3600)
            if result.returncode == 0:
                done.append(f"ran {command}")
            else:
                last = (result.stderr.strip().splitlines() or ["no message"])[-1]
                warn(f"lmod_cache_update failed ({result.returncode}: {last}); 'module spider' may be stale "
                     "until the site rebuilds its cache")
        except (OSError, ValueError, subprocess.TimeoutExpired) as exc:
            warn(f"lmod_cache_update {command!r} cannot run ({exc}); fix the setting")
    stamp = config["lmod_cache_timestamp"]
    if stamp:
        path = Path(os.path.expanduser(os.path.expandvars(stamp)))
        try:
            with open(path, "a", encoding="utf-8"):
                pass
            # Lmod compares whole seconds: a cache written this very second would still count as
            # newer than "now", so the stamp is set to the next second
            stamp_time = int(time.time()) + 1
            os.utime(path, (stamp_time, stamp_time))
            done.append(f"touched {path}")
        except OSError as exc:
            warn(f"cannot touch lmod_cache_timestamp {path}: {exc.strerror}; 'module spider' may be stale "
                 "until the site rebuilds its cache")
    return done


def user_caches(layout: Layout, home: str | None = None) -> list[Path]:
    """The user's Lmod cache folders whose spider cache lists this tree's modules."""
    home = home or os.path.expanduser("~")
    tree = {str(layout.modules_dir), os.path.realpath(layout.modules_dir)}
    found = []
    for name in USER_CACHE_DIRS:
        folder = Path(home) / ".lmod.d" / name
        try:
            caches = [p for p in folder.iterdir() if p.name.startswith("spiderT") and p.name.endswith(".lua")]
        except OSError:
            continue
        for cache in caches:
            try:  # a regular file, capped, never waited on (a FIFO there must not hang every change)
                text = files.read_bytes(cache, SPIDER_MAX_BYTES).decode("utf-8", errors="replace")
            except (OSError, PyenvmodError):
                continue
            if any(f'"{t}"' in text for t in tree):
                found.append(folder)
                break
    return found
