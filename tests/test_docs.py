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


def test_docs_site_builds_strict(tmp_path):
    import subprocess
    import sys

    from modsys import require

    result = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(tmp_path / "site")],
                            cwd=REPO, capture_output=True, text=True, env={"NO_MKDOCS_2_WARNING": "1",
                                                                           "PATH": "/usr/bin:/bin"})
    if "No module named mkdocs" in result.stderr:
        require(False, "mkdocs", "pip install .[docs]")
    assert result.returncode == 0, result.stderr
    for page in ("user-guide/getting-started/index.html", "user-guide/from-conda/index.html",
                 "reference/cli/index.html", "admin-guide/index.html"):
        assert (tmp_path / "site" / page).is_file(), page


def test_man_page_renders_without_warnings():
    import shutil
    import subprocess

    from modsys import require

    require(shutil.which("groff") is not None, "groff", "apt-get install groff-base")
    man = REPO / "docs" / "man" / "pyenvmod.1"
    result = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z", str(man)], capture_output=True, text=True)
    assert result.returncode == 0 and result.stderr == "", result.stderr
    text = subprocess.run(["groff", "-man", "-Tutf8", str(man)], capture_output=True, text=True).stdout
    for command in ("create", "doctor", "rollback", "kernel"):
        assert f"pyenvmod {command}" in text
