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
import subprocess
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
    assert note == (f"cannot write the usage log {log} (Is a directory); logging to syslog instead: create it "
                    "as the pyenvmod admin guide says")
    assert parse(line)[3] == "pyenv/mylab/py3.12"
    assert [c for c in h.calls() if c[0] == "LmodMessage"] == [], "syslog took it: the user is not bothered"


def test_a_full_disk_falls_back_to_syslog(runtime, syslog):
    """The write is buffered: the error shows when the file is closed, and the line is not lost."""
    h = hooks(runtime, "/dev/full", syslog.path)
    assert load(h) == (None, None)
    note, line = syslog.messages()
    assert note.startswith("cannot write the usage log /dev/full (No space left on device);")
    assert parse(line)[3] == "pyenv/mylab/py3.12"


def test_each_load_appends_one_whole_line(runtime, tmp_path, syslog):
    log = tmp_path / "usage.log"
    log.write_text("")
    h = hooks(runtime, str(log), syslog.path)
    load(h)
    load(h, "pyenv/other/py3.12")
    text = log.read_text()
    assert text.endswith("\n") and [parse(x)[3] for x in text.splitlines()] == ["pyenv/mylab/py3.12",
                                                                             "pyenv/other/py3.12"]
    assert syslog.messages() == [] and h.calls() == [], "written: nothing else to say"


def test_syslog_by_name(runtime, tmp_path, syslog):
    h = hooks(runtime, "syslog", syslog.path)
    load(h)
    (line,) = syslog.messages()
    assert parse(line)[:4] == (*me(), "pyenv/mylab/py3.12")
    assert [c for c in h.calls() if c[0] == "LmodMessage"] == [], "logged: the user is not bothered"


def test_when_nothing_can_log_the_load_still_works_and_the_user_is_told_once(runtime, tmp_path):
    log = tmp_path / "usage.log"
    h = hooks(runtime, str(log), str(tmp_path / "no-such-socket"))
    assert load(h) == (None, None)
    assert load(h, "pyenv/other/py3.12") == (None, None)
    (message,) = [c[1] for c in h.calls() if c[0] == "LmodMessage"]
    assert message == (f"pyenvmod: this load of pyenv/mylab/py3.12 could not be logged (usage log {log}, then "
                       "syslog); please tell your site's support")


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


HIDE = ('local real_open = io.open\n'
        'io.open = function(p, m) if __hidden[p] then return nil, p .. ": No such file or directory", 2 end '
        'return real_open(p, m) end\n')


def shell_first_line(command: bytes):
    out = subprocess.run(command.decode(), shell=True, capture_output=True, timeout=30).stdout.splitlines()
    return out[0] if out else None


# lupa's Lua has no io.popen: this one runs the command for real in a shell and hands back its output
POPEN = ('io.popen = function(cmd) local line = __sh(cmd) return {read = function(self, f) '
         'if f == "*l" then return line end return nil end, close = function() end} end\n')


def identity(runtime, hidden=(), lua=""):
    """M.identity() with some kernel files hidden (a node without /proc, say) after LUA (fakes of luaposix)."""
    h = Hooks(runtime, HOOKS_DIR, {"PYENVMOD_PLATFORM": NODE, **FORGED})
    h.lua.globals()[b"__sh"] = shell_first_line
    table = ", ".join(f'["{p}"] = true' for p in hidden)
    assert h.run(f"__hidden = {{{table}}}\n" + HIDE + lua) is None
    who = h.lua.eval(b'require("pyenvmod_hooks").identity()')
    return h, tuple(None if who[k] is None else who[k].decode() for k in (b"user", b"uid", b"host"))


KERNEL = ("/proc/self/status", "/proc/sys/kernel/hostname")


def test_without_proc_or_passwd_the_identity_comes_from_id_and_uname(runtime):
    h, who = identity(runtime, (*KERNEL, "/etc/passwd"), POPEN)
    assert who == me()


def test_without_proc_the_name_comes_from_passwd(runtime):
    _, who = identity(runtime, KERNEL, 'io.popen = function(cmd) __cmd = (__cmd or "") .. cmd .. ";" '
                                        'return {read = function() return "0" end, close = function() end} end\n')
    assert who == ("root", "0", "0")  # uid from `id -u`, its name from /etc/passwd, host from `uname -n`


def test_identity_from_luaposix_where_lmod_has_it(runtime):
    posix = ('package.preload["posix.unistd"] = function() return {getuid = function() return 4242 end} end\n'
             'package.preload["posix.pwd"] = function() return {getpwuid = function(uid) '
             'return uid == 4242 and {pw_name = "posixuser"} or nil end} end\n'
             'package.preload["posix"] = function() return {uname = function(f) '
             'return f == "%n" and "posixhost" or "?" end} end\n')
    _, who = identity(runtime, KERNEL, posix)
    assert who == ("posixuser", "4242", "posixhost")
    _, who = identity(runtime, (), posix)  # the kernel's files come first
    assert who == me()
    not_tables = ('package.preload["posix.unistd"] = function() return "unistd" end\n'
                  'package.preload["posix.pwd"] = function() return 7 end\n')
    _, who = identity(runtime, (), not_tables)
    assert who == me()


def test_identity_when_no_command_can_run(runtime):
    h, who = identity(runtime, (*KERNEL, "/etc/passwd"), 'io.popen = function() error("no popen") end\n')
    assert who == (None, None, None)
    h, who = identity(runtime, (*KERNEL, "/etc/passwd"), 'io.popen = function() return nil end\n')
    assert who == (None, None, None)
    h, who = identity(runtime, (*KERNEL, "/etc/passwd"),
                      'io.popen = function() return {read = function() return nil end, close = function() end} end\n')
    assert who == (None, None, None)


def test_identity_is_worked_out_once_and_leaks_no_globals(runtime):
    h, first = identity(runtime)
    assert h.lua.eval(b'require("pyenvmod_hooks").identity() == require("pyenvmod_hooks").identity()')
    for name in ("identity_cache", "uid", "name", "host", "unistd", "pwd", "ok", "module", "line", "p"):
        assert h.lua.eval(f'rawget(_G, "{name}")'.encode()) is None, name


def test_field_values(runtime):
    h = Hooks(runtime, HOOKS_DIR, {"PYENVMOD_PLATFORM": NODE})
    field = h.lua.eval(b'require("pyenvmod_hooks").field')
    assert [field(v) for v in (None, b"", b"a b", b"ok/x:1@y,z+w-v_u.t", "é".encode())] == \
        [b"?", b"?", b"a%20b", b"ok/x:1@y,z+w-v_u.t", b"%C3%A9"]
    assert field(b"x" * 600) == b"x" * 512


def real_lstat(path: bytes):
    try:
        return os.lstat(path).st_mode
    except FileNotFoundError:
        return None


@pytest.mark.parametrize("islnk", ["number", "boolean"])
def test_with_luaposix_a_symlinked_or_missing_log_is_refused(runtime, tmp_path, syslog, islnk):
    """Lmod's luaposix, standing in for the real one lupa cannot load: lstat is the kernel's (os.lstat);
    S_ISLNK answers a number (luaposix 33+) or a boolean (older)."""
    answer = "stat.S_ISLNK(m) ~= 0 and 1 or 0" if islnk == "number" else "stat.S_ISLNK(m) ~= 0"
    posix = ('package.preload["posix.sys.stat"] = function() return {lstat = function(p) local m = __lstat(p) '
             f'if m then return {{st_mode = m}} end return nil end, S_ISLNK = function(m) return {answer} end}} end\n')
    victim = tmp_path / "victim"
    victim.write_text("")
    cases = {"link": tmp_path / "link.log", "missing": tmp_path / "missing.log", "plain": tmp_path / "plain.log"}
    cases["link"].symlink_to(victim)
    cases["plain"].write_text("")
    for case, log in cases.items():
        h = hooks(runtime, str(log), syslog.path)
        h.lua.globals()[b"__lstat"] = real_lstat
        h.lua.globals()[b"stat"] = h.lua.eval(b"{S_ISLNK = function(m) return __islnk(m) end}")
        h.lua.globals()[b"__islnk"] = lambda m: 1 if m is not None and (m & 0o170000) == 0o120000 else 0
        assert h.run(posix) is None
        assert load(h) == (None, None)
        messages = syslog.messages()
        if case == "plain":
            assert messages == [] and parse(log.read_text().splitlines()[0])[3] == "pyenv/mylab/py3.12"
        else:
            reason = "it is a symbolic link" if case == "link" else "it does not exist"
            assert f"cannot write the usage log {log} ({reason})" in messages[0], messages
            assert parse(messages[1])[3] == "pyenv/mylab/py3.12"
            assert not os.path.exists(cases["missing"])
    assert victim.read_text() == ""


def test_syslog_socket_and_note_with_a_quote_in_their_paths(runtime, tmp_path):
    """logger is run through the shell: a quote in the socket's or the log's path is quoted."""
    folder = tempfile.mkdtemp(prefix="t17'q")
    try:
        path = os.path.join(folder, "log.sock")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(path)
        sock.settimeout(0.5)
        log = tmp_path / "it's.log"
        h = hooks(runtime, str(log), path)
        assert load(h) == (None, None)
        note = sock.recv(65536).decode()
        line = sock.recv(65536).decode()
        sock.close()
        assert f"cannot write the usage log {log} (it does not exist)" in note
        assert parse(line.split(" pyenvmod: ", 1)[1])[3] == "pyenv/mylab/py3.12"
        assert [c for c in h.calls() if c[0] == "LmodMessage"] == []
    finally:
        shutil.rmtree(folder, ignore_errors=True)


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
