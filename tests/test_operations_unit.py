"""Issue 23, the operations in-process (mutmut credits only calls made in the test process): the
messages, files and orders a user sees from common.py, create, delete, external_prefix and run, on a
private tree under tmp_path with real small environments (``venv --without-pip``, or ``uv venv`` for
a real create)."""

import os
import subprocess
import sys

import pytest

from guardenv import MM, PYTHON, World
from pyenvmod.errors import PyenvmodError


@pytest.fixture
def world(tmp_path, monkeypatch) -> World:
    return World(tmp_path, monkeypatch)


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
    other.write_record(world.record("foreign", prefix=str(foreign), platform="aarch64-other"))
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

def _wheel(folder, name, version="1.0"):
    """A pure-Python wheel of module ``name`` (a local file: no index, no network)."""
    from localpkg import WHEEL_WRITER

    scope = {}
    exec(WHEEL_WRITER, scope)
    folder.mkdir(exist_ok=True)
    return str(folder / scope["write_wheel"](str(folder), name, version, {f"{name}.py": f"WHO = {name!r}\n"}))


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
    path.write_text("dependencies:\n  - python=3.12\n  - numpy\n  - pip:\n    - six\n")
    spec = spec_mod.read(str(path))
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
    assert world.tree.record("made").packages == record.packages  # registered
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
    assert world.tree.record("made").packages == record.packages


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
    world.tree.write_record(other)
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
    assert external_prefix.owned(world.layout, str(folder), "ext")
    assert external_prefix.is_external(world.layout, record)
    assert not os.path.lexists(world.layout.prefix("ext"))
