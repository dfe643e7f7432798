"""Install, update and remove packages in an environment; then refresh what follows from its
contents: the locked package set in metadata, the modulefiles (Lmod ``extensions()``), a
history entry, and a consistency check (``pip check``)."""

import os

from pyenvmod.modules import stacking
from pyenvmod.records import registry
from pyenvmod.packages import buildpolicy, outside, requirements, sources, touched
from pyenvmod.runtime import background
from pyenvmod.trust import files, identity
from pyenvmod.config import Config
from pyenvmod.errors import PyenvmodError
from pyenvmod.trust.tree import Tree
from pyenvmod.operations.common import backend_for, load_record, share, tree_for, tree_group, write_modulefiles
from pyenvmod.packages.installed import direct_sources, dist_name, snapshot


def prepared_templates(config: Config):
    """The modulefiles' templates, compiled: asked for with ``background.later`` before the helper starts."""
    from pyenvmod.modules import modulefiles

    return modulefiles.prepare(modulefiles.options_from(config))


def refresh(config: Config, layout, record, backend, action: str, args: list, notify, before=None,
            templates=None) -> list[str]:
    """After a change: record the package set, rewrite modulefiles, add history, check. Returns problems.
    ``before``: the stamps (``touched.stamps``) taken before the change; only what it wrote then has its
    permissions settled, else everything in the environment. ``templates``: waits for
    ``prepared_templates`` (run while the helper worked)."""
    from pyenvmod.modules import modulefiles
    from pyenvmod.records import history  # imported while the helper worked (AFTER_INSTALL)

    problems = background.call(backend.check, record.prefix)  # it reads the packages; the rest writes elsewhere
    snapshot(record, backend)
    written = touched.written(record.prefix, before) if before is not None else None
    if written is None:
        files.no_world_write(record.prefix, inside=files.below(record.prefix, layout.root))
        share(config, layout, record.prefix)
    else:
        files.settle(record.prefix, written, tree_group(config, layout))
    from datetime import datetime, timezone

    record.updated = datetime.now(timezone.utc).isoformat(timespec="seconds")
    write_modulefiles(layout, record, modulefiles.options_from(config), templates() if templates else None)
    registry.write(Tree(layout, bool(config.group)), record)
    history.add(layout, record.name, action, args, record.packages, record.requested, record.sources)
    return problems()  # the command reports them, once


def _canonical(spec: str, record=None) -> str:
    if record is not None and record.backend == "conda":
        from pyenvmod.backends.conda import rattler

        return rattler().MatchSpec(spec).name.normalized
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    if spec.startswith(requirements.EDITABLE) or requirements.is_url(spec) or requirements.is_path(spec):
        # a folder or URL: the package installed from it, once installed; until then, itself
        url = requirements.source_url(spec).rstrip("/")
        found = [n for n, pinned in (record.sources if record else {}).items()
                 if pinned.split(" @ ", 1)[-1].rstrip("/") == url]
        return found[0] if found else spec
    return canonicalize_name(Requirement(spec).name)


def _own_distributions(record) -> set:
    """Canonical names of the distributions in the environment's own site-packages (or conda-meta)."""
    if record.backend == "conda":
        from pyenvmod.backends.conda import conda_meta_versions

        return set(conda_meta_versions(record.prefix))
    site = stacking.site_packages(record.prefix, record.python)
    return {dist_name(p) for p in site.glob("*.dist-info")}


def _not_installed(record, specs: list) -> list:
    """The specs naming a package that neither the environment nor a base of its ``--extends`` chain has
    (a folder, file or URL names its package only once built: never one of them)."""
    named = [s for s in specs if not (s.startswith(requirements.EDITABLE) or requirements.is_url(s)
                                      or requirements.is_path(s))]
    if not named:
        return []  # nothing read
    if record.backend == "conda":
        have = _own_distributions(record)
    else:  # the environment's own site-packages first, then each base's
        from pyenvmod.packages import dependency_check

        have = {dist_name(p) for site in dependency_check.sites(record.prefix, record.python)
                for p in site.glob("*.dist-info")}
    return [s for s in named if _canonical(s, record) not in have]


def _validate(config: Config, record, specs: list) -> None:
    """Specs in the environment's own language (conda match specs or PEP 508), within the site's sources."""
    if record.backend == "conda":
        from pyenvmod.backends.conda import validate_specs

        validate_specs(specs)
        sources.check_channels(config, record.channels)
    else:
        requirements.validate(specs)
        sources.check(config, specs)


def _change(config: Config, name: str, action: str, specs: list, notify, apply):
    tree = tree_for(config)
    layout = tree.layout
    load_record(layout, name)
    with tree.lock(name, config["lock_timeout"]):
        record = load_record(layout, name)
        if record.adopted:
            import shlex

            raise PyenvmodError(f"{name!r} was adopted: pyenvmod does not change it; change it with its own tools, "
                                f"then run 'pyenvmod module {shlex.quote(name)}'")
        if not os.path.isfile(os.path.join(record.prefix, "bin", "python")):
            raise PyenvmodError(f"the environment {name!r} at {record.prefix} is missing or broken; "
                                f"see 'pyenvmod list'")
        _validate(config, record, specs)
        backend = backend_for(config, record.backend, record.channels)
        before = touched.stamps(record.prefix, record.packages) if record.backend != "conda" else None
        outside.reconcile(config, layout, record, backend, notify)  # a plain 'pip install' since the last change
        background.prewarm(*background.AFTER_INSTALL)  # loaded while the backend works
        templates = background.later(prepared_templates, config)  # compiled then too
        apply(record, backend)
        problems = refresh(config, layout, record, backend, action, specs, notify, before, templates)
    from pyenvmod.modules import spider_cache

    spider_cache.refresh(config, layout)
    return record, problems


def _build_flags(config, record, backend, specs, notify) -> list:
    """The recorded MPI's modules loaded, the build plan set up and told (buildpolicy)."""
    buildpolicy.load_recorded_mpi(config, backend, record.modules, notify)
    flags, plan = buildpolicy.prepare(config, backend, record.modules, specs, record.no_binary, notify,
                                      layered=bool(record.extends))
    specs.extend(plan.extra)  # what the plan needs installed too (a parallel h5py: mpi4py)
    return flags


def install(config: Config, name: str, specs: list, notify=lambda m: None, no_binary=(), rebuild=False):
    requirements.validate_names(list(no_binary))
    if not specs:
        raise PyenvmodError("name at least one package to install")
    specs = requirements.absolute_paths(specs)  # ./mypkg is recorded as the folder it names

    def apply(record, backend):
        from pyenvmod.packages import module_packages

        # what the recorded modules put on PYTHONPATH counts as installed; a version they lack is refused
        backend.module_packages = [] if record.backend == "conda" else \
            module_packages.provided(record.modules, owners=identity.uids(config["module_owners"]))
        satisfied = module_packages.check_requested(specs, backend.module_packages)
        record.no_binary = list(dict.fromkeys([*record.no_binary, *no_binary]))
        flags = _build_flags(config, record, backend, to_install := list(specs), notify)
        if rebuild:
            own = _own_distributions(record)
            installed = [n for n in dict.fromkeys(_canonical(s, record) for s in specs) if n in own]
            if installed:
                notify("rebuilding " + " ".join(installed) + ": removing the installed build first")
                backend.uninstall(record.prefix, installed)
        for have in satisfied:
            notify(f"{have.name} {have.version} comes from the module {have.module}: not installed again")
        to_install = module_packages.without(to_install, satisfied)
        if to_install:
            notify("installing " + " ".join(module_packages.without(specs, satisfied)))
            backend.install(record.prefix, requirements.as_args(to_install), layered=bool(record.extends),
                            no_binary=flags)
        # a folder or URL names the package it installed: read from the sources as they are now (the
        # requests already recorded, from the sources as recorded, which refresh's snapshot replaces)
        now = record.replace(sources=direct_sources(record.prefix, record.python))
        named = {_canonical(s, now) for s in specs}
        record.requested = [r for r in record.requested if _canonical(r, record) not in named] + specs

    return _change(config, name, "install", specs, notify, apply)


def update(config: Config, name: str, specs: list, notify=lambda m: None, file_specs=()):
    """Update the named packages, or with none named, every package the user asked for. A named package
    must be there (conda's 'update' refuses one too); ``file_specs`` (``--file``) bring the environment up
    to a spec, as ``conda env update -f``: what they name that is not there is installed and recorded as
    asked for."""
    file_specs = list(file_specs)

    def apply(record, backend):
        targets = [*specs, *file_specs] or list(record.requested)
        if not targets:
            raise PyenvmodError(f"{name!r} has no requested packages to update; name the packages to update")
        from pyenvmod.packages import module_packages

        # a package a recorded module provides is the module's to update: never a second copy here
        backend.module_packages = [] if record.backend == "conda" else \
            module_packages.provided(record.modules, owners=identity.uids(config["module_owners"]))
        satisfied = module_packages.check_requested(targets, backend.module_packages)
        for have in satisfied:
            notify(f"{have.name} {have.version} comes from the module {have.module}: not updated here")
        targets = module_packages.without(targets, satisfied)
        missing = _not_installed(record, module_packages.without(specs, satisfied))
        if missing:
            import shlex

            where = " nor in its bases" if record.extends else ""
            raise PyenvmodError(f"not installed in {name!r}{where}: {', '.join(missing)}; update changes what is "
                                f"there: install it with 'pyenvmod install {shlex.quote(name)} "
                                f"{shlex.join(missing)}'")
        new = _not_installed(record, module_packages.without(file_specs, satisfied))
        if not targets:
            return
        flags = _build_flags(config, record, backend, to_update := list(targets), notify)
        notify("updating " + " ".join(targets))
        backend.upgrade(record.prefix, requirements.as_args(to_update), layered=bool(record.extends),
                        no_binary=flags)
        asked = {_canonical(r, record) for r in record.requested}
        record.requested += [s for s in new if _canonical(s, record) not in asked]

    return _change(config, name, "update", [*specs, *file_specs], notify, apply)


def remove(config: Config, name: str, specs: list, notify=lambda m: None):
    if not specs:
        raise PyenvmodError("name at least one package to remove")

    def apply(record, backend):
        named = [_canonical(s, record) for s in specs]
        own = _own_distributions(record)
        missing = [n for n in named if n not in own]
        if missing:
            where = f" (it comes from the base {record.extends['name']!r})" if record.extends else ""
            raise PyenvmodError(f"{', '.join(missing)} is not installed in {name!r}{where}; "
                                "see 'pyenvmod export' for what is")
        notify("removing " + " ".join(named))
        backend.uninstall(record.prefix, named)
        record.requested = [r for r in record.requested if _canonical(r, record) not in named]

    return _change(config, name, "remove", specs, notify, apply)
