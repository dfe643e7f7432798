"""List environments with a health mark, without running any interpreter (fast with many envs)."""

import os
import shlex
from dataclasses import dataclass, field

from pyenvmod.modules import modulefiles
from pyenvmod.records import metadata, names, registry
from pyenvmod.trust import locking
from pyenvmod.config import Config
from pyenvmod.errors import PyenvmodError
from pyenvmod.operations.common import tree_for
from pyenvmod.operations.kernel import health as kernel_health

BUSY = "being created or changed by another process"

# The kinds of problem an entry can have. Each sentence is given its kind where it is written, so nobody
# tells problems apart by their words: they hold names and paths (an environment named 'kernel-dev', a
# base named 'interpreter', a root under /home/me/modulefile-tests).
NAME, BUSY_KIND, LEFTOVER, METADATA = "name", "busy", "leftover", "metadata"
FOLDER, INTERPRETER, BASE, MODULEFILES, KERNEL = "folder", "interpreter", "base", "modulefiles", "kernel"


class Problem(str):
    """One problem of an entry: its sentence (what ``list`` and ``--json`` show) and its ``kind``."""

    kind: str

    def __new__(cls, kind: str, text: str):
        problem = super().__new__(cls, text)
        problem.kind = kind
        return problem


def _fixes(name: str) -> dict:
    """The fix for each kind of problem, as the user guide promises (doctor explains more)."""
    gone = (f"recreate it from an export (pyenvmod create {name} --file FILE), or pyenvmod delete {name}; "
            "pyenvmod doctor --fix removes its modulefiles")
    return {MODULEFILES: f"pyenvmod module {name}   (writes its modulefiles again)",
            KERNEL: f"pyenvmod kernel {name}   (or pyenvmod kernel {name} --remove)",
            BASE: f"recreate the base, or pyenvmod delete {name}",
            FOLDER: gone, INTERPRETER: gone,
            LEFTOVER: f"pyenvmod delete {name}",
            NAME: "remove it by hand (the message names what to remove)",
            METADATA: "repair the file by hand, or delete it and run pyenvmod doctor --fix",
            BUSY_KIND: "wait for it to finish"}


@dataclass
class Entry:
    name: str
    record: metadata.EnvRecord | None
    problems: list = field(default_factory=list)
    state: str = "ok"  # ok | broken | incomplete | creating

    def as_dict(self) -> dict:
        data = {"name": self.name, "prefix": None, "python": None, "backend": None, "module": None, "created": None}
        if self.record:
            data.update(
                prefix=self.record.prefix,
                python=self.record.python,
                backend=self.record.backend,
                module=self.record.module,
                created=self.record.created,
                description=self.record.description,
                owner=self.record.owner,
                base_python=self.record.base_python,
                platform=self.record.platform,
                extends=self.record.extends["name"] if self.record.extends else None,
                modules=self.record.modules,
                kernels=self.record.kernels,
            )
        data.update(health=self.state, problems=self.problems, fixes=self.fixes)
        return data

    @property
    def fixes(self) -> list:
        """What to do about each problem, in the same order (the list table prints them)."""
        return [fix_for(self.name, problem) for problem in self.problems]


def fix_for(name: str, problem: Problem) -> str:
    """The fix for one problem of ``list``, chosen by its kind, never by the words of a name or path in it."""
    return _fixes(name).get(problem.kind, "pyenvmod doctor explains it")


def entries(config: Config) -> list[Entry]:
    """One entry per name in the tree; a bad record is one "broken" entry, never a failure of the others."""
    tree = tree_for(config)
    layout = tree.layout
    result = []
    for name in layout.names():
        try:
            names.validate(name)
        except PyenvmodError:
            found = [str(p) for p in (layout.meta_file(name), layout.prefix(name)) if os.path.lexists(p)]
            result.append(Entry(name, None, [Problem(NAME, f"not a valid environment name ({names.RULE}); pyenvmod "
                                                          f"does not touch it: remove it by hand (rm -r {shlex.join(found)})")],
                                "broken"))
            continue
        meta_file = layout.meta_file(name)
        if not os.path.lexists(meta_file):
            if locking.is_held(layout.lock_file(name)):
                result.append(Entry(name, None, [Problem(BUSY_KIND, BUSY)], "creating"))
            else:
                result.append(Entry(name, None, [Problem(LEFTOVER, f"leftover of an interrupted create at "
                                                                   f"{layout.prefix(name)}; 'pyenvmod delete "
                                                                   f"{shlex.quote(name)}' removes it")], "incomplete"))
            continue
        try:
            record = registry.record(tree, name)
        except (PyenvmodError, OSError) as exc:
            message = exc.message if isinstance(exc, PyenvmodError) else f"metadata file {meta_file}: {exc.strerror}"
            result.append(Entry(name, None, [Problem(METADATA, message)], "broken"))
            continue
        problems = []
        if not os.path.isdir(record.prefix):
            problems.append(Problem(FOLDER, f"environment folder {record.prefix} is missing"))
        elif not os.path.exists(os.path.join(record.prefix, "bin", "python")):
            problems.append(Problem(INTERPRETER, f"interpreter missing (was {record.base_python} removed?)"))
        if record.extends and not os.path.exists(os.path.join(record.extends["prefix"], "bin", "python")):
            problems.append(Problem(BASE, f"its base environment {record.extends['name']!r} at "
                                          f"{record.extends['prefix']} is gone"))
        problems += [Problem(MODULEFILES, p) for p in modulefiles.problems(layout, record,
                                                                          modulefiles.options_from(config))]
        problems += [Problem(KERNEL, p) for p in kernel_health(record)]
        result.append(Entry(name, record, problems, "broken" if problems else "ok"))
    return result
