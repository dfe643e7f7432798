"""Regenerate the modulefiles of an existing environment (after a template or config change)."""

import os
import shlex

from pyenvmod.modules import modulefiles, spider_cache, stacking
from pyenvmod.records import registry
from pyenvmod.config import Config
from pyenvmod.errors import PyenvmodError
from pyenvmod.operations.common import load_record, tree_for, write_modulefiles


def regenerate(config: Config, name: str) -> list:
    tree = tree_for(config)
    layout = tree.layout
    load_record(layout, name)  # validates the name and the record's paths before anything is touched
    tree.ensure()
    with tree.lock(name, config["lock_timeout"]):
        record = load_record(layout, name)
        if not os.path.isdir(record.prefix):
            raise PyenvmodError(
                f"the environment {name!r} is missing at {record.prefix}; "
                f"recreate it or run 'pyenvmod delete {shlex.quote(name)}'"
            )
        base_site = (str(stacking.site_packages(record.extends["prefix"], record.extends["python"]))
                     if record.extends else None)
        hook = [] if record.adopted else stacking.install_hook(record.prefix, record.python, base_site,
                                                               inside=registry.write_anchor(tree, record))
        written = hook + write_modulefiles(layout, record, modulefiles.options_from(config))
    spider_cache.refresh(config, layout)
    return written
