"""Export an environment as a file that recreates it: share it, or rebuild it later.

  pyenvmod export mylab -o mylab.yml              # pinned; conda can read it too
  pyenvmod export mylab --requested               # only what you asked for
  pyenvmod export mylab --format requirements     # pip's requirements.txt
  pyenvmod create mylab2 --file mylab.yml         # recreate (modules included)
"""

import sys


def add_arguments(parser):
    parser.add_argument("name", help="environment (a name, or the folder of a group's environment)")
    parser.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of standard output")
    parser.add_argument("--format", choices=("yaml", "requirements"), default="yaml",
                        help="yaml: environment.yml with a pyenvmod block (default); requirements: pip's format")
    parser.add_argument("--requested", action="store_true",
                        help="only the packages you asked for, as you asked (like conda's --from-history)")


def run(args) -> int:
    from pyenvmod import config as config_mod
    from pyenvmod.errors import PyenvmodError
    from pyenvmod.operations.export import export

    config = config_mod.load()
    if "/" not in args.name:  # one's own environment: a plain 'pip install' since the last change counts
        from pyenvmod.operations.common import layout_for, reconcile_now

        reconcile_now(config, layout_for(config), args.name,
                      notify=lambda m: print(f"pyenvmod: {m}", file=sys.stderr))
    text = export(config, args.name, args.format, args.requested,
                  notify=lambda m: print(f"pyenvmod: {m}", file=sys.stderr))
    if not args.output:
        sys.stdout.write(text)
        return 0
    try:
        with open(args.output, "w", encoding="utf-8") as fh:
            fh.write(text)
    except OSError as exc:
        raise PyenvmodError(f"cannot write {args.output}: {exc.strerror}") from None
    print(f"Exported {args.name!r} to {args.output}", file=sys.stderr)
    return 0
