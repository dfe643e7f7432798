"""The one reader of installed distributions (dist-info METADATA headers), and its users: the
package lists, the dependency check and the changes made outside pyenvmod."""

from packaging.markers import default_environment

from pyenvmod.modules import stacking
from pyenvmod.packages import dist_info, outside
from pyenvmod.packages.installed import dist_versions


def write_dist(site, folder_name, *headers, description="", newline="\n"):
    folder = site / f"{folder_name}.dist-info"
    folder.mkdir(parents=True)
    text = newline.join(["Metadata-Version: 2.1", *headers]) + newline + newline + description
    (folder / "METADATA").write_bytes(text.encode())
    return folder


def test_headers_end_at_the_first_empty_line(tmp_path):
    folder = write_dist(tmp_path, "app-1.0", "Name: App", "Version: 1.0 ", "Requires-Dist: lib>=2",
                        description="Name: other\nVersion: 9\nRequires-Dist: not-a-header\n")
    dist = dist_info.read(folder / "METADATA")
    assert dist == dist_info.Distribution("App", "1.0", ("lib>=2",), folder)


def test_windows_line_endings_are_read(tmp_path):
    folder = write_dist(tmp_path, "app-1.0", "Name: app", "Version: 1.0", "Requires-Dist: lib", newline="\r\n")
    assert dist_info.read(folder / "METADATA") == dist_info.Distribution("app", "1.0", ("lib",), folder)


def test_a_file_without_name_or_version_is_no_distribution(tmp_path):
    assert dist_info.read(write_dist(tmp_path, "a-1", "Name: a") / "METADATA") is None
    assert dist_info.read(write_dist(tmp_path, "b-1", "Version: 1") / "METADATA") is None
    assert dist_info.in_site(tmp_path) == []


def test_unreadable_and_incomplete_ones_are_passed_over_and_the_order_is_the_folders(tmp_path):
    site = stacking.site_packages(str(tmp_path), "3.12.1")
    write_dist(site, "zeta-1", "Name: zeta", "Version: 1")
    write_dist(site, "alpha-2", "Name: alpha", "Version: 2")
    (site / "broken-1.dist-info" / "METADATA").mkdir(parents=True)  # reading it fails
    write_dist(site, "half-1", "Name: half")
    assert [(d.name, d.version) for d in dist_info.in_site(site)] == [("alpha", "2"), ("zeta", "1")]
    assert dist_info.installed(tmp_path) == dist_info.in_site(site)
    assert dist_versions(tmp_path) == {"alpha": "2", "zeta": "1"}


def test_only_the_environments_own_site_packages_count(tmp_path):
    write_dist(tmp_path / "lib" / "python3.12" / "other", "x-1", "Name: x", "Version: 1")
    write_dist(tmp_path / "lib" / "python3.12" / "site-packages", "y-1", "Name: y", "Version: 1")
    assert [d.name for d in dist_info.installed(tmp_path)] == ["y"]


def test_requirements_are_parsed_and_extras_left_out(tmp_path):
    dist = dist_info.Distribution("app", "1", ("lib>=2", "not a requirement !!", 'opt; extra == "x"',
                                               'old; python_version < "3"', "Other_Name[sub]"), tmp_path)
    assert [str(r) for r in dist.requirements()] == ["lib>=2", 'old; python_version < "3"', "Other_Name[sub]"]


def test_requirements_for_an_environment_follow_its_markers(tmp_path):
    dist = dist_info.Distribution("app", "1", ("lib", 'old; python_version < "3.10"', 'opt; extra == "x"'),
                                  tmp_path)
    environment = dict(default_environment(), python_version="3.9", python_full_version="3.9.18", extra="")
    assert [r.name for r in dist.requirements(environment)] == ["lib", "old"]
    environment.update(python_version="3.12", python_full_version="3.12.1")
    assert [r.name for r in dist.requirements(environment)] == ["lib"]
    assert [r.name for r in dist.requirements(dict(environment, extra="x"))] == ["lib", "opt"]


def test_changes_made_outside_read_canonical_names_versions_and_requirements(tmp_path):
    site = stacking.site_packages(str(tmp_path), "3.12.1")
    app = write_dist(site, "My_App-01.0", "Name: My_App", "Version: 01.0", "Requires-Dist: Some.Lib>=1",
                     'Requires-Dist: opt-dep; extra == "all"')
    assert outside._metadata(tmp_path) == {"my-app": ("1.0", ["some-lib"], app)}


def test_extra_only_requirements_are_left_out_without_the_parser(tmp_path, monkeypatch):
    """Most Requires-Dist lines of a large package name an extra only; the dependency check passes
    them over unparsed. A marker that says more than that still goes to the parser."""
    import packaging.requirements

    parsed = []
    original = packaging.requirements.Requirement

    def counting(text):
        parsed.append(text)
        return original(text)

    monkeypatch.setattr(packaging.requirements, "Requirement", counting)
    lines = ("lib", 'a; extra == "x"', "b ; extra=='y'", 'c;extra  ==  "z"  ',
             'd; extra == "x" and python_version >= "3"', 'e; python_version >= "3" or extra == "x"')
    dist = dist_info.Distribution("app", "1", lines, tmp_path)
    environment = dict(default_environment(), extra="")
    assert [r.name for r in dist.requirements(environment)] == ["lib", "e"]
    assert parsed == ["lib", lines[4], lines[5]]
    parsed.clear()
    assert [r.name for r in dist.requirements()] == ["lib"]  # no environment: extras left out too
    assert parsed == ["lib", lines[4], lines[5]]
    parsed.clear()
    assert [r.name for r in dist.requirements(dict(environment, extra="x"))] == ["lib", "a", "d", "e"]
    assert len(parsed) == len(lines)  # an extra in force: every line is read


def test_a_header_value_may_hold_a_colon_and_space(tmp_path):
    folder = write_dist(tmp_path, "app-1.0", "Name: app", "Version: 1.0",
                        'Requires-Dist: lib; platform_release != "a: b"', "Summary: one: two")
    assert dist_info.read(folder / "METADATA").requires == ('lib; platform_release != "a: b"',)


def test_a_folder_name_splits_at_its_last_dash():
    assert dist_info.folder_key("zope.interface-6.0.dist-info") == ("zope-interface", "6.0")
    assert dist_info.folder_key("old-style-name-1.2.dist-info") == ("old-style-name", "1.2")


def test_bytes_that_are_not_utf8_do_not_stop_the_reading(tmp_path):
    folder = tmp_path / "apX-1.0.dist-info"
    folder.mkdir()
    (folder / "METADATA").write_bytes(b"Name: apX\nVersion: 1.0X\nSummary: caf\xe9\nRequires-Dist: libX\n\n")
    assert dist_info.read(folder / "METADATA") == dist_info.Distribution("apX", "1.0X", ("libX",), folder)


def test_a_metadata_file_a_package_manager_linked_is_read(tmp_path):
    """Spack's views and some installers link each file of a package: a METADATA that is a symlink to
    the real one counts."""
    real = write_dist(tmp_path / "store", "app-1.0", "Name: app", "Version: 1.0") / "METADATA"
    site = tmp_path / "view" / "site-packages"
    (site / "app-1.0.dist-info").mkdir(parents=True)
    (site / "app-1.0.dist-info" / "METADATA").symlink_to(real)
    assert [(d.name, d.version) for d in dist_info.in_site(site)] == [("app", "1.0")]


def test_a_description_longer_than_the_limit_is_cut_off_not_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(dist_info, "METADATA_LIMIT", 256)  # 16 MiB: a test would write that much
    folder = write_dist(tmp_path, "app-1.0", "Name: app", "Version: 1.0", description="long text\n" * 100)
    assert dist_info.read(folder / "METADATA") == dist_info.Distribution("app", "1.0", (), folder)
