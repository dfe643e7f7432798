"""Render modulefiles from Jinja2 templates: one format class per module system.

A format knows its template, its file name and its quoting filter; the templates
do the rest. Values only ever reach a file through a quoting filter.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from pyenvmod import quoting, resources


@dataclass(frozen=True)
class ModuleFormat:
    name: str
    template: str
    suffix: str  # Lmod prefers TAG.lua over the Tcl file TAG in the same folder
    quote: Callable[[str], str]  # the filter the template uses for values

    def filename(self, tag: str) -> str:
        return tag + self.suffix


LUA = ModuleFormat("lua", "modulefile.lua.j2", ".lua", quoting.lua)
TCL = ModuleFormat("tcl", "modulefile.tcl.j2", "", quoting.tcl)
FORMATS = {f.name: f for f in (LUA, TCL)}


def template_dirs() -> list[Path]:
    """Search path for templates, first match wins."""
    return [resources.data_dir("templates")]


def environment():
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader([str(p) for p in template_dirs()]),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )
    env.filters.update(quoting.FILTERS)
    return env


def render_template(template: str, context: dict, env=None) -> str:
    env = env or environment()
    return env.get_template(template).render(**context)


def render(fmt: ModuleFormat, context: dict, env=None) -> str:
    return render_template(fmt.template, context, env)
