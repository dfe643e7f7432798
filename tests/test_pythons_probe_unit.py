"""How --python asks an interpreter what it is, and what it keeps of the answer (backends/pythons.py),
in-process on real interpreters (a copy of Debian's python3.11, pyenv's, a real venv) and made-up
ones (shell scripts answering as an interpreter would): the user's cache of answers and what its key
depends on, what counts as an answer, the places and names looked at, the module chosen and why,
and a Python module loaded with a real Lmod. tests/test_pythons_unit.py covers the order of places."""

import json
import os
import shutil
import stat
import subprocess

import pytest

from conftest import PYENV_ROOT
from modsys import lmod_in_process, require

from pyenvmod.backends import pythons
from pyenvmod.errors import PyenvmodError

SYSTEM = "/usr/bin/python3.11"
HOW = "pass --python with a path to a python executable, or load a python module first"
PY312 = os.path.join(PYENV_ROOT, "versions", "3.12.1", "bin", "python3.12")


@pytest.fixture
def home(tmp_path, monkeypatch):
    """An empty PATH folder, no pyenv or uv folder, no module system, the cache under XDG_CACHE_HOME."""
    for var in ("LMOD_CMD", "MODULES_CMD", "MODULEPATH", "PYTHONHOME", "PYTHONPATH"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path / "no-pyenv"))
    monkeypatch.setenv("UV_PYTHON_INSTALL_DIR", str(tmp_path / "no-uv"))
    (tmp_path / "bin").mkdir()
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    pythons._AVAILABLE.clear()
    yield tmp_path
    pythons._AVAILABLE.clear()


def cache_file(home):
    return home / "cache" / "pyenvmod" / "pythons.json"


def cached(home):
    return json.loads(cache_file(home).read_text())


def mark(home, version="3.11.99"):
    """Change every kept answer's version: a probe that returns it answered from the cache."""
    data = {key: dict(entry, version=version) for key, entry in cached(home).items()}
    cache_file(home).write_text(json.dumps(data))


def copy_of_python(folder, name="python3.11"):
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy2(SYSTEM, folder / name)
    return folder / name


def fake(folder, name, body, log=None):
    """A made-up interpreter: a shell script (``log``: it appends a line each time it runs)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text("#!/bin/sh\n" + (f'echo run >> "{log}"\n' if log else "") + body + "\n")
    path.chmod(0o755)
    return path


def answer(version="3.12.7", executable="/opt/py/bin/python3.12", implementation="cpython"):
    return "echo '" + json.dumps({"version": version, "executable": executable,
                                   "implementation": implementation}) + "'"


# --- the cache of answers -------------------------------------------------------------------------

def test_an_answer_is_kept_in_a_private_cache_until_the_binary_changes(home):
    python = copy_of_python(home / "a" / "bin")
    real = pythons.probe(str(python))
    assert real == pythons.PythonInfo(str(python), real.version) and real.version.startswith("3.11.")
    assert list(cached(home).values()) == [{"executable": str(python), "version": real.version}]
    assert stat.S_IMODE(cache_file(home).stat().st_mode) == 0o600
    assert stat.S_IMODE(cache_file(home).parent.stat().st_mode) == 0o700
    mark(home)
    assert pythons.probe(str(python)).version == "3.11.99"  # the binary is the same: the kept answer
    st = python.stat()
    os.utime(python, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # changed in time
    assert pythons.probe(str(python)) == real
    mark(home)
    with open(python, "ab") as fh:  # changed in size
        fh.write(b"\0")
    os.utime(python, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    assert pythons.probe(str(python)) == real
    mark(home)
    os.rename(python, home / "a" / "old")  # another file, same size and time (kept aside: a new inode)
    shutil.copy2(home / "a" / "old", python)
    assert python.stat().st_ino != (home / "a" / "old").stat().st_ino
    assert python.stat().st_size == (home / "a" / "old").stat().st_size
    assert pythons.probe(str(python)) == real


def test_the_cache_key_holds_the_path_asked_and_the_binary_it_is(home):
    python = copy_of_python(home / "a" / "bin")
    os.link(python, home / "a" / "bin" / "hardlink")  # the same inode, size and time, another path
    first = home / "first"
    first.symlink_to(python)
    pythons.probe(str(first))
    mark(home)
    assert pythons.probe(str(first)).version == "3.11.99"
    second = home / "second"
    second.symlink_to(python)  # the same binary asked by another path
    assert pythons.probe(str(second)).version != "3.11.99"
    mark(home)
    first.unlink()
    first.symlink_to(home / "a" / "bin" / "hardlink")  # the same path asked, another binary path
    assert pythons.probe(str(first)).version != "3.11.99"


def test_a_script_and_a_venv_interpreter_are_asked_every_time(home):
    shim = fake(home / "shims", "python3.11", f'exec {SYSTEM} "$@"')
    assert pythons.probe(str(shim)).executable == SYSTEM
    subprocess.run([SYSTEM, "-m", "venv", "--without-pip", str(home / "venv")], check=True)
    assert pythons.probe(str(home / "venv" / "bin" / "python")).executable == SYSTEM
    assert not cache_file(home).exists()  # neither answer was kept: either can change under the same binary
    assert pythons._cache_key(str(home / "missing")) is None


def test_the_cache_goes_to_the_home_folders_cache_without_xdg_cache_home(home, monkeypatch):
    monkeypatch.delenv("XDG_CACHE_HOME")
    pythons.probe(str(copy_of_python(home / "a")))
    assert len(json.loads((home / "home" / ".cache" / "pyenvmod" / "pythons.json").read_text())) == 1


@pytest.mark.parametrize("text", ["[1, 2]", "{not json", "\xff\xfe"])
def test_a_cache_that_is_not_a_dictionary_is_replaced(home, text):
    python = copy_of_python(home / "a")
    cache_file(home).parent.mkdir(parents=True, mode=0o700)
    cache_file(home).write_bytes(text.encode("latin-1"))
    cache_file(home).chmod(0o600)
    info = pythons.probe(str(python))
    assert list(cached(home).values()) == [{"executable": info.executable, "version": info.version}]


@pytest.mark.parametrize("entry", [{"executable": "/x/python3.11", "version": 3.99}, {"version": "3.11.99"},
                                   {"executable": ["/x"], "version": "3.11.99"}, "3.11.99"])
def test_a_kept_answer_without_two_strings_is_asked_again(home, entry):
    python = copy_of_python(home / "a")
    real = pythons.probe(str(python))
    key = next(iter(cached(home)))
    cache_file(home).write_text(json.dumps({key: entry}))
    assert pythons.probe(str(python)) == real
    assert cached(home)[key] == {"executable": real.executable, "version": real.version}


def test_a_cache_larger_than_a_mebibyte_is_not_read(home):
    python = copy_of_python(home / "a")
    real = pythons.probe(str(python))
    mark(home)
    data = cached(home)
    data["padding"] = "x" * (1 << 20)
    cache_file(home).write_text(json.dumps(data))
    assert pythons.probe(str(python)) == real
    assert len(cache_file(home).read_bytes()) < 1000  # written again, with this answer alone


def test_the_cache_keeps_the_last_fifty_answers(home):
    cache_file(home).parent.mkdir(parents=True, mode=0o700)
    older = {f"/old/{i}": {"executable": f"/old/{i}", "version": "3.0.0"} for i in range(60)}
    cache_file(home).write_text(json.dumps(older))
    cache_file(home).chmod(0o600)
    info = pythons.probe(str(copy_of_python(home / "a")))
    kept = cached(home)
    assert list(kept)[:49] == [f"/old/{i}" for i in range(11, 60)] and len(kept) == 50
    assert list(kept.values())[-1] == {"executable": info.executable, "version": info.version}


def test_a_cache_folder_of_another_user_gets_nothing(home):
    require(os.geteuid() == 0, "root (a folder is given to another user)", "run the tests as root, as CI does")
    folder = cache_file(home).parent
    folder.mkdir(parents=True, mode=0o755)
    os.chown(folder, 4242, 4242)
    info = pythons.probe(str(copy_of_python(home / "a")))
    assert info.version.startswith("3.11.") and list(folder.iterdir()) == []


def test_a_cache_that_cannot_be_written_only_costs_time(home, monkeypatch):
    (home / "afile").write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / "afile"))
    assert pythons.probe(str(copy_of_python(home / "a"))).version.startswith("3.11.")


# --- what counts as an answer ---------------------------------------------------------------------

def test_the_last_line_of_the_answer_counts(home):
    python = fake(home / "x", "python", "echo 'a greeting from a wrapper'\n" + answer())
    assert pythons.probe(str(python)) == pythons.PythonInfo("/opt/py/bin/python3.12", "3.12.7")


@pytest.mark.parametrize("body", [answer() + "\nexit 1", answer(implementation="pypy"), "true", "echo 'not json'",
                                  "echo '[1]'", "echo 0", "echo null",
                                  "echo '{\"implementation\": \"cpython\"}'",
                                  "echo '{\"implementation\": \"cpython\", \"executable\": 1, \"version\": \"3.12.1\"}'"])
def test_what_is_not_a_cpython_answer_is_no_interpreter(home, body):
    python = fake(home / "x", "python", body)
    assert pythons.probe(str(python)) is None
    with pytest.raises(PyenvmodError) as caught:
        pythons.locate(str(python))
    assert caught.value.message == f"{str(python)!r} does not run as a CPython interpreter; {HOW}"


def test_a_binary_that_is_no_python_and_a_script_that_cannot_start_are_no_interpreter(home):
    assert pythons.probe("/bin/true") is None and not cache_file(home).exists()
    script = home / "x" / "python"
    script.parent.mkdir()
    script.write_text("#!/no/such/interpreter\n")
    script.chmod(0o755)
    with pytest.raises(PyenvmodError) as caught:
        pythons.locate(str(script))
    assert caught.value.message == f"{str(script)!r} does not run as a CPython interpreter; {HOW}"


def test_a_relative_executable_in_the_answer_is_the_path_asked(home, monkeypatch):
    python = fake(home / "x", "python3", answer(executable="python3"))
    monkeypatch.chdir(home)
    assert pythons.locate("x/python3") == (pythons.PythonInfo(str(python), "3.12.7"), None)


def test_the_probe_ignores_the_callers_python_variables_and_the_interpreters_site(home, monkeypatch):
    subprocess.run([SYSTEM, "-m", "venv", "--without-pip", str(home / "venv")], check=True)
    site = next((home / "venv" / "lib").glob("python3.*/site-packages"))
    (site / "stop.pth").write_text("import os; os._exit(3)\n")  # a broken environment's .pth file
    venv_python = str(home / "venv" / "bin" / "python")
    assert pythons.probe(venv_python).executable == SYSTEM
    monkeypatch.setenv("PYTHONHOME", str(home / "nowhere"))  # a caller's variable for another Python
    assert pythons.probe(SYSTEM).executable == SYSTEM


# --- --python PATH, VERSION or COMMAND --------------------------------------------------------------

def test_a_path_that_is_no_executable_file_is_refused(home):
    (home / "x").mkdir()
    (home / "x" / "python").write_text(answer())
    for spec in (str(home / "x" / "python"), str(home / "x"), str(home / "x" / "missing")):
        with pytest.raises(PyenvmodError) as caught:
            pythons.locate(spec)
        assert caught.value.message == f"Python {spec!r} not found or not executable; {HOW}"


def test_a_version_may_be_written_as_a_command_name_and_with_its_micro(home):
    system = pythons.probe(SYSTEM)
    assert pythons.locate("python3.11") == (system, None)
    assert pythons.locate(system.version) == (system, None)
    for spec in ("3.1", "3.11.99", "python3.11.99"):  # 3.1 is not a prefix of 3.11
        with pytest.raises(PyenvmodError) as caught:
            pythons.locate(spec)
        wanted = spec.removeprefix("python")
        assert caught.value.message == f"no Python {wanted} found; looked on PATH and in pyenv and uv folders; {HOW}"


def test_a_version_is_looked_for_without_path(home, monkeypatch):
    monkeypatch.delenv("PATH")
    assert pythons.locate("3.11") == (pythons.probe(SYSTEM), None)


def test_a_version_passes_over_an_interpreter_of_another_micro_and_asks_each_place_once(home, monkeypatch):
    log = home / "log"
    fake(home / "bin", "python3.12", answer(version="3.12.7"), log)
    fake(home / "other", "python3.12", answer(version="3.12.8", executable="/opt/other/python3.12"))
    monkeypatch.setenv("PATH", f"{home / 'bin'}:{home / 'bin'}:{home / 'other'}")
    assert pythons.locate("3.12.8") == (pythons.PythonInfo("/opt/other/python3.12", "3.12.8"), None)
    assert log.read_text() == "run\n"
    assert pythons.locate("3.12")[0].version == "3.12.7"


def test_a_place_without_a_runnable_file_is_not_asked(home, monkeypatch):
    (home / "bin" / "python3.12").write_text(answer())  # not executable
    (home / "dir" / "python3.12").mkdir(parents=True)
    fake(home / "last", "python3.12", answer(executable="/opt/last/python3.12"))
    monkeypatch.setenv("PATH", f"{home / 'bin'}:{home / 'dir'}:{home / 'last'}")
    assert pythons.locate("3.12")[0].executable == "/opt/last/python3.12"


def test_a_command_is_the_first_on_path_that_runs(home, monkeypatch):
    fake(home / "broken", "mypython", "exit 127")
    fake(home / "good", "mypython", answer(executable="/opt/good/python3.12"))
    fake(home / "later", "mypython", answer(executable="/opt/later/python3.12"))
    monkeypatch.setenv("PATH", f"::{home / 'broken'}:{home / 'good'}:{home / 'later'}")
    assert pythons.locate("mypython") == (pythons.PythonInfo("/opt/good/python3.12", "3.12.7"), None)
    monkeypatch.chdir(home / "good")  # an empty PATH entry is not the current folder
    monkeypatch.setenv("PATH", f":{home / 'broken'}")
    with pytest.raises(PyenvmodError) as caught:
        pythons.locate("mypython")
    assert caught.value.message == f"Python 'mypython' not found; give a version like 3.12 or a path; {HOW}"
    monkeypatch.delenv("PATH")
    with pytest.raises(PyenvmodError) as caught:
        pythons.locate("mypython")
    assert caught.value.message == f"Python 'mypython' not found; give a version like 3.12 or a path; {HOW}"


# --- Python modules: which one a version takes, and why -------------------------------------------

M = pythons.ModulePython
NAMES = ["python", "Python"]


def test_module_versions_are_python3_versions_from_the_start_of_the_version():
    available = [("Python/3.12", 1), ("Python/v3.11.2-foss", 0), ("Python/x3.12", 0), ("Python/4.0.1", 0),
                 ("Python/3", 0), ("Python/13.1.2", 0), ("sub/Python/3.10.1", 0), ("python", 0)]
    assert pythons.module_pythons(available, NAMES) == [M("Python/3.12", "3.12", True),
                                                         M("Python/v3.11.2-foss", "3.11.2", False)]
    assert pythons.module_pythons([("sub/Python/3.10.1", 0)], ["sub/Python"]) == [
        M("sub/Python/3.10.1", "3.10.1", False)]


def test_a_version_key_is_the_first_three_numbers():
    assert pythons.version_key("3.12.1.4-GCC-13.2") == (3, 12, 1)
    assert pythons.version_key("3.12") == (3, 12)


def test_the_sites_default_is_explained_and_wins_a_tie_of_versions():
    modules = [M("python/3.12.1", "3.12.1", False), M("Python/3.12.1", "3.12.1", True)]
    best, why, same = pythons.choose(modules, "3.12", NAMES)
    assert best == modules[1] and same == [modules[0]]
    assert why == ("the default version, what 'module load Python' loads; python/3.12.1 gives the same version, "
                   "Python/3.12.1 is the default")


def test_two_defaults_of_one_version_are_told_apart_by_the_names_order():
    modules = [M("Python/3.12.1", "3.12.1", True), M("python/3.12.1", "3.12.1", True)]
    best, why, same = pythons.choose(modules, "3.12.1", NAMES)
    assert best == modules[1] and same == [modules[0]]
    assert why == ("the default version, what 'module load python' loads; Python/3.12.1 gives the same version, "
                   "python/3.12.1 comes first in python_modules")


def test_several_modules_of_the_same_version_give_it():
    modules = [M("Python/3.12", "3.12", False), M("cpython/3.12.1", "3.12.1", False), M("python/3.12", "3.12", False),
               M("Python/3.12.0", "3.12.0", False)]
    best, why, same = pythons.choose(modules, "3.12", ["python", "Python", "cpython"])
    assert best == modules[1] and same == [modules[2], modules[0]]  # 3.12.0 is another version
    assert why == ("the newest module of Python 3.12; python/3.12, Python/3.12 give the same version, "
                   "cpython/3.12.1 names the full version 3.12.1")


def test_between_modules_of_one_family_and_version_the_name_decides():
    modules = [M("Python/3.12.1-b", "3.12.1", False), M("Python/3.12.1-a", "3.12.1", False)]
    best, why, same = pythons.choose(modules, "3.12", NAMES)
    assert best == modules[1] and same == [modules[0]]


def test_a_categorized_module_name_is_ranked_and_named_by_its_whole_family():
    modules = [M("lang/Python/3.12.1", "3.12.1", False), M("lang/python/3.12.1", "3.12.1", False)]
    assert pythons.choose(modules, "3.12", ["lang/python", "lang/Python"])[0] == modules[1]
    best, why, _ = pythons.choose([M("lang/Python/3.12.1", "3.12.1", True)], "3.12", ["lang/Python"])
    assert why == "the default version, what 'module load lang/Python' loads"


# --- what 'pyenvmod pythons' lists ------------------------------------------------------------------

CONFIG = {"python_modules": ["Python", "python"], "python_from": "path", "module_owners": []}


def mine(found):
    return [tuple(f) for f in found if f.source != "system"]


def test_the_inventory_finds_folders_with_pattern_characters_and_only_python3_minor_names(home, monkeypatch):
    odd = home / "odd[1]*"
    fake(odd, "python3.12", answer(executable=str(odd / "python3.12")))
    fake(odd, "python3.12-config", answer())
    fake(odd, "python3.x", answer())
    monkeypatch.setenv("PATH", str(odd))
    assert mine(pythons.inventory(CONFIG)) == [("3.12.7", "PATH", str(odd / "python3.12"), False)]


def test_the_inventory_lists_an_interpreter_behind_shims_once(home, monkeypatch):
    for folder in ("shims", "shims2"):
        fake(home / folder, "python3.12", f'exec {PY312} "$@"')
    pyenv = home / "pyenv"
    (pyenv / "versions" / "3.12.1" / "bin").mkdir(parents=True)
    (pyenv / "versions" / "3.12.1" / "bin" / "python3.12").symlink_to(PY312)
    monkeypatch.setenv("PATH", f"{home / 'shims'}:{home / 'shims2'}")
    assert mine(pythons.inventory(CONFIG)) == [("3.12.1", "PATH", str(home / "shims" / "python3.12"), False)]
    monkeypatch.setenv("PYENV_ROOT", str(pyenv))  # the interpreter itself is listed, not its shims
    assert mine(pythons.inventory(CONFIG)) == [("3.12.1", "pyenv", str(pyenv / "versions/3.12.1/bin/python3.12"),
                                                    False)]


def test_the_inventory_looks_in_pyenvs_and_uvs_default_folders_and_without_path(home, monkeypatch):
    monkeypatch.delenv("PYENV_ROOT")
    monkeypatch.delenv("UV_PYTHON_INSTALL_DIR")
    pyenv = home / "home" / ".pyenv" / "versions" / "3.13.0" / "bin"
    fake(pyenv, "python3.13", answer(version="3.13.0", executable=str(pyenv / "python3.13")))
    uv = home / "home" / ".local" / "share" / "uv" / "python" / "cpython-3.10.4-linux" / "bin"
    fake(uv, "python3.10", answer(version="3.10.4", executable=str(uv / "python3.10")))
    monkeypatch.delenv("PATH")
    assert mine(pythons.inventory(CONFIG)) == [("3.10.4", "uv", str(uv / "python3.10"), False),
                                               ("3.13.0", "pyenv", str(pyenv / "python3.13"), False)]
    assert [f.source for f in pythons.inventory(CONFIG) if f.source == "system"] == ["system"]


def test_the_inventory_finds_a_version_that_only_uvs_folder_has(home, monkeypatch):
    uv = home / "no-uv" / "cpython-3.14.1-linux" / "bin"
    fake(uv, "python3.14", answer(version="3.14.1", executable=str(uv / "python3.14")))
    assert mine(pythons.inventory(CONFIG)) == [("3.14.1", "uv", str(uv / "python3.14"), False)]


def test_the_inventory_asks_an_interpreter_by_the_name_it_was_found_under(home):
    dispatch = home / "tools" / "dispatch"  # one program for several names, as some installers make
    fake(dispatch.parent, "dispatch", 'case "$0" in *python3.12) ' + answer(executable="/opt/py/bin/python3.12") +
         ";; *) exit 1;; esac")
    (home / "bin" / "python3.12").symlink_to(dispatch)
    assert mine(pythons.inventory(CONFIG)) == [("3.12.7", "PATH", str(home / "bin" / "python3.12"), False)]


def test_the_inventory_leaves_out_a_file_whose_version_is_not_its_name(home):
    fake(home / "bin", "python3.13", answer(version="3.12.7"))
    fake(home / "bin", "python3.14", "exit 1")
    assert mine(pythons.inventory(CONFIG)) == []


def test_what_exists_groups_the_versions_by_source(home, monkeypatch):
    fake(home / "bin", "python3.12", answer(executable=str(home / "bin" / "python3.12")))
    fake(home / "bin", "python3.13", answer(version="3.13.1", executable=str(home / "bin" / "python3.13")))
    system = pythons.probe(SYSTEM).version
    assert pythons._what_exists(CONFIG) == (f"there are system: {system}; PATH: 3.12.7, 3.13.1 "
                                            "(pyenvmod pythons lists them)")


# --- a Python module loaded for a version, with a real Lmod -----------------------------------------

@pytest.fixture
def lmod(home, monkeypatch):
    tree = home / "modulefiles"
    (tree / "Python").mkdir(parents=True)
    with lmod_in_process(monkeypatch, tree):
        yield tree


def module(tree, name, *folders, text=""):
    (tree / f"{name}.lua").write_text("".join(f'prepend_path("PATH", "{f}")\n' for f in folders) + text)


FROM_MODULES = dict(CONFIG, python_from="modules")


def test_a_loaded_module_puts_its_own_folder_first_and_the_most_precise_name_first(lmod, home, monkeypatch):
    for name in ("python3.12", "python3", "python"):
        fake(home / "mod", name, answer(version="3.12.1", executable=f"/mod/{name}"))
    fake(home / "bin", "python3.12", answer(version="3.12.1", executable="/path/python3.12"))
    fake(home / "bin", "python3", answer(version="3.12.1", executable="/path/python3"))
    module(lmod, "Python/3.12.1", home / "mod")
    told = []
    assert pythons.locate("3.12", FROM_MODULES, told.append) == (pythons.PythonInfo("/mod/python3.12", "3.12.1"),
                                                                 "Python/3.12.1")
    assert told == ["loading the Python module Python/3.12.1 with Lmod for Python 3.12"]


def test_a_loaded_module_may_bring_its_python_under_a_shorter_name(lmod, home):
    fake(home / "mod", "python3", answer(version="3.11.1", executable="/mod/python3-of-3.11"))
    fake(home / "mod", "python", answer(version="3.12.1", executable="/mod/python"))
    module(lmod, "Python/3.12.1", home / "mod")
    assert pythons.locate("3.12", FROM_MODULES)[0].executable == "/mod/python"


def test_a_module_already_on_path_is_still_looked_for_there(lmod, home, monkeypatch):
    fake(home / "mod", "python3.12", answer(version="3.12.1", executable="/mod/python3.12"))
    monkeypatch.setenv("PATH", f"{home / 'mod'}:{home / 'bin'}")
    module(lmod, "Python/3.12.1", home / "mod")
    assert pythons.locate("3.12", FROM_MODULES)[0].executable == "/mod/python3.12"


def test_a_long_load_error_is_cut(lmod):
    module(lmod, "Python/3.12.1", text=f'LmodError("{"x" * 400}")\n')
    with pytest.raises(PyenvmodError) as caught:
        pythons.locate("3.12", FROM_MODULES)
    said = caught.value.message.split("with Lmod: ", 1)[1].split("; nothing was created", 1)[0]
    assert len(said) == 300 and "xxxx" in said


def test_the_modules_are_asked_once_per_modulepath(lmod, home, monkeypatch):
    module(lmod, "Python/3.12.1")
    assert [m.module for m in pythons._available_modules(CONFIG)] == ["Python/3.12.1"]
    module(lmod, "Python/3.13.1")
    assert [m.module for m in pythons._available_modules(CONFIG)] == ["Python/3.12.1"]  # asked once
    other = home / "other"
    (other / "python").mkdir(parents=True)
    module(other, "python/3.10.2")
    monkeypatch.setenv("MODULEPATH", str(other))
    assert [m.module for m in pythons._available_modules(CONFIG)] == ["python/3.10.2"]


def test_a_version_found_nowhere_names_the_modules_too(lmod, home):
    module(lmod, "Python/3.12.1")
    fake(home / "bin", "python3.13", answer(version="3.13.1", executable=str(home / "bin" / "python3.13")))
    system = pythons.probe(SYSTEM).version
    with pytest.raises(PyenvmodError) as caught:
        pythons.locate("3.9", CONFIG)
    assert caught.value.message == (f"no Python 3.9 found; there are system: {system}; PATH: 3.13.1; module: "
                                    f"Python/3.12.1 (pyenvmod pythons lists them); {HOW}")


def test_modules_preferred_but_none_of_the_version_the_interpreter_outside_is_taken(lmod):
    module(lmod, "Python/3.12.1")
    assert pythons.locate("3.11", FROM_MODULES) == (pythons.probe(SYSTEM), None)
    assert "LOADEDMODULES" not in os.environ


def test_a_module_system_that_cannot_run_has_no_python_modules(lmod, home, monkeypatch):
    module(lmod, "Python/3.12.1")
    (home / "lmod").write_text("not a program\n")  # a file, but it cannot run
    monkeypatch.setenv("LMOD_CMD", str(home / "lmod"))
    assert pythons._available_modules(CONFIG) == []


def test_resolve_tells_what_it_loads(lmod, home):
    fake(home / "mod", "python3.12", answer(version="3.12.1", executable="/mod/python3.12"))
    module(lmod, "Python/3.12.1", home / "mod")
    told = []
    assert pythons.resolve("3.12", FROM_MODULES, told.append) == pythons.PythonInfo("/mod/python3.12", "3.12.1")
    assert told == ["loading the Python module Python/3.12.1 with Lmod for Python 3.12"]


def test_pick_takes_the_sites_default_module_over_a_newer_one():
    found = [pythons.Found("3.12.1", "module", "Python/3.12.1", True),
             pythons.Found("3.12.3", "module", "Python/3.12.3", False)]
    assert pythons.pick(FROM_MODULES, "3.12", found) == (
        found[0], "python_from: modules; the default version, what 'module load Python' loads")


def test_the_inventory_marks_the_sites_default_module(lmod):
    module(lmod, "Python/3.12.1")
    module(lmod, "Python/3.13.1")
    assert sorted(tuple(f) for f in pythons.inventory(CONFIG) if f.source == "module") == [
        ("3.12.1", "module", "Python/3.12.1", False), ("3.13.1", "module", "Python/3.13.1", True)]


def test_a_module_tree_of_another_account_counts_only_when_the_site_names_it(lmod, home):
    require(os.geteuid() == 0, "root (a module tree is given to another account)", "run the tests as root, as CI does")
    import pwd

    module(lmod, "Python/3.12.1")
    nobody = pwd.getpwnam("nobody").pw_uid
    for path in (lmod, lmod / "Python", lmod / "Python" / "3.12.1.lua"):
        os.chown(path, nobody, nobody)
    assert pythons._available_modules(CONFIG) == []  # a tree someone else could change: not run
    pythons._AVAILABLE.clear()
    assert [m.module for m in pythons._available_modules(dict(CONFIG, module_owners=["nobody"]))] == ["Python/3.12.1"]


def test_a_module_that_appends_its_folder_still_has_its_python_taken_first(lmod, home, monkeypatch):
    fake(home / "mod", "python3.12", answer(version="3.12.1", executable="/mod/python3.12"))
    fake(home / "bin", "python3.12", answer(version="3.12.1", executable="/path/python3.12"))
    monkeypatch.setenv("PATH", f"{home / 'bin'}:/usr/bin")
    (lmod / "Python" / "3.12.1.lua").write_text(f'append_path("PATH", "{home / "mod"}")\n')
    assert pythons.locate("3.12", FROM_MODULES)[0].executable == "/mod/python3.12"


def test_a_module_loaded_without_path(lmod, home, monkeypatch):
    fake(home / "mod", "python3.12", answer(version="3.12.1", executable="/mod/python3.12"))
    module(lmod, "Python/3.12.1", home / "mod")
    module(lmod, "Python/3.12.2")
    monkeypatch.delenv("PATH")
    assert pythons.locate("3.12.1", FROM_MODULES)[0].executable == "/mod/python3.12"
    os.environ.pop("PATH", None)
    with pytest.raises(PyenvmodError) as caught:
        pythons.locate("3.12.2", FROM_MODULES)
    assert caught.value.message == ("the module Python/3.12.2 loaded, but no Python 3.12.2 came with it on PATH; "
                                    "ask your site's staff, or pass --python with a path")
