"""Write docs/reference/cli.md from the command line's own --help (one source of truth).

    python docs/gen_cli_reference.py          # rewrite the page
    python docs/gen_cli_reference.py --check  # exit 1 if the page is out of date (the tests run this)
"""

import contextlib
import io
import sys
from pathlib import Path

PAGE = Path(__file__).resolve().parent / "reference" / "cli.md"


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


if __name__ == "__main__":
    text = page()
    if "--check" in sys.argv:
        if not PAGE.exists() or PAGE.read_text() != text:
            print(f"{PAGE} is out of date: run python docs/gen_cli_reference.py", file=sys.stderr)
            sys.exit(1)
    else:
        PAGE.write_text(text)
