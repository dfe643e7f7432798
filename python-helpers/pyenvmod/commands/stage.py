"""Copy an environment to this node's local disk, so that python runs from there (MPI jobs).

In a job script, after 'module load pyenv/mylab':

  pyenvmod stage mylab     # on every node of the job: the image is read once and broadcast (sbcast)
  srun python train.py     # every rank runs from its node's copy

In a batch script or salloc shell it stages on every node of the allocation (one srun step of one
task per node; stage_transport: sbcast | shared says how the image gets there); inside a step
(srun pyenvmod stage) it stages on this node only.

The copy includes the base interpreter and its standard library, and goes to the stage_dir
setting (default: $TMPDIR, else /tmp). Where there is no current copy (another node, or no
room), python runs from the shared environment as usual. The image is packed first when it
is missing or older than the environment. --clean removes the copies (of a renamed or
deleted environment too, by its old name), on every node of the job as well.
"""

import sys


def add_arguments(parser):
    import argparse

    parser.add_argument("names", nargs="+", metavar="NAME", help="environment(s)")
    parser.add_argument("--clean", action="store_true", help="remove the copies of the environment instead")
    parser.add_argument("-q", "--quiet", action="store_true", help="print nothing when all went well")
    # the srun step a job script's 'pyenvmod stage' starts on every node (operations/stage_job.py)
    parser.add_argument("--node-step", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--broadcast", default="", help=argparse.SUPPRESS)


def run(args) -> int:
    from pyenvmod import config as config_mod
    from pyenvmod.operations import stage

    config = config_mod.load()
    if args.node_step:
        from pyenvmod.operations import stage_job as broadcast

        return broadcast.node_step(config, args.names, args.broadcast, clean=args.clean)
    if _whole_job(config):
        from pyenvmod.operations import stage_job as broadcast

        driver = broadcast.Driver(config, out=(lambda m: None) if args.quiet else print)
        return driver.clean(args.names) if args.clean else driver.stage(args.names)
    if args.clean:
        for name in args.names:
            removed = stage.clean(config, name)
            if not args.quiet:
                print(f"Removed {len(removed)} staged cop{'y' if len(removed) == 1 else 'ies'} of {name!r}"
                      + "".join(f"\n  {path}" for path in removed))
        return 0
    for name in args.names:
        result = stage.stage(config, name, notify=lambda m: print(f"pyenvmod: {m}", file=sys.stderr),
                             warn=lambda m: print(f"pyenvmod: warning: {m}", file=sys.stderr))
        if args.quiet or result["action"].startswith("no-space"):
            continue
        what = {"staged": "Staged", "reused": "Already staged"}[result["action"]]
        print(f"{what} {name!r} on {result['node']} in {result['seconds']:.2f} s "
              f"(tar.zst image{', packed first' if result.get('packed') else ''}): {result['copy']}")
    return 0


def _whole_job(config) -> bool:
    """In a job script (allocation, no step): stage on every node. Without srun: this node only, said once."""
    import shutil

    from pyenvmod.operations import stage_job as broadcast

    if not broadcast.job_without_step():
        return False
    if shutil.which("srun"):
        return True
    print("pyenvmod: srun not found: staging on this node only", file=sys.stderr)
    return False
