"""Write docs/reference/cli.md and the man page docs/man/pyenvmod.1 from the command line's own
--help (one source of truth). The wheel installs the man page as share/man/man1/pyenvmod.1.

    python docs/gen_cli_reference.py          # rewrite both
    python docs/gen_cli_reference.py --check  # exit 1 if either is out of date (the tests run this)
"""

import contextlib
import io
import sys
from pathlib import Path

PAGE = Path(__file__).resolve().parent / "reference" / "cli.md"
MAN = Path(__file__).resolve().parent / "man" / "pyenvmod.1"


def help_text(argv) -> str:
    from pyenvmod import cli

    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):
        cli.main([*argv, "--help"])
    return out.getvalue().rstrip() + "\n"


def page() -> str:
    import os

    os.environ["COLUMNS"] = "100"
    from pyenvmod import cli

    parts = ["# Command reference\n",
             "Generated from `pyenvmod --help` by `docs/gen_cli_reference.py`; do not edit by hand.\n",
             "```text\n" + help_text([]) + "```\n"]
    for name in cli.COMMANDS:
        parts.append(f"## pyenvmod {name}\n")
        parts.append("```text\n" + help_text([name]) + "```\n")
    return "\n".join(parts)


def roff(text: str) -> str:
    """Plain text as a no-fill roff block: backslashes escaped, control characters at line start guarded."""
    lines = []
    for line in text.rstrip("\n").split("\n"):
        line = line.replace("\\", "\\e")
        if line.startswith((".", "'")):
            line = "\\&" + line
        lines.append(line)
    return ".nf\n" + "\n".join(lines) + "\n.fi\n"


def man() -> str:
    import os

    os.environ["COLUMNS"] = "80"
    from pyenvmod import __version__, cli

    parts = [f'.TH PYENVMOD 1 "" "pyenvmod {__version__}" "User Commands"\n',
             ".SH NAME\npyenvmod \\- every Python environment an environment module\n",
             ".SH SYNOPSIS\n.B pyenvmod\n.I COMMAND\n[\\fIOPTIONS\\fR]\n",
             ".SH DESCRIPTION\n" + roff(help_text([])),
             ".SH COMMANDS\n"]
    for name in cli.COMMANDS:
        parts.append(f".SS {name}\n" + roff(help_text([name])))
    parts.append(".SH SEE ALSO\n.BR module (1)\n")
    return "".join(parts)


if __name__ == "__main__":
    outputs = {PAGE: page(), MAN: man()}
    if "--check" in sys.argv:
        stale = [str(p) for p, text in outputs.items() if not p.exists() or p.read_text() != text]
        if stale:
            print(f"out of date: {', '.join(stale)}: run python docs/gen_cli_reference.py", file=sys.stderr)
            sys.exit(1)
    else:
        for path, text in outputs.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
