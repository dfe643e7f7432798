"""Work done while pyenvmod waits: most of a create or install is uv or pip working, and pyenvmod only
waits for them. What it needs afterwards (the templates' engine, the requirement parser) is imported in
that time, and the dependency check runs beside the bookkeeping after an install.

``prewarm`` names modules; the next helper started by ``proc.run`` starts a thread that imports them.
The thread starts after the helper, never before: an import running beside the main thread would hold
Python's lock while the main thread prepares the helper, and delay it.
"""

import threading

# What the bookkeeping after an install needs: the templates' engine, the requirement parser (the
# dependency check), and pyenvmod's writers of modulefiles and history.
AFTER_INSTALL = ("jinja2", "jinja2.sandbox", "packaging.requirements", "packaging.version", "pyenvmod.render",
                 "pyenvmod.modulefiles", "pyenvmod.history", "pyenvmod.dependency_check", "pyenvmod.spider_cache",
                 "packaging.markers", "packaging.utils")

_wanted: list = []


def prewarm(*modules: str) -> None:
    """Import ``modules`` in the background once the next helper has started."""
    _wanted.extend(m for m in modules if m not in _wanted)


def helper_started() -> None:
    """Called by ``proc.run`` once its helper runs: the requested imports begin (once each)."""
    if not _wanted:
        return
    modules = list(_wanted)
    _wanted.clear()
    threading.Thread(target=_import_all, args=(modules,), name="pyenvmod-prewarm", daemon=True).start()


def _import_all(modules: list) -> None:
    import importlib

    for name in modules:
        try:
            importlib.import_module(name)
        except Exception:  # the main thread imports it again when it needs it, and reports the problem
            pass


def call(function, *args):
    """Start ``function(*args)`` in a thread; returns a function that waits for it and returns its
    result, or raises what it raised. For a helper's run (the dependency check) beside other work."""
    outcome = {}

    def target():
        try:
            outcome["value"] = function(*args)
        except BaseException as exc:  # handed to the waiting thread
            outcome["error"] = exc

    thread = threading.Thread(target=target, name="pyenvmod-background", daemon=True)
    thread.start()

    def wait():
        thread.join()
        if "error" in outcome:
            raise outcome["error"]
        return outcome["value"]

    return wait
