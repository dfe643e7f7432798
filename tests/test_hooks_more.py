"""More of pyenvmod's Lmod hooks in lupa (issue 23): the edges the line mutator found untested.

The `module use` hint's exact text and where the user's tree is looked for, the swap check
against Lmod's module statuses, the usage log's identity in a user namespace (the kernel's
files redirected to the test's own copies, as a path constant would be), and os.execute's
Lua 5.1 results (Lua 5.1 and LuaJIT are what many sites' Lmod runs on).
"""

import importlib
import os
import re
import shutil
import subprocess

import pytest

from lmod_fake import Hooks
from modsys import REPO, require

HOOKS_DIR = REPO / "lmod-hooks"
NODE = "testarch-nowhere0"


def runtime_named(name):
    try:
        return importlib.import_module(f"lupa.{name}")
    except ImportError:
        require(False, "lupa", "pip install lupa")


@pytest.fixture(params=["lua53", "lua54"])
def runtime(request):
    return runtime_named(request.param)


# io.open with some paths replaced by the test's files (the kernel's /proc files, /etc files)
REDIRECT = ('table.unpack = table.unpack or unpack\n'  # the fake's apply, in Lua 5.1
            'local real_open = io.open\n'
            'io.open = function(p, m) return real_open(__redirect[p] or p, m) end\n')


def hooks(runtime, setup="{}", redirect=None, lua="", **environ):
    env = {"USER": "alice", "PYENVMOD_PLATFORM": NODE, **environ}
    h = Hooks(runtime, HOOKS_DIR, env)
    h.lua.globals()[b"__redirect"] = h.lua.table_from({k.encode(): str(v).encode()
                                                       for k, v in (redirect or {}).items()})
    assert h.run(REDIRECT + lua) is None
    assert h.run(f'require("pyenvmod_hooks").setup{setup}') is None
    return h


def open_fds_to(path):
    found = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{fd}") == str(path):
                found.append(fd)
        except OSError:
            pass
    return found


def pipes():
    found = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            found += os.readlink(f"/proc/self/fd/{fd}").startswith("pipe:")
        except OSError:
            pass
    return found


# --- where the user's tree is looked for -----------------------------------------------------

def test_reading_a_configuration_file_leaves_no_file_open(runtime, tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text("root: /a\n")
    h = hooks(runtime)
    for _ in range(3):
        assert h.lua.eval(f'require("pyenvmod_hooks").config_root("{config}")'.encode()) == b"/a"
    assert open_fds_to(config) == []


@pytest.mark.parametrize("text,root", [("root:\n", None), ("root: null\n", None), ("root: ~\n", None),
                                       ("root: ''\n", None), ('root: "/a b"  # mine\n', b"/a b")])
def test_an_empty_or_null_root_is_no_root(runtime, tmp_path, text, root):
    config = tmp_path / "config.yaml"
    config.write_text("# mine\n" + text)
    h = hooks(runtime)
    assert h.lua.eval(f'require("pyenvmod_hooks").config_root("{config}")'.encode()) == root


# `root:` lines as YAML reads them (a comment starts at a `#` after whitespace; empty, null, Null, NULL
# and ~ are null; a line that is no `key: value` holds no root), each compared with PyYAML's reading
YAML_ROOTS = ["root:   # the default\n", "root: # c\n", "root: /a # c\n", "root: /a#b\n", "root: /a # b # c\n", "root: '/a # b'  # c\n", 'root: "/a #b"\n',
              "root: \"/a b\"# c\n", "root: Null\n", "root: NULL # c\n", "root: ~  # none\n", "root : /a\n",
              "root:/a\n", "root: /a\r\n"]


def yaml_root(text):
    import yaml

    try:
        loaded = yaml.safe_load(text)
    except yaml.YAMLError:
        return None
    root = loaded.get("root") if isinstance(loaded, dict) else None
    return root.encode() if isinstance(root, str) and root else None


@pytest.mark.parametrize("text", YAML_ROOTS)
def test_a_root_is_read_as_yaml_reads_it(runtime, tmp_path, text):
    config = tmp_path / "config.yaml"
    config.write_text("python: '3.12'  # mine\n" + text, newline="")
    h = hooks(runtime)
    assert h.lua.eval(f'require("pyenvmod_hooks").config_root("{config}")'.encode()) == yaml_root(text)


@pytest.mark.parametrize("text,root", [("root:\t# c\n", None), ("root: /a\t# c\n", b"/a"),
                                       ("root: '/a' b\n", None)])
def test_a_tab_starts_a_comment_too_and_a_quoted_value_ends_the_line(runtime, tmp_path, text, root):
    """PyYAML refuses a tab there (so pyenvmod refuses the file), YAML itself allows it."""
    config = tmp_path / "config.yaml"
    config.write_text(text)
    assert hooks(runtime).lua.eval(f'require("pyenvmod_hooks").config_root("{config}")'.encode()) == root


def test_environment_modules_reads_a_root_as_yaml_reads_it(tmp_path):
    require(shutil.which("tclsh") is not None, "tclsh", "apt-get install tcl")
    code, expected = [f"source {HOOKS_DIR}/pyenvmod_siteconfig.tcl"], []
    for n, text in enumerate(YAML_ROOTS):
        config = tmp_path / f"config{n}.yaml"
        config.write_text("python: '3.12'  # mine\n" + text, newline="")
        code.append(f"puts <[::pyenvmod::config_root {config}]>")
        expected.append(f"<{(yaml_root(text) or b'').decode()}>")
    found = subprocess.run(["tclsh"], input="\n".join(code), capture_output=True, text=True, timeout=30)
    assert list(zip(YAML_ROOTS, found.stdout.splitlines())) == list(zip(YAML_ROOTS, expected)), found.stderr


def modules_dir(h):
    found = h.lua.eval(b'require("pyenvmod_hooks").user_modules_dir()')
    return None if found is None else found.decode()


def test_empty_variables_count_as_unset(runtime, tmp_path):
    home = tmp_path / "home"
    h = hooks(runtime, HOME=str(home), PYENVMOD_ROOT="", XDG_DATA_HOME="", XDG_CONFIG_HOME="",
              PYENVMOD_SITE_CONFIG=str(tmp_path / "none.yaml"))
    assert modules_dir(h) == f"{home}/.local/share/pyenvmod/{NODE}/modules"


def test_a_root_of_just_the_home_folder(runtime, tmp_path):
    home = tmp_path / "home"
    assert modules_dir(hooks(runtime, HOME=str(home), PYENVMOD_ROOT="~")) == f"{home}/{NODE}/modules"


def test_an_unset_variable_in_one_root_does_not_spoil_the_next(runtime, tmp_path):
    h = hooks(runtime, HOME=str(tmp_path), PROJECT="p")
    expand = h.lua.eval(b'require("pyenvmod_hooks").expand')
    assert expand(b"/x/$NOT_SET_ANYWHERE") is None
    assert expand(b"/x/$PROJECT/${PROJECT}") == b"/x/p/p"
    assert h.lua.eval(b'rawget(_G, "unset")') is None


def test_the_users_file_is_found_under_xdg_config_home(runtime, tmp_path):
    config = tmp_path / "xdg" / "pyenvmod" / "config.yaml"
    config.parent.mkdir(parents=True)
    config.write_text("root: /from/xdg\n")
    (tmp_path / "home" / ".config" / "pyenvmod").mkdir(parents=True)
    (tmp_path / "home" / ".config" / "pyenvmod" / "config.yaml").write_text("root: /from/home\n")
    h = hooks(runtime, HOME=str(tmp_path / "home"), XDG_CONFIG_HOME=str(tmp_path / "xdg"))
    assert modules_dir(h) == f"/from/xdg/{NODE}/modules"


def test_the_sites_file_is_etc_pyenvmod_config_yaml_by_default(runtime, tmp_path):
    site = tmp_path / "site.yaml"
    site.write_text("root: /from/site\n")
    h = hooks(runtime, redirect={"/etc/pyenvmod/config.yaml": site}, HOME=str(tmp_path / "home"))
    assert modules_dir(h) == f"/from/site/{NODE}/modules"


# --- the `module use` hint, word for word ------------------------------------------------------

HINT_TAIL = (" Run:\n  module use $(pyenvmod modulepath)\n(add that line to your shell start-up file to keep it), "
             "then load again.")


@pytest.fixture
def home_tree(tmp_path):
    home = tmp_path / "home"
    modules = home / ".local" / "share" / "pyenvmod" / NODE / "modules"
    for name in ("a", "b"):
        (modules / "pyenv" / name).mkdir(parents=True)
    (modules / "pyenv" / "c").write_text("not a folder\n")
    (modules.parent / "pyenvmod-tree.conf").write_text(f"platform={NODE}\n")
    return home, modules


def hinted(h, message, names):
    result, error = h.apply("errWarnMsgHook", "lmoderror", "e_Failed_Load", message, h.table(module_list=names))
    assert error is None
    return result.decode()


def test_the_hint_names_each_of_the_users_modules_word_for_word(runtime, home_tree):
    home, modules = home_tree
    h = hooks(runtime, HOME=str(home), MODULEPATH="/opt/modulefiles")
    message = 'The following module(s) are unknown: "pyenv/a" "pyenv/b/1.0"\n\nPlease check the spelling.\n'
    assert hinted(h, message, '"pyenv/a" "pyenv/b/1.0"') == (
        'The following module(s) are unknown: "pyenv/a" "pyenv/b/1.0"\n\n'
        f"pyenv/a, pyenv/b is in your pyenvmod module tree {modules}, which is not on your MODULEPATH."
        + HINT_TAIL + "\n\nPlease check the spelling.\n"), "one blank line above and below the hint"
    for name in ("head", "mine", "names", "dir", "folder", "short", "first", "rest"):
        assert h.lua.eval(f'rawget(_G, "{name}")'.encode()) is None, f"the hint leaked the global {name}"


def test_a_one_line_error_gets_the_hint_below_it_and_a_file_is_no_module_folder(runtime, home_tree):
    home, modules = home_tree
    h = hooks(runtime, HOME=str(home))
    assert hinted(h, 'unknown: "pyenv/c"', '"pyenv/c"') == (
        f'unknown: "pyenv/c"\n\nYour pyenvmod module tree {modules} is not on your MODULEPATH.' + HINT_TAIL + "\n")


# --- the swap check against the statuses of Lmod's module table --------------------------------

STATUS_MT = """
package.preload["FrameStk"] = function()
    local loaded = __loaded   -- {short name = {full name, file, status}}
    local mt = {
        have = function(self, sn, how)
            local m = loaded[sn]
            return m ~= nil and (how == "any" or m[3] == how)
        end,
        fullName = function(self, sn) return loaded[sn][1] end,
        fn = function(self, sn) return loaded[sn][2] end,
    }
    return { singleton = function() return { mt = function() __asked = (__asked or 0) + 1 return mt end,
                                             varT = function() return {} end } end }
end
"""

BUILT = "x=gcc/12=/h/Core/gcc/12.lua:x=openmpi/4=/h/gcc/12/openmpi/4.lua"


def swap_checked(runtime, loaded, built=BUILT, command="swap", lua=STATUS_MT):
    h = hooks(runtime, PYENVMOD_BUILT_WITH=built)
    h.lua.execute(b"__loaded = {}")
    for sn, (full, fn, status) in loaded.items():
        h.lua.execute(f'__loaded["{sn}"] = {{"{full}", "{fn}", "{status}"}}'.encode())
    assert h.run(lua) is None
    for _ in range(2):
        _, error = h.apply("finalize", command)
        assert error is None
    return h, [c[1] for c in h.calls() if c[0] == "LmodMessage"]


AS_BUILT = {"pyenv/x": ("pyenv/x/py3.12", "/t/x.lua", "active"), "gcc": ("gcc/12", "/h/Core/gcc/12.lua", "active"),
            "openmpi": ("openmpi/4", "/h/gcc/12/openmpi/4.lua", "active")}


def test_a_module_that_is_not_active_counts_as_not_loaded(runtime):
    _, messages = swap_checked(runtime, dict(AS_BUILT, gcc=("gcc/12", "/h/Core/gcc/12.lua", "inactive")))
    assert messages[0].split("\n")[1:-1] == ["  gcc/12 (/h/Core/gcc/12.lua), now not loaded"]


def test_an_environment_that_is_not_active_is_not_checked(runtime):
    loaded = dict(AS_BUILT, gcc=("gcc/13", "/h/Core/gcc/13.lua", "active"))
    assert swap_checked(runtime, loaded)[1][0].split("\n")[1:-1] == [
        "  gcc/12 (/h/Core/gcc/12.lua), now gcc/13 (/h/Core/gcc/13.lua)"]
    loaded["pyenv/x"] = ("pyenv/x/py3.12", "/t/x.lua", "pending")
    assert swap_checked(runtime, loaded)[1] == []


@pytest.mark.parametrize("built", ["", None])
def test_without_a_recorded_build_the_module_table_is_not_read(runtime, built):
    h = hooks(runtime, **({} if built is None else {"PYENVMOD_BUILT_WITH": built}))
    h.lua.execute(b"__loaded = {}")
    assert h.run(STATUS_MT) is None
    assert h.apply("finalize", "swap") == (None, None)
    assert h.lua.eval(b"__asked") is None and h.calls() == []


def test_a_failing_swap_check_is_told_once_word_for_word(runtime):
    broken = 'package.preload["FrameStk"] = function() error("no module table", 0) end'
    _, messages = swap_checked(runtime, AS_BUILT, lua=broken)
    assert messages == ["pyenvmod: the swap check failed (no module table)"]


# --- the usage log's identity in a user namespace (unshare -r, rootless containers) ------------

LINE = re.compile(r"^\S+Z user=(\S+) uid=(\S+) host=(\S+) module=(\S+) file=(\S+)(?: ns_uid=(\S+))?$")
PASSWD = ("root:x:0:0:root:/root:/bin/sh\nbob:x:1000:1000::/home/bob:/bin/sh\n"
          "alice:x:100004:100004::/home/alice:/bin/sh\n")


def kernel_files(tmp_path, uid, uid_map="0 0 4294967295"):
    files = {"/proc/self/status": f"Name:\tlmod\nUid:\t{uid}\t{uid}\t{uid}\t{uid}\n",
             "/proc/self/uid_map": uid_map, "/etc/passwd": PASSWD}
    redirect = {}
    for path, text in files.items():
        copy = tmp_path / path.strip("/").replace("/", "_")
        if text is not None:
            copy.write_text(text)
        redirect[path] = copy  # None: a file that does not exist
    return redirect


def logged(runtime, tmp_path, redirect, lua=""):
    log = tmp_path / "usage.log"
    log.write_text("")
    h = hooks(runtime, f'{{usage_log = "{log}", syslog_socket = "{tmp_path}/no-socket"}}', redirect, lua)
    assert h.apply("load", h.table(fn="/t/pyenv/x/1.lua", modFullName="pyenv/x/1")) == (None, None)
    (line,) = log.read_text().splitlines()
    match = LINE.match(line)
    assert match, line
    for name in ("uid", "ns_uid", "name", "host", "n", "inside", "outside", "count", "said", "who", "where"):
        assert h.lua.eval(f'rawget(_G, "{name}")'.encode()) is None, f"the usage log leaked the global {name}"
    return dict(zip(("user", "uid", "host", "module", "file", "ns_uid"), match.groups()))


@pytest.mark.parametrize("uid,outside,user", [("0", "1000", "bob"), ("5", "100004", "alice")])
def test_in_a_user_namespace_the_log_has_the_parent_namespaces_uid(runtime, tmp_path, uid, outside, user):
    mapping = "         0       1000          1\n         1     100000      65536\n"
    fields = logged(runtime, tmp_path, kernel_files(tmp_path, uid, mapping))
    assert (fields["user"], fields["uid"], fields["ns_uid"]) == (user, outside, uid)


@pytest.mark.parametrize("uid_map", [None, "0 1000 1\n"])
def test_a_uid_outside_any_mapping_or_without_a_map_is_kept(runtime, tmp_path, uid_map):
    fields = logged(runtime, tmp_path, kernel_files(tmp_path, "1000", uid_map))
    assert (fields["user"], fields["uid"], fields["ns_uid"]) == ("bob", "1000", None)


def test_luaposix_names_the_user_before_etc_passwd(runtime, tmp_path):
    posix = ('package.preload["posix.pwd"] = function() return {getpwuid = function(uid) '
             'return uid == 1000 and {pw_name = "nss-bob"} or nil end} end\n')
    fields = logged(runtime, tmp_path, kernel_files(tmp_path, "1000"), posix)
    assert (fields["user"], fields["uid"]) == ("nss-bob", "1000")


# lupa's Lua has no io.popen ("'popen' not supported"): this one runs the command in a real shell whose
# stderr is the test process's own (as a real popen's is) and hands back the first line of its output
POPEN = ('io.popen = function(cmd) local line = __sh(cmd) return {read = function(self, f) '
         'if f == "*l" then return line end return nil end, close = function() end} end\n')


def shell_first_line(command: bytes):
    out = subprocess.run(command.decode(), shell=True, stdout=subprocess.PIPE, timeout=30).stdout.splitlines()
    return out[0] if out else None


def test_a_uid_without_a_name_is_logged_as_unknown_and_prints_nothing(runtime, tmp_path, capfd):
    redirect = kernel_files(tmp_path, "4243")
    log = tmp_path / "usage.log"
    log.write_text("")
    h = Hooks(runtime, HOOKS_DIR, {"PYENVMOD_PLATFORM": NODE})
    h.lua.globals()[b"__sh"] = shell_first_line
    h.lua.globals()[b"__redirect"] = h.lua.table_from({k.encode(): str(v).encode() for k, v in redirect.items()})
    assert h.run(REDIRECT + POPEN) is None
    assert h.run(f'require("pyenvmod_hooks").setup{{usage_log = "{log}"}}') is None
    assert h.apply("load", h.table(fn="/t/pyenv/x/1.lua", modFullName="pyenv/x/1")) == (None, None)
    fields = LINE.match(log.read_text().strip()).groups()
    assert fields[:2] == ("?", "4243"), "id -nu 4243 has no name to give"
    assert capfd.readouterr().err == "", "id's complaint reached the user's terminal"


# --- syslog through os.execute: Lua 5.1 / LuaJIT answer numbers, 5.2+ booleans -----------------

from test_usage_log import Syslog  # noqa: E402  (a syslog socket of the test's own)


@pytest.fixture
def syslog():
    require(shutil.which("logger") is not None, "logger", "apt-get install bsdutils")
    log = Syslog()
    yield log
    log.close()


@pytest.mark.parametrize("lua", ["lua51", "luajit21", "lua53"])
def test_syslog_works_and_its_failure_is_told_in_every_lua(lua, tmp_path, syslog, capfd):
    runtime = runtime_named(lua)
    h = hooks(runtime, f'{{usage_log = "syslog", syslog_socket = "{syslog.path}"}}')
    assert h.apply("load", h.table(fn="/t/pyenv/x/1.lua", modFullName="pyenv/x/1")) == (None, None)
    (line,) = syslog.messages()
    assert " module=pyenv/x/1 file=/t/pyenv/x/1.lua" in line and h.calls() == []
    h = hooks(runtime, f'{{usage_log = "syslog", syslog_socket = "{tmp_path}/no-socket"}}')
    assert h.apply("load", h.table(fn="/t/pyenv/x/1.lua", modFullName="pyenv/x/1")) == (None, None)
    assert h.calls() == [["LmodMessage", "pyenvmod: this load of pyenv/x/1 could not be logged (usage log syslog, "
                                         "then syslog); please tell your site's support"]]
    assert capfd.readouterr().err == "", "logger's complaint reached the user's terminal"


def test_logging_a_load_leaves_no_handle_of_the_log_file_open(runtime, tmp_path):
    """Without luaposix the log is first opened for reading (does it exist?): that handle is closed
    too, not left to Lua's garbage collector (stopped here, as a long Lmod run may not reach it)."""
    log = tmp_path / "usage.log"
    log.write_text("")
    h = hooks(runtime, f'{{usage_log = "{log}", syslog_socket = "{tmp_path}/no-socket"}}')
    assert h.run('collectgarbage("stop")') is None
    for n in range(3):
        assert h.apply("load", h.table(fn=f"/t/pyenv/x/{n}.lua", modFullName=f"pyenv/x/{n}")) == (None, None)
    assert len(log.read_text().splitlines()) == 3 and h.calls() == []
    assert open_fds_to(log) == []


def test_the_reason_a_log_cannot_be_written_is_one_line(tmp_path, syslog):
    """The reason is the system's error after the path; a path holding ': ' and a newline leaves
    part of itself in it, whose control characters become spaces."""
    log = tmp_path / "x: y\nz"
    log.mkdir()
    lua_path = str(log).replace("\n", "\\n")
    h = hooks(runtime_named("lua53"), f'{{usage_log = "{lua_path}", syslog_socket = "{syslog.path}"}}')
    assert h.apply("load", h.table(fn="/t/pyenv/x/1.lua", modFullName="pyenv/x/1")) == (None, None)
    note = syslog.messages()[0]
    assert "(y z: Is a directory); logging to syslog instead" in note, note
