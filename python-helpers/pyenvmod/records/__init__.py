"""The records package: what pyenvmod knows about an environment, and where it keeps it.

It owns the shape of a tree (``layout``: which folder holds what), the names users give
environments (``names``), the platform a tree is built for (``platform_tag``), the metadata
record of each environment (``metadata``; ``registry`` reads and writes a tree's records through
its ``trust.tree.Tree`` and checks every path in them), its history of changes (``history``, with
``package_diff`` for what changed between two states) and what a record may lead pack and stage
to read (``provenance``). It may use ``pyenvmod.errors``, ``pyenvmod.trust`` (every read and
write in a tree goes through it) and ``pyenvmod.runtime``; it knows nothing of modulefiles,
packages, backends or commands.
"""
