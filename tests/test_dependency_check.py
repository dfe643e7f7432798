"""The dependency check read from dist-info files (what pip check reports, without running pip)."""

import shutil
import subprocess
import sys

import pytest

from pyenvmod.modules import stacking
from pyenvmod.packages import dependency_check


def dist(site, name, version, *requires):
    folder = site / f"{name.replace('-', '_')}-{version}.dist-info"
    folder.mkdir(parents=True)
    lines = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}", *(f"Requires-Dist: {r}" for r in requires)]
    (folder / "METADATA").write_text("\n".join(lines) + "\n\nRequires-Dist: not-a-header (in the description)\n")


def test_missing_and_conflicting_requirements_are_reported(tmp_path):
    site = stacking.site_packages(str(tmp_path), "3.12.1")
    dist(site, "app", "1.0", "lib>=2", "missing-one", 'old-only; python_version < "3"', 'extra-only; extra == "x"')
    dist(site, "lib", "1.5")
    dist(site, "fine", "1.0", "lib<2", 'lib; python_version >= "3.12"')
    assert dependency_check.problems(tmp_path, "3.12.1") == [
        "app 1.0 has requirement lib>=2, but you have lib 1.5.",
        "app 1.0 requires missing-one, which is not installed.",
    ]


def test_markers_use_the_environments_python_version(tmp_path):
    site = stacking.site_packages(str(tmp_path), "3.9.18")
    dist(site, "app", "1.0", 'backport; python_version < "3.10"')
    assert dependency_check.problems(tmp_path, "3.9.18") == ["app 1.0 requires backport, which is not installed."]


def test_a_base_environments_packages_count(tmp_path):
    base = tmp_path / "base"
    base_site = stacking.site_packages(str(base), "3.12.1")
    dist(base_site, "lib", "2.1")
    child = tmp_path / "child"
    stacking.site_packages(str(child), "3.12.1").mkdir(parents=True)
    stacking.install_hook(str(child), "3.12.1", str(base_site))
    dist(stacking.site_packages(str(child), "3.12.1"), "app", "1.0", "lib>=2")
    assert dependency_check.problems(child, "3.12.1") == []
    (stacking.site_packages(str(child), "3.12.1") / stacking.BASE_HOOK).unlink()
    assert dependency_check.problems(child, "3.12.1") == ["app 1.0 requires lib, which is not installed."]


@pytest.mark.slow
def test_it_agrees_with_pip_check_on_a_real_environment(tmp_path):
    prefix = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(prefix)], check=True)
    version = "%d.%d.%d" % sys.version_info[:3]
    site = stacking.site_packages(str(prefix), version)
    dist(site, "app", "1.0", "pip>=999", "absent-package", 'never; sys_platform == "win32"')
    result = subprocess.run([str(prefix / "bin" / "python"), "-m", "pip", "check"], capture_output=True, text=True)
    expected = sorted(ln.strip() for ln in result.stdout.splitlines() if ln.strip())
    assert len(expected) == 2 and sorted(dependency_check.problems(prefix, version)) == expected
    shutil.rmtree(prefix)
