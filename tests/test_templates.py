"""Site templates override the built-ins by file name, or extend them and fill named blocks."""

import json
import subprocess

import pytest

import lmod_fake
from conftest import Cli, clean_env


def test_a_three_line_site_template_adds_a_variable_to_every_modulefile(tmp_path):
    site = tmp_path / "site-templates"
    site.mkdir()
    (site / "modulefile.lua.j2").write_text(
        '{% extends "builtin/modulefile.lua.j2" %}\n'
        '{% block footer %}{{ super() }}setenv("OMP_NUM_THREADS", "1")\n{% endblock %}\n')
    env = clean_env(tmp_path)
    env["PYENVMOD_TEMPLATES"] = str(site)
    cli = Cli(env)
    cli("create", "a")
    (entry,) = json.loads(cli("list", "--json").stdout)
    lua = next((tmp_path / "root").glob("*/modules/pyenv/a/*.lua")).read_text()
    for runtime in lmod_fake.runtimes():
        calls, error = lmod_fake.run_modulefile(runtime, lua, existing_dirs=[entry["prefix"]])
        assert error is None and calls[-1] == ["setenv", "OMP_NUM_THREADS", "1"]
        assert ["pushenv", "VIRTUAL_ENV", entry["prefix"]] in calls, "the built-in blocks are kept"
    tcl = next(p for p in (tmp_path / "root").glob("*/modules/pyenv/a/*") if p.suffix != ".lua").read_text()
    assert "OMP_NUM_THREADS" not in tcl, "only the overridden format changes"


@pytest.mark.slow
def test_a_site_kernel_launcher_template(tmp_path):
    site = tmp_path / "site-templates"
    site.mkdir()
    (site / "kernel-launcher.sh.j2").write_text(
        '{% extends "builtin/kernel-launcher.sh.j2" %}\n'
        '{% block environment %}{{ super() }}export SITE_KERNEL_MARK={{ name | sh }}\n{% endblock %}\n')
    env = clean_env(tmp_path)
    env["JUPYTER_DATA_DIR"] = str(tmp_path / "jupyter")
    cli = Cli(env)
    cli("create", "a")
    cli("kernel", "a", extra_env={"PYENVMOD_TEMPLATES": str(site)})
    launcher = tmp_path / "jupyter" / "kernels" / "pyenv-a" / "launcher"
    text = launcher.read_text()
    assert "export SITE_KERNEL_MARK='a'" in text
    # run the launcher's environment part without starting a kernel: replace the exec line
    probe = text.replace('exec "$prefix/bin/python" -m ipykernel_launcher -f "$1"',
                         'echo "$SITE_KERNEL_MARK $VIRTUAL_ENV"')
    result = subprocess.run(["bash", "-c", probe], capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"})
    assert result.stdout.split()[0] == "a" and result.stdout.split()[1].endswith("/envs/a")


def test_a_broken_site_template_is_a_clear_error(tmp_path):
    site = tmp_path / "site-templates"
    site.mkdir()
    (site / "modulefile.lua.j2").write_text("{% block header %}{{ undefined_thing }}{% endblock %}\n")
    env = clean_env(tmp_path)
    env["PYENVMOD_TEMPLATES"] = str(site)
    result = Cli(env)("create", "a", check=False)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "modulefile.lua.j2" in result.stderr and "undefined_thing" in result.stderr
    assert not list((tmp_path / "root").glob("*/envs/a"))
