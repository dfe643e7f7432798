"""One module per command: ``add_arguments(parser)`` and ``run(args) -> exit code``. The commands
never import each other; what more than one prints or asks is in ``common`` (pyproject.toml's
commands-independent contract)."""
