"""Create an environment: build it, install packages, write modulefiles, register it last.

Nothing is half-made: on any failure or interrupt (Ctrl-C, SIGTERM, SIGHUP) the
prefix and the modulefiles are removed again. The metadata file is written last,
so an environment without one is a leftover that the next create of that name
cleans up, and that ``list`` shows as incomplete.
"""

import os
import re
import shlex
from collections import namedtuple

from pyenvmod import __version__
from pyenvmod.backends import pythons
from pyenvmod.modules import capture, module_system, modulefiles, stacking
from pyenvmod.packages import buildpolicy, installed, requirements, sources
from pyenvmod.records import history, metadata, names, registry
from pyenvmod.runtime import background, proc
from pyenvmod.trust import files, identity
from pyenvmod.modules import spider_cache, tombstones
from pyenvmod.config import Config
from pyenvmod.errors import PyenvmodError
from pyenvmod.operations import external_prefix
from pyenvmod.operations import packages as packages_op
from pyenvmod.operations.common import backend_for, find_base, share, tree_for, write_modulefiles


# What to create (a named tuple: dataclasses cost every command's start-up, see config.Config):
#   packages      the packages to install
#   python, backend, description
#   extends       name or prefix of a base environment to layer this one on
#   modules       --modules: added to (or replacing) the captured ones
#   capture       record the loaded modules
#   spec          a spec.Spec (create --file, --clone): its python, packages, modules, backend
#   no_binary     packages to build from source
#   channels      conda backend: -c/--channel, as with conda
#   location      --prefix: a folder of the user's choosing instead of the tree's envs/NAME
CreateRequest = namedtuple("CreateRequest", ["name", "packages", "python", "backend", "description", "extends",
                                             "modules", "capture", "spec", "no_binary", "channels", "location"],
                           defaults=((), "", "", "", "", (), True, None, (), (), ""))


def _merge_spec(request: CreateRequest) -> CreateRequest:
    """Fold a spec into the request: flags given on the command line win."""
    spec = request.spec
    if spec is None:
        return request
    return CreateRequest(
        name=request.name,
        packages=list(spec.packages) + list(request.packages),
        python=request.python or spec.python,
        backend=request.backend or spec.backend,
        description=request.description or spec.description,
        extends=request.extends,
        modules=list(spec.modules) + [m for m in request.modules if m],
        capture=request.capture,
        no_binary=list(dict.fromkeys([*spec.no_binary, *request.no_binary])),
        channels=list(request.channels) or list(spec.channels),
        location=request.location,
    )


def _owner() -> str:
    from pyenvmod.trust.identity import user_name

    return user_name()


# What create will do, computed and validated by plan() before anything is made; execute() carries it out.
CreatePlan = namedtuple("CreatePlan", ["request", "name", "backend_name", "packages", "requested", "channels",
                                       "no_binary", "base", "modules", "from_modules", "module_satisfied"])


def create(config: Config, request: CreateRequest, notify=lambda message: None) -> metadata.EnvRecord:
    """Create an environment: plan it (bad input is refused before a folder exists), then carry the plan out."""
    return execute(config, plan(config, request, notify), notify)


def plan(config: Config, request: CreateRequest, notify=lambda message: None) -> CreatePlan:
    """Validate a request and resolve what it leaves open: the name, the packages (with a spec's), the backend and
    its channels, the base interpreter, the modules to record and the packages they provide. Nothing is made; a
    spec's modules are loaded (its packages are built with them) and a --python module may be. Over 60 lines: the
    checks are kept in the order they are refused, each next to the value it checks."""
    spec = request.spec
    given = list(request.packages)  # on the command line, beside the spec's
    request = _merge_spec(request)
    name = names.validate(request.name)
    names.validate_description(request.description,
                               spec.source if spec is not None and spec.description == request.description
                               and spec.description else "--description")
    backend_name = request.backend or ("conda" if spec is not None and spec.conda_only else config["backend"])
    conda = backend_name == "conda"
    if conda:
        from pyenvmod.backends.conda import validate_specs

        # a conda environment.yml: its conda entries are the packages
        packages = validate_specs([*(spec.conda_only if spec is not None else []), *request.packages])
        if request.extends or request.no_binary:
            raise PyenvmodError("--extends and --no-binary work with the uv and venv backends, not with conda")
        if spec is not None and [p for p in spec.packages if p not in given]:  # request's include the spec's
            raise PyenvmodError(f"{spec.source} has a pip: part; the conda backend installs conda packages only "
                                "(create the environment, then pip install inside it)")
        from pyenvmod.operations.common import read_condarc

        channels = list(request.channels) or config["channels"] or read_condarc().get("channels", [])
        sources.check_channels(config, channels)
    else:
        packages = requirements.validate(requirements.absolute_paths(list(request.packages)))
        channels = []
    requested = packages
    if spec is not None and spec.requested is not None:  # a full export: only what was asked for originally
        requested = [*spec.requested, *given]
        if conda:
            validate_specs(requested)
        else:
            requirements.validate(requested)
    no_binary = list(dict.fromkeys([*config["no_binary"], *request.no_binary])) if not conda else []
    requirements.validate_names(no_binary)
    if not conda:
        sources.check(config, packages)
    if spec is not None and spec.conda_only and backend_name in ("uv", "venv"):
        raise PyenvmodError(
            f"{spec.source} has conda-only entries the {backend_name} backend cannot install: "
            f"{', '.join(spec.conda_only)}; move them under 'pip:' or use a conda environment"
        )
    if spec is not None and spec.modules:
        system = module_system.current()
        if system is None:
            raise PyenvmodError(f"{spec.source} needs the modules {' '.join(spec.modules)}, but no module system is "
                                "set up in this shell (neither LMOD_CMD nor MODULES_CMD is set)")
        notify(f"loading {' '.join(spec.modules)} with {system.name} before building")
        system.load([capture.validate(m) for m in spec.modules])
    base, python_module = None, None
    wanted_python = request.python or ("" if request.extends else config["python"])
    if not conda and wanted_python:  # before the modules are read: a Python module it loads is recorded too
        base, python_module = pythons.locate(wanted_python, config, notify)
    given_modules = [*request.modules, python_module] if python_module else request.modules
    modules = capture.modules_for(os.environ, config["capture_exclude"], given_modules, request.capture)
    from_modules, module_satisfied = [], []
    if not conda:  # what the modules put on PYTHONPATH counts as installed; a version they lack is refused
        from pyenvmod.packages import module_packages

        from_modules = module_packages.provided(modules, owners=identity.uids(config["module_owners"]))
        module_satisfied = module_packages.check_requested(packages, from_modules)
    if request.location and config.group:
        raise PyenvmodError("--prefix makes an environment outside the tree, and a group tree keeps its environments "
                            "inside it (where every maintainer may change them); create it without --prefix")
    return CreatePlan(request, name, backend_name, packages, requested, channels, no_binary, base, modules,
                      from_modules, module_satisfied)


def execute(config: Config, plan: CreatePlan, notify=lambda message: None) -> metadata.EnvRecord:
    """Carry out a plan: the tree, then under the environment's lock the folder, the build and the registration;
    on any failure or interrupt what was made is removed again (``_build``)."""
    tree = tree_for(config)
    layout = tree.layout
    backend = backend_for(config, plan.backend_name, plan.channels)
    build_flags, build = buildpolicy.prepare(config, backend, plan.modules, plan.packages, plan.no_binary, notify,
                                             layered=bool(plan.request.extends))
    tree.ensure()
    external = external_prefix.check(layout, plan.request.location) if plan.request.location else None
    modulefiles.write_tree_marker(layout, _owner())

    with proc.interrupts_raise(), tree.lock(plan.name, config["lock_timeout"]):
        prefix = _claim_prefix(tree, plan.name, external, notify)
        layered_on, extends, base = _base_of(config, plan, backend, layout)
        record = _build(config, plan, tree, backend, prefix, external, (layered_on, extends, base),
                        (build_flags, build), notify)
    spider_cache.refresh(config, layout)
    return record


def _claim_prefix(tree, name: str, external, notify):
    """With the lock held: refuse an existing environment, clear what an interrupted create left, claim the
    folder; returns the prefix to build in."""
    layout = tree.layout
    if os.path.lexists(tree.meta_file(name)):
        raise PyenvmodError(
            f"an environment named {name!r} already exists; choose another name, "
            f"or run 'pyenvmod delete {shlex.quote(name)}' first"
        )
    prefix = tree.prefix(name)
    if os.path.lexists(prefix) or os.path.lexists(layout.history_dir(name)) \
            or (os.path.lexists(layout.module_dir(name))
                and not tombstones.is_tombstone(layout, name)):  # a tombstone is replaced below
        # We hold the lock and there is no metadata: an interrupted create left this.
        tree.remove(prefix)
        modulefiles.remove(layout, name)
        tree.remove(layout.history_dir(name))
        notify(f"removed the leftover of an interrupted create of {name!r}")
    if external is not None:
        external_prefix.check(layout, str(external))  # still absent or empty, now that we hold the lock
        external_prefix.claim(external)  # made by us, or ours and private: nobody else's folder
        prefix = external
    return prefix


def _base_of(config: Config, plan: CreatePlan, backend, layout):
    """The environment it extends (and its record's ``extends``), and the base interpreter: (layered_on, extends,
    base); a Python version that differs from the extended environment's is refused."""
    request, name, base = plan.request, plan.name, plan.base
    layered_on, extends = None, None
    if request.extends:
        layered_on, base_modules = find_base(layout, request.extends)
        extends = {"name": layered_on.name, "prefix": layered_on.prefix, "module": layered_on.module,
                   "modules_dir": str(base_modules), "python": layered_on.python}
    if backend.provides_python:
        wanted = request.python
        if wanted and not re.fullmatch(r"\d+\.\d+", wanted):
            raise PyenvmodError(f"--python {wanted}: the conda backend takes a version like 3.12 (the "
                                "interpreter comes from the channels)")
    elif base is None:
        base = pythons.resolve(request.python or (layered_on.base_python if layered_on else config["python"]))
    if layered_on and base.major_minor != ".".join(layered_on.python.split(".")[:2]):
        raise PyenvmodError(
            f"{name!r} would use Python {base.major_minor} but its base {layered_on.name!r} uses Python "
            f"{layered_on.python}; an environment and its base must use the same Python version"
        )
    return layered_on, extends, base


def _build(config: Config, plan: CreatePlan, tree, backend, prefix, external, bases, builds, notify):
    """Make the environment, install its packages, write its modulefiles and history, and register it last; on any
    failure or interrupt remove all of it again. Over 60 lines: one try block, so that every step is undone."""
    from pyenvmod.packages import module_packages

    layout, name, request, channels = tree.layout, plan.name, plan.request, plan.channels
    backend_name, packages, requested = plan.backend_name, plan.packages, plan.requested
    from_modules, module_satisfied = plan.from_modules, plan.module_satisfied
    (layered_on, extends, base), (build_flags, build) = bases, builds
    background.prewarm(*background.AFTER_INSTALL)  # loaded while the environment is made
    hook_templates = background.later(stacking.prepare)  # and the templates compiled
    templates = background.later(packages_op.prepared_templates, config)
    problems = None
    try:
        if base is None:
            notify(f"creating {name!r} with {backend_name} from {', '.join(channels)}")
            backend.create(prefix, None, prompt=name, python=request.python)
        else:
            notify(f"creating {name!r} with {backend_name} from Python {base.version} ({base.executable})")
            backend.create(prefix, base, prompt=name)
        if os.path.islink(prefix):  # swapped for a link while the helper ran: never built upon
            raise PyenvmodError(f"{prefix} was replaced by a symlink during the create; nothing was kept")
        if external is not None:
            external_prefix.mark(layout, prefix, name)
        version = backend.python_version(prefix)
        base_site = str(stacking.site_packages(layered_on.prefix, layered_on.python)) if layered_on else None
        stacking.install_hook(str(prefix), version, base_site,
                              inside=layout.root if external is None else prefix, env=hook_templates())
        backend.module_packages = from_modules
        for have in module_satisfied:
            notify(f"{have.name} {have.version} comes from the module {have.module}: not installed again")
        to_install = module_packages.without(packages, module_satisfied) if module_satisfied else packages
        if to_install:
            notify("installing " + " ".join(to_install))
            backend.install(prefix, requirements.as_args(to_install + build.extra), layered=bool(layered_on),
                            no_binary=build_flags)
            if from_modules:  # what uv left out for a module must be what the packages need
                module_packages.check_installed(prefix, version, from_modules)
        record = _new_record(plan, layout, prefix, version, base, extends, build)
        problems = background.call(backend.check, prefix)  # beside the bookkeeping, which writes elsewhere
        installed.snapshot(record, backend)
        files.no_world_write(prefix, inside=files.below(prefix, layout.root))
        share(config, layout, prefix)
        if external is None:  # envs/ swapped for a link meanwhile (a group member): never registered
            tree.check_dir(prefix)
        record.updated = record.created
        write_modulefiles(layout, record, modulefiles.options_from(config), templates())
        history.add(layout, name, "create", packages, record.packages, requested, record.sources)
        registry.write(tree, record)  # registers it: the last step
    except BaseException:
        if problems is not None:
            _finished(problems)  # the check reads the folder the undo removes
        _undo(layout, name, external)
        raise
    for problem in problems():
        notify(f"warning: broken requirements in {name!r}: {problem}")
    return record


def _new_record(plan: CreatePlan, layout, prefix, version: str, base, extends, build) -> metadata.EnvRecord:
    return metadata.EnvRecord(
        name=plan.name,
        prefix=str(prefix),
        python=version,
        base_python=base.executable if base else os.path.realpath(prefix / "bin" / "python"),
        backend=plan.backend_name,
        module=layout.module_name(plan.name, layout.module_tag(version)),
        created=_now(),
        owner=_owner(),
        platform=layout.platform,
        description=plan.request.description,
        requested=plan.requested,
        extends=extends,
        modules=plan.modules,
        module_paths=capture.module_paths(os.environ, plan.modules),
        module_files=capture.module_files(os.environ, plan.modules),
        no_binary=plan.no_binary,
        mpi=build.mpi.as_dict() if build.mpi else None,
        channels=plan.channels,
        pyenvmod_version=__version__,
    )


def _now() -> str:
    from datetime import datetime, timezone

    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _finished(waiter) -> None:
    """Wait for a background job whose result no longer matters."""
    try:
        waiter()
    except BaseException:
        pass


def _undo(layout, name: str, external=None) -> None:
    for remove in (
        lambda: external is not None and external_prefix.empty(external),
        lambda: files.remove_inside(layout.meta_file(name), layout.root),
        lambda: files.remove_inside(layout.history_dir(name), layout.root),
        lambda: modulefiles.remove(layout, name),
        lambda: files.remove_inside(layout.prefix(name), layout.root),
    ):
        try:
            remove()
        except OSError:
            pass
