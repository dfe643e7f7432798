"""The dependency check's sites and judgements (packages/dependency_check.py) beyond
tests/test_dependency_check.py: base hooks with odd bytes, odd folder names, several bases and bad
lines; folders the recorded modules put first; markers for the environment's Python; pre-releases
and versions packaging cannot read. In-process on real dist-info folders."""

from pathlib import Path

from test_dependency_check import dist

from pyenvmod.modules import stacking
from pyenvmod.packages import dependency_check

PY = "3.12.1"


def site_of(prefix, python=PY) -> Path:
    site = stacking.site_packages(str(prefix), python)
    site.mkdir(parents=True, exist_ok=True)
    return site


def hook(site, *lines, raw=b""):
    (site / stacking.BASE_HOOK).write_bytes("\n".join(lines).encode() + b"\n" + raw)


def test_every_base_a_hook_names_is_followed_past_a_base_without_a_hook(tmp_path):
    env, one, two, three = (site_of(tmp_path / n) for n in ("env", "one", "two", "three"))
    hook(env, f"import site; site.addsitedir({str(one)!r})", f"import site; site.addsitedir({str(two)!r})")
    hook(two, f"import site; site.addsitedir({str(three)!r})")
    assert dependency_check.sites(tmp_path / "env", PY) == [env, one, two, three]


def test_a_bad_line_of_a_hook_is_passed_over_and_the_next_one_read(tmp_path):
    env, one = site_of(tmp_path / "env"), site_of(tmp_path / "one")
    hook(env, "import site; site.addsitedir(not a literal)", f"import site; site.addsitedir({str(one)!r})",
         raw=b"# \xff\xfe not UTF-8\n")
    assert dependency_check.sites(tmp_path / "env", PY) == [env, one]


def test_a_base_folder_whose_name_has_parentheses(tmp_path):
    env, odd = site_of(tmp_path / "env"), site_of(tmp_path / "base (addsitedir(2))")
    hook(env, f"import site; site.addsitedir({str(odd)!r})")
    assert dependency_check.sites(tmp_path / "env", PY) == [env, odd]


def test_a_modules_folder_comes_first_and_counts(tmp_path):
    env = site_of(tmp_path / "env")
    modules = tmp_path / "scipy-bundle"
    dist(env, "app", "1.0", "numpy>=1.26", "six")
    dist(env, "numpy", "1.20.0")
    dist(modules, "numpy", "1.26.4")
    assert dependency_check.problems(tmp_path / "env", PY, [str(modules)]) == [
        "app 1.0 requires six, which is not installed."]
    assert dependency_check.problems(tmp_path / "env", PY) == [
        "app 1.0 has requirement numpy>=1.26, but you have numpy 1.20.0.", "app 1.0 requires six, which is not installed."]


def test_markers_are_judged_for_the_environments_python_not_this_one(tmp_path):
    env = site_of(tmp_path / "env", "3.8.10")
    dist(env, "app", "1.0", 'full-old; python_full_version < "3.8.11"', 'minor-only; python_version == "3.8"',
         'in-an-extra; extra == "test"', 'not-for-38; python_version > "3.8"')
    assert dependency_check.problems(tmp_path / "env", "3.8.10") == [
        "app 1.0 requires full-old, which is not installed.", "app 1.0 requires minor-only, which is not installed."]


def test_a_pre_release_and_an_unreadable_version_satisfy(tmp_path):
    env = site_of(tmp_path / "env")
    dist(env, "app", "1.0", "lib>=1", "odd>=1")
    dist(env, "lib", "2.0rc1")
    dist(env, "odd", "not.a.version")
    assert dependency_check.problems(tmp_path / "env", PY) == []


def test_only_the_hooks_import_lines_name_bases_as_python_runs_only_those(tmp_path):
    """site.py executes a .pth line only when it starts with 'import'; any other line is a folder
    name (here one that does not exist), so the base it spells is not on sys.path."""
    env, one, two = site_of(tmp_path / "env"), site_of(tmp_path / "one"), site_of(tmp_path / "two")
    hook(env, f"site.addsitedir({str(one)!r})", f"import\tsite; site.addsitedir({str(two)!r})")
    assert dependency_check.sites(tmp_path / "env", PY) == [env, two]


def test_a_line_without_addsitedir_names_no_base_even_when_its_tail_reads_as_a_folder(tmp_path):
    env, other = site_of(tmp_path / "env"), site_of(tmp_path / "other")
    line = f"import os# {str(other)!r})"  # valid Python; from its 11th character on, a string literal and ')'
    assert line.find("addsitedir(") == -1 and line[10:line.rfind(")")].strip() == repr(str(other))
    hook(env, line)
    assert dependency_check.sites(tmp_path / "env", PY) == [env]
