"""pyenvmod's Lmod hooks in lupa (Lua 5.3, as Debian's Lmod, and 5.4) against a fake registry.

The same behaviours run in real Lmod in test_hooks_real.py.
"""

import importlib
import os

import pytest

from lmod_fake import Hooks
from modsys import REPO, require

HOOKS_DIR = REPO / "lmod-hooks"
NODE = "x86_64-debian12"


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
    for platform, owner in ((NODE, "alice"), ("aarch64-rocky9", "bob")):
        base = tmp_path / platform
        (base / "modules" / "pyenv" / "mylab").mkdir(parents=True)
        (base / "pyenvmod-tree.conf").write_text(f"# marker\nplatform={platform}\nowner={owner}\n")
        made[platform] = base
    (tmp_path / "plain" / "modules").mkdir(parents=True)
    made["plain"] = tmp_path / "plain"
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


@pytest.mark.parametrize("command", ["avail", "spider", "keyword", "overview"])
def test_foreign_modules_are_hidden_from_listings(runtime, trees, command):
    h = hooks(runtime)
    assert visible(h, trees["aarch64-rocky9"], command) is False
    assert visible(h, trees[NODE], command) is True


def test_foreign_modules_stay_visible_to_load_which_refuses_them(runtime, trees):
    h = hooks(runtime)
    assert visible(h, trees["aarch64-rocky9"], "load") is True
    _, error = load(h, trees["aarch64-rocky9"])
    assert error and "built for aarch64-rocky9" in error and str(trees["aarch64-rocky9"]) in error
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
    import platform as py_platform

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
    for name in ("load", "avail", "isVisibleHook", "startup"):
        assert h.lua.eval(f'require("Hook").registered("{name}")'.encode()), name
