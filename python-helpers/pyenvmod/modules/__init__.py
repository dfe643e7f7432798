"""The modules package: everything about environment modules, for Lmod and Environment Modules.

It owns the module system that is present and how to ask it (``module_system``), the modules a
user has loaded (``loaded``) and those recorded at create time (``capture``), the escaping of
every value written into Lua, Tcl, shell or JSON (``quoting``), rendering the Jinja2 templates of
modulefiles-templates/ (``render``), the modulefiles of an environment (``modulefiles``), one
environment stacked on another (``stacking``), the modulefiles left for a deleted or renamed
environment (``tombstones``) and Lmod's spider cache (``spider_cache``). It may use
``pyenvmod.records``, ``pyenvmod.trust``, ``pyenvmod.runtime``, ``pyenvmod.errors``,
``pyenvmod.resources`` and ``pyenvmod.config``; it does not know the operations or commands.
"""
