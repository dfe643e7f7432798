"""Backends create environments and install into them; the CLI only knows their names.

Each backend is a small class with one interface (see ``base.Backend``). A new one
(conda, say) is a module here and a line in ``_REGISTRY``; nothing else changes.
``pythons`` finds the base interpreter a backend builds on (``--python``). The backends may use
``pyenvmod.packages``, ``pyenvmod.modules``, ``pyenvmod.records``, ``pyenvmod.trust`` and
``pyenvmod.runtime``; the operations and commands use them.
"""

import importlib

from pyenvmod.errors import PyenvmodError

_REGISTRY = {
    "uv": ("pyenvmod.backends.uv", "UvBackend"),
    "venv": ("pyenvmod.backends.venv", "VenvBackend"),
    "conda": ("pyenvmod.backends.conda", "CondaBackend"),
}
NAMES = tuple(_REGISTRY)


def get(name: str, env: dict | None = None, **options):
    """An instance of the backend called ``name``; ``env`` is the environment for its helpers,
    ``options`` what that backend takes (the conda backend: channels, channel_priority, pkgs_dir)."""
    try:
        module_name, class_name = _REGISTRY[name]
    except KeyError:
        raise PyenvmodError(f"unknown backend {name!r}; choose one of {', '.join(NAMES)}") from None
    return getattr(importlib.import_module(module_name), class_name)(env, **options)
