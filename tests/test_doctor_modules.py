"""The doctor's comparison of a loaded environment's recorded module files with the loaded ones
(operations/doctor/loaded_builds.py), in-process on real files; the same check runs after a real swap in
test_swap_real.py."""

from pyenvmod.records import metadata
from pyenvmod.operations.doctor import loaded_builds as doctor_modules


def record(modules, files):
    return metadata.EnvRecord(name="x", prefix="/p/x", python="3.12.1", base_python="/usr/bin/python3",
                              backend="uv", module="pyenv/x/py3.12", created="", owner="me", platform="p",
                              modules=modules, module_files=files)


def test_loaded_modules_pairs_names_and_files():
    environ = {"LOADEDMODULES": "gcc/12:openmpi/4", "_LMFILES_": "/h/gcc/12:/h/b/openmpi/4"}
    assert doctor_modules.loaded_modules(environ) == [("gcc/12", "/h/gcc/12"), ("openmpi/4", "/h/b/openmpi/4")]
    assert doctor_modules.loaded_modules({}) == []


def test_mismatches(tmp_path):
    real = tmp_path / "real" / "4.lua"
    real.parent.mkdir()
    real.write_text("")
    link = tmp_path / "link"
    link.symlink_to(real.parent)
    r = record(["gcc/12", "openmpi/4", "extra/1.0"], ["/h/Core/gcc/12.lua", str(real), ""])
    as_built = [("gcc/12", "/h/Core/gcc/12.lua"), ("openmpi/4", str(link / "4.lua")), ("other/2", "/h/o")]
    assert doctor_modules.mismatches(r, as_built) == [], "the same file through a link; extra/1.0 has no file"
    swapped = [("gcc/13", "/h/Core/gcc/13.lua"), ("openmpi/4", "/h/gcc/13/openmpi/4.lua")]
    assert doctor_modules.mismatches(r, swapped) == [
        ("gcc/12", "/h/Core/gcc/12.lua", "gcc/13", "/h/Core/gcc/13.lua"),
        ("openmpi/4", str(real), "openmpi/4", "/h/gcc/13/openmpi/4.lua")]
    assert doctor_modules.mismatches(r, [("gcc/12", "/h/Core/gcc/12.lua")]) == [("openmpi/4", str(real), None, None)]
    unversioned = record(["StdEnv"], ["/h/StdEnv.lua"])
    assert doctor_modules.mismatches(unversioned, [("gcc/12", "/x"), ("StdEnv", "/h/StdEnv.lua")]) == []
    assert doctor_modules.mismatches(unversioned, [("Other", "/h/Other.lua")]) == [("StdEnv", "/h/StdEnv.lua", None, None)]


def test_older_records_without_files_are_not_checked():
    old = record(["gcc/12"], [])
    assert doctor_modules.mismatches(old, [("gcc/13", "/h/gcc/13")]) == []


def test_toolchain_check_looks_at_the_named_or_the_loaded_environments_only(tmp_path):
    """A compiler loaded for other work says nothing about an environment that is not in use."""
    from pyenvmod.records.layout import Layout
    from pyenvmod.operations import doctor, listing
    from pyenvmod.operations.doctor import toolchain as doctor_shadow

    layout = Layout(tmp_path / "root", "x86_64-t")
    r = record(["gcc/12", "python/3.11"], ["/h/gcc/12.lua", "/h/python.lua"])
    entries = [listing.Entry("x", r, [], "ok")]
    swapped = {"LOADEDMODULES": "gcc/13", "_LMFILES_": "/h/gcc/13.lua"}
    loaded = {"LOADEDMODULES": "gcc/13:pyenv/x/py3.12",
              "_LMFILES_": f"/h/gcc/13.lua:{layout.modules_dir / 'pyenv' / 'x' / 'py3.12.lua'}"}
    config = {"python_modules": ["python", "Python", "cpython"]}

    def found(environ, name=None):
        ctx = doctor.Context(config, layout, tmp_path, environ, name, entries)
        return [f.message for f in doctor_shadow.check(ctx)]

    assert found(swapped) == [], "x is not loaded"
    (named,) = found(swapped, "x")
    assert "x: gcc/13 is loaded, but its Python was built with gcc/12" in named
    assert found(loaded) == [named]
    assert found({"LOADEDMODULES": "gcc/12:pyenv/x/py3.12", "_LMFILES_": loaded["_LMFILES_"]}) == []
    entries[0] = listing.Entry("x", record(["gcc/12", "openmpi/4"], ["/h/gcc/12.lua", "/h/openmpi/4.lua"]), [], "ok")
    assert found(loaded, "x") == [], "its Python is no module's: the built-with check covers its compilers"
