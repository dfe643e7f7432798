"""The doctor's shadowed-packages check (issue 26): a package installed in an environment that a
recorded module's package hides (the module puts it on PYTHONPATH, which comes first on sys.path:
the environment's copy is never imported)."""

from pyenvmod.operations.doctor.finding import Check


def check(ctx):
    from pyenvmod.packages import module_packages
    from pyenvmod.trust import identity
    from pyenvmod.operations.doctor.finding import Finding

    out = []
    for entry in ctx.entries:
        record = entry.record
        if record is None or not record.modules or record.backend == "conda" or (ctx.name and entry.name != ctx.name):
            continue
        try:
            provided = module_packages.provided(record.modules, ctx.environ, identity.uids(ctx.config["module_owners"]))
        except Exception:  # noqa: BLE001 - a module system that fails is another check's business
            continue
        for dist, have in module_packages.shadowed(record.prefix, provided):
            out.append(Finding("module-shadow", "warning",
                               f"{entry.name}: {dist.name} {dist.version} is installed in it but never imported: "
                               f"the module {have.module} puts {have.name} {have.version} on PYTHONPATH, which comes "
                               "first on sys.path",
                               f"pyenvmod remove {entry.name} {dist.name} (the module's {have.version} is used), or "
                               f"make the environment without {have.module}"))
    return out


CHECK = Check("module-shadow", 160, "environments", looks_at="the packages each environment's recorded modules put on PYTHONPATH",
              finding="a package installed in the environment that a module's copy hides", fix="remove it from the environment, or make the environment without that module")
