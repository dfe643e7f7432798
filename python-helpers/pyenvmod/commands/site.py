"""Site administration.

  pyenvmod site init      the site configuration, with sample pip.conf and .condarc
  pyenvmod site hooks     where the Lmod hooks are, and the lines that install them
"""

import sys


def add_arguments(parser):
    sub = parser.add_subparsers(dest="site_command", metavar="SUBCOMMAND", required=True)
    hooks = sub.add_parser("hooks", help="print where the Lmod hooks are and how to install them",
                           description="Print where the installed Lmod hooks (SitePackage.lua) are, "
                                       "and the lines a site adds to install them.")
    hooks.add_argument("--path", action="store_true", help="print only the folder")
    init = sub.add_parser("init", help="write the site configuration and sample pip.conf / .condarc",
                          description="Ask a few questions, then write the site configuration "
                                      "(/etc/pyenvmod/config.yaml, or $PYENVMOD_SITE_CONFIG) and, beside it, "
                                      "commented samples of pip.conf and .condarc; print how to install the hooks.")
    init.add_argument("-y", "--yes", action="store_true", help="answer every question with its default")


def run(args) -> int:
    if args.site_command == "init":
        return site_init(args)
    return hooks(args)


def site_init(args) -> int:
    import os

    from pyenvmod import config as config_mod
    from pyenvmod.modules import render
    from pyenvmod.packages import requirements
    from pyenvmod.trust import files
    from pyenvmod.commands.common import ask
    from pyenvmod.errors import PyenvmodError

    if not args.yes and not sys.stdin.isatty():
        raise PyenvmodError("pyenvmod site init asks questions and there is no terminal; pass --yes for the defaults")
    target = config_mod.site_file()
    if target.exists():
        raise PyenvmodError(f"{target} exists; edit it, or move it away and run 'pyenvmod site init' again")
    root = ask("Where do users' environments go?", "/project/$USER/pyenvmod", args.yes)
    cache = ask("Where do package caches go (off $HOME)?", "/scratch/$USER/.cache", args.yes)
    index = ask("Which package index does the site trust?", "https://pypi.org/simple", args.yes)
    no_binary = [n for n in ask("Packages always built from source (comma-separated)", "mpi4py,h5py",
                                args.yes).split(",") if n]
    requirements.validate_names(no_binary)
    for value, what in ((root, "root"), (cache, "cache_dir")):
        config_mod.expand_path(value, f"your answer for {what}")
    context = {"root": root, "cache_dir": cache, "no_binary": no_binary, "index_url": index,
               "pip_cache": os.path.join(cache, "pip"), "conda_pkgs": os.path.join(cache, "conda-pkgs"),
               "conda_envs": os.path.join(os.path.dirname(root.rstrip("/")) or "/", "conda-envs")}
    try:
        files.make_root(target.parent)
        outputs = {target: "site-config.yaml.j2", target.parent / "pip.conf.sample": "pip.conf.j2",
                   target.parent / "condarc.sample": "condarc.j2"}
        texts = {path: render.render_template(template, context) for path, template in outputs.items()}
        for path, text in texts.items():
            files.write_atomic(path, text)
    except OSError as exc:
        raise PyenvmodError(f"cannot write into {target.parent}: {exc.strerror} (run as the site admin, or set "
                            "PYENVMOD_SITE_CONFIG to a file elsewhere)") from None
    config_mod.load()  # what was written must load
    for path in outputs:
        print(f"Wrote {path}")
    print("Copy pip.conf.sample to /etc/pip.conf and condarc.sample to /etc/conda/condarc if you want them.")
    print()
    return hooks(args)


def hooks(args) -> int:
    from pyenvmod import resources

    folder = resources.data_dir("lmod-hooks").resolve()
    if getattr(args, "path", False):
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
Hooks your file registers after that line chain with pyenvmod's instead of replacing them.

For Environment Modules 5, the site configuration script that adds the `module use` hint to
"Unable to locate a modulefile for 'pyenv/...'" (in the same start-up file):
  export MODULES_SITECONFIG={folder}/pyenvmod_siteconfig.tcl
or, when the site has its own siteconfig.tcl, add to it:
  source {folder}/pyenvmod_siteconfig.tcl""")
    sys.stdout.flush()
    return 0
