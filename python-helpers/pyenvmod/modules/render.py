"""Render modulefiles from Jinja2 templates: one format class per module system.

A format knows its template, its file name and its quoting filter; the templates
do the rest. Values only ever reach a file through a quoting filter.
"""

from collections import namedtuple
from pathlib import Path

from pyenvmod import resources
from pyenvmod.modules import quoting
from pyenvmod.errors import PyenvmodError


class ModuleFormat(namedtuple("ModuleFormat", "name template suffix quote")):
    """A module system's file: its ``template``, its file name's ``suffix`` (Lmod prefers TAG.lua
    over the Tcl file TAG in the same folder) and ``quote``, the filter its template uses for values."""

    __slots__ = ()

    def filename(self, tag: str) -> str:
        return tag + self.suffix


LUA = ModuleFormat("lua", "modulefile.lua.j2", ".lua", quoting.lua)
TCL = ModuleFormat("tcl", "modulefile.tcl.j2", "", quoting.tcl)
FORMATS = {f.name: f for f in (LUA, TCL)}

# Activation scripts for users without a module system: ROOT/<platform>/activate/NAME/FILE
# file key: (format it belongs to, template, file name)
SCRIPTS = {
    "bash": ("bash", "activate.sh.j2", "activate.sh"),  # bash and zsh
    "csh": ("csh", "activate.csh.j2", "activate.csh"),  # csh and tcsh
    "csh-deactivate": ("csh", "deactivate.csh.j2", "deactivate.csh"),  # sourced by the csh alias
    "fish": ("fish", "activate.fish.j2", "activate.fish"),
}


def template_dirs(extra=()) -> list[Path]:
    """Search path for templates, first match wins: configured folders, then the built-ins.
    A site template can {% extends "builtin/NAME" %} to fill blocks of the built-in one."""
    return [*(Path(p) for p in extra), resources.data_dir("templates")]


def environment(extra_dirs=()):
    """A sandboxed Jinja environment: a template reaches only the values it is given, never
    Python's internals (os, subprocess...); site and user template folders must be private."""
    import jinja2
    from jinja2.sandbox import SandboxedEnvironment

    from pyenvmod.trust import private_files

    for folder in extra_dirs:
        private_files.check(folder, "template folder")

    class CheckedLoader(jinja2.FileSystemLoader):
        """Site and user templates, each refused when others than its owner may write it."""

        def get_source(self, environment, template):
            source, filename, uptodate = super().get_source(environment, template)
            private_files.check(filename, "template")
            return source, filename, uptodate

    builtin = jinja2.FileSystemLoader(str(resources.data_dir("templates")))
    env = SandboxedEnvironment(
        loader=jinja2.ChoiceLoader([
            CheckedLoader([str(p) for p in extra_dirs]),
            builtin,
            jinja2.PrefixLoader({"builtin": builtin}),
        ]),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
        bytecode_cache=_bytecode_cache(jinja2),
    )
    env.filters.update(quoting.FILTERS)
    return env


def bytecode_folder() -> Path:
    """Where compiled templates are kept: the user's own cache ($XDG_CACHE_HOME, else ~/.cache)."""
    import os

    return Path(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")) / "pyenvmod" / "jinja"


def _bytecode_cache(jinja2):
    """Compiled templates kept between runs (compiling them was a tenth of a create), keyed on the
    source, in the user's private cache folder (ours, 0700, not a link). Never Jinja2's default
    ``/tmp/_jinja2-cache-UID``: in a shared /tmp another user may plant a link at that name, which
    Jinja2 chmods before it checks."""
    from pyenvmod.trust import files

    folder = bytecode_folder()
    try:
        files.private_dir(folder, "", "")
    except (OSError, PyenvmodError):
        return None  # no safe folder: compile every time
    return jinja2.FileSystemBytecodeCache(str(folder))


def load(template: str, env):
    """The compiled ``template`` (Jinja2 keeps it in ``env`` for the next call)."""
    import jinja2

    try:
        return env.get_template(template)
    except jinja2.TemplateSyntaxError as exc:
        raise PyenvmodError(f"template {exc.filename or template}:{exc.lineno}: {exc.message}; fix or remove it") from None
    except jinja2.TemplateNotFound:
        raise PyenvmodError(f"template {template} not found in {', '.join(map(str, template_dirs()))}") from None


def prepared(templates, extra_dirs=()):
    """An environment (``environment(extra_dirs)``) with ``templates`` compiled, or read from Jinja2's
    cache: made in the background while uv works (see background.later), used by the writers."""
    env = environment(extra_dirs)
    for template in templates:
        load(template, env)
    return env


def render_template(template: str, context: dict, env=None) -> str:
    import jinja2

    loaded = load(template, env or environment())
    try:
        return loaded.render(**context)
    except jinja2.TemplateError as exc:
        raise PyenvmodError(f"template {loaded.filename}: {exc}; fix or remove it") from None
    except ValueError as exc:  # a quoting filter refused a value
        raise PyenvmodError(f"cannot write {template}: {exc}") from None


def render(fmt: ModuleFormat, context: dict, env=None) -> str:
    return render_template(fmt.template, context, env)
