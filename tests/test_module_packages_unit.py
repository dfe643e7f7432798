"""Packages that recorded modules put on PYTHONPATH (packages/module_packages.py), asked of a real
Lmod and a real Environment Modules (``module show`` of modulefiles in a private folder, one call
each), read from real dist-info folders: in-process."""

import os
import shutil

import pytest

from modsys import EnvironmentModules, Lmod
from test_guards_installed import dist

from pyenvmod.errors import PyenvmodError
from pyenvmod.modules import stacking
from pyenvmod.packages import module_packages

PY = "3.12.1"
Provided = module_packages.Provided


def module(tree, name, system, *paths, how="prepend"):
    folder = tree / name.rsplit("/", 1)[0]
    folder.mkdir(parents=True, exist_ok=True)
    version = name.rsplit("/", 1)[1]
    if system == "lmod":
        lines = [f'{how}_path("PYTHONPATH", "{p}")' for p in paths] + ['setenv("SOME_VAR", "x")']
        path = folder / f"{version}.lua"
    else:
        lines = ["#%Module1.0", *(f"{how}-path PYTHONPATH {p}" for p in paths), "setenv SOME_VAR x"]
        path = folder / version
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(params=["lmod", "envmodules"])
def site(request, tmp_path, monkeypatch):
    """A module tree: SciPy-bundle (numpy 1.26.4, scipy), newer-numpy (numpy 2.0.0), plain (nothing)."""
    system = request.param
    for var in ("LMOD_CMD", "MODULES_CMD", "LOADEDMODULES", "_LMFILES_"):
        monkeypatch.delenv(var, raising=False)
    if system == "lmod":
        Lmod().require()
        monkeypatch.setenv("LMOD_CMD", Lmod.modulecmd())
    else:
        EnvironmentModules().require()
        monkeypatch.setenv("MODULES_CMD", EnvironmentModules.modulecmd())
    tree = tmp_path / "modulefiles"
    bundle, newer = tmp_path / "sb" / "site-packages", tmp_path / "nn" / "site-packages"
    dist(bundle, "numpy", "1.26.4")
    dist(bundle, "SciPy", "1.11.1", "numpy<2")
    dist(newer, "numpy", "2.0.0")
    module(tree, "SciPy-bundle/2023.07", system, bundle)
    module(tree, "newer-numpy/1", system, newer, how="append")
    module(tree, "plain/1", system)
    monkeypatch.setenv("MODULEPATH", str(tree))
    module_packages._SHOWN.clear()
    yield {"system": system, "tree": tree, "bundle": str(bundle), "newer": str(newer)}
    module_packages._SHOWN.clear()


def test_what_the_recorded_modules_put_on_pythonpath(site):
    found = module_packages.provided(["SciPy-bundle/2023.07", "plain/1"])
    assert found == [Provided("scipy", "SciPy", "1.11.1", "SciPy-bundle/2023.07", site["bundle"]),
                     Provided("numpy", "numpy", "1.26.4", "SciPy-bundle/2023.07", site["bundle"])]
    assert module_packages.provided([]) == []


def test_a_pythonpath_folder_that_cannot_be_looked_into_provides_nothing_and_the_rest_is_read(site, tmp_path):
    """A module's folder whose name is longer than the system allows (or one below a folder you may not
    enter) holds nothing importable, as Python's import passes over such an entry: not an error."""
    too_long = f"{tmp_path}/{'n' * 300}"
    module(site["tree"], "long/1", site["system"], too_long, site["newer"])
    found = module_packages.provided(["SciPy-bundle/2023.07", "long/1"])
    assert [(p.key, p.version, p.module) for p in found] == [("numpy", "2.0.0", "long/1"),
                                                            ("scipy", "1.11.1", "SciPy-bundle/2023.07")]
    from pyenvmod.packages import dependency_check

    assert dependency_check.problems(tmp_path / "no-env", "3.12.1", [too_long, site["bundle"]]) == []


def test_a_module_loaded_later_comes_first_on_sys_path(site):
    found = {p.key: p for p in module_packages.provided(["SciPy-bundle/2023.07", "newer-numpy/1"])}
    assert (found["numpy"].version, found["numpy"].module) == ("2.0.0", "newer-numpy/1")
    found = {p.key: p for p in module_packages.provided(["newer-numpy/1", "SciPy-bundle/2023.07"])}
    assert (found["numpy"].version, found["numpy"].module) == ("1.26.4", "SciPy-bundle/2023.07")


def test_a_recorded_name_that_could_be_an_option_is_never_asked(site):
    assert module_packages.provided(["--help", "SciPy-bundle/2023.07 x", "plain/1"]) == []


def test_without_a_module_system_nothing_is_provided(site, monkeypatch):
    monkeypatch.delenv("LMOD_CMD", raising=False)
    monkeypatch.delenv("MODULES_CMD", raising=False)
    assert module_packages.provided(["SciPy-bundle/2023.07"]) == []


def test_the_modulefile_is_found_without_running_it(site):
    from pyenvmod.modules import module_system

    system = module_system.current()
    expected = site["tree"] / "SciPy-bundle" / ("2023.07.lua" if site["system"] == "lmod" else "2023.07")
    assert module_packages.modulefile(system, "SciPy-bundle/2023.07") == str(expected)
    assert module_packages.modulefile(system, "no-such/1") is None


def test_a_modulefile_others_may_write_is_never_shown(site):
    from pyenvmod.modules import module_system

    system = module_system.current()
    path = site["tree"] / "SciPy-bundle" / ("2023.07.lua" if site["system"] == "lmod" else "2023.07")
    os.chmod(path, 0o664)
    assert module_packages.python_paths(system, "SciPy-bundle/2023.07") == []
    os.chmod(path, 0o644)
    module_packages._SHOWN.clear()
    assert module_packages.python_paths(system, "SciPy-bundle/2023.07") == [site["bundle"]]


def test_the_answer_is_kept_per_modulepath_and_module(site, monkeypatch):
    from pyenvmod.modules import module_system

    system = module_system.current()
    assert module_packages.python_paths(system, "SciPy-bundle/2023.07") == [site["bundle"]]
    shutil.rmtree(site["tree"] / "SciPy-bundle")  # asked once per command: the answer stays
    assert module_packages.python_paths(system, "SciPy-bundle/2023.07") == [site["bundle"]]
    assert module_packages.python_paths(system, "newer-numpy/1") == [site["newer"]]
    other = site["tree"].parent / "other-tree"
    module(other, "SciPy-bundle/2023.07", site["system"], "/elsewhere/site-packages")
    monkeypatch.setenv("MODULEPATH", f"{other}:{site['tree']}")
    assert module_packages.python_paths(system, "SciPy-bundle/2023.07") == ["/elsewhere/site-packages"]


def test_the_modulefile_is_shown_with_only_its_own_folder_on_modulepath(site, monkeypatch):
    """A name could find another file when shown with the whole MODULEPATH: one placed earlier in a
    folder written meanwhile."""
    from pyenvmod.modules import module_system

    system = module_system.current()
    early = site["tree"].parent / "early"
    monkeypatch.setenv("MODULEPATH", f"{early}:{site['tree']}")
    assert module_packages.python_paths(system, "SciPy-bundle/2023.07") == [site["bundle"]]


# ---- what the module gives against what the environment needs ---------------------------------------

NUMPY = Provided("numpy", "numpy", "1.26.4", "SciPy-bundle/2023.07", "/opt/sb")


@pytest.fixture
def prefix(tmp_path):
    return tmp_path / "env"


def test_an_installed_package_needing_another_version_than_the_modules_is_refused(prefix):
    site = stacking.site_packages(str(prefix), PY)
    dist(site, "Pandas", "2.2.0", "numpy>=2.0", "pytz", 'numpy<1 ; python_version < "3"')
    with pytest.raises(PyenvmodError) as caught:
        module_packages.check_installed(prefix, PY, [NUMPY])
    assert caught.value.message == (
        "Pandas 2.2.0 needs numpy>=2.0, but the module SciPy-bundle/2023.07 gives numpy 1.26.4, which comes first "
        "on sys.path (PYTHONPATH); ask for a Pandas version that works with it, or make the environment without "
        "SciPy-bundle/2023.07")
    module_packages.check_installed(prefix, PY, [])  # nothing a module provides: nothing to check


def test_installed_packages_the_modules_version_satisfies_pass(prefix):
    site = stacking.site_packages(str(prefix), PY)
    dist(site, "pandas", "2.1.0", "numpy>=1.22", "pytz", 'numpy>=9 ; python_version < "3"', 'numpy>=9 ; extra == "x"')
    module_packages.check_installed(prefix, PY, [NUMPY, Provided("pytz", "pytz", "2024.1", "m/1", "/x")])
    module_packages.check_installed(prefix, PY, [NUMPY._replace(version="not a version")])
    with pytest.raises(PyenvmodError):
        module_packages.check_installed(prefix, "2.7.18", [NUMPY])  # the marker holds for Python 2


def test_installed_packages_a_module_hides(prefix):
    site = stacking.site_packages(str(prefix), PY)
    dist(site, "NumPy", "2.0.0")
    dist(site, "six", "1.16.0")
    ((hidden, by),) = module_packages.shadowed(prefix, [NUMPY])
    assert (hidden.name, hidden.version, by) == ("NumPy", "2.0.0", NUMPY)
    assert module_packages.shadowed(prefix, []) == []


def test_a_requested_version_the_module_does_not_have_is_refused_word_for_word():
    with pytest.raises(PyenvmodError) as caught:
        module_packages.check_requested(["six", "NumPy>=2"], [NUMPY])
    assert caught.value.message == (
        "NumPy>=2 conflicts with numpy 1.26.4 from the module SciPy-bundle/2023.07, which comes first on sys.path "
        "(PYTHONPATH) whenever the environment is loaded; ask for a version it has (numpy==1.26.4), or make the "
        "environment without SciPy-bundle/2023.07")


def test_requests_the_module_cannot_judge_are_left_to_the_installer():
    odd = NUMPY._replace(version="not a version")
    assert module_packages.check_requested(["numpy"], [odd]) == [odd]
    with pytest.raises(PyenvmodError):
        module_packages.check_requested(["numpy==1.0"], [odd])
    assert module_packages.check_requested(["-e ./numpy", "https://x/numpy-1.0-py3-none-any.whl", "numpy[", "./numpy"],
                                           [NUMPY]) == []
    assert module_packages.without(["numpy[", "NumPy>=1", "six"], [NUMPY]) == ["numpy[", "six"]
    assert module_packages.without(["numpy"], []) == ["numpy"]


def test_a_direct_reference_to_a_package_a_module_gives_is_refused_word_for_word():
    """`numpy @ URL` names one build; the module's numpy would hide it (and uv leaves it out), so it is
    refused, not silently taken as satisfied by the module's copy. A package no module gives passes."""
    url = "https://example.org/numpy-2.0.0-cp312-cp312-linux_x86_64.whl"
    with pytest.raises(PyenvmodError) as caught:
        module_packages.check_requested([f"numpy @ {url}"], [NUMPY])
    assert caught.value.message == (
        f"numpy @ {url} asks for one build of numpy, but numpy 1.26.4 from the module SciPy-bundle/2023.07 comes "
        "first on sys.path (PYTHONPATH) whenever the environment is loaded; ask for numpy without a URL to use the "
        "module's, or make the environment without SciPy-bundle/2023.07")
    assert module_packages.check_requested([f"six @ {url}", "numpy"], [NUMPY]) == [NUMPY]


# ---- what `module show` says, read line by line -----------------------------------------------------

def test_every_pythonpath_line_of_a_show_counts_and_relative_entries_are_dropped():
    lua = ('prepend_path("PYTHONPATH","/a/site:/b/site")\nsetenv("X", "/c")\n'
           "append_path('PYTHONPATH', '/d/site')\n")
    assert module_packages.parse_show(lua) == ["/a/site", "/b/site", "/d/site"]
    tcl = ("prepend-path PYTHONPATH /a/site:rel/site\nappend-path --duplicates PYTHONPATH /b/site {/c/my site}\n"
           "setenv PYTHONPATHX /x\n")
    assert module_packages.parse_show(tcl) == ["/a/site", "/b/site", "/c/my site"]


def test_a_tcl_value_with_an_unbalanced_quote_is_split_on_blanks():
    assert module_packages.parse_show('prepend-path PYTHONPATH /a"b:/c /d\n') == ['/a"b', "/c", "/d"]


# ---- which modulefile is shown, and with what -------------------------------------------------------

def _file(site, name="SciPy-bundle/2023.07"):
    return site["tree"] / (name + (".lua" if site["system"] == "lmod" else ""))


def test_a_module_that_is_nowhere_has_no_folders(site):
    from pyenvmod.modules import module_system

    assert module_packages.python_paths(module_system.current(), "no-such/1") == []


def test_without_a_modulepath_nothing_is_shown(site, monkeypatch):
    from pyenvmod.modules import module_system

    monkeypatch.delenv("MODULEPATH")
    assert module_packages.python_paths(module_system.current(), "SciPy-bundle/2023.07") == []


def test_a_modulepath_folder_written_with_a_trailing_slash_still_holds_its_modulefiles(site, monkeypatch, tmp_path):
    from pyenvmod.modules import module_system

    tree = tmp_path / "modules-X"  # a name ending in X: the slash alone is stripped
    module(tree, "SciPy-bundle/2023.07", site["system"], site["bundle"])
    monkeypatch.setenv("MODULEPATH", f"{tree}/")
    assert module_packages.python_paths(module_system.current(), "SciPy-bundle/2023.07") == [site["bundle"]]


def test_a_modulefile_of_a_site_module_owner_is_shown(site):
    """A uid of the site's module_owners counts as root: its modulefile is shown, and only with it."""
    path = _file(site)
    os.chown(path, 4242, 4242)
    assert module_packages.provided(["SciPy-bundle/2023.07"]) == []
    module_packages._SHOWN.clear()
    found = module_packages.provided(["SciPy-bundle/2023.07"], owners=(4242,))
    assert {p.key for p in found} == {"numpy", "scipy"}


def test_a_modulefile_placed_earlier_on_modulepath_after_the_check_is_never_shown(site, monkeypatch):
    """Between finding the checked modulefile and showing it, another user writes one of the same name
    into a folder earlier on MODULEPATH: the show still reads the checked one (MODULEPATH narrowed)."""
    from pyenvmod.modules import module_system

    early = site["tree"].parent / "early"
    monkeypatch.setenv("MODULEPATH", f"{early}:{site['tree']}")
    real = module_packages.modulefile

    def found_then_raced(system, name):
        path = real(system, name)
        module(early, name, site["system"], "/elsewhere/site-packages")  # the other user's move
        return path

    monkeypatch.setattr(module_packages, "modulefile", found_then_raced)
    assert module_packages.python_paths(module_system.current(), "SciPy-bundle/2023.07") == [site["bundle"]]


@pytest.mark.parametrize("name, label", [("lmod", "Lmod module location"), ("envmodules", "module path")])
def test_a_module_command_that_cannot_run_is_named_in_one_line(tmp_path, name, label):
    from pyenvmod.modules import module_system

    missing = str(tmp_path / "no-modulecmd")
    system = module_system.Lmod([missing]) if name == "lmod" else module_system.EnvironmentModules([missing])
    with pytest.raises(PyenvmodError) as caught:
        module_packages.modulefile(system, "SciPy-bundle/2023.07")
    assert caught.value.message == f"cannot run {label} ({missing}): No such file or directory"


def test_a_module_command_that_prints_nothing_finds_no_modulefile(tmp_path):
    from pyenvmod.modules import module_system

    quiet = tmp_path / "lmod"
    quiet.write_text("#!/bin/sh\nexit 0\n")
    quiet.chmod(0o755)
    assert module_packages.modulefile(module_system.Lmod([str(quiet)]), "SciPy-bundle/2023.07") is None


def test_the_module_system_is_the_one_of_the_environment_given(site, monkeypatch):
    var = "LMOD_CMD" if site["system"] == "lmod" else "MODULES_CMD"
    environ = {var: os.environ[var]}
    monkeypatch.delenv(var)
    assert module_packages.provided(["SciPy-bundle/2023.07"]) == []
    assert {p.key for p in module_packages.provided(["SciPy-bundle/2023.07"], environ=environ)} == {"numpy", "scipy"}


def test_a_recorded_name_that_could_be_an_option_is_passed_over_and_the_rest_asked(site):
    found = module_packages.provided(["SciPy-bundle/2023.07", "--help", "plain/1"])
    assert {p.key for p in found} == {"numpy", "scipy"}


# ---- versions: pre-releases, markers for the environment's Python, skipped specs -------------------

def test_a_module_pre_release_satisfies_a_plain_requirement():
    rc = NUMPY._replace(version="2.1.0rc1")
    assert module_packages.check_requested(["numpy>=2"], [rc]) == [rc]


def test_specs_the_module_check_passes_over_do_not_stop_it():
    with pytest.raises(PyenvmodError):
        module_packages.check_requested(["-e ./mine", "numpy[", "numpy>=2"], [NUMPY])


def test_markers_of_installed_packages_are_judged_for_the_environments_python(prefix):
    site = stacking.site_packages(str(prefix), "3.9.7")
    dist(site, "app", "1.0", 'numpy>=2 ; python_full_version == "3.9.7"')
    with pytest.raises(PyenvmodError):
        module_packages.check_installed(prefix, "3.9.7", [NUMPY])
    other = stacking.site_packages(str(prefix.parent / "env2"), "3.9.7")
    dist(other, "app", "1.0", 'numpy>=2 ; python_version == "3.9"')
    with pytest.raises(PyenvmodError):
        module_packages.check_installed(prefix.parent / "env2", "3.9.7", [NUMPY])
