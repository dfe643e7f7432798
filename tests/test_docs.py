"""Every shell example of the getting-started page runs, in order, under real Lmod."""

import re

from modsys import REPO, Lmod, run_bash

PAGE = REPO / "docs" / "user-guide" / "getting-started.md"


def examples(page) -> list[str]:
    return re.findall(r"^```sh\n(.*?)^```", page.read_text(), flags=re.S | re.M)


def test_getting_started_examples_run(env):
    blocks = examples(PAGE)
    assert len(blocks) >= 6
    lmod = Lmod().require()
    script = "set -euo pipefail\n" + lmod.init() + "\n" + "\n".join(blocks)
    result = run_bash(script, env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "pyenv/mylab" in result.stdout + result.stderr


def test_cli_reference_is_generated_from_the_current_help():
    import subprocess
    import sys

    result = subprocess.run([sys.executable, str(REPO / "docs" / "gen_cli_reference.py"), "--check"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
