"""The doctor's caches check: the pip, uv and conda package caches in the home directory."""

import shutil
from pathlib import Path

from pyenvmod.config import site_file
from pyenvmod.operations.doctor import common
from pyenvmod.operations.doctor.finding import Check, Finding


def check(ctx):
    from pyenvmod.trust import caches as caches_mod

    env = ctx.environ
    caches = {  # what: (folder, tool, the variable naming it)
        "pip cache": (Path(env.get("PIP_CACHE_DIR") or ctx.home / ".cache" / "pip"), "pip", "PIP_CACHE_DIR"),
        "uv cache": (Path(env.get("UV_CACHE_DIR") or ctx.home / ".cache" / "uv"), "uv", "UV_CACHE_DIR"),
        "conda packages": (ctx.home / ".conda" / "pkgs", "conda", None),
    }
    # The tools' default folders are where a fresh set-up puts them: a note, unless the site chose where
    # caches go (cache_dir in its configuration) or the user pointed a cache into home on purpose.
    site_chose = bool(ctx.config["cache_dir"]) and ctx.config.origins["cache_dir"].startswith(str(site_file()))
    protected = [ctx.layout.root]
    out = []
    for what, (path, tool, var) in caches.items():
        if path.is_dir() and common.under_home(ctx, path):
            chosen = bool(var and env.get(var))
            severity = "warning" if chosen or site_chose else "info"
            size = common.size(path)
            free = shutil.disk_usage(path).free
            message = (f"{what} in your home directory{'' if chosen else ' (its default place)'}: {path} "
                       f"holds {common.human(size)} ({common.human(free)} free on that filesystem)")
            where = f"the site keeps caches in {ctx.config['cache_dir']}; " if site_chose else ""
            fix = (f"{where}point it at project or scratch storage (the site's pip.conf, PIP_CACHE_DIR, "
                   "UV_CACHE_DIR, or 'cache_dir' in pyenvmod's configuration)")
            why = caches_mod.refusal(path, tool, home=ctx.home, protected=protected)
            if why:  # only a folder that is provably the tool's cache is ever emptied
                named = f"{var}={env[var]}" if chosen else str(path)
                out.append(Finding("caches", severity, f"{message}; {named} is not a {what} that --fix may "
                                   f"empty: {why}", f"{fix}; give {var or 'it'} a folder of its own"))
                continue
            out.append(Finding("caches", severity, message, fix + "; --fix empties it",
                               repair=lambda p=path, t=tool: caches_mod.empty(p, t, home=ctx.home, protected=protected),
                               repair_says=f"empty the {what} {path}"))
    return out


CHECK = Check("caches", 20, "user", looks_at="the pip, uv and conda package caches in the home directory",
              finding="their size and the free space left", fix="point them at project or scratch storage; --fix empties a folder that is provably the tool's cache")
