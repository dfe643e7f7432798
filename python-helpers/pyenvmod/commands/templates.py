"""Which template file is in effect for each generated file (a site or user folder from the
'templates' setting, or the built-in one), and its text.

  pyenvmod templates list
  pyenvmod templates show modulefile.lua.j2
"""


def add_arguments(parser):
    sub = parser.add_subparsers(dest="templates_command", metavar="SUBCOMMAND", required=True)
    sub.add_parser("list", help="list templates and the file in effect for each",
                   description="List templates and the file in effect for each.")
    show = sub.add_parser("show", help="print the template in effect", description="Print the template in effect.")
    show.add_argument("template", metavar="NAME", help="a template name, e.g. modulefile.lua.j2")


def run(args) -> int:
    from pyenvmod import config as config_mod
    from pyenvmod import resources
    from pyenvmod.modules import render
    from pyenvmod.errors import PyenvmodError

    dirs = render.template_dirs(config_mod.load()["templates"])
    builtin = resources.data_dir("templates")
    names = sorted(p.name for p in builtin.glob("*.j2"))

    def effective(name):
        return next((d / name for d in dirs if (d / name).is_file()), None)

    if args.templates_command == "list":
        for name in names:
            path = effective(name)
            where = "built-in" if path.parent == builtin else "overridden"
            print(f"{name:28s} {where:10s} {path}")
        return 0
    path = effective(args.template)
    if path is None:
        raise PyenvmodError(f"no template named {args.template!r}; see 'pyenvmod templates list'")
    print(path.read_text(encoding="utf-8"), end="")
    return 0
