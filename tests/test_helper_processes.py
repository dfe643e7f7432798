"""create, install and update start no helper of pyenvmod's own beyond the backend's work: versions,
package lists and the dependency check are read from files (uv and venv alike), and the base
interpreter's answers are cached. Seen for real, with strace."""

import re
import shutil
import subprocess

import pytest

from modsys import require


def executed(env, tmp_path, *args) -> list[str]:
    """The command lines (execve) the pyenvmod command and everything under it ran."""
    strace = shutil.which("strace")
    require(bool(strace), "strace", "apt-get install strace")
    log = tmp_path / "execve.log"
    result = subprocess.run([strace, "-f", "-s", "200", "-e", "trace=execve", "-o", str(log), "pyenvmod", *args],
                            env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    return [ln for ln in log.read_text().splitlines() if "execve(" in ln and "= 0" in ln]


def python_helpers(lines) -> list[str]:
    """Interpreters pyenvmod starts: pip, a version query, the base interpreter's probe (uv's own
    interpreter query, "-I", "-B", "-c", "import sys; sys.path = ...", is uv's work)."""
    return [ln for ln in lines if re.search(r'"-m", "pip"|"--no-input", "(install|check|list)"|'
                                            r'"-c", "import sys; print|json\.dumps', ln)]


@pytest.mark.slow
def test_uv_create_install_update_start_no_python_helpers(cli, env, tmp_path):
    first = executed(env, tmp_path, "create", "x", "-p", "six")
    uv_runs = [re.search(r'/uv", "(venv|pip", "[a-z]+)"', ln) for ln in first]
    assert [m.group(1) for m in uv_runs if m] == ["venv", 'pip", "install']  # no uv pip check, no uv pip list
    assert [ln for ln in python_helpers(first) if "json.dumps" not in ln] == []  # only the base's probe
    second = executed(env, tmp_path, "create", "y", "-p", "six")
    assert python_helpers(second) == []  # the probe's answer came from the cache
    for args in (("install", "y", "iniconfig"), ("update", "y")):
        assert python_helpers(executed(env, tmp_path, *args)) == []


@pytest.mark.slow
def test_venv_create_runs_venv_and_pip_install_only(cli, env, tmp_path):
    lines = executed(env, tmp_path, "create", "v", "--backend", "venv", "-p", "six")
    # pip runs as "python -I -S -c BOOT PREFIX --disable-pip-version-check --no-input COMMAND ...": no .pth
    pip_runs = [re.search(r'"-I", "-S", "-c", ".*", "--no-input", "(install|check|list)"', ln) for ln in lines]
    assert sorted(m.group(1) for m in pip_runs if m) == ["install"]
    assert [ln for ln in lines if '"-m", "venv"' in ln]
    assert [ln for ln in lines if "version_info" in ln] == [ln for ln in lines if "json.dumps" in ln]
