"""The packages package: what goes into an environment, and what is installed in it.

It owns package specs on the command line (``requirements``) and in files (``spec``), where
packages come from (``sources``) and how they are built (``buildpolicy``, with ``mpi`` for MPI
builds and ``elf`` for what a shared object links), the installed distributions read from their
dist-info (``dist_info``), what the loaded modules already provide (``module_packages``), the check
of an environment's dependencies (``dependency_check``), the files a change touched (``touched``)
and changes made outside pyenvmod (``outside``). It may use ``pyenvmod.modules``,
``pyenvmod.records``, ``pyenvmod.trust``, ``pyenvmod.runtime`` and ``pyenvmod.errors``; commands
and operations use it.
"""
