"""Find and explain common Python problems on a cluster; fix the safe ones with --fix.

Checks: packages in ~/.local shadowing environments; pip/uv/conda caches and environments
in your home directory (with sizes and free space); 'conda init' blocks in start-up files;
an active conda environment; PYTHONPATH/PYTHONHOME set; environments whose interpreter is
gone; modulefiles pointing at missing environments; environments without modulefiles; the
module tree not on MODULEPATH; world-writable files in pyenvmod's trees; recorded modules
that no longer exist.

Problems (warnings, errors) are printed; notes that need nothing done (INFO) only with
--verbose (--json always has them all).

--fix does only what is safe and reversible (empty caches, write or remove stale
modulefiles, remove leftovers, chmod o-w), asking first on a terminal (--yes: no questions).
Exit status: 0 when nothing needs attention, 1 otherwise.
"""

import sys


def add_arguments(parser):
    parser.add_argument("name", nargs="?", help="check only this environment")
    parser.add_argument("--json", action="store_true", help="print the findings as JSON")
    parser.add_argument("--fix", action="store_true", help="fix what is safe to fix")
    parser.add_argument("-y", "--yes", action="store_true", help="with --fix: do not ask")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="also print the notes that need nothing done (INFO)")


def run(args) -> int:
    import json

    from pyenvmod import config as config_mod
    from pyenvmod.runtime.display import clean
    from pyenvmod.errors import PyenvmodError
    from pyenvmod.operations import doctor

    config = config_mod.load()
    findings = doctor.run(config, args.name)
    fixed = []
    if args.fix:
        if not args.yes and not sys.stdin.isatty():
            raise PyenvmodError("--fix asks before each fix and there is no terminal; pass --yes to fix without asking")
        for finding in findings:
            if finding.repair is None:
                continue
            if not args.yes:
                answer = input(clean(f"{finding.repair_says}? [y/N] "))
                if answer.strip().lower() not in ("y", "yes"):
                    continue
            fixed.append(finding.repair())
        if fixed:
            findings = doctor.run(config, args.name)
    attention = [f for f in findings if f.severity != "info"]
    if args.json:
        print(json.dumps({"findings": [f.as_dict() for f in findings], "fixed": fixed}, indent=2))
        return 1 if attention else 0

    for line in fixed:
        print(clean(f"fixed: {line}"))
    shown = findings if args.verbose else attention  # notes (INFO) only on request: problems stand out
    if not attention:
        print("No problems found.")
    for f in shown:
        print(clean(f"{f.severity.upper():7s} [{f.check}] {f.message}") + "\n" + clean(f"        fix: {f.fix}"))
    if len(shown) < len(findings):
        print(f"(notes that need nothing done: {len(findings) - len(shown)}; "
              "pyenvmod doctor --verbose shows them)")
    return 1 if attention else 0
