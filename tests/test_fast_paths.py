"""The short cuts that keep create, install and update close to bare uv (issue 14): each one must give
the answer the long way gives, and must really skip the long way (checked through the modules a run
imported, in a fresh interpreter)."""

import os
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pyenvmod.packages import outside, requirements
from pyenvmod.records import history
from pyenvmod.records.metadata import EnvRecord


def imported_after(code: str, env=None) -> set:
    """The modules a fresh interpreter has imported after running ``code``."""
    script = code + "\nimport sys\nprint(' '.join(sorted(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    return set(result.stdout.split())


# --- the command line: only the named command's parser is built ---------------------------------

def test_a_named_command_imports_no_other_commands_module(env):
    mods = imported_after("from pyenvmod import cli\ntry:\n    cli.main(['update', '--help'])\n"
                          "except SystemExit:\n    pass", env=env)
    assert "pyenvmod.commands.update" in mods
    assert not {"pyenvmod.commands.create", "pyenvmod.commands.stage", "pyenvmod.commands.doctor"} & mods


@pytest.mark.parametrize("command", ["install", "update", "remove", "create"])
def test_the_way_to_uv_imports_no_template_engine_parser_or_dataclasses(command):
    """What a change needs before uv starts; the rest is imported while uv works (background.py)."""
    mods = imported_after(f"import pyenvmod.cli, pyenvmod.config, pyenvmod.commands.{command}\n"
                          "import pyenvmod.operations.packages, pyenvmod.operations.create, pyenvmod.backends.uv\n"
                          "from pyenvmod.operations.common import tree_for, load_record\n"
                          "from pyenvmod.packages import touched, outside, buildpolicy\n"
                          "from pyenvmod.runtime import proc")
    assert "pyenvmod.operations.packages" in mods
    slow = {"dataclasses", "inspect", "jinja2", "packaging.requirements", "packaging.version", "datetime", "csv",
            "sysconfig", "yaml"}
    assert not slow & mods, sorted(slow & mods)


def test_without_a_command_every_command_is_offered(capsys):
    from pyenvmod import cli

    with pytest.raises(SystemExit):
        cli.main(["creat"])
    err = capsys.readouterr().err
    assert "invalid choice: 'creat'" in err and "'create'" in err and "'stage'" in err


# --- package specs: a bare name needs no parser -------------------------------------------------

def test_bare_names_are_accepted_without_importing_the_parser():
    mods = imported_after("from pyenvmod.packages import requirements\nrequirements.validate(['numpy', 'scikit-learn', "
                          "'zope.interface', 'a_b'])")
    assert "packaging.requirements" not in mods


def test_a_spec_with_a_version_still_goes_through_the_parser():
    mods = imported_after("from pyenvmod.packages import requirements\nrequirements.validate(['numpy>=1.26'])")
    assert "packaging.requirements" in mods


@settings(max_examples=300, deadline=None)
@given(st.from_regex(requirements._BARE_NAME, fullmatch=True))
def test_every_bare_name_the_short_cut_accepts_is_a_valid_requirement(name):
    from packaging.requirements import Requirement

    if requirements.is_path(name):
        return
    assert Requirement(name).name == name and not Requirement(name).url


@pytest.mark.parametrize("spec", ["-e", "-rfile", "numpy-", "_x", ".x", "x y", "x;", "x@", "x[", "--index-url"])
def test_what_is_not_a_bare_name_is_refused_or_parsed(spec):
    assert not requirements._BARE_NAME.fullmatch(spec)


def test_a_bare_looking_archive_that_exists_is_checked_as_a_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pkg.zip").mkdir()  # a folder, named like an archive: a path, and no project
    with pytest.raises(Exception, match="pkg.zip has no pyproject.toml"):
        requirements.validate(["pkg.zip"])
    (tmp_path / "pkg.zip").rmdir()
    assert requirements.validate(["pkg.zip"]) == ["pkg.zip"]  # absent: a name like any other


# --- changes made outside pyenvmod: the folder names decide the common case ----------------------

def dist(site, name, version, *requires):
    folder = site / f"{name.replace('-', '_')}-{version}.dist-info"
    folder.mkdir(parents=True)
    lines = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}", *(f"Requires-Dist: {r}" for r in requires)]
    (folder / "METADATA").write_text("\n".join(lines) + "\n")
    (folder / "RECORD").write_text(f"{folder.name}/METADATA,,\n")
    return folder


def record_for(prefix, packages) -> EnvRecord:
    return EnvRecord(name="e", prefix=str(prefix), python="3.12.1", base_python="/usr/bin/python3",
                     backend="uv", module="pyenv/e/py3.12", created="2026-01-01T00:00:00+00:00", owner="me",
                     platform="x86_64-test", packages=packages)


@pytest.fixture
def site(tmp_path):
    site = tmp_path / "env" / "lib" / "python3.12" / "site-packages"
    site.mkdir(parents=True)
    dist(site, "Requests", "2.32.3", "idna")
    dist(site, "idna", "3.10")
    dist(site, "zope.interface", "7.0")
    return site


def test_an_unchanged_environment_is_decided_from_the_folder_names(site, monkeypatch):
    record = record_for(site.parents[2], {"Requests": "2.32.3", "idna": "3.10", "zope.interface": "7.0"})

    def no_reading(prefix):
        raise AssertionError("the METADATA files were read")

    monkeypatch.setattr(outside, "_metadata", no_reading)
    assert outside.differences(record) is None


@pytest.mark.parametrize("change", ["version", "added", "removed", "renamed"])
def test_any_change_of_the_folders_is_decided_by_the_metadata(site, change):
    record = record_for(site.parents[2], {"Requests": "2.32.3", "idna": "3.10", "zope.interface": "7.0"})
    if change == "version":
        (site / "idna-3.10.dist-info").rename(site / "idna-3.11.dist-info")
        (site / "idna-3.11.dist-info" / "METADATA").write_text("Name: idna\nVersion: 3.11\n")
        (site / "idna-3.11.dist-info" / "RECORD").write_text("idna-3.11.dist-info/METADATA,,\n")
    elif change == "added":
        dist(site, "six", "1.16.0")
    elif change == "removed":
        import shutil

        shutil.rmtree(site / "idna-3.10.dist-info")
    else:  # the same distribution under another spelling of its folder: not a change
        (site / "zope.interface-7.0.dist-info").rename(site / "zope_interface-7.0.dist-info")
    found = outside.differences(record)
    if change == "renamed":
        assert found is None
    else:
        live, required = found
        assert required == {"idna": ["requests"]}
        assert {"version": live.get("idna") == "3.11", "added": live.get("six") == "1.16.0",
                "removed": "idna" not in live}[change]


def test_the_listing_names_every_site_packages_folder(tmp_path):
    for version in ("3.11", "3.12"):
        site = tmp_path / "lib" / f"python{version}" / "site-packages"
        site.mkdir(parents=True)
        dist(site, f"only-in-{version.replace('.', '-')}", "1.0")
    (tmp_path / "lib" / "python3.12" / "site-packages" / "not-a-dist").mkdir()
    assert outside._listing(tmp_path) == {"only-in-3-11": "1.0", "only-in-3-12": "1.0"}


# --- history: a command reads the newest entries only ----------------------------------------------

def test_entries_last_reads_only_the_newest(tmp_path, monkeypatch):
    from pyenvmod.records.layout import Layout

    monkeypatch.setenv("PYENVMOD_ROOT", str(tmp_path))
    layout = Layout(tmp_path, "x86_64-test")
    for n in range(1, 6):
        history.add(layout, "e", "install", [f"p{n}"], {f"p{n}": "1.0"})
    assert [e["n"] for e in history.entries(layout, "e")] == [1, 2, 3, 4, 5]
    assert [e["n"] for e in history.entries(layout, "e", last=2)] == [4, 5]
    assert history.entries(layout, "e", last=0) == []
    folder = layout.history_dir("e")
    (folder / "0002.json").write_text("not json")  # a broken old entry does not stop a new change
    assert history.add(layout, "e", "update", [], {})["n"] == 6
    assert [e["n"] for e in history.entries(layout, "e", last=1)] == [6]
    assert os.path.exists(folder / "0006.json")


# --- permissions after a change: only what the change wrote is looked at --------------------------

from pyenvmod.packages import touched  # noqa: E402
from pyenvmod.trust import files  # noqa: E402


@pytest.fixture
def env_tree(tmp_path):
    prefix = tmp_path / "env"
    site = prefix / "lib" / "python3.12" / "site-packages"
    (prefix / "bin").mkdir(parents=True)
    site.mkdir(parents=True)
    return prefix, site


def installed(site, name, version, *paths):
    """A distribution with its files and a RECORD listing them (and itself)."""
    folder = site / f"{name}-{version}.dist-info"
    folder.mkdir()
    (folder / "METADATA").write_text(f"Name: {name}\nVersion: {version}\n")
    rows = [f"{folder.name}/METADATA,,", f"{folder.name}/RECORD,,"]
    for rel in paths:
        target = (site / rel)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text("x")
        rows.append(f"{rel},,")
    (folder / "RECORD").write_text("\n".join(rows) + "\n")
    return folder


def test_written_lists_the_new_distributions_files_and_the_top_levels(env_tree):
    prefix, site = env_tree
    old = installed(site, "old", "1.0", "old/a.py")
    before = touched.stamps(prefix, {"old": "1.0"})
    assert list(before) == [str(old)]
    installed(site, "new", "2.0", "new/sub/b.py", "../../../bin/new-tool")
    (prefix / ".lock").write_text("")
    found = touched.written(prefix, before)
    assert str(site / "new" / "sub" / "b.py") in found and str(site / "new" / "sub") in found
    assert str(prefix / "bin" / "new-tool") in found and str(prefix / ".lock") in found
    assert str(site / "new-2.0.dist-info" / "RECORD") in found
    assert str(site / "old" / "a.py") not in found  # an untouched distribution's files are not looked at
    assert all(p.startswith(str(prefix) + "/") for p in found)


def test_a_reinstalled_or_unrecorded_distribution_counts_as_new(env_tree):
    prefix, site = env_tree
    installed(site, "same", "1.0", "same/a.py")
    installed(site, "byhand", "1.0", "byhand/a.py")  # not in the record: installed outside pyenvmod
    before = touched.stamps(prefix, {"same": "1.0"})
    assert str(site / "byhand" / "a.py") in touched.written(prefix, before)
    assert str(site / "same" / "a.py") not in touched.written(prefix, before)
    import shutil

    shutil.rmtree(site / "same-1.0.dist-info")
    installed(site, "same", "1.0", "same/a.py")  # the same version again (install --rebuild)
    assert str(site / "same" / "a.py") in touched.written(prefix, before)


def test_a_record_that_cannot_be_read_means_check_everything(env_tree):
    prefix, site = env_tree
    folder = installed(site, "new", "1.0", "new/a.py")
    (folder / "RECORD").unlink()
    (folder / "RECORD").symlink_to("/dev/zero")
    assert touched.written(prefix, {}) is None


def test_record_rows_outside_the_environment_are_dropped(env_tree, tmp_path):
    prefix, site = env_tree
    folder = installed(site, "evil", "1.0")
    (folder / "RECORD").write_text(f"../../../../../outside.txt,,\n{tmp_path}/abs.txt,,\n")
    found = touched.written(prefix, {})
    assert not [p for p in found if not p.startswith(str(prefix) + "/")]


def test_settle_takes_write_for_others_off_what_it_is_given_only(env_tree):
    prefix, site = env_tree
    loose, other = site / "loose.py", site / "other.py"
    for path in (loose, other):
        path.write_text("x")
        path.chmod(0o666)
    sticky = site / "tmpdir"
    sticky.mkdir()
    sticky.chmod(0o1777)
    link = site / "link"
    link.symlink_to(other)
    assert files.settle(prefix, [str(loose), str(sticky), str(link)]) == 1
    assert loose.stat().st_mode & 0o777 == 0o664
    assert other.stat().st_mode & 0o777 == 0o666  # not given, and a symlink to it is not followed
    assert sticky.stat().st_mode & 0o7777 == 0o1777


def test_settle_never_follows_a_symlinked_folder(env_tree, tmp_path):
    prefix, site = env_tree
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "secret").write_text("x")
    (victim / "secret").chmod(0o606)
    (site / "pkg").symlink_to(victim)
    assert files.settle(prefix, [str(site / "pkg" / "secret")], gid=os.getgid()) == 0
    assert (victim / "secret").stat().st_mode & 0o777 == 0o606


def test_settle_hands_files_to_the_group_with_the_owners_permissions(env_tree):
    prefix, site = env_tree
    path = site / "mod.py"
    path.write_text("x")
    path.chmod(0o704)
    gid = 4242
    assert files.settle(prefix, [str(path)], gid=gid) == 1
    st = path.stat()
    assert st.st_gid == gid and st.st_mode & 0o777 == 0o774


@pytest.mark.slow
def test_an_install_takes_write_for_others_off_files_from_a_loose_cache(cli, tmp_path):
    """uv hard-links files from its cache: a cache made world-writable (unpacked under umask 000)
    gives world-writable files to every environment that installs them. The install's own files
    are settled."""
    from localpkg import write_wheel

    requirement = str(tmp_path / write_wheel(tmp_path, "loosepkg", "1.0", {"loosepkg/__init__.py": "x = 1\n"}))
    cache = tmp_path / "uvcache"
    cli("create", "first", "-p", requirement, extra_env={"UV_CACHE_DIR": str(cache)})  # fills the cache
    for folder, dirs, names in os.walk(cache):
        for name in [*dirs, *names]:
            path = os.path.join(folder, name)
            if not os.path.islink(path):
                os.chmod(path, os.lstat(path).st_mode | 0o002)
    cli("create", "perm", "-p", "six", extra_env={"UV_CACHE_DIR": str(cache)})
    cli("install", "perm", requirement, extra_env={"UV_CACHE_DIR": str(cache)})
    prefix = cli("prefix", "perm").stdout.strip()
    (module,) = [os.path.join(d, n) for d, _, names in os.walk(prefix) for n in names
                 if d.endswith("loosepkg") and n == "__init__.py"]
    assert os.stat(module).st_nlink >= 2, "not linked from the cache: the test shows nothing"
    assert loose_files(prefix) == []


def loose_files(top) -> list:
    return [os.path.join(d, n) for d, dirs, names in os.walk(top) for n in [*dirs, *names]
            if not os.path.islink(os.path.join(d, n)) and os.lstat(os.path.join(d, n)).st_mode & 0o002]
