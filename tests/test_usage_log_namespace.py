"""Issue 22, hole 12: inside a user namespace (``unshare -r``, a rootless container) the kernel shows
a process its uid as the namespace sees it, root; the usage log recorded ``uid=0 user=root``. It now
records the uid of the parent namespace (from /proc/self/uid_map) and its user, with the
namespace's own uid as ``ns_uid``. Real Lua, a real namespace, run as a real other user (nobody)."""

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from modsys import REPO, require

SCRIPT = """
package.path = arg[1] .. "/?.lua;" .. package.path
local hooks = {}
package.preload["Hook"] = function() return {register = function(name, fn) hooks[name] = fn end} end
local M = require("pyenvmod_hooks")
M.setup{usage_log = arg[2], syslog_socket = "/nonexistent"}
hooks.load({fn = "/t/modules/pyenv/a/py3.12.lua", modFullName = "pyenv/a/py3.12"})
"""


@pytest.fixture
def folder():
    require(os.geteuid() == 0, "root (to run as another user)", "run the tests as root, as CI does")
    for tool in ("lua5.3", "unshare", "setpriv"):
        require(shutil.which(tool) is not None, tool, "apt-get install lua5.3 util-linux")
    path = Path(tempfile.mkdtemp(prefix="t22-ns-"))
    path.chmod(0o755)
    (path / "t.lua").write_text(SCRIPT)
    (path / "t.lua").chmod(0o644)
    (path / "usage.log").write_text("")
    (path / "usage.log").chmod(0o666)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _load(folder, *wrapper):
    command = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *wrapper,
               "lua5.3", str(folder / "t.lua"), str(REPO / "lmod-hooks"), str(folder / "usage.log")]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    (line,) = (folder / "usage.log").read_text().splitlines()[-1:]
    return line


def test_inside_a_user_namespace_the_log_records_the_uid_outside_it(folder):
    line = _load(folder, "unshare", "-r")
    assert " user=nobody uid=65534 " in line and line.endswith(" ns_uid=0"), line


def test_outside_a_namespace_the_line_is_unchanged(folder):
    line = _load(folder)
    assert " user=nobody uid=65534 " in line and "ns_uid" not in line, line
