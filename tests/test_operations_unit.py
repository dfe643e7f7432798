"""Issue 23, the operations in-process (mutmut credits only calls made in the test process): the
messages, files and orders a user sees from common.py, create, delete, external_prefix and run, on a
private tree under tmp_path with real small environments (``venv --without-pip``, or ``uv venv`` for
a real create)."""

import os
import subprocess
import sys

import pytest

from guardenv import MM, PYTHON, World
from immutable import immutable
from pyenvmod.records import registry
from pyenvmod.errors import PyenvmodError


@pytest.fixture(scope="session")
def uv_cache():
    """The tests' uv cache (conftest's, which the CLI tests use too) for the creates of these tests: 'uv venv
    --seed' links pip from a warm cache (a fresh one per test would unpack it every time, several times slower)."""
    from conftest import CACHE

    (CACHE / "uv").mkdir(parents=True, exist_ok=True)
    return str(CACHE / "uv")


@pytest.fixture
def world(tmp_path, monkeypatch, uv_cache) -> World:
    made = World(tmp_path, monkeypatch)
    monkeypatch.setenv("UV_CACHE_DIR", uv_cache)
    return made


def _set(config, key, value, origin="test"):
    config.set(key, value, origin)


# --- common: names, bases, backends, conda settings ------------------------------------------------

def test_an_unknown_name_suggests_close_names_case_blind(world):
    from pyenvmod.operations import common

    for name in ("MyLab", "mylab2", "other"):
        world.make(name)
    err = common.unknown_name(world.layout, "mylab")
    assert err.message == (f"no environment named 'mylab' under {world.layout.base}; "
                           "did you mean 'MyLab' or 'mylab2'? see 'pyenvmod list'")
    err = common.unknown_name(world.layout, "zzzzzz")
    assert err.message == f"no environment named 'zzzzzz' under {world.layout.base}; see 'pyenvmod list'"
    with pytest.raises(PyenvmodError, match=r"^no environment named 'mylab' .*did you mean 'MyLab'"):
        common.load_record(world.layout, "mylab")
    with pytest.raises(PyenvmodError):
        common.load_record(world.layout, "bad/name")
    assert common.load_record(world.layout, "MyLab").name == "MyLab"


def test_find_base_by_name_and_by_folder(world, tmp_path):
    from pyenvmod.operations import common

    base = world.make("base")
    record, modules_dir = common.find_base(world.layout, "base")
    assert (record.name, record.prefix, modules_dir) == ("base", base.prefix, world.layout.modules_dir)
    # by its folder, given with a trailing slash and a '..' step
    spec = os.path.join(base.prefix, "..", "base") + "/"
    record, modules_dir = common.find_base(world.layout, spec)
    assert (record.name, record.prefix, modules_dir) == ("base", base.prefix, world.layout.modules_dir)


def test_find_base_refusals_name_the_problem(world, tmp_path):
    from pyenvmod.operations import common

    plain = tmp_path / "plain"
    plain.mkdir()
    with pytest.raises(PyenvmodError, match=rf"^--extends {plain}: not an environment made by pyenvmod \(.*\); "
                                            "give the name of one of your environments or the folder of a pyenvmod "
                                            "environment$"):
        common.find_base(world.layout, str(plain))
    # a folder of the tree with no record
    stray = world.layout.prefix("stray")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(stray)], check=True)
    meta = world.layout.meta_file("stray")
    with pytest.raises(PyenvmodError) as info:
        common.find_base(world.layout, str(stray))
    assert info.value.message == (f"--extends {stray}: not an environment made by pyenvmod (no {meta}); give the "
                                  "name of one of your environments or the folder of a pyenvmod environment")
    # an environment of another node's tree (same root, another platform), given by its folder
    from pyenvmod.records.layout import Layout
    from pyenvmod.trust.tree import Tree

    other = Tree(Layout(world.layout.root, "aarch64-other"))
    other.ensure()
    foreign = other.layout.prefix("foreign")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(foreign)], check=True)
    registry.write(other, world.record("foreign", prefix=str(foreign), platform="aarch64-other"))
    with pytest.raises(PyenvmodError) as info:
        common.find_base(world.layout, str(foreign))
    assert info.value.message == (f"--extends {foreign}: it was built for aarch64-other, this node is "
                                  f"{world.layout.platform}")
    broken = world.make("broken")
    os.unlink(os.path.join(broken.prefix, "bin", "python"))
    with pytest.raises(PyenvmodError) as info:
        common.find_base(world.layout, "broken")
    assert info.value.message == f"--extends broken: its environment at {broken.prefix} is missing or broken"


def test_backend_for_puts_the_configured_caches_in_the_helpers_environment(world, tmp_path):
    from pyenvmod.operations import common

    os.environ.pop("UV_CACHE_DIR")  # the user's own: none here

    plain = common.backend_for(world.config, "uv")
    assert plain.name == "uv" and "UV_CACHE_DIR" not in plain.env and "PIP_CACHE_DIR" not in plain.env
    assert "UV_LINK_MODE" not in plain.env or plain.env["UV_LINK_MODE"] == os.environ.get("UV_LINK_MODE")
    _set(world.config, "cache_dir", str(tmp_path / "caches"))
    cached = common.backend_for(world.config, "venv")
    assert cached.name == "venv"
    assert cached.env["UV_CACHE_DIR"] == str(tmp_path / "caches" / "uv")
    assert cached.env["PIP_CACHE_DIR"] == str(tmp_path / "caches" / "pip")
    world.config.group = "lab"
    assert common.backend_for(world.config, "uv").env["UV_LINK_MODE"] == "copy"


def test_backend_for_conda_takes_channels_priority_and_packages_folder(world, tmp_path, monkeypatch):
    from pyenvmod.operations import common

    condarc = tmp_path / "condarc"
    condarc.write_text("channels: [rc-channel]\npkgs_dirs: [$HOME/pkgs, /other]\nchannel_priority: disabled\n")
    monkeypatch.setenv("CONDARC", str(condarc))
    home = os.environ["HOME"]
    conda = common.backend_for(world.config, "conda")
    assert (conda.channels, conda.strict, conda.pkgs_dir) == (["rc-channel"], False, f"{home}/pkgs")
    conda = common.backend_for(world.config, "conda", channels=["given"])
    assert conda.channels == ["given"]
    _set(world.config, "channels", ["configured"])
    _set(world.config, "channel_priority", "strict")
    _set(world.config, "cache_dir", str(tmp_path / "c"))
    conda = common.backend_for(world.config, "conda")
    assert (conda.channels, conda.strict, conda.pkgs_dir) == (["configured"], True, str(tmp_path / "c" / "conda-pkgs"))
    condarc.write_text("channels: [rc]\nchannel_priority: strict\n")
    _set(world.config, "channel_priority", "disabled")
    assert common.backend_for(world.config, "conda").strict is False  # the configuration wins over .condarc
    world.config.origins["channel_priority"] = "default"
    assert common.backend_for(world.config, "conda").strict is True  # the default: .condarc's
    condarc.write_text("channels: [rc]\nchannel_priority: flexible\n")
    assert common.backend_for(world.config, "conda").strict is True  # conda's 'flexible': strict here
    condarc.write_text("channels: [rc]\n")
    world.config.values["cache_dir"] = None
    conda = common.backend_for(world.config, "conda")
    assert conda.strict is True and conda.pkgs_dir is None


def test_read_condarc(tmp_path, monkeypatch):
    from pyenvmod.operations.common import read_condarc

    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("CONDARC", raising=False)
    assert read_condarc() == {}
    (tmp_path / ".condarc").write_text("channels: [~/chan, $HOME/x, 3]\nchannel_priority: strict\nother: 1\n"
                                       "pkgs_dirs: notalist\n")
    assert read_condarc() == {"channels": [f"{tmp_path}/chan", f"{tmp_path}/x", "3"], "channel_priority": "strict"}
    path = tmp_path / "rc"
    monkeypatch.setenv("CONDARC", str(path))
    assert read_condarc() == {}
    path.write_text("- a\n- b\n")
    with pytest.raises(PyenvmodError) as info:
        read_condarc()
    assert info.value.message == f"{path} is not a mapping of conda settings; fix it or set CONDARC to another file"
    path.write_text("channels: [a\n")
    with pytest.raises(PyenvmodError, match=rf"^cannot read {path}: .*; fix it or set CONDARC to another file$"):
        read_condarc()
    path.write_text("")
    assert read_condarc() == {}


def test_tree_group_and_share(world):
    from pyenvmod.operations import common

    assert common.tree_group(world.config, world.layout) is None
    world.config.group = "lab"
    assert common.tree_group(world.config, world.layout) == world.layout.root.stat().st_gid


# --- create: what is refused before anything is made, what a create leaves --------------------------

def _wheel(folder, name, version="1.0", requires=()):
    """A pure-Python wheel of module ``name`` (a local file: no index, no network)."""
    from localpkg import WHEEL_WRITER

    scope = {}
    exec(WHEEL_WRITER, scope)
    folder.mkdir(exist_ok=True)
    return str(folder / scope["write_wheel"](str(folder), name, version, {f"{name}.py": f"WHO = {name!r}\n"},
                                             requires=requires))


def _request(**fields):
    from pyenvmod.operations.create import CreateRequest

    fields.setdefault("python", sys.executable)
    return CreateRequest(**fields)


def _nothing_made(world, name):
    layout = world.layout
    for path in (layout.prefix(name), layout.meta_file(name), layout.history_dir(name), layout.module_dir(name)):
        assert not os.path.lexists(path), path


def test_create_refuses_bad_requests_before_anything_is_made(world, tmp_path):
    from pyenvmod.operations import create

    cases = [
        (dict(name="bad name"), "bad name"),
        (dict(name="c", backend="conda", extends="base", channels=["x"]),
         "--extends and --no-binary work with the uv and venv backends, not with conda"),
        (dict(name="c", backend="conda", no_binary=["six"], channels=["x"]),
         "--extends and --no-binary work with the uv and venv backends, not with conda"),
        (dict(name="c", no_binary=["not a name!"]), "not a name!"),
    ]
    for fields, message in cases:
        with pytest.raises(PyenvmodError) as info:
            create.plan(world.config, _request(**fields))
        assert message in info.value.message
        if fields.get("backend") == "conda":
            assert info.value.message == message  # the whole line
        _nothing_made(world, fields["name"].replace(" ", "_"))
    world.config.group = "lab"
    with pytest.raises(PyenvmodError) as info:
        create.plan(world.config, _request(name="c", location=str(tmp_path / "x")))
    assert info.value.message == ("--prefix makes an environment outside the tree, and a group tree keeps its "
                                  "environments inside it (where every maintainer may change them); create it "
                                  "without --prefix")


def test_create_refuses_a_spec_the_backend_cannot_install(world, tmp_path):
    from pyenvmod.operations import create
    from pyenvmod.packages import spec as spec_mod

    path = tmp_path / "environment.yml"
    path.write_text("dependencies:\n  - python=3.12\n  - numpy\n  - scipy\n  - pip:\n    - six\n")
    spec = spec_mod.read(str(path))
    assert len(spec.conda_only) == 2  # both named, one after the other
    with pytest.raises(PyenvmodError) as info:
        create.plan(world.config, _request(name="c", spec=spec, backend="uv"))
    assert info.value.message == (f"{spec.source} has conda-only entries the uv backend cannot install: "
                                  f"{', '.join(spec.conda_only)}; move them under 'pip:' or use a conda environment")
    modules = tmp_path / "modules.yml"
    modules.write_text("dependencies:\n  - pip:\n    - six\npyenvmod:\n  modules: [gcc/12, openmpi]\n")
    spec = spec_mod.read(str(modules))
    assert spec.modules == ["gcc/12", "openmpi"]
    with pytest.raises(PyenvmodError) as info:
        create.plan(world.config, _request(name="c", spec=spec))
    assert info.value.message == (f"{spec.source} needs the modules gcc/12 openmpi, but no module system is set up "
                                  "in this shell (neither LMOD_CMD nor MODULES_CMD is set)")


def test_create_refuses_a_pip_part_for_the_conda_backend(world, tmp_path):
    """An environment.yml with conda entries and a pip: part: the conda backend (chosen by the conda
    entries, or given) would take the pip packages for conda packages."""
    from pyenvmod.operations import create
    from pyenvmod.packages import spec as spec_mod

    path = tmp_path / "environment.yml"
    path.write_text("dependencies:\n  - python=3.12\n  - numpy\n  - pip:\n    - six\n")
    spec = spec_mod.read(str(path))
    for backend in ("", "conda"):
        with pytest.raises(PyenvmodError) as info:
            create.plan(world.config, _request(name="c", spec=spec, backend=backend, channels=["x"]))
        assert info.value.message == (f"{spec.source} has a pip: part; the conda backend installs conda packages "
                                      "only (create the environment, then pip install inside it)")
    path.write_text("dependencies:\n  - python=3.12\n  - numpy\n")
    plan = create.plan(world.config, _request(name="c", spec=spec_mod.read(str(path)), channels=["x"],
                                              packages=["scipy"]))
    assert (plan.backend_name, plan.packages) == ("conda", ["numpy", "scipy"])


def test_create_merges_a_spec_with_the_command_line(world, tmp_path):
    from pyenvmod.operations import create
    from pyenvmod.packages import spec as spec_mod

    path = tmp_path / "requirements.txt"
    path.write_text("six\nattrs\n")
    spec = spec_mod.read(str(path))
    merged = create._merge_spec(_request(name="c", spec=spec, packages=["idna"], description="mine",
                                         no_binary=["six", "idna"], modules=["", "gcc"]))
    assert merged.packages == ["six", "attrs", "idna"]
    assert merged.description == "mine" and merged.python == sys.executable and merged.name == "c"
    assert merged.no_binary == [*spec.no_binary, *[n for n in ("six", "idna") if n not in spec.no_binary]]
    assert merged.modules == [*spec.modules, "gcc"]
    assert create._merge_spec(_request(name="c")) == _request(name="c")
    # what only the command line can say is kept: --extends, --no-capture, --prefix, -c
    conda = tmp_path / "environment.yml"
    conda.write_text("channels: [conda-forge]\ndependencies:\n  - python=3.12\n  - numpy\n")
    conda_spec = spec_mod.read(str(conda))
    kept = create._merge_spec(_request(name="c", spec=spec, extends="base", capture=False,
                                       location=str(tmp_path / "here"), channels=["mine"]))
    assert (kept.extends, kept.capture, kept.location, kept.channels) == \
        ("base", False, str(tmp_path / "here"), ["mine"])
    assert create._merge_spec(_request(name="c", spec=conda_spec)).channels == ["conda-forge"]
    assert create._merge_spec(_request(name="c", spec=conda_spec, channels=["mine"])).channels == ["mine"]
    plan = create.plan(world.config, _request(name="c", spec=spec, packages=["idna"]))
    assert (plan.name, plan.backend_name, plan.packages, plan.requested) == \
        ("c", "uv", ["six", "attrs", "idna"], ["six", "attrs", "idna"])
    _nothing_made(world, "c")


def test_create_makes_records_and_registers_an_environment(world, tmp_path):
    from pyenvmod.operations import create
    from pyenvmod.records import history

    wheel = _wheel(tmp_path / "wheels", "tinypkg")
    said = []
    record = create.create(world.config, _request(name="made", packages=[wheel], description="a test"), said.append)
    prefix = str(world.layout.prefix("made"))
    assert said[0] == f"creating 'made' with uv from Python {PYTHON} ({os.path.realpath(sys.executable)})" or \
        said[0].startswith("creating 'made' with uv from Python ")
    assert said[1] == f"installing {wheel}"
    assert (record.name, record.prefix, record.python, record.backend, record.description) == \
        ("made", prefix, PYTHON, "uv", "a test")
    assert record.module == f"pyenv/made/py{MM}" and record.platform == world.layout.platform
    assert record.packages["tinypkg"] == "1.0" and record.requested == [wheel]
    assert record.created and record.updated == record.created and record.extends is None
    assert registry.record(world.tree, "made").packages == record.packages  # registered
    assert os.path.isfile(os.path.join(world.layout.module_dir("made"), f"py{MM}.lua")) or \
        any(world.layout.module_dir("made").iterdir())
    entries = history.entries(world.layout, "made")
    assert [e["action"] for e in entries] == ["create"] and entries[0]["args"] == [wheel]
    out = subprocess.run([os.path.join(prefix, "bin", "python"), "-c", "import tinypkg; print(tinypkg.WHO)"],
                         capture_output=True, text=True, check=True).stdout
    assert out == "tinypkg\n"
    assert not os.stat(prefix).st_mode & 0o002
    # the same name again: refused, the first one kept
    with pytest.raises(PyenvmodError) as info:
        create.create(world.config, _request(name="made"))
    assert info.value.message == ("an environment named 'made' already exists; choose another name, or run "
                                  "'pyenvmod delete made' first")
    assert registry.record(world.tree, "made").packages == record.packages


def test_create_clears_the_leftover_of_an_interrupted_create(world):
    from pyenvmod.operations import create

    prefix = world.layout.prefix("left")
    prefix.mkdir()
    (prefix / "junk").write_text("x")
    said = []
    record = create.create(world.config, _request(name="left"), said.append)
    assert said[0] == "removed the leftover of an interrupted create of 'left'"
    assert not (prefix / "junk").exists() and record.prefix == str(prefix)
    history_dir = world.layout.history_dir("other")
    history_dir.mkdir(parents=True)
    said.clear()
    create.create(world.config, _request(name="other"), said.append)
    assert said[0] == "removed the leftover of an interrupted create of 'other'"


def test_a_failed_create_leaves_nothing(world, tmp_path):
    from pyenvmod.operations import create

    broken = tmp_path / "broken-1.0-py3-none-any.whl"
    broken.write_text("not a zip")
    with pytest.raises(PyenvmodError):
        create.create(world.config, _request(name="failed", packages=[str(broken)]))
    _nothing_made(world, "failed")
    outside = tmp_path / "outside"
    with pytest.raises(PyenvmodError):
        create.create(world.config, _request(name="failed", packages=[str(broken)], location=str(outside)))
    _nothing_made(world, "failed")
    assert not outside.exists() or list(outside.iterdir()) == []


def test_create_extends_a_base_and_refuses_another_python(world, tmp_path):
    from pyenvmod.operations import create

    base = create.create(world.config, _request(name="base"))
    child = create.create(world.config, _request(name="child", python="", extends="base"))
    assert child.extends == {"name": "base", "prefix": base.prefix, "module": base.module,
                             "modules_dir": str(world.layout.modules_dir), "python": base.python}
    assert child.base_python == base.base_python
    from pyenvmod.modules import stacking

    hook = (world.site(child.prefix) / stacking.BASE_HOOK).read_text()
    assert str(world.site(base.prefix)) in hook
    other = world.record("old", python="2.7.18", module="pyenv/old/py2.7")
    other_prefix = world.layout.prefix("old")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(other_prefix)], check=True)
    registry.write(world.tree, other)
    with pytest.raises(PyenvmodError) as info:
        create.create(world.config, _request(name="kid", extends="old"))
    assert info.value.message == (f"'kid' would use Python {MM} but its base 'old' uses Python 2.7.18; an "
                                  "environment and its base must use the same Python version")
    _nothing_made(world, "kid")


def test_create_at_a_prefix_marks_the_folder(world, tmp_path):
    from pyenvmod.operations import create, external_prefix

    folder = tmp_path / "mine" / "env"
    folder.parent.mkdir()
    record = create.create(world.config, _request(name="ext", location=str(folder)))
    assert record.prefix == str(folder) and (folder / "bin" / "python").exists()
    assert "prompt = ext\n" in (folder / "pyvenv.cfg").read_text()  # its name, not its folder's
    assert external_prefix.owned(world.layout, str(folder), "ext")
    assert external_prefix.is_external(world.layout, record)
    assert not os.path.lexists(world.layout.prefix("ext"))


def test_share_hands_what_a_command_made_to_the_trees_group(world, tmp_path):
    from pyenvmod.operations import common

    made = world.layout.prefix("shared")
    made.mkdir()
    (made / "file").write_text("x")
    os.chmod(made / "file", 0o600)
    other_gid = next(g for g in (100, 1000, 50, 10) if g != os.getgid())
    os.chown(world.layout.root, -1, other_gid)
    common.share(world.config, world.layout, made)  # a user's own tree: nothing changes
    assert os.stat(made / "file").st_gid != other_gid and os.stat(made / "file").st_mode & 0o777 == 0o600
    other = world.layout.prefix("untouched")
    other.mkdir()
    (other / "file").write_text("x")
    os.chmod(other / "file", 0o600)
    world.config.group = "lab"
    common.share(world.config, world.layout, made)
    st = os.stat(made / "file")
    assert os.stat(other / "file").st_gid != other_gid  # only what the command made
    assert os.stat(other / "file").st_mode & 0o777 == 0o600
    assert st.st_gid == other_gid and st.st_mode & 0o777 == 0o660
    assert os.stat(made).st_gid == other_gid
    assert common.tree_for(world.config).shared is True
    world.config.group = ""
    assert common.tree_for(world.config).shared is False


# --- run: notes, conda variables, the site's variables, finding the command --------------------------

def test_run_without_a_module_system_notes_the_recorded_modules(world):
    from pyenvmod.operations import run_in

    world.make("withmods", modules=["gcc/12", "openmpi/4"])
    said = []
    run_in.environment(world.config, "withmods", {"PATH": "/usr/bin"}, said.append)
    assert said == ["note: no module system in this shell, so the recorded modules gcc/12 openmpi/4 are not loaded"]
    said.clear()
    world.make("plain")
    run_in.environment(world.config, "plain", {"PATH": "/usr/bin"}, said.append)
    assert said == []


def test_run_sets_conda_and_site_variables(world):
    from pyenvmod.operations import run_in

    conda = world.make("cenv", backend="conda")
    _set(world.config, "environment", {"B_VAR": 2, "A_VAR": "one"})
    env = run_in.environment(world.config, "cenv", {"PATH": "/usr/bin", "A_VAR": "caller"})
    assert env["CONDA_PREFIX"] == conda.prefix and env["CONDA_DEFAULT_ENV"] == "cenv"
    assert (env["A_VAR"], env["B_VAR"]) == ("one", "2")
    env = run_in.environment(world.config, "cenv", {"PATH": "/usr/bin"})
    world.make("venv")
    env = run_in.environment(world.config, "venv", {"PATH": "/usr/bin"})
    assert "CONDA_PREFIX" not in env and "CONDA_DEFAULT_ENV" not in env


def test_run_of_a_loop_of_extends_below_the_environment_ends(world):
    from pyenvmod.operations import run_in

    a = world.make("a")
    b = world.make("b", extends=a)
    top = world.make("top", extends=b)
    registry.write(world.tree, a.replace(extends=dict(b.extends, name="b", prefix=b.prefix, module=b.module)))
    env = run_in.environment(world.config, "top", {"PATH": "/usr/bin"})
    assert env["PATH"].split(":") == [f"{top.prefix}/bin", f"{b.prefix}/bin", f"{a.prefix}/bin", "/usr/bin"]


def test_run_resolves_a_command_as_a_shell_would(tmp_path):
    from pyenvmod.operations import run_in

    tool = tmp_path / "bin" / "tool"
    tool.parent.mkdir()
    tool.write_text("#!/bin/sh\n")
    os.chmod(tool, 0o755)
    assert run_in.resolve_command(str(tool), {}) == str(tool)
    assert run_in.resolve_command("tool", {"PATH": str(tool.parent)}) == str(tool)
    os.chmod(tool, 0o644)
    for command, env in ((str(tool), {}), (str(tmp_path / "bin"), {}), ("tool", {"PATH": str(tool.parent)}),
                         ("sh", {}), ("./missing", {"PATH": "/bin"})):
        with pytest.raises(run_in.CommandNotFound) as info:
            run_in.resolve_command(command, env)
        assert info.value.message == (f"command not found: {command!r} (not on the PATH the environment sets); "
                                      "check the spelling, or install it into the environment")
        assert info.value.exit_code == 127
    with pytest.raises(PyenvmodError) as info:
        run_in.execute(None, "x", [])
    assert info.value.message == "name a command to run: pyenvmod run x -- COMMAND [ARGS...]"


# --- create --prefix folders: which ones delete may remove ---------------------------------------------

def test_only_a_marked_folder_of_its_own_is_removed(world, tmp_path):
    from pyenvmod.operations import external_prefix

    folder = tmp_path / "ext"
    folder.mkdir()
    (folder / "data").write_text("x")
    record = world.record("ext", prefix=str(folder))
    assert external_prefix.is_external(world.layout, record)
    assert not external_prefix.remove(world.layout, record) and (folder / "data").exists()  # no marker
    external_prefix.mark(world.layout, folder, "other")
    assert not external_prefix.remove(world.layout, record) and (folder / "data").exists()  # another's
    external_prefix.mark(world.layout, folder, "ext")
    adopted = record.replace(adopted=True)
    assert not external_prefix.is_external(world.layout, adopted)
    assert not external_prefix.remove(world.layout, adopted) and (folder / "data").exists()
    inside = world.record("ext")
    assert not external_prefix.is_external(world.layout, inside)
    assert not external_prefix.remove(world.layout, inside) and (folder / "data").exists()
    assert external_prefix.remove(world.layout, record)
    assert not folder.exists() and tmp_path.is_dir()


def test_prefix_check_refuses_what_cannot_hold_an_environment(world, tmp_path):
    from pyenvmod.operations import external_prefix

    def refused(path):
        with pytest.raises(PyenvmodError) as info:
            external_prefix.check(world.layout, str(path))
        return info.value.message

    assert refused(tmp_path / "a:b") == (f"--prefix {tmp_path}/a:b: a folder with ':' or a line break cannot be "
                                         "on PATH; choose another")
    inside = world.layout.root / "mine"
    assert refused(inside) == (f"--prefix {inside} is inside pyenvmod's root {world.layout.root}; give a name "
                               "instead of --prefix for environments there")
    file = tmp_path / "file"
    file.write_text("")
    assert refused(file) == f"--prefix {file} exists and is not a folder; give a new or empty folder"
    link = tmp_path / "link"
    link.symlink_to(tmp_path)
    assert refused(link) == f"--prefix {link} exists and is not a folder; give a new or empty folder"
    venv = tmp_path / "venv"
    venv.mkdir()
    (venv / "pyvenv.cfg").write_text("")
    assert refused(venv) == (f"--prefix {venv} is already an environment; give it modulefiles with "
                             f"'pyenvmod adopt {venv}', or choose a new folder")
    conda = tmp_path / "conda"
    (conda / "conda-meta").mkdir(parents=True)
    assert "is already an environment" in refused(conda)
    full = tmp_path / "full"
    full.mkdir()
    (full / "x").write_text("")
    assert refused(full) == f"--prefix {full} is not empty and not an environment; give a new or empty folder"
    orphan = tmp_path / "no" / "env"
    assert refused(orphan) == f"--prefix {orphan}: its parent folder {orphan.parent} does not exist; create it first"
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o777)
    assert "chmod go-w" in refused(shared)
    os.chmod(shared, 0o755)
    assert external_prefix.check(world.layout, str(shared) + "/") == shared
    assert external_prefix.check(world.layout, str(tmp_path / "new")) == tmp_path / "new"
    os.chown(shared, 1, -1)
    assert refused(shared).startswith(f"--prefix {shared} belongs to ")


# --- delete ----------------------------------------------------------------------------------------------

def test_delete_removes_everything_of_the_environment(world, tmp_path):
    from pyenvmod.modules import tombstones
    from pyenvmod.operations import create, delete

    record = create.create(world.config, _request(name="gone"))
    images = world.layout.base / "images" / "gone"
    images.mkdir(parents=True, exist_ok=True)
    (images / "image.sqfs").write_text("x")
    assert delete.delete(world.config, "gone", confirm=lambda name, prefix: (name, prefix) == (
        "gone", world.layout.prefix("gone")))
    for path in (record.prefix, world.layout.meta_file("gone"), world.layout.history_dir("gone"), images):
        assert not os.path.lexists(path), path
    assert tombstones.is_tombstone(world.layout, "gone")  # a shell with it loaded can still unload it
    with pytest.raises(PyenvmodError) as info:
        delete.delete(world.config, "gone")
    assert info.value.message.startswith("no environment named 'gone' under ")


def test_delete_refusals_and_a_no(world):
    from pyenvmod.operations import delete

    base = world.make("base")
    world.make("child", extends=base)
    world.make("child2", extends=base)
    with pytest.raises(PyenvmodError) as info:
        delete.delete(world.config, "base")
    assert info.value.message == ("'base' is the base of 'child', 'child2' (created with --extends); delete those "
                                  "first")
    assert not delete.delete(world.config, "child", confirm=lambda name, prefix: False)
    assert registry.record(world.tree, "child").name == "child"
    os.environ["_LMFILES_"] = str(world.layout.module_dir("child") / f"py{MM}.lua")
    try:
        with pytest.raises(PyenvmodError) as info:
            delete.delete(world.config, "child")
        assert info.value.message == ("'child' is loaded in this shell; run 'module unload pyenv/child' first, or "
                                      "pass --force (the shell can still unload it afterwards)")
        assert delete.delete(world.config, "child", force=True)
    finally:
        del os.environ["_LMFILES_"]
    assert not os.path.lexists(world.layout.prefix("child"))


def test_delete_of_a_leftover_and_of_a_prefix_elsewhere(world, tmp_path):
    from pyenvmod.operations import create, delete

    leftover = world.layout.prefix("half")
    leftover.mkdir()
    assert delete.delete(world.config, "half") and not os.path.lexists(leftover)
    folder = tmp_path / "ext"
    create.create(world.config, _request(name="ext", location=str(folder)))
    assert delete.delete(world.config, "ext")
    assert not folder.exists() and not os.path.lexists(world.layout.meta_file("ext"))
    # a record pointing at another folder (no marker of its own): the folder stays
    other = tmp_path / "other"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(other)], check=True)
    from pyenvmod.operations import external_prefix

    external_prefix.mark(world.layout, other, "ext2")
    registry.write(world.tree, world.record("ext2", prefix=str(other)))
    external_prefix.mark(world.layout, other, "someone")
    assert delete.delete(world.config, "ext2") and (other / "bin" / "python").exists()


def test_delete_sets_aside_what_cannot_be_removed_and_names_it(world):
    """What another member made in a group tree cannot be removed (here: an immutable file, which root
    cannot remove either): the rest is removed, the folder goes aside under a hidden name (the name is
    free again) and the message names the first path left, at its new place, and the command to run."""
    import re
    import shutil

    from modsys import require
    from pyenvmod.operations import delete

    require(shutil.which("chattr") is not None and os.geteuid() == 0, "chattr as root", "run the tests as root")
    record = world.make("stuck")
    keep = world.site(record.prefix) / "theirs.py"
    keep.write_text("")
    if subprocess.run(["chattr", "+i", str(keep)], capture_output=True).returncode != 0:
        pytest.skip("this filesystem has no immutable flag")
    try:
        with pytest.raises(PyenvmodError) as info:
            delete.delete(world.config, "stuck")
        aside = [p for p in world.layout.envs_dir.iterdir() if p.name.startswith(".stuck.deleted-")]
        assert len(aside) == 1 and re.fullmatch(r"\.stuck\.deleted-[0-9a-f]{8}", aside[0].name)
        moved = aside[0] / keep.relative_to(record.prefix)
        assert moved.exists() and not (aside[0] / "bin").exists()  # the rest was removed
        message = info.value.message
        # left: the file, and each folder above it up to the environment's, which it keeps from being empty
        more = len(keep.relative_to(record.prefix).parts)
        assert message.startswith(f"deleted 'stuck', but {moved} (Operation not permitted) and {more} more ")
        assert re.search(r" more could not be removed: another member made it; ask them, or the tree's "
                         r"owner, to run 'rm -rf " + re.escape(str(aside[0])) + r"'$", message), message
        for path in (record.prefix, world.layout.meta_file("stuck"), world.layout.history_dir("stuck")):
            assert not os.path.lexists(path), path
    finally:
        subprocess.run(["chattr", "-R", "-i", str(world.layout.envs_dir)], capture_output=True)
    # the name is free again
    assert world.make("stuck").prefix == record.prefix


def test_delete_names_a_single_leftover_outside_the_environment_folder(world):
    from pyenvmod.operations import delete

    record = world.make("hist")
    history_dir = world.layout.history_dir("hist")
    history_dir.mkdir(parents=True, exist_ok=True)
    with immutable(history_dir), pytest.raises(PyenvmodError) as info:
        delete.delete(world.config, "hist")
    assert info.value.message == (f"deleted 'hist', but {history_dir} (Operation not permitted) could not be removed: "
                                  "another member made it; ask them, or the tree's owner, to run "
                                  f"'rm -rf {record.prefix}'")
    assert not os.path.lexists(record.prefix) and not os.path.lexists(world.layout.meta_file("hist"))
    assert [p.name for p in world.layout.envs_dir.iterdir() if p.name.startswith(".")] == []  # nothing set aside


def test_delete_of_an_environment_another_process_deleted_meanwhile_says_so(world):
    """Between the first look and the lock (here: while the user is asked) another delete removed it."""
    from pyenvmod.operations import common, delete

    world.make("racy")

    def meanwhile(name, prefix):
        assert delete.delete(world.config, name)  # the other process, which holds no lock now
        return True

    with pytest.raises(PyenvmodError) as info:
        delete.delete(world.config, "racy", confirm=meanwhile)
    assert info.value.message == (f"no environment named 'racy' under {world.layout.base}: another process "
                                  "deleted it meanwhile")
    assert common.tree_for(world.config).names() == []


def test_delete_of_modulefiles_left_without_a_record_removes_them(world):
    from pyenvmod.modules import tombstones
    from pyenvmod.operations import delete

    stray = world.layout.module_dir("stray")
    stray.mkdir(parents=True)
    (stray / f"py{MM}.lua").write_text("-- left by an interrupted create\n")
    assert delete.delete(world.config, "stray")
    assert not stray.exists() and not tombstones.is_tombstone(world.layout, "stray")


def test_delete_names_what_it_could_not_remove_of_the_image_and_how_much_more(world):
    from pyenvmod.operations import delete

    world.make("packed")
    images = world.layout.base / "images" / "packed"
    images.mkdir(parents=True)
    image = images / "image.sqfs"
    image.write_text("x")
    with immutable(image), pytest.raises(PyenvmodError) as info:
        delete.delete(world.config, "packed")
    assert info.value.message.startswith(f"deleted 'packed', but {image} (Operation not permitted) and 1 more could "
                                         "not be removed: ")  # the image, and its folder it keeps from being empty
    assert not os.path.lexists(world.layout.meta_file("packed"))


def test_a_broken_record_does_not_hide_the_environments_that_extend_one(world):
    from pyenvmod.operations import delete

    base = world.make("base")
    world.make("child", extends=base)
    world.layout.meta_file("aaa").write_text("{not json")  # listed before the others
    with pytest.raises(PyenvmodError) as info:
        delete.delete(world.config, "base")
    assert info.value.message.startswith("'base' is the base of 'child' ")


def _with_modulefiles(world, name):
    """A made environment with its modulefiles written (delete buries only a module folder that exists)."""
    from pyenvmod.modules import modulefiles
    from pyenvmod.operations import common

    record = world.make(name)
    common.write_modulefiles(world.layout, record, modulefiles.options_from(world.config))
    return record


def test_delete_writes_the_tombstones_with_the_sites_templates(world, tmp_path):
    """A site's template folder (configuration 'templates') shapes the tombstones too: the hidden rc file a
    delete leaves carries the site's line, beside the built-in text it includes."""
    from pyenvmod.modules import tombstones
    from pyenvmod.operations import delete

    site = tmp_path / "site-templates"
    site.mkdir(mode=0o755)
    (site / "modulerc.lua.j2").write_text('{% include "builtin/modulerc.lua.j2" %}\n-- deleted: ask the lab\n')
    _set(world.config, "templates", [str(site)])
    _with_modulefiles(world, "tomb")
    assert delete.delete(world.config, "tomb")
    assert tombstones.is_tombstone(world.layout, "tomb")
    rc = (world.layout.module_dir("tomb") / ".modulerc.lua").read_text()
    assert rc.rstrip().endswith("-- deleted: ask the lab") and f'hide_version("pyenv/tomb/py{MM}")' in rc


def test_a_delete_in_a_group_tree_keeps_every_tombstone_and_in_ones_own_tree_sweeps_the_old(world, monkeypatch):
    """Another member's shell may have an old tombstone loaded, out of this user's sight: in a group tree a
    delete sweeps nothing. In one's own tree it sweeps a tombstone no shell can have loaded (written before
    any running shell started), and keeps one this shell still has loaded."""
    from pyenvmod.modules import tombstones
    from pyenvmod.operations import delete

    tombstones.bury(world.layout, world.record("old"))  # a deleted environment's,
    os.utime(world.layout.module_dir("old") / ".modulerc", (1, 1))  # written before any shell here started
    world.config.group = "lab"
    _with_modulefiles(world, "ours")
    assert delete.delete(world.config, "ours")
    assert tombstones.is_tombstone(world.layout, "old") and tombstones.is_tombstone(world.layout, "ours")
    world.config.group = ""
    os.utime(world.layout.module_dir("ours") / ".modulerc", (1, 1))  # old as well, but this shell has it loaded
    monkeypatch.setenv("_LMFILES_", str(world.layout.module_dir("ours") / f"py{MM}.lua"))
    _with_modulefiles(world, "mine")
    assert delete.delete(world.config, "mine")
    assert not os.path.lexists(world.layout.module_dir("old"))
    assert tombstones.is_tombstone(world.layout, "ours")
