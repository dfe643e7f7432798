"""Work done while pyenvmod waits: most of a create or install is uv or pip working, and pyenvmod only
waits for them. What it needs afterwards (the templates' engine and the templates themselves, the
requirement parser) is made ready in that time, and the dependency check runs beside the bookkeeping
after an install.

``prewarm`` names modules and ``later`` functions; the next helper started by ``proc.run`` starts a
thread that imports the modules, then runs the functions. The thread starts after the helper, never
before: Python code running beside the main thread would hold Python's lock while the main thread
prepares the helper, and delay it.
"""

import _thread  # the C module under threading: its locks cost no import before the helper starts

# What the bookkeeping after an install needs: the templates' engine, the requirement parser (the
# dependency check), and pyenvmod's writers of modulefiles and history.
AFTER_INSTALL = ("jinja2", "jinja2.sandbox", "packaging.requirements", "packaging.version", "pyenvmod.modules.render",
                 "pyenvmod.modules.modulefiles", "pyenvmod.records.history", "pyenvmod.packages.dependency_check", "pyenvmod.modules.spider_cache",
                 "packaging.markers", "packaging.utils", "datetime", "secrets")

_wanted: list = []  # modules to import
_queued: list = []  # jobs to run after them
_claiming = _thread.allocate_lock()  # a job runs once: in the background, or else where it is waited for


class _Job:
    """``function(*args)``, run once; ``result`` waits for it and returns its value or raises its error."""

    def __init__(self, function, args):
        self.function, self.args = function, args
        self.claimed = False
        self.outcome = {}
        self.finished = _thread.allocate_lock()
        self.finished.acquire()  # released when it has run

    def claim(self) -> bool:
        with _claiming:
            taken, self.claimed = self.claimed, True
        return not taken

    def run(self) -> None:
        try:
            self.outcome["value"] = self.function(*self.args)
        except BaseException as exc:  # handed to the waiting thread
            self.outcome["error"] = exc
        finally:
            self.finished.release()

    def result(self):
        if self.claim():  # no helper started, or the background has not reached it: run it here
            self.run()
        with self.finished:
            pass
        if "error" in self.outcome:
            raise self.outcome["error"]
        return self.outcome["value"]


def prewarm(*modules: str) -> None:
    """Import ``modules`` in the background once the next helper has started."""
    _wanted.extend(m for m in modules if m not in _wanted)


def later(function, *args):
    """Run ``function(*args)`` in the background once the next helper has started, after the modules
    ``prewarm`` named. Returns a function that waits for it and returns its result (or raises what it
    raised); when no helper started, that function runs it itself."""
    job = _Job(function, args)
    _queued.append(job)
    return job.result


def helper_started() -> None:
    """Called by ``proc.run`` once its helper runs: the requested imports and jobs begin (once each)."""
    if not (_wanted or _queued):
        return
    modules, jobs = list(_wanted), list(_queued)
    _wanted.clear()
    _queued.clear()
    import threading

    threading.Thread(target=_work, args=(modules, jobs), name="pyenvmod-prewarm", daemon=True).start()


def _work(modules: list, jobs: list) -> None:
    import importlib

    for name in modules:
        try:
            importlib.import_module(name)
        except Exception:  # the main thread imports it again when it needs it, and reports the problem
            pass
    for job in jobs:
        if job.claim():
            job.run()


def call(function, *args):
    """Start ``function(*args)`` in a thread now; returns a function that waits for it and returns its
    result, or raises what it raised. For a helper's run (the dependency check) beside other work."""
    import threading

    job = _Job(function, args)
    job.claim()
    threading.Thread(target=job.run, name="pyenvmod-background", daemon=True).start()
    return job.result
