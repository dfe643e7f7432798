"""Rendered modulefiles do what they should, with any value, in Lua (lupa) and Tcl (tclsh)."""

import os
import shutil

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import lmod_fake
import tcl_fake
from modsys import require
from pyenvmod.modules import modulefiles, render
from pyenvmod.records.metadata import EnvRecord

text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=200)
# prefixes as pyenvmod makes them: absolute, normalised, without ':' or control characters
path_text = st.text(st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters=":"), min_size=1,
                    max_size=100).map(lambda s: os.path.normpath("/" + s)).filter(lambda p: p != "/" and not p.startswith("//"))


def record(**overrides) -> EnvRecord:
    values = dict(
        name="mylab", prefix="/data/envs/mylab", python="3.12.1", base_python="/usr/bin/python3.12",
        backend="uv", module="pyenv/mylab/py3.12", created="2026-11-24T10:00:00+00:00", owner="alice",
        platform="x86_64-debian12", description="Stable analysis stack",
    )
    values.update(overrides)
    return EnvRecord(**values)


def rendered(fmt: str, rec: EnvRecord) -> str:
    return render.render(render.FORMATS[fmt], modulefiles.context(rec))


@pytest.fixture(scope="module", params=["lua53", "lua54"])
def lua(request):
    try:
        import importlib

        return importlib.import_module(f"lupa.{request.param}")
    except ImportError:
        require(False, "lupa", "pip install lupa")


def site(rec):
    return f"{rec.prefix}/lib/python{'.'.join(rec.python.split('.')[:2])}/site-packages"


def lua_expected(rec):
    return [
        ["prepend_path", "PATH", rec.prefix + "/bin"],
        ["prepend_path", "PYENVMOD_SITE_PATH", site(rec)],
        ["prepend_path", "PYENVMOD_LOADED", f"{rec.name}@3.12"],
        ["pushenv", "PYTHONNOUSERSITE", "1"],
        ["pushenv", "VIRTUAL_ENV", rec.prefix],
    ]


def test_lua_load_actions(lua):
    rec = record()
    calls, error = lmod_fake.run_modulefile(lua, rendered("lua", rec), existing_dirs=[rec.prefix])
    assert error is None
    assert ["whatis", "Name: mylab"] in calls
    assert ["whatis", "Description: Stable analysis stack"] in calls
    assert ["whatis", "Python: 3.12.1"] in calls
    help_text = next(c[1] for c in calls if c[0] == "help")
    for part in ("mylab", "Stable analysis stack", "3.12.1", "uv", "alice", rec.prefix, rec.created):
        assert part in help_text
    assert [c for c in calls if c[0] not in ("whatis", "help")] == lua_expected(rec)


def test_lua_never_sets_pythonhome_or_ld_library_path(lua):
    calls, _ = lmod_fake.run_modulefile(lua, rendered("lua", record()), existing_dirs=["/data/envs/mylab"])
    assert not [c for c in calls if len(c) > 1 and c[1] in ("PYTHONHOME", "LD_LIBRARY_PATH")]


def test_lua_refuses_to_load_a_missing_environment_but_unloads(lua):
    text = rendered("lua", record())
    calls, error = lmod_fake.run_modulefile(lua, text, mode="load", existing_dirs=[])
    assert error and "missing" in error and "/data/envs/mylab" in error
    assert not [c for c in calls if c[0] == "prepend_path"]
    calls, error = lmod_fake.run_modulefile(lua, text, mode="unload", existing_dirs=[])
    assert error is None
    assert [c for c in calls if c[0] not in ("whatis", "help")] == lua_expected(record())


@settings(max_examples=150, deadline=None)
@given(description=text, prefix=path_text, owner=text)
def test_lua_any_value_comes_back_byte_for_byte(description, prefix, owner):
    rec = record(description=description, prefix=prefix, owner=owner)
    for runtime in lmod_fake.runtimes():
        calls, error = lmod_fake.run_modulefile(runtime, rendered("lua", rec), existing_dirs=[prefix])
        assert error is None
        assert ["whatis", "Description: " + description] in calls
        assert [c for c in calls if c[0] not in ("whatis", "help")] == lua_expected(rec)
        help_text = next(c[1] for c in calls if c[0] == "help")
        assert "Description: " + description + "\n" in help_text and "Owner:       " + owner + "\n" in help_text


@pytest.fixture(scope="module")
def tclsh():
    require(shutil.which("tclsh") is not None, "tclsh", "apt-get install tcl")


def tcl_expected(rec):
    return [
        ["prepend-path", "PATH", rec.prefix + "/bin"],
        ["prepend-path", "PYENVMOD_SITE_PATH", site(rec)],
        ["prepend-path", "PYENVMOD_LOADED", f"{rec.name}@3.12"],
        ["pushenv", "PYTHONNOUSERSITE", "1"],
        ["pushenv", "VIRTUAL_ENV", rec.prefix],
    ]


def test_tcl_load_actions(tclsh, tmp_path):
    rec = record(prefix=str(tmp_path))
    text = rendered("tcl", rec)
    assert text.startswith("#%Module")
    calls, error = tcl_fake.run_modulefile(text)
    assert error is None
    assert ["module-whatis", "Description: Stable analysis stack"] in calls
    help_text = next(c[1] for c in calls if c[0] == "puts")
    assert str(tmp_path) in help_text and "alice" in help_text
    assert [c for c in calls if c[0] not in ("module-whatis", "puts")] == tcl_expected(rec)


def test_tcl_refuses_to_load_a_missing_environment_but_unloads(tclsh, tmp_path):
    rec = record(prefix=str(tmp_path / "gone"))
    calls, error = tcl_fake.run_modulefile(rendered("tcl", rec), mode="load")
    assert error and "missing" in error and str(tmp_path / "gone") in error
    calls, error = tcl_fake.run_modulefile(rendered("tcl", rec), mode="unload")
    assert error is None
    assert [c for c in calls if c[0] not in ("module-whatis", "puts")] == tcl_expected(rec)


@settings(max_examples=60, deadline=None)
@given(description=text, owner=text, sub=st.text(st.characters(blacklist_categories=("Cs", "Cc"),
                                                               blacklist_characters=":/"), min_size=1, max_size=40))
def test_tcl_any_value_comes_back_byte_for_byte(description, owner, sub):
    require(shutil.which("tclsh") is not None, "tclsh", "apt-get install tcl")
    # the prefix must exist for a load, so hostile characters go into a real folder name
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        prefix = Path(tmp) / sub
        try:
            prefix.mkdir()
        except OSError:
            return  # a name the filesystem refuses ("." or "..")
        rec = record(description=description, owner=owner, prefix=str(prefix))
        calls, error = tcl_fake.run_modulefile(rendered("tcl", rec))
        assert error is None
        assert ["module-whatis", "Description: " + description] in calls
        assert [c for c in calls if c[0] not in ("module-whatis", "puts")] == tcl_expected(rec)
        help_text = next(c[1] for c in calls if c[0] == "puts")
        assert "Description: " + description + "\n" in help_text and "Owner:       " + owner + "\n" in help_text


# --- stacking: the Python-version guard and Lmod's VIRTUAL_ENV stack ---------------------

def test_lua_refuses_a_second_environment_of_another_python(lua):
    rec = record()
    calls, error = lmod_fake.run_modulefile(lua, rendered("lua", rec), existing_dirs=[rec.prefix],
                                            environ={"PYENVMOD_LOADED": "tools@3.12:old@3.11"})
    assert error and "pyenv/mylab (Python 3.12)" in error and "pyenv/old" in error and "Python 3.11" in error
    assert not [c for c in calls if c[0] == "prepend_path"]


@pytest.mark.parametrize("loaded", ["", "tools@3.12", "tools@3.12:mylab@3.11", "garbage"])
def test_lua_loads_beside_the_same_python_or_itself(lua, loaded):
    rec = record()
    calls, error = lmod_fake.run_modulefile(lua, rendered("lua", rec), existing_dirs=[rec.prefix],
                                            environ={"PYENVMOD_LOADED": loaded})
    assert error is None


def test_lua_guard_is_not_applied_on_unload(lua):
    rec = record()
    calls, error = lmod_fake.run_modulefile(lua, rendered("lua", rec), mode="unload",
                                            environ={"PYENVMOD_LOADED": "old@3.11", "VIRTUAL_ENV": rec.prefix})
    assert error is None


def _b64(text):
    import base64

    return base64.b64encode(text.encode()).decode()


@settings(max_examples=100, deadline=None)
@given(prefix=path_text, other=path_text)
def test_lua_unload_below_the_top_takes_only_its_own_stack_entry(prefix, other):
    rec = record(prefix=prefix)
    stack = ":".join([_b64(other), _b64(prefix), _b64("/orig")])
    for runtime in lmod_fake.runtimes():
        calls, error = lmod_fake.run_modulefile(
            runtime, rendered("lua", rec), mode="unload",
            environ={"VIRTUAL_ENV": other, "__LMOD_STACK_VIRTUAL_ENV": stack})
        assert error is None
        venv_calls = [c for c in calls if "VIRTUAL_ENV" in c[1]]
        if other == prefix:
            assert venv_calls == [["pushenv", "VIRTUAL_ENV", prefix]]
        else:
            assert venv_calls == [["remove_path", "__LMOD_STACK_VIRTUAL_ENV", _b64(prefix)]]


def test_lua_unload_on_top_pops(lua):
    rec = record()
    calls, _ = lmod_fake.run_modulefile(lua, rendered("lua", rec), mode="unload",
                                        environ={"VIRTUAL_ENV": rec.prefix,
                                                 "__LMOD_STACK_VIRTUAL_ENV": _b64(rec.prefix)})
    assert [c for c in calls if "VIRTUAL_ENV" in c[1]] == [["pushenv", "VIRTUAL_ENV", rec.prefix]]


def test_lua_unload_with_a_foreign_stack_falls_back_to_pushenv(lua):
    rec = record()
    calls, _ = lmod_fake.run_modulefile(lua, rendered("lua", rec), mode="unload",
                                        environ={"VIRTUAL_ENV": "/other", "__LMOD_STACK_VIRTUAL_ENV": "Zm9v"})
    assert [c for c in calls if "VIRTUAL_ENV" in c[1]] == [["pushenv", "VIRTUAL_ENV", rec.prefix]]


def test_tcl_refuses_a_second_environment_of_another_python(tclsh, tmp_path):
    rec = record(prefix=str(tmp_path))
    calls, error = tcl_fake.run_modulefile(rendered("tcl", rec), environ={"PYENVMOD_LOADED": "tools@3.12:old@3.11"})
    assert error and "pyenv/mylab (Python 3.12)" in error and "pyenv/old" in error and "Python 3.11" in error
    calls, error = tcl_fake.run_modulefile(rendered("tcl", rec), environ={"PYENVMOD_LOADED": "tools@3.12"})
    assert error is None


# --- hostile names: refused by validation, or written so that they come back exactly ------

any_text = st.text(st.characters(blacklist_categories=("Cs",)), min_size=0, max_size=100)


@settings(max_examples=150, deadline=None)
@given(name=any_text)
def test_any_environment_name_is_refused_or_round_trips(name):
    from pyenvmod.records import names
    from pyenvmod.errors import PyenvmodError

    try:
        names.validate(name)
    except PyenvmodError as exc:
        assert "letters, digits" in exc.message and "\n" not in exc.message
        return
    rec = record(name=name, module=f"pyenv/{name}/py3.12")
    for runtime in lmod_fake.runtimes():
        calls, error = lmod_fake.run_modulefile(runtime, rendered("lua", rec), existing_dirs=[rec.prefix])
        assert error is None and ["whatis", "Name: " + name] in calls
        assert ["prepend_path", "PYENVMOD_LOADED", f"{name}@3.12"] in calls


@settings(max_examples=100, deadline=None)
@given(modules=st.lists(any_text, min_size=1, max_size=4))
def test_any_captured_module_name_is_refused_or_round_trips(modules):
    from pyenvmod.modules import capture
    from pyenvmod.errors import PyenvmodError

    try:
        accepted = [capture.validate(m) for m in modules]
    except PyenvmodError as exc:
        assert "invalid module name" in exc.message
        return
    rec = record(modules=accepted)
    ctx = modulefiles.context(rec, None, {"dependencies": "load"})
    lua = render.render(render.FORMATS["lua"], ctx)
    for runtime in lmod_fake.runtimes():
        calls, error = lmod_fake.run_modulefile(runtime, lua, existing_dirs=[rec.prefix])
        assert error is None and ["depends_on", *accepted] in calls
    import tempfile

    with tempfile.TemporaryDirectory() as prefix:
        rec = record(modules=accepted, prefix=prefix)
        tcl = render.render(render.FORMATS["tcl"], modulefiles.context(rec, None, {"dependencies": "load"}))
        calls, error = tcl_fake.run_modulefile(tcl)
        assert error is None and [c[1] for c in calls if c[0] == "depends-on"] == accepted


TOOLING = ("pip", "setuptools", "wheel")  # installed everywhere: never listed as extensions


@settings(max_examples=100, deadline=None)
@given(packages=st.dictionaries(st.one_of(st.sampled_from(TOOLING), any_text), any_text, max_size=6))
def test_any_installed_package_name_round_trips_in_extensions(packages):
    rec = record(packages=packages)
    for runtime in lmod_fake.runtimes():
        calls, error = lmod_fake.run_modulefile(runtime, rendered("lua", rec), existing_dirs=[rec.prefix])
        assert error is None
        expected = [f"{n}/{v}" for n, v in sorted(packages.items()) if n not in TOOLING]
        got = [c[1:] for c in calls if c[0] == "extensions"]
        assert got == ([expected] if expected else []), "one extensions() call, only when there is something"


def test_tooling_is_never_an_extension(lua):
    rec = record(packages={"pip": "24.0", "setuptools": "70.0", "wheel": "0.43", "Pip": "1", "numpy": "2.0"})
    calls, _ = lmod_fake.run_modulefile(lua, rendered("lua", rec), existing_dirs=[rec.prefix])
    assert [c for c in calls if c[0] == "extensions"] == [["extensions", "Pip/1", "numpy/2.0"]]
    rec = record(packages={"pip": "24.0", "wheel": "0.43"})
    calls, _ = lmod_fake.run_modulefile(lua, rendered("lua", rec), existing_dirs=[rec.prefix])
    assert not [c for c in calls if c[0] == "extensions"]


# The name rule written out independently of names.py: what must be refused, what must pass.
NAME_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._+-")


def rule_allows(name: str) -> bool:
    return 0 < len(name) <= 64 and set(name) <= NAME_CHARS and name[0] not in ".-"


@settings(max_examples=300, deadline=None)
@given(name=st.one_of(any_text, st.text(alphabet=sorted(NAME_CHARS), max_size=70),
                      st.text(alphabet=sorted(NAME_CHARS) + ["/", " ", ";", "\n", "é", "$", ":", "*"], max_size=70)))
def test_the_name_rule_refuses_exactly_what_it_says(name):
    from pyenvmod.records import names
    from pyenvmod.errors import PyenvmodError

    try:
        names.validate(name)
        accepted = True
    except PyenvmodError:
        accepted = False
    assert accepted == rule_allows(name), name


# whitespace, quotes, $ ` ; \\ (shell), { } [ ] (Tcl), : (the separator of MODULEPATH and _LMFILES_)
BAD_MODULE_CHARS = set(" \t\n\r\0'\"`$;{}[]\\:")


@settings(max_examples=200, deadline=None)
@given(module=st.one_of(any_text, st.text(alphabet="abc/-._+<&|" + "".join(sorted(BAD_MODULE_CHARS)), max_size=20)))
def test_module_names_with_shell_or_quote_characters_are_refused(module):
    from pyenvmod.modules import capture
    from pyenvmod.errors import PyenvmodError

    must_refuse = not module or module[0] in "-/" or bool(set(module) & BAD_MODULE_CHARS)
    try:
        assert capture.validate(module) == module
    except PyenvmodError as exc:
        assert must_refuse, module
        assert exc.message.startswith("invalid module name ") and "give a module as NAME or NAME/VERSION" in exc.message
        return
    assert not must_refuse, module


@pytest.mark.parametrize("stack,on_stack", [
    (["/ab", "/orig"], True),  # first
    (["/x", "/ab"], True),  # last
    (["/x", "/ab", "/orig"], True),  # middle
    (["/ab/ab", "/orig"], False),  # its base64 (L2Fi) begins and ends another entry (L2FiL2Fi)
    (["/x", "/ab/ab"], False),
    (["/ab/ab"], False),
])
def test_lua_unload_matches_whole_stack_entries_only(lua, stack, on_stack):
    rec = record(prefix="/ab")
    calls, error = lmod_fake.run_modulefile(
        lua, rendered("lua", rec), mode="unload",
        environ={"VIRTUAL_ENV": "/other", "__LMOD_STACK_VIRTUAL_ENV": ":".join(_b64(p) for p in stack)})
    assert error is None
    venv = [c for c in calls if "VIRTUAL_ENV" in c[1]]
    if on_stack:
        assert venv == [["remove_path", "__LMOD_STACK_VIRTUAL_ENV", _b64("/ab")]]
    else:
        assert venv == [["pushenv", "VIRTUAL_ENV", "/ab"]]


def test_lua_conda_environment_sources_its_activate_scripts_with_bash(lua, tmp_path):
    scripts = tmp_path / "etc" / "conda" / "activate.d"
    scripts.mkdir(parents=True)
    (scripts / "it's.sh").write_text("")
    rec = record(prefix=str(tmp_path), backend="conda")
    calls, error = lmod_fake.run_modulefile(lua, rendered("lua", rec), existing_dirs=[rec.prefix])
    assert error is None
    assert [c for c in calls if c[0] == "source_sh"] == [["source_sh", "bash", f"'{scripts}/it'\\''s.sh'"]]
    assert ["pushenv", "CONDA_PREFIX", str(tmp_path)] in calls and ["pushenv", "CONDA_DEFAULT_ENV", "mylab"] in calls


@settings(max_examples=60, deadline=None)
@given(file=path_text)
def test_lua_records_the_module_files_it_was_built_with(file):
    """Each recorded (module, file) becomes one PYENVMOD_BUILT_WITH entry NAME=MODULE=FILE, byte for
    byte, for the Lmod hooks' swap check; a module given without a file (--modules) has none."""
    rec = record(modules=["gcc/12", "extra/1.0", "openmpi/4"], module_files=[file, "", "/h/gcc/12/openmpi/4.lua"])
    for runtime in lmod_fake.runtimes():
        for mode in ("load", "unload"):
            calls, error = lmod_fake.run_modulefile(runtime, rendered("lua", rec), mode=mode, existing_dirs=[rec.prefix])
            assert error is None
            assert [c for c in calls if c[0] == "append_path"] == [
                ["append_path", "PYENVMOD_BUILT_WITH", f"mylab=gcc/12={file}"],
                ["append_path", "PYENVMOD_BUILT_WITH", "mylab=openmpi/4=/h/gcc/12/openmpi/4.lua"]]
    assert "PYENVMOD_BUILT_WITH" not in rendered("lua", record(modules=["gcc/12"]))
