"""Site administration.

  pyenvmod site hooks     where the Lmod hooks are, and the lines that install them
"""

import sys


def add_arguments(parser):
    sub = parser.add_subparsers(dest="site_command", metavar="SUBCOMMAND", required=True)
    hooks = sub.add_parser("hooks", help="print where the Lmod hooks are and how to install them",
                           description="Print where the installed Lmod hooks (SitePackage.lua) are, "
                                       "and the lines a site adds to install them.")
    hooks.add_argument("--path", action="store_true", help="print only the folder")


def run(args) -> int:
    from pyenvmod import resources

    folder = resources.data_dir("lmod-hooks").resolve()
    if args.path:
        print(folder)
        return 0
    print(f"""\
pyenvmod's Lmod hooks are in:
  {folder}

To install them for every user, add to the shell start-up of all users (for example
/etc/profile.d/z00-pyenvmod-lmod.sh):
  export LMOD_PACKAGE_PATH={folder}
  export LMOD_AVAIL_STYLE=grouped:system   # lets 'module avail' show the pyenvmod heading

Switch behaviours on or off in {folder}/SitePackage.lua (or in a copy of it).
If you already have a SitePackage.lua, keep it and add at its top instead:
  package.path = "{folder}/?.lua;" .. package.path
  require("pyenvmod_hooks").setup{{}}
Hooks your file registers after that line chain with pyenvmod's instead of replacing them.""")
    sys.stdout.flush()
    return 0
