"""The trust package: it owns every change to a tree or a stage folder, made by descriptor.

In a group tree everything a member can write is untrusted, and a stage folder lies in a
place (node-local /tmp) that other users can write to. Code in this package is the only code
of pyenvmod that creates, writes, renames, chmods, removes or walks files there: it opens a
folder from a root with O_NOFOLLOW at each step and then works relative to that descriptor
(``dir_fd=``, ``os.fwalk`` without following links, ``fchmod`` on an ``fstat``-checked
descriptor, temporary names made inside a checked folder). Every other module asks it;
tests/test_trust_architecture.py fails on a by-path change of the file system outside it.

- ``tree``: a tree (root + platform) hands out only checked paths (its records, checked, are
  ``records.registry``'s: the trust package imports nothing above it);
- ``folders``: a folder held by its descriptor, and opening one from a root (``open_dir``);
- ``files``: descriptor-based writing, renaming, walking and removing, on ``folders``;
- ``private_files``: the user's own files (configuration, cache) checked before use;
- ``identity``: who runs pyenvmod;
- ``locking``: lock files opened without following links;
- ``caches``: emptying caches that ``doctor --fix`` is asked to empty.
"""
