"""What every operation needs: the layout for this node, and an environment's record."""

from pyenvmod import metadata, names, platform_tag
from pyenvmod.config import Config
from pyenvmod.errors import PyenvmodError
from pyenvmod.layout import Layout


def layout_for(config: Config) -> Layout:
    return Layout(config.root, platform_tag.current())


def load_record(layout: Layout, name: str) -> metadata.EnvRecord:
    names.validate(name)
    try:
        return metadata.read(layout.meta_file(name))
    except FileNotFoundError:
        raise PyenvmodError(f"no environment named {name!r} under {layout.base}; see 'pyenvmod list'") from None
