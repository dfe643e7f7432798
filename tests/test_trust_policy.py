"""The package-source policy cannot be bypassed (issue 12, hole 7): with a locked allowed_sources,
pip's and uv's own variables, constraint files carrying --find-links, and user or environment
configuration files name other sources, and are not used. Each attack is shown to work without
the policy first, with a real wheel in a real local find-links folder or index."""

import importlib.util
import json
import subprocess
import sys

import pytest

import localpkg

PKG = "pyenvmod-policypkg"


def build_wheel(folder, version, where):
    src = folder / f"src-{version}"
    localpkg.make(src, PKG, {"pyenvmod_policypkg.py": f"WHERE = {where!r}\n"}, version=version)
    spec = importlib.util.spec_from_file_location(f"localbackend_{version.replace('.', '_')}",
                                                  src / "localbackend.py")
    backend = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(backend)
    wheels = folder / "wheels"
    wheels.mkdir(exist_ok=True)
    return wheels / backend.build_wheel(str(wheels))


def simple_index(base, wheels):
    projects = {}
    for path in wheels:
        projects.setdefault(path.name.split("-")[0].lower().replace("_", "-"), []).append(path)
    for project, paths in projects.items():
        (base / project).mkdir(parents=True)
        links = "".join(f'<a href="file://{p}">{p.name}</a>\n' for p in paths)
        (base / project / "index.html").write_text(f"<html><body>{links}</body></html>\n")
    (base / "index.html").write_text("".join(f'<a href="{p}/">{p}</a>\n' for p in projects))
    return f"file://{base}"


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    """The allowed index (the package at 0.1, and what 'uv venv --seed' needs), and elsewhere:
    a find-links folder and an index offering a newer 9.9 of the same package."""
    base = tmp_path_factory.mktemp("policy")
    good = build_wheel(base / "good", "0.1", "allowed index")
    seeds = base / "seeds"
    subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--only-binary", ":all:", "-d", str(seeds),
                    "pip", "setuptools", "wheel"], check=True)
    index = simple_index(base / "simple", [good, *seeds.glob("*.whl")])
    evil = build_wheel(base / "evil", "9.9", "elsewhere")
    links = evil.parent
    other = simple_index(base / "evil-simple", [evil])
    return {"index": index, "links": str(links), "other": other, "base": base}


def attack(vector, sources, home, tmp_path, cli):
    """The variables (and files) for one way of naming another source."""
    if vector in ("PIP_CONFIG_FILE", "user pip.conf"):
        for var in ("PIP_FIND_LINKS", "PIP_EXTRA_INDEX_URL"):  # this machine's own would win over a file
            cli.env.pop(var, None)
    links, other = sources["links"], sources["other"]
    config = home / ".config"
    constraints = tmp_path / "constraints.txt"
    constraints.write_text(f"--find-links {links}\n")
    if vector == "PIP_CONFIG_FILE":
        path = tmp_path / "evil-pip.conf"
        path.write_text(f"[global]\nfind-links = {links}\n")
        return {"PIP_CONFIG_FILE": str(path)}
    if vector == "user pip.conf":
        (config / "pip").mkdir(parents=True, exist_ok=True)
        (config / "pip" / "pip.conf").write_text(f"[global]\nfind-links = {links}\n")
        return {}
    if vector == "user uv.toml":
        (config / "uv").mkdir(parents=True, exist_ok=True)
        (config / "uv" / "uv.toml").write_text(f'find-links = ["{links}"]\n')
        return {}
    return {
        "PIP_FIND_LINKS": {"PIP_FIND_LINKS": links},
        "PIP_CONSTRAINT": {"PIP_CONSTRAINT": str(constraints)},
        "PIP_EXTRA_INDEX_URL": {"PIP_EXTRA_INDEX_URL": other},
        "UV_FIND_LINKS": {"UV_FIND_LINKS": links},
        "UV_CONSTRAINT": {"UV_CONSTRAINT": str(constraints)},
        "UV_EXTRA_INDEX_URL": {"UV_EXTRA_INDEX_URL": other},
        "UV_INDEX": {"UV_INDEX": other},
    }[vector]


def installed(root, name):
    record = json.loads(next(root.glob(f"*/meta/{name}.json")).read_text())
    prefix = record["prefix"]
    where = subprocess.run([f"{prefix}/bin/python", "-c", "import pyenvmod_policypkg as m; print(m.WHERE)"],
                           capture_output=True, text=True, check=True).stdout.strip()
    return record["packages"].get(PKG), where


# pip's vectors against pip (the venv backend), uv's against uv
VECTORS = [("venv", "PIP_FIND_LINKS"), ("venv", "PIP_CONSTRAINT"), ("venv", "PIP_EXTRA_INDEX_URL"),
           ("venv", "PIP_CONFIG_FILE"), ("venv", "user pip.conf"),
           ("uv", "UV_FIND_LINKS"), ("uv", "UV_CONSTRAINT"), ("uv", "UV_EXTRA_INDEX_URL"), ("uv", "UV_INDEX"),
           ("uv", "user uv.toml")]


@pytest.mark.slow
@pytest.mark.parametrize("backend,vector", VECTORS)
def test_other_sources_named_by_the_user_are_not_used_under_a_policy(cli, root, home, tmp_path, sources,
                                                                    backend, vector):
    extra = attack(vector, sources, home, tmp_path, cli)
    index = {"PYENVMOD_INDEX_URL": sources["index"]}
    # without a policy the attack works: the newer package from elsewhere wins
    cli("create", "open", "--backend", backend, "-p", PKG, extra_env={**index, **extra})
    assert installed(root, "open") == ("9.9", "elsewhere"), f"{vector} did not name another source"
    # under the policy: the allowed index only
    policy = {**index, "PYENVMOD_ALLOWED_SOURCES": sources["index"]}
    cli("create", "closed", "--backend", backend, "-p", PKG, extra_env={**policy, **extra})
    assert installed(root, "closed") == ("0.1", "allowed index")


@pytest.mark.slow
def test_an_environments_own_pip_conf_is_not_read_under_a_policy(cli, root, sources):
    """A group member can write a pip.conf into a shared environment (pip reads $PREFIX/pip.conf)."""
    policy = {"PYENVMOD_INDEX_URL": sources["index"], "PYENVMOD_ALLOWED_SOURCES": sources["index"]}
    cli("create", "shared", "--backend", "venv", extra_env=policy)
    prefix = json.loads(next(root.glob("*/meta/shared.json")).read_text())["prefix"]
    with open(f"{prefix}/pip.conf", "w") as fh:
        fh.write(f"[global]\nfind-links = {sources['links']}\n")
    cli("install", "shared", PKG, extra_env=policy)
    assert installed(root, "shared") == ("0.1", "allowed index")


def test_helper_environment_under_a_policy_keeps_only_harmless_pip_and_uv_variables():
    import os

    from pyenvmod.packages import sources as sources_mod
    from pyenvmod.config import Config

    config = Config(values={"allowed_sources": ["https://mirror.example/"], "index_url": "https://mirror.example/simple",
                            "extra_index_urls": []})
    hostile = {"PIP_CONSTRAINT": "/x", "PIP_FIND_LINKS": "/x", "PIP_CONFIG_FILE": "/x", "PIP_TRUSTED_HOST": "evil",
               "PIP_NO_INDEX": "1", "PIP_REQUIREMENT": "/x", "UV_INDEX": "e=https://evil", "UV_FIND_LINKS": "/x",
               "UV_CONFIG_FILE": "/x", "UV_OVERRIDE": "/x", "UV_CONSTRAINT": "/x", "UV_DEFAULT_INDEX": "https://evil",
               "UV_INDEX_STRATEGY": "unsafe-best-match", "UV_EXTRA_INDEX_URL": "https://evil"}
    kept = {"PIP_CERT": "/etc/ssl/ca.pem", "UV_CACHE_DIR": "/scratch/uv", "PATH": "/usr/bin", "CC": "mpicc"}
    env = sources_mod.helper_env(config, {**hostile, **kept})
    assert {k: v for k, v in env.items() if k in hostile and k != "PIP_CONFIG_FILE"} == {}
    assert env["PIP_CONFIG_FILE"] == os.devnull and env["UV_NO_CONFIG"] == "1"
    assert env["PIP_INDEX_URL"] == env["UV_INDEX_URL"] == "https://mirror.example/simple"
    assert {k: env[k] for k in kept} == kept
    # without a policy, the user's settings are the user's business
    config.values["allowed_sources"] = []
    assert sources_mod.helper_env(config, hostile)["PIP_FIND_LINKS"] == "/x"
