"""Issue 23, what is installed, read from real dist-info folders: a half-installed distribution is no
change made outside pyenvmod, and in an environment made with --extends (a chain of them too) its own
version of a package comes before its base's, as on its sys.path."""

import shutil
import subprocess
import sys

import pytest

from pyenvmod.modules import stacking
from pyenvmod.packages import dependency_check, outside, touched
from pyenvmod.records import metadata

PY = "3.12.1"


def dist(site, name, version, *requires, files=(), record=True):
    """A distribution: its METADATA, its files, and a RECORD listing them (unless ``record`` is False)."""
    folder = site / f"{name.replace('-', '_')}-{version}.dist-info"
    folder.mkdir(parents=True)
    lines = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}",
             *(f"Requires-Dist: {r}" for r in requires)]
    (folder / "METADATA").write_text("\n".join(lines) + "\n")
    rows = [f"{folder.name}/METADATA,,", f"{folder.name}/RECORD,,"]
    for rel in files:
        target = site / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text("")
        rows.append(f"{rel},,")
    if record:
        (folder / "RECORD").write_text("\n".join(rows) + "\n")
    return folder


def record_for(prefix, packages) -> metadata.EnvRecord:
    return metadata.EnvRecord(name="e", prefix=str(prefix), python=PY, base_python="/usr/bin/python3", backend="uv",
                              module="pyenv/e/py3.12", created="2026-01-01T00:00:00+00:00", owner="me",
                              platform="x86_64-test", packages=packages)


@pytest.fixture
def env(tmp_path):
    prefix = tmp_path / "env"
    site = stacking.site_packages(str(prefix), PY)
    (prefix / "bin").mkdir(parents=True)
    dist(site, "requests", "2.32.3", "idna", files=["requests/__init__.py"])
    dist(site, "idna", "3.10", files=["idna/__init__.py"])
    return prefix, site, record_for(prefix, {"requests": "2.32.3", "idna": "3.10"})


# --- a half-installed distribution is not a change made outside pyenvmod ------------------------------

@pytest.mark.parametrize("missing", ["a module", "a script", "one of many", "its RECORD"])
def test_a_half_installed_distribution_is_no_change(env, missing):
    prefix, site, record = env
    files = ["six/__init__.py", "six/moves.py", "six/more.py", "../../../bin/six-tool"]
    folder = dist(site, "six", "1.16.0", files=files)
    assert outside.differences(record)[0] == {"requests": "2.32.3", "idna": "3.10", "six": "1.16.0"}  # complete
    if missing == "a module":
        (site / "six" / "__init__.py").unlink()
    elif missing == "a script":
        (prefix / "bin" / "six-tool").unlink()
    elif missing == "one of many":
        (site / "six" / "more.py").unlink()
    else:
        (folder / "RECORD").unlink()
    assert outside.differences(record) is None


def test_a_record_is_read_to_its_end_past_an_empty_line(env):
    """A RECORD is no METADATA: an empty line in it ends nothing, and a file listed far below one
    (past the first read's 64 KiB) that is missing still makes the distribution half-installed."""
    prefix, site, record = env
    folder = dist(site, "six", "1.16.0", files=["six/__init__.py"])
    row = f"six/__init__.py,sha256={'0' * 43},0"
    (folder / "RECORD").write_text("\n".join([row, "", *[row] * 1000, "six/missing.py,,"]) + "\n")
    assert outside.differences(record) is None
    (site / "six" / "missing.py").write_text("")
    assert outside.differences(record)[0] == {"requests": "2.32.3", "idna": "3.10", "six": "1.16.0"}


def test_a_half_installed_upgrade_is_no_change_but_a_whole_one_is(env):
    prefix, site, record = env
    shutil.rmtree(site / "idna-3.10.dist-info")
    dist(site, "idna", "3.11", files=["idna/__init__.py", "idna/new_module.py"])
    (site / "idna" / "new_module.py").unlink()  # the disk filled up half-way
    found = outside.differences(record)
    assert found is None or found[0].get("idna") != "3.11"  # never recorded as installed
    (site / "idna" / "new_module.py").write_text("")
    live, required = outside.differences(record)
    assert live == {"requests": "2.32.3", "idna": "3.11"} and required == {"idna": ["requests"]}


def test_a_distribution_that_is_recorded_is_never_checked_for_its_files(env):
    prefix, site, record = env
    (site / "idna" / "__init__.py").unlink()  # broken, but as recorded: 'doctor' reports that, not history
    dist(site, "six", "1.16.0", files=["six/__init__.py"])
    assert outside.differences(record)[0] == {"requests": "2.32.3", "idna": "3.10", "six": "1.16.0"}


def test_the_files_a_new_distribution_wrote_are_those_of_its_record(env):
    """touched: the fix-ups after a change look at a new distribution's files (RECORD), not an old one's."""
    prefix, site, record = env
    before = touched.stamps(prefix, record.packages)
    assert sorted(before) == sorted(str(site / f) for f in ("idna-3.10.dist-info", "requests-2.32.3.dist-info"))
    dist(site, "six", "1.16.0", files=["six/__init__.py", "../../../bin/six-tool"])
    found = touched.written(prefix, before)
    assert str(site / "six" / "__init__.py") in found and str(prefix / "bin" / "six-tool") in found
    assert str(site / "idna" / "__init__.py") not in found
    dist(site, "half", "1.0", record=False)  # no RECORD to tell what it wrote: everything is looked at
    assert touched.written(prefix, before) is None


# --- in an --extends environment its own version comes first ----------------------------------------

def _layered(tmp_path, *bases):
    """Environments env <- bases[0] <- bases[1] ..., each with the base hook 'create --extends' writes."""
    prefixes = [tmp_path / "env", *(tmp_path / b for b in bases)]
    for prefix in prefixes:
        stacking.site_packages(str(prefix), PY).mkdir(parents=True)
    for prefix, base in zip(prefixes, prefixes[1:]):
        stacking.install_hook(str(prefix), PY, str(stacking.site_packages(str(base), PY)))
    return [stacking.site_packages(str(p), PY) for p in prefixes]


def test_the_environments_own_version_hides_its_bases(tmp_path):
    own, base = _layered(tmp_path, "base")
    dist(own, "app", "1.0", "lib>=2")
    dist(own, "lib", "2.1")
    dist(base, "lib", "1.0")
    assert dependency_check.problems(tmp_path / "env", PY) == []


def test_the_bases_version_counts_only_where_the_environment_has_none(tmp_path):
    own, base = _layered(tmp_path, "base")
    dist(own, "app", "1.0", "lib>=2")
    dist(own, "lib", "1.5")  # installed here, older than the base's: this one is imported
    dist(base, "lib", "2.1")
    assert dependency_check.problems(tmp_path / "env", PY) == [
        "app 1.0 has requirement lib>=2, but you have lib 1.5."]


def test_a_chain_of_extends_counts_every_base_nearest_first(tmp_path):
    own, middle, bottom = _layered(tmp_path, "middle", "bottom")
    assert dependency_check.sites(tmp_path / "env", PY) == [own, middle, bottom]
    dist(own, "app", "1.0", "lib>=2", "tool")
    dist(middle, "lib", "2.0")
    dist(bottom, "lib", "1.0")
    dist(bottom, "tool", "1.0", "lib<2")  # the bottom's own tool sees the middle's lib, as python would
    assert dependency_check.problems(tmp_path / "env", PY) == [
        "tool 1.0 has requirement lib<2, but you have lib 2.0."]


def test_a_cycle_of_base_hooks_ends(tmp_path):
    own, base = _layered(tmp_path, "base")
    stacking.install_hook(str(tmp_path / "base"), PY, str(own))  # base -> env: a loop someone wrote by hand
    assert dependency_check.sites(tmp_path / "env", PY) == [own, base]


def test_the_order_agrees_with_the_interpreters_sys_path(tmp_path):
    """Real venvs, one layered on the other, both holding lib: python imports the environment's own,
    and the check counts that one."""
    version = "%d.%d.%d" % sys.version_info[:3]
    prefixes = [tmp_path / "env", tmp_path / "base"]
    for prefix in prefixes:
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(prefix)], check=True)
    own, base = (stacking.site_packages(str(p), version) for p in prefixes)
    stacking.install_hook(str(prefixes[0]), version, str(base))
    for site, where, lib_version in ((own, "own", "2.0"), (base, "base", "1.0")):
        dist(site, "lib", lib_version)
        (site / "lib.py").write_text(f"WHERE = {where!r}\n")
    dist(own, "app", "1.0", "lib>=2")
    python = str(prefixes[0] / "bin" / "python")
    imported = subprocess.run([python, "-c", "import lib; print(lib.WHERE)"], capture_output=True, text=True,
                              check=True).stdout.strip()
    assert imported == "own"
    assert dependency_check.problems(prefixes[0], version) == []
