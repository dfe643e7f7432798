"""Which loaded modules an environment records (modules/capture.py), from the module system's own
variables as Lmod and Environment Modules leave them (LOADEDMODULES, _LMFILES_): in-process."""

import pytest

from pyenvmod.errors import PyenvmodError
from pyenvmod.modules import capture

LOADED = {"LOADEDMODULES": "gcc/13.2:mpich/4.1:pyenv/old/py3.12::Python/3.12.1",
          "_LMFILES_": "/site/core/gcc/13.2.lua:/site/mpi/mpich/4.1:/tree/modules/pyenv/old/py3.12.lua::"
                       "/site/core/Python/3.12.1.lua"}


def test_loaded_modules_in_load_order_without_empty_entries(monkeypatch):
    assert capture.loaded(LOADED) == ["gcc/13.2", "mpich/4.1", "pyenv/old/py3.12", "Python/3.12.1"]
    assert capture.loaded({}) == []
    monkeypatch.setenv("LOADEDMODULES", "a/1:b/2")
    assert capture.loaded() == ["a/1", "b/2"]


def test_captured_modules_leave_out_pyenv_and_the_excluded_patterns():
    assert capture.modules_for(LOADED, ["Python/*"], []) == ["gcc/13.2", "mpich/4.1"]
    assert capture.modules_for(LOADED, [], []) == ["gcc/13.2", "mpich/4.1", "Python/3.12.1"]
    assert capture.modules_for(LOADED, ["python/*"], []) == ["gcc/13.2", "mpich/4.1", "Python/3.12.1"]  # case counts
    assert capture.modules_for({"LOADEDMODULES": "pyenvx/1"}, [], []) == ["pyenvx/1"]  # only the pyenv/ family


def test_a_given_module_replaces_the_captured_one_of_its_name_and_comes_last():
    assert capture.modules_for(LOADED, [], [" mpich/4.2 ", "", "hdf5/1.14", "gcc/13.2"]) == \
        ["Python/3.12.1", "mpich/4.2", "hdf5/1.14", "gcc/13.2"]
    assert capture.modules_for(LOADED, [], ["gcc"]) == ["mpich/4.1", "Python/3.12.1", "gcc"]
    assert capture.modules_for(LOADED, [], ["hdf5/1.14", "hdf5/1.14"]) == \
        ["gcc/13.2", "mpich/4.1", "Python/3.12.1", "hdf5/1.14"]


def test_without_capture_only_the_given_modules():
    assert capture.modules_for(LOADED, [], ["hdf5/1.14"], capture=False) == ["hdf5/1.14"]
    assert capture.modules_for(LOADED, [], [], capture=False) == []


@pytest.mark.parametrize("bad", ["", "a b", "a\tb", "a\nb", "a\rb", "a\0b", "a:b", 'a"b', "a'b", "a\\b", "a$b", "a`b",
                                 "a;b", "a{b", "a}b", "a[b", "a]b", "-a", "/site/a"])
def test_a_module_name_with_a_space_quote_or_shell_character_is_refused(bad):
    with pytest.raises(PyenvmodError) as caught:
        capture.validate(bad)
    assert caught.value.message == (f"invalid module name {bad!r}: give a module as NAME or NAME/VERSION, "
                                    "without spaces, quotes or shell characters")
    with pytest.raises(PyenvmodError):
        capture.modules_for(LOADED, [], [bad + "x" if bad else "a b"])


@pytest.mark.parametrize("good", ["gcc", "gcc/13.2", "Python/3.12.1-GCCcore-13.2.0", "a-b/c-d", "x/1/2"])
def test_plain_module_names_are_accepted(good):
    assert capture.validate(good) == good


def test_module_paths_are_the_modulepath_folders_of_the_recorded_modules():
    environ = {"LOADEDMODULES": "gcc/13.2:mpich/4.1:tool/2:other/1:dup/1",
               "_LMFILES_": "/site/core/gcc/13.2.lua:/site/mpi/mpich/4.1:/elsewhere/tool/2.lua:/x/y/1.lua:"
                            "/site/core/dup/1.lua"}
    # a Tcl modulefile has no extension; a file whose path does not end with its name says nothing
    assert capture.module_paths(environ, ["gcc/13.2", "mpich/4.1", "other/1", "dup/1"]) == ["/site/core", "/site/mpi"]
    assert capture.module_paths(environ, ["tool/2"]) == ["/elsewhere"]
    assert capture.module_paths(environ, []) == []
    assert capture.module_paths({"LOADEDMODULES": "gcc/13.2"}, ["gcc/13.2"]) == []


def test_module_paths_read_the_process_environment_by_default(monkeypatch):
    monkeypatch.setenv("LOADEDMODULES", "gcc/13.2")
    monkeypatch.setenv("_LMFILES_", "/site/core/gcc/13.2.lua")
    assert capture.module_paths(None, ["gcc/13.2"]) == ["/site/core"]
    assert capture.module_files(None, ["gcc/13.2"]) == ["/site/core/gcc/13.2.lua"]


def test_module_files_name_each_recorded_modules_file_or_nothing():
    assert capture.module_files(LOADED, ["mpich/4.1", "hdf5/1.14", "gcc/13.2"]) == \
        ["/site/mpi/mpich/4.1", "", "/site/core/gcc/13.2.lua"]
    assert capture.module_files({}, ["gcc/13.2"]) == [""]


def test_a_given_categorized_module_replaces_only_its_own_family():
    environ = {"LOADEDMODULES": "lang/Python/3.11.5:lang/GCC/13.2.0"}
    assert capture.modules_for(environ, [], ["lang/Python/3.12.1"]) == ["lang/GCC/13.2.0", "lang/Python/3.12.1"]


def test_modules_listed_without_their_files_have_no_file_or_folder():
    environ = {"LOADEDMODULES": "GCC/13.2.0"}  # _LMFILES_ cleared
    assert capture.module_files(environ, ["GCC/13.2.0"]) == [""]
    assert capture.module_paths(environ, ["GCC/13.2.0"]) == []
