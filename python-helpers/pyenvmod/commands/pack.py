"""Pack an environment into one image kept beside it, for 'pyenvmod stage'.

  pyenvmod pack mylab

The image (a zstd tarball of the environment, its base interpreter and standard library,
with bytecode compiled) is remade only when the environment changed since the last pack;
'pyenvmod stage' packs by itself when needed. See 'Running MPI jobs at scale' in the guide.
"""

import sys


def add_arguments(parser):
    parser.add_argument("name", help="environment")
    parser.add_argument("--force", action="store_true", help="pack again even if the image is current")


def run(args) -> int:
    from pyenvmod import config as config_mod
    from pyenvmod.operations import pack

    manifest, image = pack.pack(config_mod.load(), args.name, force=args.force,
                                notify=lambda m: print(f"pyenvmod: {m}", file=sys.stderr))
    if manifest is None:
        print(f"The image of {args.name!r} is current: {image}")
    else:
        print(f"Packed {args.name!r} (version {manifest.stamp}, {manifest.size >> 20} MB unpacked, "
              f"{image.stat().st_size >> 20} MB image, tar.zst): {image}")
    return 0
