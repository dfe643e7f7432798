"""Regenerate the modulefiles of an existing environment (after a template or config change)."""

import os

from pyenvmod import locking, modulefiles, spider_cache, stacking
from pyenvmod.config import Config
from pyenvmod.errors import PyenvmodError
from pyenvmod.operations.common import layout_for, load_record


def regenerate(config: Config, name: str) -> list:
    layout = layout_for(config)
    load_record(layout, name)  # validates the name and fails clearly before anything is touched
    layout.ensure(shared=bool(config.group))
    with locking.locked(layout.lock_file(name), config["lock_timeout"], f"environment {name!r}"):
        record = load_record(layout, name)
        if not os.path.isdir(record.prefix):
            raise PyenvmodError(
                f"the environment {name!r} is missing at {record.prefix}; "
                f"recreate it or run 'pyenvmod delete {name}'"
            )
        base_site = (str(stacking.site_packages(record.extends["prefix"], record.extends["python"]))
                     if record.extends else None)
        hook = [] if record.adopted else stacking.install_hook(record.prefix, record.python, base_site)
        written = hook + modulefiles.write(layout, record, modulefiles.options_from(config))
    spider_cache.refresh(config, layout)
    return written
