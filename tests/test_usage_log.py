"""The usage log hook (issue 12 hole 10, issue 13 item 10), in lupa (Lua 5.3 and 5.4) with the real
`logger` writing to a syslog socket of the test's own; the same in real Lmod in test_hooks_real.py.

Who and where come from the kernel (uid, host name), not from USER/HOSTNAME; values are escaped;
a log file is never created, and when it cannot be written the line goes to syslog with the
reason; when syslog fails too the user is told once; a load never fails because of the log."""

import importlib
import os
import pwd
import re
import shutil
import socket
import tempfile
from pathlib import Path

import pytest

from lmod_fake import Hooks
from modsys import REPO, require

HOOKS_DIR = REPO / "lmod-hooks"
NODE = "x86_64-debian12"
FORGED = {"USER": "mallory", "HOSTNAME": "forged-host", "LOGNAME": "mallory"}
LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ user=(\S+) uid=(\S+) host=(\S+) module=(\S+) file=(\S+)$")


def me():
    return pwd.getpwuid(os.getuid()).pw_name, str(os.getuid()), Path("/proc/sys/kernel/hostname").read_text().strip()


@pytest.fixture(params=["lua53", "lua54"])
def runtime(request):
    require(shutil.which("logger") is not None, "logger", "apt-get install bsdutils")
    try:
        return importlib.import_module(f"lupa.{request.param}")
    except ImportError:
        require(False, "lupa", "pip install lupa")


class Syslog:
    """A syslog socket of our own: what `logger -u SOCKET` sends arrives here."""

    def __init__(self):
        self.folder = tempfile.mkdtemp(prefix="t12b-log")  # socket paths must be short
        self.path = os.path.join(self.folder, "log.sock")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.settimeout(0.5)

    def messages(self):
        out = []
        while True:
            try:
                data = self.sock.recv(65536).decode("utf-8", "replace")
            except socket.timeout:
                return out
            out.append(data.split(" pyenvmod: ", 1)[1] if " pyenvmod: " in data else data)

    def close(self):
        self.sock.close()
        shutil.rmtree(self.folder, ignore_errors=True)


@pytest.fixture
def syslog():
    log = Syslog()
    yield log
    log.close()


def hooks(runtime, usage_log, socket_path, **environ):
    env = {"PYENVMOD_PLATFORM": NODE, **FORGED, **environ}
    h = Hooks(runtime, HOOKS_DIR, env)
    target = usage_log if usage_log.startswith("{") else f'"{usage_log}"'
    setup = f'{{usage_log = {target}, syslog_socket = "{socket_path}"}}'
    assert h.run(f'require("pyenvmod_hooks").setup{setup}') is None
    return h


def load(h, name="pyenv/mylab/py3.12", fn="/t/modules/pyenv/mylab/py3.12.lua"):
    return h.apply("load", h.table(fn=fn, modFullName=name))


def parse(line):
    match = LINE.match(line)
    assert match, line
    return match.groups()


def test_user_and_host_come_from_the_kernel_not_the_environment(runtime, tmp_path, syslog):
    log = tmp_path / "usage.log"
    log.write_text("")
    h = hooks(runtime, str(log), syslog.path)
    assert load(h) == (None, None)
    (line,) = log.read_text().splitlines()
    user, uid, host, module, fn = parse(line)
    assert (user, uid, host) == me()
    assert "mallory" not in line and "forged" not in line
    assert module == "pyenv/mylab/py3.12" and fn == "/t/modules/pyenv/mylab/py3.12.lua"


@pytest.mark.parametrize("name,fn", [
    ("pyenv/x y=1\nfake line", "/t/a b/c\r.lua"),
    ("pyenv/\x1b[2Jclear", "/t/\x00nul"),
    ("pyenv/ümlaut", "/t/%41=B"),
    ("pyenv/" + "x" * 5000, "/t/f"),
])
def test_values_cannot_forge_fields_or_lines(runtime, tmp_path, syslog, name, fn):
    log = tmp_path / "usage.log"
    log.write_text("")
    h = hooks(runtime, str(log), syslog.path)
    load(h, name, fn)
    (line,) = log.read_text().splitlines()
    assert len(line) < 1400
    fields = parse(line)
    assert all(re.fullmatch(r"[A-Za-z0-9._/+:@,%-]+", value) for value in fields)
    assert fields[3].startswith("pyenv/") and len(fields[3]) <= 512
    if len(name) < 100:
        assert "%" in fields[3] and "%" in fields[4], "the odd characters are escaped, not dropped"


def test_a_missing_log_file_is_never_created_the_line_goes_to_syslog(runtime, tmp_path, syslog):
    log = tmp_path / "usage.log"
    h = hooks(runtime, str(log), syslog.path)
    load(h)
    load(h, "pyenv/other/py3.12")
    assert not log.exists(), "the hook created the log file (its first writer would own it)"
    note, first, second = syslog.messages()
    assert f"cannot write the usage log {log} (it does not exist)" in note and "admin guide" in note
    assert parse(first)[3] == "pyenv/mylab/py3.12" and parse(second)[3] == "pyenv/other/py3.12"
    assert parse(first)[:3] == me()


def test_an_unwritable_log_file_falls_back_to_syslog_with_the_reason(runtime, tmp_path, syslog):
    log = tmp_path / "usage.log"
    log.mkdir()  # not writable even by root
    h = hooks(runtime, str(log), syslog.path)
    assert load(h) == (None, None)
    note, line = syslog.messages()
    assert f"cannot write the usage log {log}" in note and "Is a directory" in note
    assert parse(line)[3] == "pyenv/mylab/py3.12"
    assert [c for c in h.calls() if c[0] == "LmodMessage"] == [], "syslog took it: the user is not bothered"


def test_syslog_by_name(runtime, tmp_path, syslog):
    h = hooks(runtime, "syslog", syslog.path)
    load(h)
    (line,) = syslog.messages()
    assert parse(line)[:4] == (*me(), "pyenv/mylab/py3.12")


def test_when_nothing_can_log_the_load_still_works_and_the_user_is_told_once(runtime, tmp_path):
    log = tmp_path / "usage.log"
    h = hooks(runtime, str(log), str(tmp_path / "no-such-socket"))
    assert load(h) == (None, None)
    assert load(h, "pyenv/other/py3.12") == (None, None)
    (message,) = [c[1] for c in h.calls() if c[0] == "LmodMessage"]
    assert "could not be logged" in message and "support" in message


def test_an_error_inside_the_log_never_fails_the_load(runtime, tmp_path, syslog):
    h = hooks(runtime, "{}", syslog.path)  # a table where a path belongs: the logger raises
    assert load(h) == (None, None)
    assert load(h) == (None, None)
    (message,) = [c[1] for c in h.calls() if c[0] == "LmodMessage"]
    assert "usage log failed" in message and "loaded" in message


def test_a_symlinked_log_file_is_refused_where_luaposix_is(runtime, tmp_path, syslog):
    """Lmod has luaposix (lstat): a link planted where the log should be is not followed."""
    target = tmp_path / "victim"
    target.write_text("")
    (tmp_path / "usage.log").symlink_to(target)
    h = hooks(runtime, str(tmp_path / "usage.log"), syslog.path)
    has_posix = h.run('assert(require("posix.sys.stat"))') is None
    load(h)
    if has_posix:
        assert target.read_text() == "" and "symbolic link" in syslog.messages()[0]
    else:  # lupa without luaposix: the line is written through the link, as with plain io
        assert parse(target.read_text().splitlines()[0])[3] == "pyenv/mylab/py3.12"


# --- the same in real Lmod, installed the way a site does -----------------------------------------

from test_hooks_real import hooks_dir, lmod, lmod_run, site_package, trees  # noqa: E402,F401  (fixtures)


def real_setup(tmp_path, hooks_dir, usage_log, socket_path):
    return site_package(tmp_path, hooks_dir, f'require("pyenvmod_hooks").setup{{usage_log = "{usage_log}", '
                                             f'syslog_socket = "{socket_path}"}}')


FORGE = "export USER=mallory LOGNAME=mallory HOSTNAME=forged-host\n"


@pytest.mark.modsys
def test_real_lmod_logs_the_uid_and_the_kernels_host_name(lmod, env, trees, hooks_dir, tmp_path, syslog):
    log = tmp_path / "usage.log"
    log.write_text("")
    folder = real_setup(tmp_path, hooks_dir, log, syslog.path)
    result = lmod_run(lmod, env, trees, FORGE + "module load pyenv/alpha; echo rc=$?", folder)
    assert "rc=0" in result.stdout, result.stderr
    (line,) = log.read_text().splitlines()
    user, uid, host, module, fn = parse(line)
    assert (user, uid, host) == me() and module.startswith("pyenv/alpha/py") and fn.endswith(".lua")


@pytest.mark.modsys
def test_real_lmod_with_bash_not_exporting_hostname(lmod, env, trees, hooks_dir, tmp_path, syslog):
    """Issue 13 item 10: bash sets HOSTNAME without exporting it; the log said host=?."""
    folder = real_setup(tmp_path, hooks_dir, "syslog", syslog.path)
    result = lmod_run(lmod, {k: v for k, v in env.items() if k != "HOSTNAME"}, trees,
                      "module load pyenv/alpha; echo rc=$?", folder)
    assert "rc=0" in result.stdout, result.stderr
    (line,) = syslog.messages()
    assert parse(line)[2] == me()[2] != "?"


@pytest.mark.modsys
def test_real_lmod_never_creates_the_log_and_falls_back_to_syslog(lmod, env, trees, hooks_dir, tmp_path, syslog):
    log = tmp_path / "usage.log"
    folder = real_setup(tmp_path, hooks_dir, log, syslog.path)
    result = lmod_run(lmod, env, trees, FORGE + "module load pyenv/alpha; echo rc=$?", folder)
    assert "rc=0" in result.stdout, result.stderr
    assert not log.exists()
    note, line = syslog.messages()
    assert "it does not exist" in note and parse(line)[:3] == me()


@pytest.mark.modsys
def test_real_lmod_refuses_a_symlinked_log(lmod, env, trees, hooks_dir, tmp_path, syslog):
    victim = tmp_path / "victim"
    victim.write_text("mine\n")
    (tmp_path / "usage.log").symlink_to(victim)
    folder = real_setup(tmp_path, hooks_dir, tmp_path / "usage.log", syslog.path)
    result = lmod_run(lmod, env, trees, "module load pyenv/alpha; echo rc=$?", folder)
    assert "rc=0" in result.stdout, result.stderr
    assert victim.read_text() == "mine\n"
    note, line = syslog.messages()
    assert "symbolic link" in note and parse(line)[3].startswith("pyenv/alpha/")


@pytest.mark.modsys
def test_real_lmod_load_works_when_nothing_can_log(lmod, env, trees, hooks_dir, tmp_path):
    log = tmp_path / "usage.log"
    log.mkdir()
    folder = real_setup(tmp_path, hooks_dir, log, tmp_path / "no-such-socket")
    result = lmod_run(lmod, env, trees, "module load pyenv/alpha; echo rc=$?; echo VE=$VIRTUAL_ENV", folder)
    assert "rc=0" in result.stdout and "/envs/alpha" in result.stdout, result.stderr
    assert result.stderr.count("could not be logged") == 1
