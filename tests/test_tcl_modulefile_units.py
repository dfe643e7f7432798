"""The Tcl modulefile's logic in a real tclsh under tcl_fake, fast: the check of the modules an
environment was built with (issue 24's swap trap: what Environment Modules does when it reloads
pyenv/NAME on a `module switch gcc/12 gcc/13`; the same in real Environment Modules:
test_swap_real.py), and the value saved before pushenv when Environment Modules 5 would forget it
(in real Environment Modules: test_modulefile_guards.py)."""

import pytest

import tcl_fake
from pyenvmod.modules import modulefiles, render
from pyenvmod.records.metadata import EnvRecord

GCC12, GCC13, MPI = "/m/gcc/12.lua", "/m/gcc/13.lua", "/m/gcc/12/openmpi/4.lua"


@pytest.fixture
def files(tmp_path):
    """Recorded modulefiles that exist (a site that moved its modules: the recorded one is gone)."""
    made = {}
    for name in ("gcc/12", "gcc/13", "openmpi/4", "openmpi/5"):
        path = tmp_path / "m" / f"{name}.lua"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("-- a modulefile\n")
        made[name] = str(path)
    return made


def modulefile(tmp_path, modules, module_files) -> str:
    rec = EnvRecord(name="mylab", prefix=str(tmp_path), python="3.12.1", base_python="/usr/bin/python3.12",
                    backend="uv", module="pyenv/mylab/py3.12", created="2026-11-24T10:00:00+00:00", owner="alice",
                    platform="x86_64-debian12", modules=modules, module_files=module_files)
    return render.render(render.FORMATS["tcl"], modulefiles.context(rec))


def load(text, loaded, mode="load", command=None):
    """Run the modulefile with these (module, file) pairs loaded; return (its message or None, refused)."""
    environ = {"LOADEDMODULES": ":".join(m for m, _ in loaded), "_LMFILES_": ":".join(f for _, f in loaded)}
    calls, error = tcl_fake.run_modulefile(text, mode=mode, module_name="pyenv/mylab/py3.12", environ=environ, call_help=False,
                                           command=command)
    said = [c[1] for c in calls if c[0] == "puts"]
    assert len(said) <= 1, said
    return (said[0] if said else None), error is not None and error.startswith("break: ")


def test_the_same_modules_from_the_same_files_load_silently(tmp_path, files):
    text = modulefile(tmp_path, ["gcc/12", "openmpi/4"], [files["gcc/12"], files["openmpi/4"]])
    assert load(text, [("gcc/12", files["gcc/12"]), ("openmpi/4", files["openmpi/4"])]) == (None, False)
    # other modules loaded beside them, and one of another family, change nothing
    assert load(text, [("zlib/1", "/m/zlib/1.lua"), ("gcc/12", files["gcc/12"]), ("openmpi/4", files["openmpi/4"]),
                       ("gccx/13", "/m/gccx/13.lua")]) == (None, False)


def test_another_build_of_a_recorded_family_refuses_the_load_naming_both_files(tmp_path, files):
    text = modulefile(tmp_path, ["gcc/12", "openmpi/4"], [files["gcc/12"], files["openmpi/4"]])
    said, refused = load(text, [("gcc/13", files["gcc/13"]), ("openmpi/4", files["openmpi/4"])])
    assert refused
    assert said == (f"Cannot load pyenv/mylab: it was built with gcc/12 ({files['gcc/12']}), and gcc/13 "
                    f"({files['gcc/13']}) is loaded instead. Its compiled packages would run with another compiler "
                    "or MPI: switch back (module switch gcc/13 gcc/12) and load it again, or create the environment "
                    "again with today's modules.")


def test_on_a_switch_it_says_the_switch_unloads_it(tmp_path, files):
    text = modulefile(tmp_path, ["gcc/12"], [files["gcc/12"]])
    said, refused = load(text, [("gcc/13", files["gcc/13"])], command="switch")
    assert refused and said.startswith("module switch unloads pyenv/mylab: it was built with gcc/12 (")


def test_two_mismatches_are_named_and_the_first_is_the_way_back(tmp_path, files):
    text = modulefile(tmp_path, ["gcc/12", "openmpi/4"], [files["gcc/12"], files["openmpi/4"]])
    said, refused = load(text, [("gcc/13", files["gcc/13"]), ("openmpi/5", files["openmpi/5"])])
    assert refused
    assert (f"built with gcc/12 ({files['gcc/12']}), and gcc/13 ({files['gcc/13']}) is loaded instead; with "
            f"openmpi/4 ({files['openmpi/4']}), and openmpi/5 ({files['openmpi/5']}) is loaded instead.") in said
    assert "(module switch gcc/13 gcc/12)" in said


def test_the_same_module_from_another_file_refuses_while_the_recorded_file_is_there(tmp_path, files):
    text = modulefile(tmp_path, ["gcc/12"], [files["gcc/12"]])
    said, refused = load(text, [("gcc/12", "/other/site/gcc/12.lua")])
    assert refused
    assert f"gcc/12 ({files['gcc/12']}), and gcc/12 (/other/site/gcc/12.lua) is loaded instead" in said
    assert "(module switch gcc/12 gcc/12)" in said


def test_a_recorded_file_that_is_gone_under_the_same_name_only_warns(tmp_path):
    text = modulefile(tmp_path, ["gcc/12"], ["/gone/gcc/12.lua"])
    said, refused = load(text, [("gcc/12", "/moved/gcc/12.lua")])
    assert not refused
    assert said == ("Warning: pyenv/mylab was built with gcc/12 (/gone/gcc/12.lua), and gcc/12 (/moved/gcc/12.lua) "
                    "is loaded instead (the recorded modulefile is gone). If its compiled packages fail, create the "
                    "environment again with today's modules.")


def test_another_version_refuses_even_when_the_recorded_file_is_gone(tmp_path):
    """Another module name is another build, wherever the site moved the recorded file."""
    text = modulefile(tmp_path, ["gcc/12"], ["/gone/gcc/12.lua"])
    said, refused = load(text, [("gcc/13", "/m/gcc/13.lua")])
    assert refused and "(module switch gcc/13 gcc/12)" in said


def test_names_without_a_version_are_a_family_only_of_themselves(tmp_path, files):
    """`mpich` (no /) is compared by name: `mpich2` or `mpich/3` loaded beside it is no mismatch; nor is a
    module of another folder (`gcc-tools/12`) or one in a subfolder of the family's (`gcc/12/openmpi/4`)."""
    text = modulefile(tmp_path, ["mpich", "gcc/12"], [files["gcc/12"], files["gcc/12"]])
    assert load(text, [("mpich2", "/m/mpich2.lua"), ("mpich/3", "/m/mpich/3.lua"), ("gcc-tools/12", "/m/t.lua"),
                       ("gcc/12/openmpi/4", MPI), ("gcc/12", files["gcc/12"]), ("mpich", files["gcc/12"])]) == (None, False)


def test_unload_and_a_shell_without_loaded_modules_are_not_checked(tmp_path, files):
    text = modulefile(tmp_path, ["gcc/12"], [files["gcc/12"]])
    assert load(text, [("gcc/13", files["gcc/13"])], mode="unload") == (None, False)
    calls, error = tcl_fake.run_modulefile(text, module_name="pyenv/mylab/py3.12", call_help=False, environ={})
    assert error is None and not [c for c in calls if c[0] == "puts"]
    calls, error = tcl_fake.run_modulefile(text, module_name="pyenv/mylab/py3.12", call_help=False, environ={"LOADEDMODULES": "gcc/13"})
    assert error is None and not [c for c in calls if c[0] == "puts"]


def test_modules_recorded_without_a_file_are_not_checked(tmp_path):
    """`--modules gcc/12` without a loaded file records no file: nothing to compare."""
    text = modulefile(tmp_path, ["gcc/12"], [""])
    assert "set mismatch" not in text
    assert load(text, [("gcc/13", GCC13)]) == (None, False)


def test_a_value_an_emptied_pushenv_stack_would_forget_is_saved_first(tmp_path):
    """Environment Modules 5 keeps an emptied __MODULES_PUSHENV_VAR after reload or switch and then
    saves nothing: the modulefile puts the value from before on the stack itself, on load only, and
    only for a variable that is set while its stack is empty."""
    text = modulefile(tmp_path, [], [])

    def saved(mode="load", **environ):
        calls, error = tcl_fake.run_modulefile(text, mode=mode, module_name="pyenv/mylab/py3.12", call_help=False,
                                               environ=environ)
        assert error is None
        return [c[1:] for c in calls if c[0] == "prepend-path" and c[1].startswith("__MODULES_PUSHENV_")]

    assert saved(VIRTUAL_ENV="/before", __MODULES_PUSHENV_VIRTUAL_ENV="") == [
        ["__MODULES_PUSHENV_VIRTUAL_ENV", "&/before"]]
    assert saved(VIRTUAL_ENV="/before", __MODULES_PUSHENV_VIRTUAL_ENV="pyenv/a&/a") == []  # a live stack: its own
    assert saved(VIRTUAL_ENV="/before") == []  # no stack yet: pushenv saves it
    assert saved(__MODULES_PUSHENV_VIRTUAL_ENV="") == []  # nothing to save
    assert saved("unload", VIRTUAL_ENV="/before", __MODULES_PUSHENV_VIRTUAL_ENV="") == []
