"""List environments with a health mark, without running any interpreter (fast with many envs)."""

import os
import re
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


def fix_for(name: str, problem: str) -> str:
    """The fix for one problem of ``list``, as the user guide promises (doctor explains more). Told by
    the problem's own words, never by a path or name in it (an environment named 'kernel-dev' whose
    folder is missing needs recreating, not a kernel)."""
    if re.match(r"\S+ modulefile (missing$|does not point at )", problem):
        return f"pyenvmod module {name}   (writes its modulefiles again)"
    if problem.startswith("kernel "):
        return f"pyenvmod kernel {name}   (or pyenvmod kernel {name} --remove)"
    if problem.startswith("its base environment "):
        return f"recreate the base, or pyenvmod delete {name}"
    if problem.startswith(("interpreter missing", "environment folder ")):
        return (f"recreate it from an export (pyenvmod create {name} --file FILE), or pyenvmod delete {name}; "
                "pyenvmod doctor --fix removes its modulefiles")
    if problem.startswith("leftover "):
        return f"pyenvmod delete {name}"
    if problem.startswith("metadata file "):
        return "repair the file by hand, or delete it and run pyenvmod doctor --fix"
    if problem == BUSY:
        return "wait for it to finish"
    return "pyenvmod doctor explains it"


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
            result.append(Entry(name, None, [f"not a valid environment name ({names.RULE}); pyenvmod does not "
                                             f"touch it: remove it by hand (rm -r {shlex.join(found)})"], "broken"))
            continue
        meta_file = layout.meta_file(name)
        if not os.path.lexists(meta_file):
            if locking.is_held(layout.lock_file(name)):
                result.append(Entry(name, None, [BUSY], "creating"))
            else:
                result.append(Entry(name, None, [f"leftover of an interrupted create at {layout.prefix(name)}; "
                                                  f"'pyenvmod delete {shlex.quote(name)}' removes it"], "incomplete"))
            continue
        try:
            record = registry.record(tree, name)
        except (PyenvmodError, OSError) as exc:
            message = exc.message if isinstance(exc, PyenvmodError) else f"metadata file {meta_file}: {exc.strerror}"
            result.append(Entry(name, None, [message], "broken"))
            continue
        problems = []
        if not os.path.isdir(record.prefix):
            problems.append(f"environment folder {record.prefix} is missing")
        elif not os.path.exists(os.path.join(record.prefix, "bin", "python")):
            problems.append(f"interpreter missing (was {record.base_python} removed?)")
        if record.extends and not os.path.exists(os.path.join(record.extends["prefix"], "bin", "python")):
            problems.append(f"its base environment {record.extends['name']!r} at {record.extends['prefix']} is gone")
        problems += modulefiles.problems(layout, record, modulefiles.options_from(config))
        problems += kernel_health(record)
        result.append(Entry(name, record, problems, "broken" if problems else "ok"))
    return result
