"""The stacking hook inside an environment: a .pth file and the module it imports.

They let every loaded environment's packages (``.pth`` files included) be imported
from whichever loaded environment's python runs; see the template for how.
"""

from pathlib import Path

from pyenvmod.trust import files

HOOK_FILES = {
    "_pyenvmod_stack.py": "pyenvmod_stack.py.j2",
    "zzz-pyenvmod-stack.pth": "pyenvmod_stack.pth.j2",
}


def site_packages(prefix: str, python_version: str) -> Path:
    major_minor = ".".join(python_version.split(".")[:2])
    return Path(prefix) / "lib" / f"python{major_minor}" / "site-packages"


BASE_HOOK = "_pyenvmod_base.pth"
BASE_TEMPLATE = "pyenvmod_base.pth.j2"


def prepare():
    """The hook's templates, compiled (built-in only: a site does not override them); for
    ``install_hook``, made ready in the background while uv works (see background.later)."""
    from pyenvmod.modules import render  # the templates' engine: not needed to find site-packages

    return render.prepared([*HOOK_FILES.values(), BASE_TEMPLATE])


def install_hook(prefix: str, python_version: str, base_site: str | None = None, inside=None,
                 env=None) -> list[Path]:
    """Write the stacking hook, and for an environment layered on a base, the base hook.
    ``inside``: the tree holding the environment (no symlinked folder on the way is followed).
    ``env``: from ``prepare``."""
    from pyenvmod.modules import render

    folder = site_packages(prefix, python_version)
    env = env or prepare()
    written = []
    for filename, template in HOOK_FILES.items():
        path = folder / filename
        files.write_atomic(path, render.render_template(template, {}, env), inside=inside)
        written.append(path)
    if base_site:
        path = folder / BASE_HOOK
        files.write_atomic(path, render.render_template(BASE_TEMPLATE, {"base_site": base_site}, env),
                           inside=inside)
        written.append(path)
    return written
