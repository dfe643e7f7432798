"""What a staged copy's interpreter reports (issue 16, left): every path an installer or an
extension build asks ``sysconfig`` for names the node-local copy, not the shared tree."""

import json
from pathlib import Path

import pytest

from conftest import Cli, clean_env

pytestmark = pytest.mark.slow  # creates, packs and stages an environment

REPORT = """import json, sys, sysconfig
print(json.dumps({"prefix": sys.prefix, "base_prefix": sys.base_prefix, "executable": sys.executable,
                  "paths": sysconfig.get_paths(), "INCLUDEPY": sysconfig.get_config_var("INCLUDEPY")}))
"""


def test_a_staged_copy_reports_its_own_paths(tmp_path):
    env = clean_env(tmp_path)
    env["PYENVMOD_STAGE_DIR"] = str(tmp_path / "local")
    (tmp_path / "local").mkdir()
    cli = Cli(env)
    cli("create", "st", "-p", "six")
    cli("pack", "st")
    copy = Path(cli("stage", "st").stdout.split(": ")[-1].strip())
    assert copy.is_relative_to(tmp_path / "local")
    python = copy / "env" / "bin" / "python"
    import subprocess

    report = json.loads(subprocess.run([str(python), "-c", REPORT], env=env, capture_output=True, text=True,
                                       check=True).stdout)
    assert report["prefix"] == str(copy / "env") and report["base_prefix"] == str(copy / "base")
    assert report["executable"] == str(python)
    for name, path in report["paths"].items():  # where pip installs, where headers are found
        assert Path(path).is_relative_to(copy), (name, path)
    home = dict(ln.split(" = ", 1) for ln in (copy / "env" / "pyvenv.cfg").read_text().splitlines() if " = " in ln)
    assert home["home"] == str(copy / "base" / "bin")
    # INCLUDEPY is the base interpreter's build record (_sysconfigdata): the same in the shared
    # environment. The image carries no C headers (base/include): build and install in the
    # shared environment (pyenvmod install), then pack again (docs/user-guide/mpi-at-scale.md).
    shared = Path(json.loads(cli("list", "--json").stdout)[0]["prefix"]) / "bin" / "python"
    unstaged = json.loads(subprocess.run([str(shared), "-c", REPORT], env=env, capture_output=True, text=True,
                                         check=True).stdout)
    assert report["INCLUDEPY"] == unstaged["INCLUDEPY"]
