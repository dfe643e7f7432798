"""Issue 23, 'rollback' and 'adopt' in-process (mutmut credits only calls made in the test process), on a
private tree under tmp_path: real small environments (``venv --without-pip``, or ``uv venv`` through a real
create) and local wheels, so nothing is fetched. What a user would feel: a refusal that names the way
instead, the environment rebuilt as the history entry says and swapped in whole (or left untouched), the
records (metadata, history, modulefiles) agreeing with the folder; what adopt registers and never writes."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from guardenv import MM, PYTHON, World
from localpkg import write_wheel
from pyenvmod.errors import PyenvmodError
from pyenvmod.records import history, registry


@pytest.fixture
def world(tmp_path, monkeypatch) -> World:
    return World(tmp_path, monkeypatch)


def _wheel(folder: Path, name: str, version: str, requires=()) -> str:
    """A pure-Python wheel of module ``name`` with a console script ``name`` (a local file: no index)."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {f"{name}.py": f"VERSION = {version!r}\ndef main():\n    print(VERSION)\n"}
    return str(folder / write_wheel(str(folder), name, version, files, scripts={name: f"{name}:main"},
                                    requires=requires))


def _create(world, name, packages=(), **fields):
    from pyenvmod.operations import create
    from pyenvmod.operations.create import CreateRequest

    fields.setdefault("python", sys.executable)
    return create.create(world.config, CreateRequest(name=name, packages=list(packages), **fields))


def _run(prefix, *args) -> str:
    return subprocess.run([os.path.join(prefix, "bin", args[0]), *args[1:]], capture_output=True, text=True,
                          check=True).stdout


def _leftovers(world) -> list:
    return sorted(n for n in os.listdir(world.layout.envs_dir) if n.startswith("."))


def _stamp(world, tmp_path) -> Path:
    """The site's lmod_cache_timestamp file, which every change to a tree's modulefiles touches."""
    stamp = tmp_path / "lmod-stamp"
    world.config.set("lmod_cache_timestamp", str(stamp), "test")
    return stamp


# --- rollback: what is refused, with the way instead -------------------------------------------------------

def _rollback_refused(world, name, to) -> str:
    from pyenvmod.operations import rollback

    before = registry.record(world.tree, name) if world.layout.meta_file(name).exists() else None
    with pytest.raises(PyenvmodError) as info:
        rollback.rollback(world.config, name, to)
    if before is not None:
        assert registry.record(world.tree, name) == before  # nothing changed
    assert _leftovers(world) == []
    return info.value.message


def test_rollback_refuses_what_it_cannot_rebuild_beside_itself(world, tmp_path):
    assert _rollback_refused(world, "ghost", 1).startswith("no environment named 'ghost' under ")
    folder = tmp_path / "elsewhere"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True)
    # adopted is told first: pyenvmod never changes such an environment, whatever else it is
    registry.write(world.tree, world.record("adopted", adopted=True, backend="conda", prefix=str(folder)))
    assert _rollback_refused(world, "adopted", 1) == ("'adopted' was adopted: pyenvmod does not change it, so it "
                                                      "cannot roll it back")
    from pyenvmod.operations import external_prefix

    conda_folder = tmp_path / "conda-elsewhere"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(conda_folder)], check=True)
    external_prefix.mark(world.layout, conda_folder, "cenv")
    registry.write(world.tree, world.record("cenv", backend="conda", prefix=str(conda_folder)))
    assert _rollback_refused(world, "cenv", 1) == (
        "'cenv' is a conda environment, whose files name their own folder: it cannot be rebuilt beside itself; "
        "export an entry's state and create it again instead")
    external_prefix.mark(world.layout, folder, "ext")
    registry.write(world.tree, world.record("ext", prefix=str(folder)))
    assert _rollback_refused(world, "ext", 1) == (
        f"'ext' lives at {folder} (create --prefix): it is rolled back by exporting an entry's state and "
        "creating it again")


def test_rollback_to_an_entry_that_does_not_exist_lists_the_entries(world):
    world.make("a")
    assert _rollback_refused(world, "a", 1) == ("'a' has no history entry 1 (entries: none); "
                                                "see 'pyenvmod history a'")
    for _ in range(3):
        history.add(world.layout, "a", "install", [], {})
    os.unlink(world.layout.history_dir("a") / "0002.json")
    assert _rollback_refused(world, "a", 2) == ("'a' has no history entry 2 (entries: 1, 3); "
                                                "see 'pyenvmod history a'")
    assert _rollback_refused(world, "a", 0) == ("'a' has no history entry 0 (entries: 1, 3); "
                                                "see 'pyenvmod history a'")


def test_rollback_refuses_a_changed_base_interpreter_and_clears_a_leftover_first(world):
    world.make("gone", base_python="/nonexistent/bin/python3")
    world.make("older", python="3.1.4", module="pyenv/older/py3.1")
    for name in ("gone", "older"):
        history.add(world.layout, name, "create", [], {"nosuchpkg-pyenvmod": "1.0"},
                    sources={"nosuchpkg-pyenvmod": "nosuchpkg-pyenvmod @ file:///nonexistent/x-1.0-py3-none-any.whl"})
    leftover = world.layout.envs_dir / ".gone.rollback"
    leftover.mkdir()
    (leftover / "half-built").write_text("x")
    assert _rollback_refused(world, "gone", 1) == (
        "the base interpreter of 'gone' (/nonexistent/bin/python3) is gone or changed; create the environment "
        "again from an export instead")
    assert _rollback_refused(world, "older", 1) == (
        f"the base interpreter of 'older' ({sys.executable}) is gone or changed; create the environment again "
        "from an export instead")
    assert not leftover.exists()


def test_rollback_to_an_entry_of_an_older_pyenvmod(world, tmp_path, monkeypatch):
    """An entry written before history kept sources and requested (and a record of another micro version
    of the same Python X.Y): rebuilt from its packages, pinned by version (pip finds them in the site's
    folder of wheels here), the requested packages kept as they are. The venv backend names its folder
    in pyvenv.cfg: the final one, not the one it was built in."""
    from pyenvmod.operations import rollback

    wheels = tmp_path / "wheels"
    _wheel(wheels, "tinypkg", "1.0")
    monkeypatch.setenv("PIP_FIND_LINKS", str(wheels))
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    world.make("old", python=f"{MM}.99", requested=["kept"], module=f"pyenv/old/py{MM}")
    folder = world.layout.history_dir("old")
    folder.mkdir(parents=True)
    (folder / "0001.json").write_text(json.dumps({"n": 1, "time": "2025-01-01T00:00:00+00:00", "action": "create",
                                                 "args": [], "packages": {"tinypkg": "1.0"}}))
    record = rollback.rollback(world.config, "old", 1)
    prefix = world.layout.prefix("old")
    assert record.requested == ["kept"] and record.backend == "venv" and "pip" in record.packages
    assert record.packages["tinypkg"] == "1.0" and _run(prefix, "tinypkg") == "1.0\n"
    cfg = (prefix / "pyvenv.cfg").read_text()
    assert "prompt = 'old'" in cfg and f"--prompt=\"old\" {prefix}\n" in cfg and ".old.rollback" not in cfg
    assert history.entries(world.layout, "old")[-1]["requested"] == ["kept"]
    assert _leftovers(world) == []


def test_rollback_builds_as_the_environment_says_no_binary(world, tmp_path):
    """The environment's --no-binary list reaches the rebuild: a wheel of a package it builds from source is
    refused (uv's own words), and nothing is swapped."""
    from pyenvmod.operations import rollback

    world.make("nb", backend="uv", no_binary=["tinypkg"])
    wheel = _wheel(tmp_path / "w", "tinypkg", "1.0")
    history.add(world.layout, "nb", "install", [wheel], {"tinypkg": "1.0"}, [wheel],
                {"tinypkg": f"tinypkg @ file://{wheel}"})
    with pytest.raises(PyenvmodError) as info:
        rollback.rollback(world.config, "nb", 1)
    assert "conflicts with `--no-binary`" in info.value.message
    assert _leftovers(world) == [] and not list(world.site(world.layout.prefix("nb")).glob("tinypkg*"))


def test_rollback_refuses_a_source_the_site_does_not_allow_before_building(world):
    world.make("a")
    url = "file:///data/wheels/tinypkg-1.0-py3-none-any.whl"
    history.add(world.layout, "a", "create", ["tinypkg"], {"tinypkg": "1.0"}, ["tinypkg"],
                {"tinypkg": f"tinypkg @ {url}"})
    world.config.set("allowed_sources", ["https://pypi.org/simple"], "test")
    assert _rollback_refused(world, "a", 1) == (f"'tinypkg @ {url}' comes from {url}, which is not an allowed package "
                                                "source; the site allows: https://pypi.org/simple")


# --- rollback: the rebuild, the swap, the records ------------------------------------------------------------

def test_rollback_rebuilds_the_entry_beside_and_swaps_it_in(world, tmp_path):
    from pyenvmod.operations import packages, rollback

    one, two = _wheel(tmp_path / "w1", "tinypkg", "1.0"), _wheel(tmp_path / "w2", "tinypkg", "2.0")
    _create(world, "a", [one])
    packages.install(world.config, "a", [two])
    prefix = world.layout.prefix("a")
    assert _run(prefix, "tinypkg") == "2.0\n"
    (prefix / "made-after-entry-1").write_text("x")
    registry.write(world.tree, registry.record(world.tree, "a").replace(updated="2000-01-01T00:00:00+00:00"))
    # pip comes with the rebuilt environment: the entry's pip (a version that exists nowhere) is not installed
    entry_file = world.layout.history_dir("a") / "0001.json"
    first = json.loads(entry_file.read_text())
    seeded_pip, first["packages"]["pip"] = first["packages"]["pip"], "999.0"
    entry_file.write_text(json.dumps(first))
    stamp = _stamp(world, tmp_path)
    said = []
    old_umask = os.umask(0)  # a user whose umask lets everyone write: the tree's folder still may not be
    try:
        record = rollback.rollback(world.config, "a", 1, said.append)
    finally:
        os.umask(old_umask)

    assert said == ["rebuilding 'a' as of history entry 1 beside the current one"]
    # the folder is the rebuilt one, at the same place, its scripts naming that place
    assert _run(prefix, "tinypkg") == "1.0\n"
    assert _run(prefix, "python", "-c", "import sys; print(sys.prefix)") == f"{prefix}\n"
    assert not (prefix / "made-after-entry-1").exists()
    with open(prefix / "bin" / "tinypkg") as fh:  # a long prefix gets uv's '#!/bin/sh' and exec line instead
        head = fh.read(4096).split("\n")
    assert head[0] == f"#!{prefix}/bin/python" or (head[0] == "#!/bin/sh" and f"{prefix}/bin/python" in head[1])
    activate = (prefix / "bin" / "activate").read_text()
    assert str(prefix) in activate and ".a.rollback" not in activate
    assert "prompt = a\n" in (prefix / "pyvenv.cfg").read_text()
    for folder, _, names in os.walk(prefix):
        for entry in [folder, *(os.path.join(folder, n) for n in names)]:
            if not os.path.islink(entry):
                assert not os.lstat(entry).st_mode & 0o002, entry
    assert _leftovers(world) == []  # the old folder, swapped out, is removed
    # the records say what the folder holds
    assert record.packages == dict(first["packages"], pip=seeded_pip) and record.packages["tinypkg"] == "1.0"
    assert record.requested == first["requested"] == [one] and record.sources == first["sources"]
    assert record.updated != "2000-01-01T00:00:00+00:00" and record.updated >= record.created
    assert record.updated.endswith("+00:00") and len(record.updated) == 25  # UTC, to the second
    assert registry.record(world.tree, "a") == record
    last = history.entries(world.layout, "a")[-1]
    assert (last["n"], last["action"], last["args"]) == (3, "rollback", ["--to 1"])
    assert (last["packages"], last["requested"], last["sources"]) == (record.packages, [one], first["sources"])
    modulefile = (world.layout.module_dir("a") / f"py{MM}.lua").read_text()
    assert '"tinypkg/1.0"' in modulefile and "tinypkg/2.0" not in modulefile
    assert stamp.exists()  # module spider is told


def test_rollback_loads_the_environments_mpi_module_first_and_says_so(world, tmp_path, monkeypatch):
    """An environment that recorded an MPI module, not loaded in this shell: its modules are loaded (with a
    real Lmod) before the rebuild, so that what links MPI is built against it, and the user is told."""
    from modsys import Lmod
    from pyenvmod.operations import rollback

    Lmod().require()
    tree = tmp_path / "site-modules"
    (tree / "openmpi").mkdir(parents=True)
    (tree / "openmpi" / "4.1.lua").write_text('setenv("PYENVMOD_TEST_MPI", "4.1")\n')
    monkeypatch.setenv("LMOD_CMD", Lmod.modulecmd())
    monkeypatch.setenv("MODULEPATH", str(tree))
    world.make("mpi", modules=["openmpi/4.1"], backend="uv")
    history.add(world.layout, "mpi", "create", [], {}, [], {})
    saved = dict(os.environ)
    said = []
    try:
        record = rollback.rollback(world.config, "mpi", 1, said.append)
        assert os.environ.get("PYENVMOD_TEST_MPI") == "4.1"
    finally:
        os.environ.clear()
        os.environ.update(saved)
    assert said[:2] == ["loading openmpi/4.1 with Lmod before building (the environment's modules)",
                        "rebuilding 'mpi' as of history entry 1 beside the current one"]
    assert record.modules == ["openmpi/4.1"] and history.entries(world.layout, "mpi")[-1]["action"] == "rollback"
    assert _leftovers(world) == []


def test_rollback_swaps_in_no_file_everyone_may_write_whatever_the_build_left(world, tmp_path, monkeypatch):
    """A build step (a package's own install script, say) that leaves a file or folder everyone may
    write: the rebuilt folder is made safe before it becomes the environment. Only that folder: another
    environment's file that everyone may write is left as its owner made it."""
    from pyenvmod.modules import stacking
    from pyenvmod.operations import packages, rollback

    one, two = _wheel(tmp_path / "w1", "tinypkg", "1.0"), _wheel(tmp_path / "w2", "tinypkg", "2.0")
    _create(world, "a", [one])
    packages.install(world.config, "a", [two])
    install_hook = stacking.install_hook

    def and_leave_writable_files(staging, *args, **kwargs):
        install_hook(staging, *args, **kwargs)
        loose = Path(staging) / "share" / "loose"
        loose.mkdir(parents=True)
        (loose / "data.txt").write_text("x")
        os.chmod(loose / "data.txt", 0o666)
        os.chmod(loose, 0o777)

    monkeypatch.setattr(stacking, "install_hook", and_leave_writable_files)
    theirs = world.layout.prefix("b") / "shared.txt"
    theirs.parent.mkdir()
    theirs.write_text("x")
    os.chmod(theirs, 0o666)
    rollback.rollback(world.config, "a", 1)
    assert oct(os.lstat(theirs).st_mode & 0o777) == oct(0o666)
    loose = world.layout.prefix("a") / "share" / "loose"
    assert _run(world.layout.prefix("a"), "tinypkg") == "1.0\n"  # the rebuilt folder is in place
    assert oct(os.lstat(loose / "data.txt").st_mode & 0o777) == oct(0o664)
    assert oct(os.lstat(loose).st_mode & 0o777) == oct(0o775)


def test_a_failed_rollback_leaves_the_environment_and_its_records(world, tmp_path):
    from pyenvmod.operations import rollback

    record = _create(world, "a", [_wheel(tmp_path / "w1", "tinypkg", "1.0")])
    history.add(world.layout, "a", "install", ["ghost"], dict(record.packages, ghost="1.0"), record.requested,
                dict(record.sources, ghost="ghost @ file:///nonexistent/ghost-1.0-py3-none-any.whl"))
    prefix = world.layout.prefix("a")
    (prefix / "mine").write_text("x")
    entries = history.entries(world.layout, "a")
    with pytest.raises(PyenvmodError):
        rollback.rollback(world.config, "a", 2)
    assert (prefix / "mine").read_text() == "x" and _run(prefix, "tinypkg") == "1.0\n"
    assert registry.record(world.tree, "a") == record
    assert history.entries(world.layout, "a") == entries
    assert _leftovers(world) == []


def test_rollback_records_a_change_made_outside_pyenvmod_first(world, tmp_path):
    """A pip install after 'module load' is its own history entry before the rollback's: the state the
    user rolls away from can be rolled back to."""
    from pyenvmod.backends.uv import uv_binary
    from pyenvmod.operations import rollback

    _create(world, "a", [_wheel(tmp_path / "w1", "tinypkg", "1.0")])
    prefix = world.layout.prefix("a")
    subprocess.run([uv_binary(), "pip", "install", "--quiet", "--python", str(prefix / "bin" / "python"),
                    _wheel(tmp_path / "w2", "handpkg", "3.0")], check=True, capture_output=True)
    said = []
    rollback.rollback(world.config, "a", 1, said.append)
    entries = history.entries(world.layout, "a")
    assert [e["action"] for e in entries][1:] != ["rollback"] and entries[-1]["action"] == "rollback"
    outside = entries[1]
    assert outside["packages"]["handpkg"] == "3.0" and outside["requested"][-1].startswith("handpkg @ file://")
    assert len(said) == 2 and "handpkg" in said[0] and said[1].startswith("rebuilding 'a'")
    assert "handpkg" not in registry.record(world.tree, "a").packages
    assert "handpkg" in rollback.rollback(world.config, "a", 2).packages


def test_rollback_of_an_environment_made_with_extends_keeps_its_base(world, tmp_path):
    from pyenvmod.modules import stacking
    from pyenvmod.operations import packages, rollback

    base = _create(world, "base", [_wheel(tmp_path / "b", "basepkg", "1.0")])
    _create(world, "child", python="", extends="base")
    # a package of its own that needs one of the base's: the rebuild finds it in the base, as install did
    packages.install(world.config, "child", [_wheel(tmp_path / "c", "childpkg", "1.0", requires=["basepkg"])])
    packages.install(world.config, "child", [_wheel(tmp_path / "o", "otherpkg", "1.0")])
    rollback.rollback(world.config, "child", 2)
    child = world.layout.prefix("child")
    hook = (world.site(child) / stacking.BASE_HOOK).read_text()
    assert str(world.site(base.prefix)) in hook and ".child.rollback" not in hook
    assert _run(child, "python", "-c", "import basepkg, childpkg; print(basepkg.VERSION)") == "1.0\n"
    assert subprocess.run([str(child / "bin" / "python"), "-c", "import otherpkg"]).returncode != 0
    # the base's packages are not copied in: the child's own site-packages has none of them
    assert not list(world.site(child).glob("basepkg*"))


def test_rollback_swaps_nothing_when_the_folder_became_a_link_meanwhile(world, tmp_path):
    """In a group tree a member may swap the environment's folder for a link while it is rebuilt: the
    exchange would move the link's target into the tree's hidden folder, to be removed."""
    from pyenvmod.operations import rollback

    _create(world, "a", [_wheel(tmp_path / "w1", "tinypkg", "1.0")])
    record = registry.record(world.tree, "a")
    history.add(world.layout, "a", "install", [], record.packages, record.requested, record.sources)
    prefix = world.layout.prefix("a")
    moved = tmp_path / "moved"

    def swap_in_a_link(message):
        os.rename(prefix, moved)
        os.symlink(moved, prefix)

    with pytest.raises(PyenvmodError) as info:
        rollback.rollback(world.config, "a", 2, swap_in_a_link)
    staging = world.layout.envs_dir / ".a.rollback"
    assert info.value.message == f"{prefix} or {staging} was replaced by a symlink meanwhile; nothing was swapped"
    assert os.readlink(prefix) == str(moved) and _run(moved, "tinypkg") == "1.0\n"
    assert _leftovers(world) == []


def _rollback_with(world, tmp_path, monkeypatch, around_the_hook):
    """Roll 'a' back to its create while ``around_the_hook(install_hook, staging, *args, **kwargs)`` writes the
    rebuilt folder's hooks: a group member acting on the tree at that moment. Returns the refusal's message."""
    from pyenvmod.modules import stacking
    from pyenvmod.operations import packages, rollback

    _create(world, "a", [_wheel(tmp_path / "w1", "tinypkg", "1.0")])
    packages.install(world.config, "a", [_wheel(tmp_path / "w2", "tinypkg", "2.0")])
    install_hook = stacking.install_hook
    monkeypatch.setattr(stacking, "install_hook", lambda *args, **kwargs: around_the_hook(install_hook, *args, **kwargs))
    with pytest.raises(PyenvmodError) as info:
        rollback.rollback(world.config, "a", 1)
    return info.value.message


def test_rollback_writes_no_hook_through_a_site_packages_swapped_for_a_link(world, tmp_path, monkeypatch):
    """The rebuilt folder's site-packages replaced by a link to another folder before the hooks are written:
    nothing is written there, the environment is left as it was and the rebuilt folder removed."""
    elsewhere = tmp_path / "elsewhere"

    def swap_then_hook(install_hook, staging, *args, **kwargs):
        from pyenvmod.modules import stacking

        site = stacking.site_packages(staging, PYTHON)
        os.rename(site, elsewhere)
        os.symlink(elsewhere, site)
        before = sorted(os.listdir(elsewhere))
        try:
            return install_hook(staging, *args, **kwargs)
        finally:
            assert sorted(os.listdir(elsewhere)) == before

    assert "symlink" in _rollback_with(world, tmp_path, monkeypatch, swap_then_hook)
    assert not [n for n in os.listdir(elsewhere) if n.startswith("pyenvmod")]
    assert _run(world.layout.prefix("a"), "tinypkg") == "2.0\n" and _leftovers(world) == []


def test_rollback_rewrites_nothing_through_an_envs_folder_swapped_for_a_link(world, tmp_path, monkeypatch):
    """The tree's envs folder replaced by a link (to where it was moved) after the rebuild: the rebuilt
    folder's scripts and the text files at its top (here one a build step left, naming the folder), now
    reached only through the link, are not rewritten nor their modes changed; nothing is swapped and the
    refusal names the link."""
    moved = tmp_path / "moved-envs"
    envs = world.layout.envs_dir

    def hook_then_swap(install_hook, staging, *args, **kwargs):
        written = install_hook(staging, *args, **kwargs)
        (Path(staging) / "built-in.txt").write_text(f"built in {staging}\n")
        os.chmod(Path(staging) / "built-in.txt", 0o666)  # and everyone may write it: not changed either
        os.rename(envs, moved)
        os.symlink(moved, envs)
        return written

    message = _rollback_with(world, tmp_path, monkeypatch, hook_then_swap)
    assert str(envs) in message and "symlink" in message, message
    built = moved / ".a.rollback"
    staging = str(envs / ".a.rollback")
    assert (built / "built-in.txt").read_text() == f"built in {staging}\n"
    assert oct(os.lstat(built / "built-in.txt").st_mode & 0o777) == oct(0o666)
    assert staging in (built / "bin" / "activate").read_text()
    assert _run(moved / "a", "tinypkg") == "2.0\n"


# --- adopt: what it refuses, what it registers, what it never writes ---------------------------------------

def _foreign_venv(folder: Path, packages=None) -> Path:
    """A colleague's venv outside the tree, made as ``python -m venv`` makes one (a pyvenv.cfg, bin/python a
    link to the base interpreter; by hand, as the benchmarks do, since venv refuses a ':' in a folder's
    name), with ``packages`` ({name: version}) as installed dist-info."""
    base = os.path.realpath(sys._base_executable)
    site = folder / "lib" / f"python{MM}" / "site-packages"
    site.mkdir(parents=True)
    (folder / "bin").mkdir()
    os.symlink(base, folder / "bin" / "python")
    (folder / "pyvenv.cfg").write_text(f"home = {os.path.dirname(base)}\ninclude-system-site-packages = false\n"
                                       f"version = {PYTHON}\n")
    packages = packages or {}
    for name, version in packages.items():
        dist = site / f"{name}-{version}.dist-info"
        dist.mkdir()
        (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
        (dist / "RECORD").write_text("")
    return folder


def _files(folder: Path) -> dict:
    """Every path below ``folder`` with its content (or link target) and mode: what 'unchanged' means."""
    found = {}
    for path in sorted(folder.rglob("*")):
        st = os.lstat(path)
        body = os.readlink(path) if path.is_symlink() else (path.read_bytes() if path.is_file() else None)
        found[str(path.relative_to(folder))] = (st.st_mode, st.st_uid, st.st_mtime_ns, body)
    return found


def _adopt_refused(world, path, **kwargs) -> str:
    from pyenvmod.operations import adopt

    with pytest.raises(PyenvmodError) as info:
        adopt.adopt(world.config, str(path), **kwargs)
    return info.value.message


def test_adopt_registers_a_venv_without_changing_it(world, tmp_path, monkeypatch):
    from pyenvmod import __version__
    from pyenvmod.backends import pythons
    from pyenvmod.operations import adopt, external_prefix
    from pyenvmod.trust.identity import user_name

    folder = _foreign_venv(tmp_path / "lab" / "tools", {"six": "1.16.0", "attrs": "23.1.0"})
    before = _files(folder)
    stamp = _stamp(world, tmp_path)
    marker = world.layout.base / "pyenvmod-tree.conf"
    marker.unlink(missing_ok=True)
    monkeypatch.chdir(tmp_path / "lab")
    said = []
    record = adopt.adopt(world.config, "./other/../tools/", modules=[" gcc/12 ", "", "  ", "openmpi"],
                         notify=said.append)

    assert (record.name, record.prefix, record.backend, record.adopted) == ("tools", str(folder), "venv", True)
    assert (record.python, record.module, record.platform) == (PYTHON, f"pyenv/tools/py{MM}", world.layout.platform)
    assert record.base_python == pythons.probe(str(folder / "bin" / "python")).executable
    assert record.base_python != str(folder / "bin" / "python")
    assert record.modules == ["gcc/12", "openmpi"]
    assert list(record.packages.items()) == [("attrs", "23.1.0"), ("six", "1.16.0")]
    assert record.description == f"adopted from {folder}" and record.pyenvmod_version == __version__
    assert record.owner == user_name() and record.created == record.updated and len(record.created) == 25
    assert registry.record(world.tree, "tools") == record
    modulefile = (world.layout.module_dir("tools") / f"py{MM}.lua").read_text()
    assert str(folder) in modulefile and '"six/1.16.0"' in modulefile
    assert user_name() in marker.read_text()  # the Lmod hooks read the tree's owner there
    assert stamp.exists() and said == []
    # the environment itself is untouched, and in a user's own tree no marker goes into it
    assert _files(folder) == before
    assert not external_prefix.owned(world.layout, str(folder), "tools")
    # and the name is taken now: by a record, or by a folder of the tree
    assert _adopt_refused(world, folder) == ("an environment named 'tools' already exists; choose another with "
                                             "--name")
    world.layout.prefix("left").mkdir()
    assert _adopt_refused(world, folder, name="left") == ("an environment named 'left' already exists; choose "
                                                          "another with --name")
    assert not os.path.lexists(world.layout.meta_file("left")) and not world.layout.module_dir("left").exists()
    assert adopt.adopt(world.config, str(folder), name="again").prefix == str(folder)


def test_adopt_refuses_what_is_not_an_environment_from_elsewhere(world, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert _adopt_refused(world, empty) == (f"no bin/python in {empty}; give the folder of a venv or conda "
                                            "environment")
    (empty / "bin").mkdir()
    (empty / "bin" / "python").write_text("#!/bin/sh\n")
    os.chmod(empty / "bin" / "python", 0o644)
    assert _adopt_refused(world, empty).startswith("no bin/python in ")
    os.chmod(empty / "bin" / "python", 0o755)
    assert _adopt_refused(world, empty) == (f"{empty} is neither a virtual environment (no pyvenv.cfg) nor a conda "
                                            "environment (no conda-meta); give the folder that contains bin/python")
    for bad in ("a:b", "a\nb", "a\rb"):
        folder = _foreign_venv(tmp_path / bad)
        said = f"{folder} contains ':' or a line break, which breaks PATH; it cannot be a module"
        assert _adopt_refused(world, folder) == " ".join(said.split())  # an error is one line
    # a folder whose name is not a name: given one with --name, it is adopted
    spaced = _foreign_venv(tmp_path / "my env")
    assert "my env" in _adopt_refused(world, spaced)
    assert not world.layout.meta_file("my env").exists()
    with pytest.raises(PyenvmodError):
        from pyenvmod.operations import adopt

        adopt.adopt(world.config, str(spaced), name="fine", modules=["bad module"])
    assert not world.layout.meta_file("fine").exists()


def test_adopt_refuses_the_trees_own_folders(world):
    own = _foreign_venv(world.layout.prefix("stray"))
    assert _adopt_refused(world, own) == f"{own} is already one of pyenvmod's environments"
    inside = _foreign_venv(world.layout.base / "elsewhere-in-tree")
    assert _adopt_refused(world, inside) == (f"{inside} lies inside pyenvmod's tree {world.layout.base}; adopt "
                                             "environments from elsewhere")
    for name in ("stray", "elsewhere-in-tree"):
        assert not world.layout.meta_file(name).exists() and not world.layout.module_dir(name).exists()


def test_adopt_runs_the_python_isolated_from_the_callers_variables(world, tmp_path, monkeypatch):
    """A PYTHONHOME left by another Python's module would stop the interpreter from starting: adopt asks
    it for its version isolated (-I), as pyenvmod runs it everywhere."""
    from pyenvmod.operations import adopt

    folder = _foreign_venv(tmp_path / "tools")
    monkeypatch.setenv("PYTHONHOME", str(tmp_path / "no-such-home"))
    assert adopt.adopt(world.config, str(folder)).python == PYTHON


def test_adopt_of_a_python_that_only_says_its_version(world, tmp_path):
    """A wrapper that answers the version but not the interpreter probe: its own path is the base
    interpreter recorded."""
    from pyenvmod.operations import adopt

    folder = tmp_path / "wrapped"
    (folder / "bin").mkdir(parents=True)
    (folder / "pyvenv.cfg").write_text("home = /opt/python\n")
    python = folder / "bin" / "python"
    python.write_text(f"#!/bin/sh\necho {PYTHON}\n")
    os.chmod(python, 0o755)
    record = adopt.adopt(world.config, str(folder))
    assert (record.python, record.base_python) == (PYTHON, str(python))


def test_adopt_refuses_a_python_that_does_not_run(world, tmp_path):
    folder = tmp_path / "broken"
    (folder / "bin").mkdir(parents=True)
    (folder / "pyvenv.cfg").write_text("home = /gone\n")
    python = folder / "bin" / "python"
    python.write_text("#!/bin/sh\necho '" + "x" * 150 + " " + "y" * 150 + "' >&2\nexit 3\n")
    os.chmod(python, 0o755)
    assert _adopt_refused(world, folder) == (f"{python} does not run ({'x' * 150} {'y' * 49}); is its base "
                                             "interpreter gone?")
    assert not world.layout.meta_file("broken").exists()


def test_adopt_tells_the_kind_and_reads_a_conda_environments_packages(world, tmp_path):
    from pyenvmod.operations import adopt

    uv = _foreign_venv(tmp_path / "uvenvX")  # no other character than ':' and line breaks is refused
    with open(uv / "pyvenv.cfg", "a") as fh:
        fh.write("uv = 0.5.0\n")
    assert adopt.adopt(world.config, str(uv)).backend == "uv"
    conda = _foreign_venv(tmp_path / "condaenv", {"six": "1.16.0"})
    meta = conda / "conda-meta"
    meta.mkdir()
    for name, version in (("numpy", "1.26.4"), ("python", PYTHON), ("six", "1.15.0")):
        (meta / f"{name}-{version}-0.json").write_text(json.dumps({"name": name, "version": version}))
    (meta / "broken.json").write_text("{")
    record = adopt.adopt(world.config, str(conda))
    assert record.backend == "conda"
    # what pip installed is what python imports: its version wins over the conda record's
    assert record.packages == {"numpy": "1.26.4", "python": PYTHON, "six": "1.16.0"}
    assert list(record.packages) == sorted(record.packages)
    plain = _foreign_venv(tmp_path / "plainvenv")
    with open(plain / "pyvenv.cfg", "ab") as fh:
        fh.write(b"prompt = uvicorn-tools\ncomment = caf\xe9\n")  # Latin-1, as an old tool may write
    assert adopt.adopt(world.config, str(plain)).backend == "venv"


def test_adopt_in_a_group_tree_marks_only_a_folder_of_ones_own(world, tmp_path):
    from pyenvmod.operations import adopt, external_prefix

    world.config.group = "lab"
    mine = _foreign_venv(tmp_path / "mine")
    said = []
    adopt.adopt(world.config, str(mine), notify=said.append)
    assert said == [] and external_prefix.owned(world.layout, str(mine), "mine")
    theirs = _foreign_venv(tmp_path / "theirs")
    os.chown(theirs, 1, -1)
    before = _files(theirs)
    adopt.adopt(world.config, str(theirs), notify=said.append)
    assert said == [f"{theirs} is not yours: no marker was written in it, so 'pack' of 'theirs' in a group tree "
                    "is refused until its owner adopts it"]
    assert _files(theirs) == before and registry.record(world.tree, "theirs").adopted


def test_an_adopt_interrupted_while_registering_leaves_no_modulefiles(world, tmp_path, monkeypatch):
    """A SIGTERM (or Ctrl-C) while the record is written: the modulefiles written just before are removed,
    so no module loads an environment the tree does not list. The signal is raised where registry.write
    runs (in-process, a real signal cannot be timed to land there)."""
    from pyenvmod.errors import Interrupted
    from pyenvmod.operations import adopt

    folder = _foreign_venv(tmp_path / "tools")

    real_write, calls = registry.write, []

    def interrupted_once(tree, record):
        calls.append(record.name)
        if len(calls) > 1:
            return real_write(tree, record)
        assert (world.layout.module_dir("tools") / f"py{MM}.lua").is_file()  # written, about to be registered
        raise Interrupted(15)

    monkeypatch.setattr(registry, "write", interrupted_once)
    with pytest.raises(Interrupted):
        adopt.adopt(world.config, str(folder))
    assert not world.layout.meta_file("tools").exists()
    assert not world.layout.module_dir("tools").exists() and not world.layout.activate_dir("tools").exists()
    assert adopt.adopt(world.config, str(folder)).name == "tools"  # and the name is free
