"""What one install wrote (packages/touched.py), beyond tests/test_fast_paths.py: the top level of
``bin`` whatever the RECORDs say, an environment without ``bin``, and a dist-info folder that is a
symlink, stamped as the link itself. In-process on real folders."""

import os
import shutil

from test_fast_paths import installed

from pyenvmod.packages import touched


def make(tmp_path, bin_folder=True):
    prefix = tmp_path / "env"
    site = prefix / "lib" / "python3.12" / "site-packages"
    site.mkdir(parents=True)
    if bin_folder:
        (prefix / "bin").mkdir()
    return prefix, site


def test_whatever_is_in_bin_is_looked_at(tmp_path):
    prefix, site = make(tmp_path)
    (prefix / "bin" / "activate").write_text("")  # written by the installer, listed in no RECORD
    found = touched.written(prefix, touched.stamps(prefix, {}))
    assert str(prefix / "bin" / "activate") in found and str(prefix / "bin") in found


def test_without_a_bin_folder_site_packages_is_still_looked_at(tmp_path):
    prefix, site = make(tmp_path, bin_folder=False)
    (site / "extra.pth").write_text("")
    installed(site, "new", "1.0", "new/a.py")
    found = touched.written(prefix, {})
    assert str(site / "extra.pth") in found and str(site / "new" / "a.py") in found


def test_a_symlinked_dist_info_is_stamped_as_the_link(tmp_path):
    prefix, site = make(tmp_path)
    real = installed(site, "linked", "1.0", "linked/a.py")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    shutil.move(real, elsewhere / real.name)
    os.symlink(elsewhere / real.name, real)
    os.utime(elsewhere / real.name, ns=(1, 1))
    before = touched.stamps(prefix, {"linked": "1.0"})
    st = os.lstat(real)
    assert before == {str(real): (st.st_ino, st.st_ctime_ns)}
    assert str(site / "linked" / "a.py") not in touched.written(prefix, before)


def test_only_paths_inside_the_prefix_are_reported(tmp_path):
    prefix, site = make(tmp_path)
    (prefix / "bin" / "activate").write_text("")
    found = touched.written(prefix, touched.stamps(prefix, {}))
    assert found and all(p.startswith(str(prefix) + os.sep) for p in found)
