"""Python from the site's module system, in-process: the module systems' listings (real output,
captured from Lmod 8.6 and Environment Modules 5.2 on a tree like tests/sitepython.py makes), the
Python modules among them, and which one --python VERSION takes."""

from pathlib import Path

import pytest

from pyenvmod import config as config_mod
from pyenvmod.backends import pythons
from pyenvmod.modules import module_system
from pyenvmod.errors import PyenvmodError

DATA = Path(__file__).parent / "data" / "module-listings"
NAMES = ["python", "Python", "cpython"]


def listing(name):
    return (DATA / name).read_text()


def test_lmod_spider_lists_modules_without_headers_or_bare_names():
    assert module_system.parse_terse(listing("lmod-spider-t.txt")) == [
        "GCCcore/13.2.0", "Python/3.12.1", "Python/3.13.0-GCCcore-13.2.0", "SciPy-bundle/2023.07", "python/3.12"]


def test_lmod_default_listing_gives_one_version_per_name():
    defaults = module_system.parse_terse(listing("lmod-avail-t-d.txt"))
    assert "Python/3.12.1" in defaults and "Python/3.13.0-GCCcore-13.2.0" not in defaults
    assert not [m for m in defaults if m.startswith("/")]


def test_environment_modules_json_and_terse_agree():
    from_json = module_system.parse_avail_json(listing("envmodules-avail-json.txt"))
    from_terse = module_system.parse_avail_terse(listing("envmodules-avail-t.txt"))
    assert sorted(from_json) == sorted(from_terse) == [
        ("GCCcore/13.2.0", False), ("Python/3.12.1", True), ("Python/3.13.0-GCCcore-13.2.0", False)]


@pytest.mark.parametrize("text", ["", "ERROR: Invalid option '--json'", "[1, 2]"])
def test_environment_modules_json_that_is_not_a_listing(text):
    assert module_system.parse_avail_json(text) is None


def test_python_modules_are_the_named_families_with_python3_versions():
    available = [("Python/3.11.5-GCCcore-13.2.0", False), ("python/3.12", True), ("cpython/v3.10.4", False),
                 ("Python/2.7.18", False), ("PyTorch/2.1", False), ("py-numpy/1.26", False), ("Python/devel", False)]
    found = pythons.module_pythons(available, NAMES)
    assert found == [pythons.ModulePython("Python/3.11.5-GCCcore-13.2.0", "3.11.5", False),
                     pythons.ModulePython("python/3.12", "3.12", True),
                     pythons.ModulePython("cpython/v3.10.4", "3.10.4", False)]
    assert pythons.module_pythons(available, ["python"]) == [pythons.ModulePython("python/3.12", "3.12", True)]


M = pythons.ModulePython


def test_the_newest_matching_module_is_taken():
    modules = [M("Python/3.11.3", "3.11.3", False), M("Python/3.11.5-GCCcore-13.2.0", "3.11.5", False),
               M("Python/3.12.1", "3.12.1", False)]
    best, why, same = pythons.choose(modules, "3.11", NAMES)
    assert best.module == "Python/3.11.5-GCCcore-13.2.0" and "newest" in why and same == []
    assert pythons.choose(modules, "3.11.3", NAMES)[0].module == "Python/3.11.3"
    assert pythons.choose(modules, "3.9", NAMES) == (None, "", [])


def test_the_sites_default_version_wins_over_a_newer_one():
    modules = [M("Python/3.11.3", "3.11.3", True), M("Python/3.11.5", "3.11.5", False)]
    best, why, _ = pythons.choose(modules, "3.11", NAMES)
    assert best.module == "Python/3.11.3" and "module load Python" in why
    # a default of another minor version does not count for 3.12
    assert pythons.choose([*modules, M("Python/3.12.1", "3.12.1", False)], "3.12", NAMES)[0].module == "Python/3.12.1"


def test_two_modules_of_the_same_version_the_choice_is_explained():
    modules = [M("Python/3.12.1", "3.12.1", False), M("python/3.12.1", "3.12.1", False)]
    best, why, same = pythons.choose(modules, "3.12", NAMES)
    assert best.module == "python/3.12.1", "python comes first in python_modules"
    assert same == [M("Python/3.12.1", "3.12.1", False)]
    assert "Python/3.12.1 gives the same version" in why and "first in python_modules" in why
    assert pythons.choose(modules, "3.12", ["Python", "python"])[0].module == "Python/3.12.1"


def _config(**values):
    config = config_mod.Config({k: v[0] for k, v in config_mod.SCHEMA.items()})
    for key, value in values.items():
        config.set(key, value, "test")
    return config


FOUND = [pythons.Found("3.12.1", "PATH", "/usr/bin/python3.12"),
         pythons.Found("3.12.3", "module", "Python/3.12.3", True),
         pythons.Found("3.13.0", "module", "Python/3.13.0", False)]


def test_pick_prefers_an_interpreter_outside_modules_unless_the_site_prefers_modules():
    chosen, why = pythons.pick(_config(), "3.12", FOUND)
    assert chosen.where == "/usr/bin/python3.12" and why == "first on PATH"
    chosen, why = pythons.pick(_config(python_from="modules"), "3.12", FOUND)
    assert chosen.where == "Python/3.12.3" and why.startswith("python_from: modules")
    chosen, why = pythons.pick(_config(), "3.13", FOUND)
    assert chosen.where == "Python/3.13.0" and why.startswith("none outside the module system")
    assert pythons.pick(_config(), "3.10", FOUND) == (None, "")


@pytest.mark.parametrize("key, value", [("python_from", "conda"), ("python_modules", "python"),
                                        ("python_modules", ["Python/3.12"])])
def test_bad_settings_are_refused(key, value):
    with pytest.raises(PyenvmodError) as exc:
        _config(**{key: value})
    assert key in exc.value.message


def test_without_a_module_system_there_are_no_python_modules(monkeypatch):
    monkeypatch.delenv("LMOD_CMD", raising=False)
    monkeypatch.delenv("MODULES_CMD", raising=False)
    assert pythons._available_modules(_config()) == []


def test_a_module_naming_its_micro_version_comes_before_one_that_does_not():
    modules = [M("python/3.13", "3.13", False), M("Python/3.13.0-GCCcore-13.2.0", "3.13.0", False)]
    best, why, same = pythons.choose(modules, "3.13", NAMES)
    assert best.module == "Python/3.13.0-GCCcore-13.2.0" and same == [modules[0]]
    assert "python/3.13 gives the same version, Python/3.13.0-GCCcore-13.2.0 names the full version 3.13.0" in why


# --- packages modules put on PYTHONPATH (module_packages.py) and the toolchain (operations/doctor/toolchain.py) ---

from pyenvmod.packages import module_packages  # noqa: E402
from pyenvmod.operations.doctor import toolchain as doctor_shadow  # noqa: E402


def test_pythonpath_folders_from_real_show_output():
    assert module_packages.parse_show(listing("lmod-show.txt")) == ["/opt/scipy-bundle/lib/python3.13/site-packages"]
    assert module_packages.parse_show(listing("envmodules-show.txt")) == [
        "/opt/scipy-bundle/lib/python3.13/site-packages", "/opt/with space"]
    assert module_packages.parse_show('prepend_path("PYTHONPATH","/a:/b")\nprepend_path("PATH","/c")') == ["/a", "/b"]


P = module_packages.Provided("numpy", "numpy", "1.26.4", "SciPy-bundle/2023.07", "/opt/sb")


@pytest.mark.parametrize("spec", ["numpy", "numpy>=1.20", "NumPy==1.26.4", "numpy~=1.26"])
def test_a_request_the_module_satisfies_is_not_installed_again(spec):
    assert module_packages.check_requested([spec, "six"], [P]) == [P]
    assert module_packages.without([spec, "six"], [P]) == ["six"]


@pytest.mark.parametrize("spec", ["numpy==2.1", "numpy>=2", "numpy<1.26"])
def test_a_request_the_module_does_not_satisfy_is_refused_naming_the_module(spec):
    with pytest.raises(PyenvmodError) as exc:
        module_packages.check_requested([spec], [P])
    assert "SciPy-bundle/2023.07" in exc.value.message and "numpy 1.26.4" in exc.value.message
    assert "\n" not in exc.value.message


def test_requests_without_module_packages_pass_untouched():
    assert module_packages.check_requested(["numpy==2.1"], []) == []
    assert module_packages.check_requested(["./mypkg", "scipy"], [P]) == []


def _installed(tmp_path, requires: str) -> Path:
    """A prefix whose site-packages holds one distribution, 'tool', requiring ``requires``."""
    info = tmp_path / "lib" / "python3.12" / "site-packages" / "tool-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: tool\nVersion: 1.0\nRequires-Dist: {requires}\n")
    return tmp_path


def test_an_installed_package_needing_a_version_the_module_lacks_is_refused_naming_both(tmp_path):
    prefix = _installed(tmp_path, "numpy>=2")
    with pytest.raises(PyenvmodError) as exc:
        module_packages.check_installed(prefix, "3.12.1", [P])
    assert exc.value.message.startswith("tool 1.0 needs numpy>=2, but the module SciPy-bundle/2023.07 gives numpy 1.26.4")
    assert module_packages.check_installed(_installed(tmp_path / "ok", "numpy>=1.20"), "3.12.1", [P]) is None


# a module's own version numbering, which packaging cannot read
ODD = module_packages.Provided("numpy", "numpy", "site-1.26", "SciPy-bundle/site", "/opt/sb")


def test_a_version_packaging_cannot_read_satisfies_only_a_bare_request():
    assert module_packages.check_requested(["numpy"], [ODD]) == [ODD]
    with pytest.raises(PyenvmodError) as exc:
        module_packages.check_requested(["numpy>=1.20"], [ODD])
    assert "numpy site-1.26 from the module SciPy-bundle/site" in exc.value.message


def test_a_version_packaging_cannot_read_never_refuses_what_an_installed_package_needs(tmp_path):
    # the same requirement a request is refused for: a dependency that cannot be checked is let through
    assert module_packages.check_installed(_installed(tmp_path, "numpy>=1.20"), "3.12.1", [ODD]) is None


def test_toolchain_from_an_easybuild_suffix_or_a_recorded_compiler():
    names = ["python", "Python"]
    assert doctor_shadow.toolchain(["GCCcore/13.2.0", "Python/3.11.5-GCCcore-13.2.0"], names) == {
        "gcc": "GCCcore/13.2.0"}
    assert doctor_shadow.toolchain(["Python/3.11.5-GCCcore-13.2.0"], names) == {"gcc": "GCCcore/13.2.0"}
    assert doctor_shadow.toolchain(["gcc/13.2", "mpich/4.0", "python/3.12"], names) == {"gcc": "gcc/13.2"}
    assert doctor_shadow.toolchain(["mpich/4.0"], names) == {}

