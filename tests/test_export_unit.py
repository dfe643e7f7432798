"""Issue 23, 'export', '--clone' and 'install/update --file' in-process (mutmut credits only calls made in
the test process): the spec an environment is exported as (read back by the same reader 'create --file'
uses, so what is written is what recreates it), and the spec files refused for an environment, on a
private tree under tmp_path with real small venvs whose installed distributions are written as files."""

import json
import os

import pytest
import yaml

from guardenv import MM, PYTHON, World
from pyenvmod.errors import PyenvmodError
from pyenvmod.packages import spec as spec_mod


@pytest.fixture
def world(tmp_path, monkeypatch) -> World:
    return World(tmp_path, monkeypatch)


def _installed(world, record, dists: dict, urls=None) -> None:
    """``dists`` ({name: version}) as installed distributions of ``record``'s folder; ``urls``
    ({name: url}) installed from a URL (PEP 610 direct_url.json)."""
    site = world.site(record.prefix)
    for name, version in dists.items():
        dist = site / f"{name.replace('-', '_')}-{version}.dist-info"
        dist.mkdir()
        (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
        (dist / "RECORD").write_text("")
        (dist / "INSTALLER").write_text("uv\n")
        if name in (urls or {}):
            (dist / "direct_url.json").write_text(json.dumps({"url": urls[name], "dir_info": {}}))


def _export(world, name, **kwargs):
    from pyenvmod.operations import export

    said = []
    text = export.export(world.config, name, notify=said.append, **kwargs)
    return text, said


def _read_back(tmp_path, text, suffix=".yml"):
    path = tmp_path / f"exported{suffix}"
    path.write_text(text)
    return spec_mod.read(str(path))


def test_export_writes_what_create_file_reads_back(world, tmp_path):
    base = world.make("base")
    record = world.make("mine", backend="uv", description="my tools", modules=["gcc/12"], no_binary=["six"],
                        requested=["six", "attrs>=23"], extends=base, packages={"six": "1.16.0"},
                        created="2026-01-02T03:04:05+00:00",
                        updated="2026-02-03T04:05:06+00:00")
    _installed(world, record, {"six": "1.16.0", "attrs": "23.1.0", "pip": "24.0"})
    text, said = _export(world, "mine")
    assert said == [] and "Warning" not in text
    data = yaml.safe_load(text)
    assert data["name"] == "mine" and data["channels"] == ["conda-forge"]
    assert data["dependencies"] == [f"python={MM}", "pip", {"pip": ["attrs==23.1.0", "six==1.16.0"]}]  # not pip itself
    assert data["pyenvmod"] == {
        "backend": "uv", "python": PYTHON, "description": "my tools", "modules": ["gcc/12"], "no_binary": ["six"],
        "extends": "base", "created": "2026-01-02T03:04:05+00:00", "updated": "2026-02-03T04:05:06+00:00",
        "exported": data["pyenvmod"]["exported"], "requested_only": False, "requested": ["six", "attrs>=23"]}
    exported = data["pyenvmod"]["exported"]
    assert exported >= "2026-" and exported.endswith("+00:00") and len(exported) == 25
    from pyenvmod import __version__

    assert f"# Exported by pyenvmod {__version__} on {exported}.\n" in text
    spec = _read_back(tmp_path, text)
    assert (spec.python, spec.backend, spec.modules, spec.description) == (MM, "uv", ["gcc/12"], "my tools")
    assert spec.packages == ["attrs==23.1.0", "six==1.16.0"] and spec.requested == ["six", "attrs>=23"]
    # only what was asked for, and pip's own format
    text, _ = _export(world, "mine", requested=True)
    data = yaml.safe_load(text)
    assert data["dependencies"][-1] == {"pip": ["six", "attrs>=23"]} and data["pyenvmod"]["requested_only"] is True
    text, _ = _export(world, "mine", fmt="requirements")
    lines = text.splitlines()
    assert lines[-3:] == ["# Python \"%s\"; modules: [\"gcc/12\"]" % PYTHON, "attrs==23.1.0", "six==1.16.0"]
    assert f'# Python "{PYTHON}"; modules: ["gcc/12"]' in lines
    assert _read_back(tmp_path, text, ".txt").packages == ["attrs==23.1.0", "six==1.16.0"]
    # no extends: no extends line
    assert "extends" not in yaml.safe_load(_export(world, "base")[0])["pyenvmod"]


def test_export_warns_of_packages_from_this_machines_files(world, tmp_path):
    record = world.make("local", backend="uv")
    urls = {f"p{i}": f"file:///data/wheels/p{i}-1.0-py3-none-any.whl" for i in range(4)}
    _installed(world, record, {"p0": "1.0", "p1": "1.0", "p2": "1.0"}, urls)
    text, said = _export(world, "local")
    assert said == ["warning: 3 of the exported packages come from this machine's folders or files (p0 @ "
                    f"{urls['p0']}, p1 @ {urls['p1']}, p2 @ {urls['p2']}): the file recreates the environment on "
                    "machines with the same paths only"]
    assert "# Warning: 3 package(s) below come from folders or file:// URLs" in text
    _installed(world, record, {"p3": "1.0", "six": "1.16.0"}, urls)
    text, said = _export(world, "local")
    assert said == ["warning: 4 of the exported packages come from this machine's folders or files (p0 @ "
                    f"{urls['p0']}, p1 @ {urls['p1']}, p2 @ {urls['p2']}, ...): the file recreates the environment "
                    "on machines with the same paths only"]
    assert yaml.safe_load(text)["dependencies"][-1]["pip"] == [f"p{i} @ {urls[f'p{i}']}" for i in range(4)] + \
        ["six==1.16.0"]


def test_export_of_a_conda_environment(world, tmp_path):
    record = world.make("c", backend="conda", channels=["bioconda", "conda-forge"], requested=["numpy"],
                        packages={"python": PYTHON, "numpy": "1.26.4", "pip": "24.0"})
    _installed(world, record, {"six": "1.16.0", "pip": "24.0"})
    data = yaml.safe_load(_export(world, "c")[0])
    assert data["channels"] == ["bioconda", "conda-forge"]
    # conda's packages (not python, which has its own line), and what pip installed (not pip itself)
    assert data["dependencies"] == [f"python={MM}", "numpy=1.26.4", "pip=24.0", "pip", {"pip": ["six==1.16.0"]}]
    data = yaml.safe_load(_export(world, "c", requested=True)[0])
    assert data["dependencies"] == [f"python={MM}", "numpy", "pip"]
    world.make("c2", backend="conda", packages={"python": PYTHON})
    assert yaml.safe_load(_export(world, "c2")[0])["channels"] == ["conda-forge"]


def test_clone_spec_is_the_locked_state(world):
    from pyenvmod.operations import export

    record = world.make("src", backend="venv", description="d", modules=["gcc/12"], no_binary=["six"],
                        requested=["six"])
    _installed(world, record, {"six": "1.16.0"})
    spec = export.clone_spec(world.config, "src")
    assert spec == spec_mod.Spec(source="--clone src", python=MM, packages=["six==1.16.0"], modules=["gcc/12"],
                                 backend="venv", description="d", no_binary=["six"], requested=["six"])
    world.make("csrc", backend="conda", channels=["bioconda"], requested=["numpy"], description="c", modules=["m"],
               packages={"python": PYTHON, "numpy": "1.26.4"})
    assert export.clone_spec(world.config, "csrc") == spec_mod.Spec(
        source="--clone csrc", python=MM, conda_only=["numpy=1.26.4"], modules=["m"], backend="conda",
        description="c", channels=["bioconda"], requested=["numpy"])
    assert export.clone_spec(world.config, world.layout.prefix("src").as_posix()).source.endswith("/src")


# --- install/update --file: the packages of a spec file, checked against the environment ----------------

def _specs(world, name, path):
    from pyenvmod.operations import from_file

    return from_file.specs(world.config, name, str(path))


def test_a_spec_file_gives_the_packages_in_the_environments_language(world, tmp_path):
    world.make("v")
    world.make("c", backend="conda")
    req = tmp_path / "requirements.txt"
    req.write_text("six\nattrs>=23\n")
    assert _specs(world, "v", req) == ["six", "attrs>=23"]
    yml = tmp_path / "environment.yml"
    yml.write_text(f"dependencies:\n  - python={MM}\n  - numpy\n  - scipy=1.11\n")
    assert _specs(world, "c", yml) == ["numpy", "scipy=1.11"]
    same = tmp_path / "same.yml"
    same.write_text(f"dependencies:\n  - python={MM}\n  - pip:\n    - six\n")
    assert _specs(world, "v", same) == ["six"]


def test_spec_files_that_do_not_fit_the_environment_are_refused(world, tmp_path):
    world.make("v")
    world.make("c", backend="conda")

    def refused(name, path):
        with pytest.raises(PyenvmodError) as info:
            _specs(world, name, path)
        return info.value.message

    other = tmp_path / "other.yml"
    other.write_text("dependencies:\n  - python=2.7\n  - pip:\n    - six\n")
    assert refused("v", other) == (f"{other} is for Python 2.7, 'v' uses Python {PYTHON}; create a new environment "
                                   f"from it: pyenvmod create NEW --file {other}")
    mixed = tmp_path / "mixed.yml"
    mixed.write_text(f"dependencies:\n  - python={MM}\n  - numpy\n  - scipy\n  - pip:\n    - six\n")
    assert refused("c", mixed) == (f"{mixed} has a pip: part; the conda environment 'c' takes conda packages only "
                                   "(pip install inside it after 'module load')")
    assert refused("v", mixed) == (f"{mixed} has conda-only entries the venv environment 'v' cannot install: numpy, scipy; "
                                   "move them under 'pip:'")
    empty = tmp_path / "empty.txt"
    empty.write_text("# nothing\n")
    assert refused("v", empty) == f"{empty} names no packages to install"
    only_python = tmp_path / "only.yml"
    only_python.write_text(f"dependencies:\n  - python={MM}\n")
    assert refused("c", only_python) == f"{only_python} names no packages to install"
    assert refused("ghost", empty).startswith("no environment named 'ghost' under ")
    assert refused("v", tmp_path / "missing.txt").startswith(f"cannot read the spec {tmp_path / 'missing.txt'}: ")
