"""Every shell example of the getting-started page runs, in order, under real Lmod."""

import re
from pathlib import Path

import pytest

from modsys import REPO, Lmod, parse_env0, run_bash, user_env

PAGE = REPO / "docs" / "user-guide" / "getting-started.md"


def examples(page) -> list[str]:
    return re.findall(r"^```sh\n(.*?)^```", page.read_text(), flags=re.S | re.M)


# What the page says happens after each example, checked right after it (by the first line
# of the example). Each check is bash run in the same shell; it prints facts the test compares.
CHECKS = {
    'pyenvmod create mylab -p six --description "Analysis stack of the lab"': 'echo "PREFIX=$(pyenvmod list --json | python3 -c \'import json,sys; print(json.load(sys.stdin)[0]["prefix"])\')"',
    'module use "$(pyenvmod modulepath)"': """
echo "PYTHON=$(python -c 'import sys; print(sys.prefix)')"; echo "PIP=$(pip --version)"
echo "PYTHONCMD=$(command -v python)"
echo "VENV=$VIRTUAL_ENV"; echo "NOUSER=$PYTHONNOUSERSITE"
python -c 'import iniconfig, sys; print("INICONFIG=" + iniconfig.__file__)'
module help pyenv/mylab > help.txt 2>&1; module whatis pyenv/mylab > whatis.txt 2>&1
""",
    "pyenvmod create tools -p iniconfig": """
echo "LOADED=$(module -t list 2>&1 | grep ^pyenv/ | tr '\\n' ' ')"
echo "VENV2=$VIRTUAL_ENV"
""",
    "module unload pyenv/tools": "env -0 > after-unload.env",
    "module avail pyenv": "",
    "pyenvmod delete tools --yes": 'echo "LEFT=$(pyenvmod list --json | python3 -c \'import json,sys; print(*[e["name"] for e in json.load(sys.stdin)])\')"',
}


@pytest.mark.slow
def test_getting_started_examples_run(env, tmp_path):
    """Each example runs, in order, under real Lmod, and does what the text around it says."""
    blocks = examples(PAGE)
    firsts = [b.splitlines()[0] for b in blocks]
    assert firsts == list(CHECKS), "the page's examples changed: update CHECKS with what the page now says"
    lmod = Lmod().require()
    parts = ["set -euo pipefail", lmod.init()]
    for block in blocks:
        # the environment just before the first load, for "back to its value before the load"
        block = block.replace("module load ", "env -0 > before-load.env\nmodule load ", 1) \
            if "before-load.env" not in "".join(parts) else block
        parts += [f"echo '@@ {block.splitlines()[0]}'", block, CHECKS[block.splitlines()[0]]]
    result = run_bash("\n".join(parts), env, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    sections = dict(zip(firsts, re.split(r"^@@ .*\n", out, flags=re.M)[1:]))
    facts = dict(ln.split("=", 1) for ln in out.splitlines() if re.match(r"^[A-Z0-9]+=", ln))
    prefix = facts["PREFIX"]

    # create: prints what it made and exactly what to type next
    created = sections["pyenvmod create mylab -p six --description \"Analysis stack of the lab\""]
    assert re.search(rf"^Created 'mylab': Python 3\.\d+\.\d+, uv, at {re.escape(prefix)}$", created, re.M), created
    assert "To use it, type:\n  module use " in created and "  module load pyenv/mylab" in created
    # loaded: python and pip are the environment's, VIRTUAL_ENV, no user site, pip installs into it
    assert facts["PYTHON"] == prefix and f" from {prefix}/lib/" in facts["PIP"]
    # what runs them: the launcher the page names (the environment's own python until 'pyenvmod stage')
    assert facts["PYTHONCMD"] == prefix.replace("/envs/mylab", "/images/mylab/bin") + "/python"
    assert facts["VENV"] == prefix and facts["NOUSER"] == "1"
    assert facts["INICONFIG"].startswith(prefix + "/lib/")
    loaded = sections['module use "$(pyenvmod modulepath)"']
    assert "/six.py" in loaded and prefix in loaded.split("/six.py")[0].splitlines()[-1]
    helptext = (tmp_path / "help.txt").read_text() + (tmp_path / "whatis.txt").read_text()
    for fact in ("Analysis stack of the lab", "Python:", env["USER"], prefix):
        assert fact in helptext, fact
    # two at once: both loaded, the second is VIRTUAL_ENV
    assert [m.rsplit("/", 1)[0] for m in facts["LOADED"].split()] == ["pyenv/mylab", "pyenv/tools"]
    assert facts["VENV2"].endswith("/envs/tools")
    # unload: every variable back to its value before the load
    before, after = user_env(parse_env0((tmp_path / "before-load.env").read_bytes()),
                             parse_env0((tmp_path / "after-unload.env").read_bytes()))
    assert after == before
    # list: avail shows both, list shows name and health
    listing = sections["module avail pyenv"]
    assert "pyenv/mylab" in listing and "pyenv/tools" in listing and '"health": "ok"' in listing
    # delete: only mylab is left, and tools' folder is gone
    assert facts["LEFT"] == "mylab"
    assert not (Path(prefix).parent / "tools").exists()


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


def first_bash_block(page: Path) -> str:
    return re.findall(r"^```bash\n(.*?)^```", page.read_text(), flags=re.S | re.M)[0]


@pytest.mark.slow
@pytest.mark.parametrize("page", ["stacking.md", "extends.md"])
def test_the_first_example_of_a_page_runs_as_typed(env, tmp_path, page):
    """The opening example of the stacking and extends pages, typed as it stands (real packages from
    PyPI, no placeholder that fails), under real Lmod: each line succeeds, the last imports them all."""
    block = first_bash_block(REPO / "docs" / "user-guide" / page)
    lmod = Lmod().require()
    script = "\n".join(["set -euo pipefail", lmod.init(), 'module use "$(pyenvmod modulepath)"', block])
    result = run_bash(script, env, cwd=tmp_path, timeout=900)
    assert result.returncode == 0, block + "\n" + result.stdout + result.stderr
