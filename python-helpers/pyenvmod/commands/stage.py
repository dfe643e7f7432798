"""Copy an environment to this node's local disk, so that python runs from there (MPI jobs).

In a job script, after 'module load pyenv/mylab':

  srun --ntasks-per-node=1 pyenvmod stage mylab    # once per node
  srun python train.py                             # every rank runs from the node-local copy

The copy includes the base interpreter and its standard library, and goes to the stage_dir
setting (default: $TMPDIR, else /tmp). Where there is no current copy (another node, or no
room), python runs from the shared environment as usual. The image is packed first when it
is missing or older than the environment. --clean removes this node's copies (of a renamed or
deleted environment too, by its old name).
"""

import sys


def add_arguments(parser):
    parser.add_argument("name", help="environment")
    parser.add_argument("--clean", action="store_true", help="remove this node's copies of the environment instead")
    parser.add_argument("-q", "--quiet", action="store_true", help="print nothing when all went well")


def run(args) -> int:
    from pyenvmod import config as config_mod
    from pyenvmod.operations import stage

    config = config_mod.load()
    if args.clean:
        removed = stage.clean(config, args.name)
        if not args.quiet:
            print(f"Removed {len(removed)} staged cop{'y' if len(removed) == 1 else 'ies'} of {args.name!r}"
                  + "".join(f"\n  {path}" for path in removed))
        return 0
    result = stage.stage(config, args.name, notify=lambda m: print(f"pyenvmod: {m}", file=sys.stderr),
                         warn=lambda m: print(f"pyenvmod: warning: {m}", file=sys.stderr))
    if args.quiet or result["action"].startswith("no-space"):
        return 0
    what = {"staged": "Staged", "reused": "Already staged"}[result["action"]]
    print(f"{what} {args.name!r} on {result['node']} in {result['seconds']:.2f} s "
          f"(tar.zst image{', packed first' if result.get('packed') else ''}): {result['copy']}")
    return 0
