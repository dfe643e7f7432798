"""pyenvmod's Lmod hooks in lupa (Lua 5.3, as Debian's Lmod, and 5.4) against a fake registry.

The same behaviours run in real Lmod in test_hooks_real.py.
"""

import importlib
import os
import platform as py_platform
from pathlib import Path

import pytest

from lmod_fake import Hooks
from modsys import REPO, require

HOOKS_DIR = REPO / "lmod-hooks"
# This node's platform as the tests set it (PYENVMOD_PLATFORM): one no machine has, so an
# override that the hooks ignored would make the trees below look foreign, and the tree of
# the machine's real platform ("other", owned by bob) is the foreign one.
NODE = "testarch-nowhere0"
OTHER = f"{py_platform.machine()}-debian12"


@pytest.fixture(params=["lua53", "lua54"])
def runtime(request):
    try:
        return importlib.import_module(f"lupa.{request.param}")
    except ImportError:
        require(False, "lupa", "pip install lupa")


@pytest.fixture
def trees(tmp_path):
    """Two pyenvmod trees: this node's (owned by alice) and another platform's (owned by bob)."""
    made = {}
    for platform, owner in ((NODE, "alice"), (OTHER, "bob")):
        base = tmp_path / platform
        (base / "modules" / "pyenv" / "mylab").mkdir(parents=True)
        (base / "pyenvmod-tree.conf").write_text(f"# marker\nplatform={platform}\nowner={owner}\n")
        made[platform] = base
    (tmp_path / "plain" / "modules").mkdir(parents=True)
    made["plain"] = tmp_path / "plain"
    made["aarch64-rocky9"] = made[OTHER]  # the name the tests below use for the foreign tree
    return made


def hooks(runtime, setup="{}", **environ):
    env = {"USER": "alice", "PYENVMOD_PLATFORM": NODE}
    env.update(environ)
    h = Hooks(runtime, HOOKS_DIR, env)
    assert h.run(f'require("pyenvmod_hooks").setup{setup}') is None
    return h


def load(h, tree, name="pyenv/mylab/py3.12"):
    fn = f"{tree}/modules/pyenv/mylab/py3.12.lua"
    return h.apply("load", h.table(fn=fn, modFullName=name))


def test_conda_warning_when_a_conda_environment_is_active(runtime, trees):
    h = hooks(runtime, CONDA_SHLVL="1")
    _, error = load(h, trees[NODE])
    assert error is None
    (message,) = [c[1] for c in h.calls() if c[0] == "LmodMessage"]
    assert "conda deactivate" in message and "CONDA_SHLVL=1" in message


@pytest.mark.parametrize("shlvl,setup,module", [
    ("0", "{}", "pyenv/mylab/py3.12"),
    ("", "{}", "pyenv/mylab/py3.12"),
    ("2", "{conda_warning = false}", "pyenv/mylab/py3.12"),
    ("1", "{}", "gcc/13.2"),
])
def test_no_conda_warning_otherwise(runtime, trees, shlvl, setup, module):
    h = hooks(runtime, setup, CONDA_SHLVL=shlvl)
    load(h, trees[NODE], module)
    assert not [c for c in h.calls() if c[0] == "LmodMessage"]


def test_avail_labels_pyenvmod_trees_with_foreign_owner(runtime, trees):
    h = hooks(runtime)
    mine, theirs, plain = (str(trees[k] / "modules") for k in (NODE, "aarch64-rocky9", "plain"))
    labels = h.table(**{mine: mine, theirs: theirs, plain: plain})
    h.apply("avail", labels)
    assert labels[mine.encode()].decode() == f"Python environments (pyenvmod): {mine}"
    assert labels[theirs.encode()].decode() == f"Python environments (pyenvmod) of bob: {theirs}"
    assert labels[plain.encode()].decode() == plain


def test_avail_label_can_be_switched_off_and_renamed(runtime, trees):
    mine = str(trees[NODE] / "modules")
    h = hooks(runtime, "{avail_label = false}")
    labels = h.table(**{mine: mine})
    h.apply("avail", labels)
    assert labels[mine.encode()].decode() == mine
    h = hooks(runtime, '{label = "Site Python"}')
    labels = h.table(**{mine: mine})
    h.apply("avail", labels)
    assert labels[mine.encode()].decode() == f"Site Python: {mine}"


def visible(h, tree, command):
    h.apply("startup", command)
    modT = h.table(fullName="pyenv/mylab/py3.12", sn="pyenv/mylab",
                   fn=f"{tree}/modules/pyenv/mylab/py3.12.lua", isVisible=True)
    h.apply("isVisibleHook", modT)
    return modT[b"isVisible"]


@pytest.mark.parametrize("command", ["avail", "spider", "keyword", "overview", "search"])
def test_foreign_modules_are_hidden_from_listings(runtime, trees, command):
    h = hooks(runtime)
    assert visible(h, trees["aarch64-rocky9"], command) is False
    assert visible(h, trees[NODE], command) is True


def test_foreign_modules_stay_visible_to_load_which_refuses_them(runtime, trees):
    h = hooks(runtime)
    assert visible(h, trees["aarch64-rocky9"], "load") is True
    _, error = load(h, trees["aarch64-rocky9"])
    assert error and f"built for {OTHER}" in error and str(trees["aarch64-rocky9"]) in error
    assert NODE in error
    _, error = load(h, trees[NODE])
    assert error is None


def test_hide_foreign_can_be_switched_off(runtime, trees):
    h = hooks(runtime, "{hide_foreign = false}")
    assert visible(h, trees["aarch64-rocky9"], "avail") is True
    assert load(h, trees["aarch64-rocky9"])[1] is None


def test_node_platform_follows_os_release_without_override(runtime, tmp_path):
    release = tmp_path / "os-release"
    release.write_text('NAME="Rocky Linux"\nID="rocky"\nVERSION_ID="9.4"\n')
    h = Hooks(runtime, HOOKS_DIR, {"USER": "alice"})
    h.run(f'local m = require("pyenvmod_hooks"); m.os_release = "{release}"')
    platform = h.lua.eval(b'require("pyenvmod_hooks").node_platform()').decode()
    assert platform == f"{py_platform.machine()}-rocky9.4"


def test_usage_log_to_a_file(runtime, trees, tmp_path):
    import pwd
    import socket

    log = tmp_path / "usage.log"
    log.write_text("")  # the site creates it; the hook never does (see test_usage_log.py)
    h = hooks(runtime, f'{{usage_log = "{log}"}}', HOSTNAME="node01")
    load(h, trees[NODE])
    load(h, trees[NODE], "gcc/13.2")
    (line,) = log.read_text().splitlines()
    assert f"user={pwd.getpwuid(os.getuid()).pw_name}" in line and "module=pyenv/mylab/py3.12" in line
    assert f"host={socket.gethostname()}" in line, "the host from the kernel, not HOSTNAME"


def test_usage_log_is_off_by_default(runtime, trees, tmp_path):
    h = hooks(runtime)
    assert h.lua.eval(b'require("pyenvmod_hooks").options.usage_log') is False


def test_site_hooks_registered_after_chain_instead_of_replacing(runtime, trees):
    h = hooks(runtime, CONDA_SHLVL="1")
    h.run('require("Hook").register("load", function(t) LmodMessage("site hook saw " .. t.modFullName) end)')
    load(h, trees[NODE])
    messages = [c[1] for c in h.calls() if c[0] == "LmodMessage"]
    assert messages[0].startswith("WARNING: A conda environment") and messages[1] == "site hook saw pyenv/mylab/py3.12"


def test_chain_file_loads_a_sites_existing_sitepackage(runtime, trees, tmp_path):
    site = tmp_path / "SitePackage.lua"
    site.write_text('local hook = require("Hook")\n'
                    'hook.register("load", function(t) LmodMessage("old site hook") end)\n'
                    'hook.register("msgHook", function(kind, a) a[#a + 1] = "site line"; return a end)\n')
    h = hooks(runtime, CONDA_SHLVL="1")
    assert h.run(f'require("pyenvmod_hooks").chain_file("{site}")') is None
    h.run('require("Hook").register("msgHook", function(kind, a) a[#a + 1] = "second"; return a end)')
    load(h, trees[NODE])
    assert [c[1][:11] for c in h.calls() if c[0] == "LmodMessage"] == ["WARNING: A ", "old site ho"]
    result, error = h.apply("msgHook", "avail", h.lua.table())
    assert error is None and list(result.values()) == [b"site line", b"second"]


def test_shipped_sitepackage_sets_up_the_defaults(runtime):
    h = Hooks(runtime, HOOKS_DIR, {"USER": "alice", "PYENVMOD_PLATFORM": NODE})
    assert h.run('require("SitePackage")') is None
    options = h.lua.eval(b'require("pyenvmod_hooks").options')
    assert options[b"conda_warning"] is True and options[b"avail_label"] is True
    assert options[b"hide_foreign"] is True and options[b"usage_log"] is False
    assert options[b"modulepath_hint"] is True and options[b"swap_check"] is True
    for name in ("load", "avail", "isVisibleHook", "startup", "errWarnMsgHook", "finalize"):
        assert h.lua.eval(f'require("Hook").registered("{name}")'.encode()), name


@pytest.mark.parametrize("command", ["load", "list", "show", "help", "whatis", "unload", "use", "savelist", ""])
def test_other_commands_see_foreign_modules(runtime, trees, command):
    h = hooks(runtime)
    assert visible(h, trees["aarch64-rocky9"], command) is True


@pytest.mark.parametrize("name", ["pyenvx/mylab/py3.12", "pyenv", "pyenv-tools/1.0", "mypyenv/mylab/py3.12",
                                  "Pyenv/mylab/py3.12"])
def test_names_that_only_start_like_pyenv_are_left_alone(runtime, trees, name, tmp_path):
    log = tmp_path / "usage.log"
    h = hooks(runtime, f'{{usage_log = "{log}"}}', CONDA_SHLVL="1")
    foreign = f"{trees['aarch64-rocky9']}/modules/pyenv/mylab/py3.12.lua"
    assert h.apply("load", h.table(fn=foreign, modFullName=name))[1] is None, "not refused"
    assert not h.calls(), "no conda warning"
    assert not log.exists(), "not logged"
    h.apply("startup", "avail")
    modT = h.table(fullName=name, sn=name.rsplit("/", 1)[0], fn=foreign, isVisible=True)
    h.apply("isVisibleHook", modT)
    assert modT[b"isVisible"] is True


def test_a_module_known_by_its_short_name_only_is_still_hidden(runtime, trees):
    h = hooks(runtime)
    h.apply("startup", "avail")
    modT = h.table(sn="pyenv/mylab", fn=f"{trees['aarch64-rocky9']}/modules/pyenv/mylab/py3.12.lua", isVisible=True)
    h.apply("isVisibleHook", modT)
    assert modT[b"isVisible"] is False


@pytest.mark.parametrize("slashes", ["/", "//"])
def test_modulepath_entries_with_a_trailing_slash(runtime, trees, slashes):
    h = hooks(runtime)
    mine, theirs = (str(trees[k] / "modules") + slashes for k in (NODE, "aarch64-rocky9"))
    labels = h.table(**{mine: mine, theirs: theirs})
    h.apply("avail", labels)
    assert labels[mine.encode()].decode() == f"Python environments (pyenvmod): {mine}"
    assert labels[theirs.encode()].decode() == f"Python environments (pyenvmod) of bob: {theirs}"
    info = h.lua.eval(f'require("pyenvmod_hooks").tree_info("{mine}")'.encode())
    assert info[b"platform"].decode() == NODE and info[b"path"].decode() == str(trees[NODE])


def test_a_folder_not_named_modules_is_no_tree(runtime, trees):
    h = hooks(runtime)
    assert h.lua.eval(f'require("pyenvmod_hooks").tree_info("{trees[NODE]}")'.encode()) is None
    assert h.lua.eval(f'require("pyenvmod_hooks").tree_info("{trees["plain"] / "modules"}")'.encode()) is None
    fn = f"{trees[NODE]}/modules/pyenv/mylab/sub/py3.12.lua"  # not pyenv/NAME/TAG
    assert h.lua.eval(f'require("pyenvmod_hooks").module_tree("{fn}")'.encode()) is None


def test_a_tree_with_the_owner_as_user_has_no_owner_in_its_label(runtime, trees):
    h = hooks(runtime, USER="bob")
    theirs = str(trees["aarch64-rocky9"] / "modules")
    labels = h.table(**{theirs: theirs})
    h.apply("avail", labels)
    assert labels[theirs.encode()].decode() == f"Python environments (pyenvmod): {theirs}"


def test_the_override_is_cleaned_and_an_empty_one_is_ignored(runtime, tmp_path):
    release = tmp_path / "os-release"
    release.write_text('ID=debian\nVERSION_ID="12"\n')
    h = Hooks(runtime, HOOKS_DIR, {"USER": "alice", "PYENVMOD_PLATFORM": "x86_64 ;$(rm)-os1"})
    assert h.lua.eval(b'require("pyenvmod_hooks").node_platform()').decode() == "x86_64rm-os1"
    h = Hooks(runtime, HOOKS_DIR, {"USER": "alice", "PYENVMOD_PLATFORM": ";;"})
    h.run(f'require("pyenvmod_hooks").os_release = "{release}"')
    assert h.lua.eval(b'require("pyenvmod_hooks").node_platform()').decode() == f"{py_platform.machine()}-debian12"


def test_os_release_without_an_id_is_linux(runtime, tmp_path):
    release = tmp_path / "os-release"
    release.write_text("NAME=Something\n")
    h = Hooks(runtime, HOOKS_DIR, {"USER": "alice"})
    h.run(f'require("pyenvmod_hooks").os_release = "{release}"')
    assert h.lua.eval(b'require("pyenvmod_hooks").node_platform()').decode() == f"{py_platform.machine()}-linux"


def test_conda_warning_can_be_switched_off(runtime, trees):
    h = hooks(runtime, "{conda_warning = false}", CONDA_SHLVL="3")
    assert load(h, trees[NODE])[1] is None and not h.calls()




def chained(runtime, name, *functions):
    """Register each Lua function for hook NAME through the chaining wrapper."""
    h = hooks(runtime)
    for fn in functions:
        assert h.run(f'require("Hook").register("{name}", {fn})') is None
    return h


@pytest.mark.parametrize("name,slot", [("msgHook", 2), ("listHook", 1), ("errWarnMsgHook", 3)])
def test_chained_hooks_pass_each_return_value_on_and_return_the_last(runtime, name, slot):
    """Each function gets the value the previous one returned in the slot Lmod uses; one that
    returns nothing leaves the value as it was."""
    args = ["a1", "a2", "a3", "a4"]
    add = f"function(...) local a = {{...}}; return a[{slot}] .. '+x' end"
    keep = "function(...) end"
    add_y = f"function(...) local a = {{...}}; return a[{slot}] .. '+y' end"
    h = chained(runtime, name, add, keep, add_y)
    result, error = h.apply(name, *args)
    assert error is None and result.decode() == f"a{slot}+x+y"
    h = chained(runtime, name, keep)
    assert h.apply(name, *args)[0].decode() == f"a{slot}", "nothing returned: the argument comes back"


def test_other_chained_hooks_run_in_order_and_return_the_last_result(runtime):
    h = chained(runtime, "myHook",
                'function(a, b) LmodMessage("first " .. a .. b); return "r1" end',
                'function(a, b) LmodMessage("second " .. a .. b); return "r2" end')
    result, error = h.apply("myHook", "x", "y")
    assert error is None and result.decode() == "r2"
    assert [c[1] for c in h.calls()] == ["first xy", "second xy"], "arguments are not replaced"


def test_prepend_runs_first(runtime):
    h = chained(runtime, "myHook", 'function() LmodMessage("appended") end')
    assert h.run('require("Hook").register("myHook", function() LmodMessage("prepended") end, "prepend")') is None
    h.apply("myHook")
    assert [c[1] for c in h.calls()] == ["prepended", "appended"]


def test_chaining_is_installed_once(runtime):
    h = hooks(runtime)
    h.run('require("pyenvmod_hooks").setup{}')  # a second setup registers its hooks a second time
    h.run('require("Hook").register("myHook", function() LmodMessage("once") end)')
    h.apply("myHook")
    assert [c[1] for c in h.calls()] == ["once"]


def test_a_chain_file_that_does_not_load_is_a_clear_error(runtime, tmp_path):
    h = hooks(runtime)
    bad = tmp_path / "SitePackage.lua"
    bad.write_text("this is not lua")
    error = h.run(f'require("pyenvmod_hooks").chain_file("{bad}")')
    assert error and f"pyenvmod_hooks: cannot load {bad}" in error
    error = h.run(f'require("pyenvmod_hooks").chain_file("{tmp_path / "missing.lua"}")')
    assert error and "cannot load" in error and "missing.lua" in error


def test_a_prepended_hook_of_a_chained_site_file_runs_before_ours(runtime, trees, tmp_path):
    """chain_file after setup must not wrap hook.register a second time: a "prepend" then
    still runs before every function registered so far."""
    site = tmp_path / "SitePackage.lua"
    site.write_text('require("Hook").register("load", function(t) LmodMessage("site first") end, "prepend")\n')
    h = hooks(runtime, CONDA_SHLVL="1")
    assert h.run(f'require("pyenvmod_hooks").chain_file("{site}")') is None
    load(h, trees[NODE])
    assert [c[1][:10] for c in h.calls() if c[0] == "LmodMessage"] == ["site first", "WARNING: A"]


def test_site_hooks_registered_before_setup_still_run(runtime, trees):
    """Requiring the module installs chaining, so a site hook registered before setup{} is kept."""
    h = Hooks(runtime, HOOKS_DIR, {"USER": "alice", "PYENVMOD_PLATFORM": NODE, "CONDA_SHLVL": "1"})
    assert h.run('local m = require("pyenvmod_hooks")\n'
                 'require("Hook").register("load", function(t) LmodMessage("site before setup") end)\n'
                 'm.setup{}') is None
    load(h, trees[NODE])
    assert [c[1][:17] for c in h.calls()] == ["site before setup", "WARNING: A conda "]


def test_chained_hooks_keep_every_argument_and_leak_no_globals(runtime):
    h = chained(runtime, "myHook", 'function(...) return select("#", ...) end')
    count = h.lua.eval(b'require("Hook").apply("myHook", "a", nil, "c", nil)')
    assert count == 4, "trailing and inner nils are passed on"
    for name in ("result", "list", "args", "n", "slot"):
        assert h.lua.eval(f'rawget(_G, "{name}")'.encode()) is None, name
    h = Hooks(runtime, HOOKS_DIR, {"USER": "alice"})  # no override: the platform is worked out
    h.run('require("Hook").register("myHook", function(...) return select("#", ...) end)')
    h.lua.eval(b'require("Hook").apply("myHook", "a")')
    h.lua.eval(b'require("pyenvmod_hooks").node_platform()')
    for name in ("result", "arch", "node_platform_cache", "list", "args", "n"):
        assert h.lua.eval(f'rawget(_G, "{name}")'.encode()) is None, name


def platform_of(runtime, lua_setup, os_release):
    """node_platform() without PYENVMOD_PLATFORM, after LUA_SETUP (fakes of posix, io)."""
    h = Hooks(runtime, HOOKS_DIR, {"USER": "alice"})
    assert h.run(lua_setup) is None
    h.run(f'require("pyenvmod_hooks").os_release = "{os_release}"')
    return h.lua.eval(b'require("pyenvmod_hooks").node_platform()').decode()


@pytest.fixture
def rocky(tmp_path):
    release = tmp_path / "os-release"
    release.write_text('ID="rocky"\nVERSION_ID="9.4"\n')
    return release


def test_the_architecture_comes_from_luaposix_when_lmod_has_it(runtime, rocky):
    posix = 'package.preload["posix"] = function() return {uname = function(f) return f == "%m" and "posixarch" or "?" end} end'
    assert platform_of(runtime, posix, rocky) == "posixarch-rocky9.4"
    no_uname = 'package.preload["posix"] = function() return {} end'
    assert platform_of(runtime, no_uname, rocky) == f"{py_platform.machine()}-rocky9.4"
    empty = 'package.preload["posix"] = function() return {uname = function() return "" end} end'
    assert platform_of(runtime, empty, rocky) == f"{py_platform.machine()}-rocky9.4"
    not_a_table = 'package.preload["posix"] = function() return "posix" end'
    assert platform_of(runtime, not_a_table, rocky) == f"{py_platform.machine()}-rocky9.4"


def test_the_architecture_falls_back_to_uname_without_proc(runtime, rocky):
    no_proc = ('local real = io.open\n'
               'io.open = function(p, m) if p == "/proc/sys/kernel/arch" then return nil end return real(p, m) end\n')
    popen = ('io.popen = function(cmd) __cmd = cmd; return {read = function(self, f) return f == "*l" and "unamearch" '
             'or "?" end, close = function() end} end\n')
    assert platform_of(runtime, no_proc + popen + "__cmd = nil", rocky) == "unamearch-rocky9.4"
    h = Hooks(runtime, HOOKS_DIR, {"USER": "alice"})
    h.run(no_proc + popen)
    h.run(f'require("pyenvmod_hooks").os_release = "{rocky}"')
    h.lua.eval(b'require("pyenvmod_hooks").node_platform()')
    assert h.lua.eval(b"__cmd").decode() == "uname -m 2>/dev/null"
    with_proc = popen  # /proc/sys/kernel/arch answers: uname is not asked
    assert platform_of(runtime, with_proc, rocky) == f"{py_platform.machine()}-rocky9.4"
    failing = 'io.popen = function() error("no popen") end\n'
    assert platform_of(runtime, no_proc + failing, rocky) == "-rocky9.4"


def test_the_node_platform_is_computed_once(runtime, rocky, tmp_path):
    h = Hooks(runtime, HOOKS_DIR, {"USER": "alice"})
    h.run(f'require("pyenvmod_hooks").os_release = "{rocky}"')
    first = h.lua.eval(b'require("pyenvmod_hooks").node_platform()').decode()
    rocky.write_text("ID=changed\n")
    assert h.lua.eval(b'require("pyenvmod_hooks").node_platform()').decode() == first == \
        f"{py_platform.machine()}-rocky9.4"


def test_the_node_platform_by_default_is_the_one_pyenvmod_computes(runtime):
    from pyenvmod.records import platform_tag

    h = Hooks(runtime, HOOKS_DIR, {"USER": "alice"})
    assert h.lua.eval(b'require("pyenvmod_hooks").node_platform()').decode() == platform_tag.current()






def test_the_conda_warning_and_the_foreign_refusal_word_for_word(runtime, trees):
    h = hooks(runtime, CONDA_SHLVL="2")
    load(h, trees[NODE])
    (message,) = [c[1] for c in h.calls()]
    assert message == ("WARNING: A conda environment is active (CONDA_SHLVL=2). Run 'conda deactivate' before "
                       "loading Python environment modules: the conda environment's python, libraries and "
                       "PYTHONPATH would otherwise mix with this one's.")
    _, error = load(h, trees["aarch64-rocky9"])
    assert error.split("\n")[0] == (f"LmodError: Cannot load pyenv/mylab/py3.12: it was built for {OTHER} "
                     f"(in {trees['aarch64-rocky9']}) and this node is {NODE}. "
                     "Create the environment again on this kind of node (pyenvmod create).")


def test_a_chain_file_error_names_the_file_and_the_reason(runtime, tmp_path):
    h = hooks(runtime)
    missing = tmp_path / "missing.lua"
    error = h.run(f'require("pyenvmod_hooks").chain_file("{missing}")')
    assert f"pyenvmod_hooks: cannot load {missing}: cannot open {missing}" in error


# --- the `module use` hint for an unknown pyenv/* module (issue 24, item 6) ----------------

UNKNOWN = ("The following module(s) are unknown: \"pyenv/mylab\"\n\nPlease check the spelling or version "
           "number. Also try \"module spider ...\"\n")


@pytest.fixture
def home_tree(tmp_path):
    """A user's default pyenvmod root (~/.local/share/pyenvmod) holding pyenv/mylab for this node."""
    home = tmp_path / "home"
    modules = home / ".local" / "share" / "pyenvmod" / NODE / "modules"
    (modules / "pyenv" / "mylab").mkdir(parents=True)
    (modules.parent / "pyenvmod-tree.conf").write_text(f"platform={NODE}\nowner=alice\n")
    return home, modules


def unknown(h, text=UNKNOWN, names='"pyenv/mylab"', key="e_Failed_Load"):
    result, error = h.apply("errWarnMsgHook", "lmoderror", key, text, h.table(module_list=names, msg=key))
    assert error is None
    return text if result is None else result.decode()  # Lmod: hook.apply(...) or msg


def test_an_unknown_pyenv_module_says_module_use_when_the_tree_is_not_on_modulepath(runtime, home_tree):
    home, modules = home_tree
    h = hooks(runtime, HOME=str(home), MODULEPATH="/opt/modulefiles")
    message = unknown(h)
    first, blank, hint, rest = message.split("\n", 3)
    assert first == 'The following module(s) are unknown: "pyenv/mylab"' and blank == ""
    assert hint == f"pyenv/mylab is in your pyenvmod module tree {modules}, which is not on your MODULEPATH. Run:"
    assert rest.startswith("  module use $(pyenvmod modulepath)\n")
    assert rest.endswith("then load again.\n\nPlease check the spelling or version number. Also try \"module spider"
                         " ...\"\n"), "one blank line between the hint and the rest of Lmod's message"


def test_a_name_not_in_the_tree_still_gets_the_hint_naming_the_tree(runtime, home_tree):
    home, modules = home_tree
    h = hooks(runtime, HOME=str(home))
    message = unknown(h, names='"pyenv/other/py3.12"')
    assert f"\nYour pyenvmod module tree {modules} is not on your MODULEPATH. Run:\n" in message
    assert "module use $(pyenvmod modulepath)" in message


@pytest.mark.parametrize("modulepath", ["{m}", "/opt/a:{m}/", "{m}//:/opt/b"])
def test_no_hint_when_the_tree_is_on_modulepath(runtime, home_tree, modulepath):
    home, modules = home_tree
    h = hooks(runtime, HOME=str(home), MODULEPATH=modulepath.format(m=modules))
    assert unknown(h) == UNKNOWN


@pytest.mark.parametrize("names,key", [('"gcc/99"', "e_Failed_Load"), ('"pyenvx/mylab"', "e_Failed_Load"),
                                       ('"pyenv/mylab"', "e_Failed_Load_2"), ('"pyenv/mylab"', "e_Missing_Module")])
def test_no_hint_for_other_modules_or_other_messages(runtime, home_tree, names, key):
    h = hooks(runtime, HOME=str(home_tree[0]))
    assert unknown(h, names=names, key=key) == UNKNOWN


def test_no_hint_without_a_tree_or_when_switched_off(runtime, home_tree, tmp_path):
    h = hooks(runtime, HOME=str(tmp_path / "elsewhere"))
    assert unknown(h) == UNKNOWN, "no pyenvmod tree: nothing to say"
    h = hooks(runtime, "{modulepath_hint = false}", HOME=str(home_tree[0]))
    assert unknown(h) == UNKNOWN


def test_the_tree_is_found_as_pyenvmod_finds_its_root(runtime, tmp_path):
    """PYENVMOD_ROOT, else root: in the user's then the site's file, else XDG_DATA_HOME or ~/.local/share."""
    def tree(root):
        modules = root / NODE / "modules"
        modules.mkdir(parents=True)
        (root / NODE / "pyenvmod-tree.conf").write_text(f"platform={NODE}\n")
        return modules

    home = tmp_path / "home"
    site = tmp_path / "site.yaml"
    site.write_text("# site\nroot: '/nonexistent/$USER/pyenvmod'   # project storage\n")
    user_cfg = home / ".config" / "pyenvmod" / "config.yaml"
    user_cfg.parent.mkdir(parents=True)
    user_cfg.write_text(f'python: "3.12"\nroot: "~/{{arch}}-x/$PROJECT_DIR"\n')
    env = dict(HOME=str(home), PYENVMOD_SITE_CONFIG=str(site), PROJECT_DIR="proj")

    def found(**extra):
        h = hooks(runtime, **{**env, **extra})
        return h.lua.eval(b'require("pyenvmod_hooks").user_modules_dir()')

    assert found(PYENVMOD_ROOT=str(tmp_path / "r") + "/").decode() == f"{tmp_path}/r/{NODE}/modules"
    assert found().decode() == f"{home}/{NODE}-x/proj/{NODE}/modules"
    user_cfg.write_text("root: /x/$NOT_SET_ANYWHERE\n")
    assert found() is None, "an unset variable: pyenvmod itself would refuse it"
    user_cfg.write_text("root: /x/{python}\n")
    assert found() is None, "{python} needs the interpreter"
    user_cfg.unlink()
    assert found().decode() == f"/nonexistent/alice/pyenvmod/{NODE}/modules"
    site.unlink()
    assert found().decode() == f"{home}/.local/share/pyenvmod/{NODE}/modules"
    assert found(XDG_DATA_HOME=str(tmp_path / "data")).decode() == f"{tmp_path}/data/pyenvmod/{NODE}/modules"
    modules = tree(tmp_path / "data" / "pyenvmod")
    h = hooks(runtime, **{**env, "XDG_DATA_HOME": str(tmp_path / "data")})
    assert f"Your pyenvmod module tree {modules} is not" in unknown(h, names='"pyenv/x"')


def test_the_hint_agrees_with_pyenvmod_modulepath(runtime, cli, env):
    """The folder the hook names is the one `pyenvmod modulepath` prints: from PYENVMOD_ROOT,
    and from the user's configuration file."""
    keys = ("HOME", "USER", "PYENVMOD_ROOT", "PYENVMOD_SITE_CONFIG", "XDG_CONFIG_HOME", "XDG_DATA_HOME")
    config = Path(env["XDG_CONFIG_HOME"]) / "pyenvmod" / "config.yaml"
    config.parent.mkdir(parents=True)
    config.write_text("root: ~/projects/$USER/{arch}/pyenvmod\n")
    for without in ((), ("PYENVMOD_ROOT",)):
        environ = {k: env[k] for k in keys if k not in without}
        cli.env = dict(environ, PATH=env["PATH"], PYENVMOD_PLATFORM=NODE)
        expected = cli("modulepath").stdout.strip()
        h = hooks(runtime, **environ)
        assert h.lua.eval(b'require("pyenvmod_hooks").user_modules_dir()').decode() == expected
    assert expected.startswith(f"{env['HOME']}/projects/")


# --- the swap check (issue 24, item 2): PYENVMOD_BUILT_WITH against Lmod's module table ----------

FAKE_MT = """
package.preload["FrameStk"] = function()
    local loaded = __loaded   -- {short name = {full name, file}}
    local mt = {
        have = function(self, sn, how) return loaded[sn] ~= nil end,
        fullName = function(self, sn) return loaded[sn][1] end,
        fn = function(self, sn) return loaded[sn][2] end,
    }
    local varT = __varT   -- nil: a module table without varT (the environment's value is used)
    return { singleton = function() return { mt = function() return mt end,
                                             varT = function() return varT or {} end } end }
end
"""

BUILT = "x=gcc/12=/h/Core/gcc/12.lua:x=openmpi/4=/h/gcc/12/openmpi/4.lua:y=intel/oneapi/2023=/h/intel/oneapi/2023.lua"


def swap_checked(runtime, loaded, command="swap", built=BUILT, setup="{}"):
    h = hooks(runtime, setup, PYENVMOD_BUILT_WITH=built)
    h.lua.execute(b"__loaded = {}")
    for sn, (full, fn) in loaded.items():
        h.lua.execute(f'__loaded["{sn}"] = {{"{full}", "{fn}"}}'.encode())
    h.run(FAKE_MT)
    _, error = h.apply("finalize", command)
    assert error is None
    return [c[1] for c in h.calls() if c[0] == "LmodMessage"]


AS_BUILT = {"pyenv/x": ("pyenv/x/py3.12", "/t/modules/pyenv/x/py3.12.lua"),
            "gcc": ("gcc/12", "/h/Core/gcc/12.lua"), "openmpi": ("openmpi/4", "/h/gcc/12/openmpi/4.lua")}


def test_a_swap_that_replaced_the_recorded_modules_is_named_with_both_files(runtime):
    swapped = dict(AS_BUILT, gcc=("gcc/13", "/h/Core/gcc/13.lua"), openmpi=("openmpi/4", "/h/gcc/13/openmpi/4.lua"))
    (message,) = swap_checked(runtime, swapped)
    assert message.split("\n") == [
        "WARNING: pyenv/x was built with other modules than the loaded ones:",
        "  gcc/12 (/h/Core/gcc/12.lua), now gcc/13 (/h/Core/gcc/13.lua)",
        "  openmpi/4 (/h/gcc/12/openmpi/4.lua), now openmpi/4 (/h/gcc/13/openmpi/4.lua)",
        "Its compiled packages (mpi4py, ...) would run with another compiler or MPI. Go back (module swap gcc/13 "
        "gcc/12), or unload it (module unload pyenv/x), or create it again with today's modules."]


def test_only_the_file_changed_or_a_module_unloaded(runtime):
    moved = dict(AS_BUILT, openmpi=("openmpi/4", "/elsewhere/openmpi/4.lua"))
    (message,) = swap_checked(runtime, moved, "use")
    assert "  openmpi/4 (/h/gcc/12/openmpi/4.lua), now openmpi/4 (/elsewhere/openmpi/4.lua)\n" in message
    assert "gcc/12 (" not in message and "Go back" not in message
    gone = {k: v for k, v in AS_BUILT.items() if k != "gcc"}
    (message,) = swap_checked(runtime, gone, "unload")
    assert "  gcc/12 (/h/Core/gcc/12.lua), now not loaded\n" in message and "Go back (module load gcc/12)" in message


def test_deeper_module_names_are_found_by_their_family(runtime):
    loaded = {"pyenv/y": ("pyenv/y/py3.12", "/t/y.lua"), "intel/oneapi": ("intel/oneapi/2024", "/h/intel/oneapi/2024.lua")}
    (message,) = swap_checked(runtime, loaded)
    assert "intel/oneapi/2023 (/h/intel/oneapi/2023.lua), now intel/oneapi/2024 (/h/intel/oneapi/2024.lua)" in message
    assert "module swap intel/oneapi/2024 intel/oneapi/2023" in message


@pytest.mark.parametrize("loaded,command,built,setup", [
    (AS_BUILT, "swap", BUILT, "{}"),  # everything as built
    ({k: v for k, v in AS_BUILT.items() if k != "pyenv/x"}, "swap", BUILT, "{}"),  # pyenv/x not loaded (any more)
    (dict(AS_BUILT, gcc=("gcc/13", "/h/Core/gcc/13.lua")), "list", BUILT, "{}"),  # a command that changes nothing
    (dict(AS_BUILT, gcc=("gcc/13", "/h/Core/gcc/13.lua")), "swap", "", "{}"),  # no environment records files
    (dict(AS_BUILT, gcc=("gcc/13", "/h/Core/gcc/13.lua")), "swap", "bad:x=gcc/12=relative", "{}"),  # not an entry
    (dict(AS_BUILT, gcc=("gcc/13", "/h/Core/gcc/13.lua")), "swap", BUILT, "{swap_check = false}"),
])
def test_nothing_is_said_otherwise(runtime, loaded, command, built, setup):
    assert swap_checked(runtime, loaded, command, built, setup) == []


def test_a_failing_swap_check_never_fails_the_command(runtime):
    h = hooks(runtime, PYENVMOD_BUILT_WITH=BUILT)
    h.run('package.preload["FrameStk"] = function() error("no module table") end')
    _, error = h.apply("finalize", "swap")
    assert error is None
    (message,) = [c[1] for c in h.calls()]
    assert message.startswith("pyenvmod: the swap check failed (") and "no module table" in message


def test_an_environment_loaded_by_this_command_is_checked_too(runtime):
    """The value this command leaves (Lmod's varT) counts, not only the one it started with: a
    load with dependencies 'none' next to another build is named; an unload says nothing."""
    swapped = dict(AS_BUILT, gcc=("gcc/13", "/h/Core/gcc/13.lua"))
    h = hooks(runtime)  # PYENVMOD_BUILT_WITH unset before the command
    h.lua.execute(b"__loaded = {}")
    for sn, (full, fn) in swapped.items():
        h.lua.execute(f'__loaded["{sn}"] = {{"{full}", "{fn}"}}'.encode())
    h.lua.execute(f'__varT = {{PYENVMOD_BUILT_WITH = {{expand = function() return "{BUILT}" end}}}}'.encode())
    h.run(FAKE_MT)
    h.apply("finalize", "load")
    (message,) = [c[1] for c in h.calls()]
    assert "gcc/12 (/h/Core/gcc/12.lua), now gcc/13 (/h/Core/gcc/13.lua)" in message
    h = hooks(runtime, PYENVMOD_BUILT_WITH=BUILT)  # loaded before; this command emptied it (expand: false)
    h.lua.execute(b"__loaded = {}")
    for sn, (full, fn) in swapped.items():
        h.lua.execute(f'__loaded["{sn}"] = {{"{full}", "{fn}"}}'.encode())
    h.lua.execute(b'__varT = {PYENVMOD_BUILT_WITH = {expand = function() return false end}}')
    h.run(FAKE_MT)
    h.apply("finalize", "unload")
    assert h.calls() == []
