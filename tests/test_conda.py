"""The conda backend: real conda environments made offline by py-rattler from a local channel,
loaded through real Lmod and Environment Modules, activate.d applied and reversed exactly."""

import json
import shlex
import sys

import pytest

import condachannel
from conftest import Cli, assert_one_line_error, clean_env, leftovers
from modsys import MODULE_SYSTEMS, parse_env0, require, run_bash, user_env

# slow: solves and creates conda environments
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def channel(tmp_path_factory):
    try:
        import rattler  # noqa: F401
    except ImportError:
        require(False, "py-rattler", "pip install 'pyenvmod[conda]'")
    return condachannel.make(tmp_path_factory.mktemp("channel") / "local")


@pytest.fixture(scope="module")
def made(channel, tmp_path_factory):
    base = tmp_path_factory.mktemp("conda")
    env = clean_env(base)
    cli = Cli(env)
    folder, version = channel
    cli("create", "cenv", "--backend", "conda", "-c", folder, "-p", "hello-activate", "hello-cli")
    (entry,) = json.loads(cli("list", "--json").stdout)
    return {"env": env, "cli": cli, "entry": entry, "channel": folder, "version": version, "base": base}


def test_a_real_conda_environment_offline(made):
    entry = made["entry"]
    assert entry["backend"] == "conda" and entry["python"] == made["version"] and entry["health"] == "ok"
    record = json.loads(next((made["base"] / "root").glob("*/meta/cenv.json")).read_text())
    assert {"python", "hello-activate", "hello-cli"} <= set(record["packages"])
    assert record["channels"] == [made["channel"]]
    conda_meta = sorted(p.name for p in (made["base"] / "root").glob("*/envs/cenv/conda-meta/*.json"))
    assert any(n.startswith("hello-activate-1.0") for n in conda_meta)


@pytest.mark.parametrize("system", sorted(MODULE_SYSTEMS))
def test_load_applies_activate_d_and_unload_restores_exactly(made, system, tmp_path):
    ms = MODULE_SYSTEMS[system]().require()
    prefix = made["entry"]["prefix"]
    files = {k: tmp_path / k for k in ("before", "during", "after")}
    script = f"""{ms.init()}
module use {shlex.quote(made['cli']('modulepath').stdout.strip())}
env -0 > {files['before']}
module load pyenv/cenv || exit 11
env -0 > {files['during']}
hello-cli || exit 12
python -c 'import sys; print(sys.prefix)'
module unload pyenv/cenv || exit 13
env -0 > {files['after']}
"""
    result = run_bash(script, made["env"])
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines() == ["hello from a conda console script", prefix]
    before, during, after = (parse_env0(files[k].read_bytes()) for k in ("before", "during", "after"))
    assert during["CONDA_PREFIX"] == prefix and during["HELLO_DATA"] == f"{prefix}/share/hello"
    assert f"{prefix}/share/hello/bin" in during["PATH"].split(":") and "CONDA_SHLVL" not in during
    before, after = user_env(before, after)
    before = {k: v for k, v in before.items() if not k.startswith("__MODULES_")}
    after = {k: v for k, v in after.items() if not k.startswith("__MODULES_")}
    assert before == after


def test_export_install_remove_and_history(made):
    cli = made["cli"]
    doc = __import__("yaml").safe_load(cli("export", "cenv").stdout)
    assert doc["channels"] == [made["channel"]]
    assert "hello-activate=1.0" in doc["dependencies"] and doc["pyenvmod"]["backend"] == "conda"
    cli("remove", "cenv", "hello-cli")
    assert "hello-cli" not in json.loads(cli("list", "--json").stdout)[0]["module"] + str(
        json.loads(next((made["base"] / "root").glob("*/meta/cenv.json")).read_text())["packages"])
    cli("install", "cenv", "hello-cli")
    actions = [e["action"] for e in json.loads(cli("history", "cenv", "--json").stdout)]
    assert actions == ["create", "remove", "install"]
    assert_one_line_error(cli("install", "cenv", "--", "-bad", check=False), "invalid conda package spec")


def test_a_conda_environment_yml_creates_a_conda_environment(channel, tmp_path):
    folder, version = channel
    cli = Cli(clean_env(tmp_path))
    spec = tmp_path / "environment.yml"
    spec.write_text(f"name: fromyml\nchannels:\n  - {folder}\ndependencies:\n  - python={version.rsplit('.', 1)[0]}\n"
                    "  - hello-activate\n")
    cli("create", "fromyml", "--file", spec)
    (entry,) = json.loads(cli("list", "--json").stdout)
    assert entry["backend"] == "conda"
    cli("create", "copy", "--clone", "fromyml")
    copy = json.loads(next((tmp_path / "root").glob("*/meta/copy.json")).read_text())
    assert "hello-activate" in copy["packages"] and copy["backend"] == "conda"


def test_unknown_packages_and_untrusted_channels_leave_nothing(channel, tmp_path):
    folder, _ = channel
    env = clean_env(tmp_path)
    cli = Cli(env)
    result = cli("create", "x", "--backend", "conda", "-c", folder, "-p", "no-such-conda-pkg", check=False)
    assert_one_line_error(result, "no-such-conda-pkg")
    result = cli("create", "x", "--backend", "conda", "-c", folder, check=False,
                 extra_env={"PYENVMOD_ALLOWED_SOURCES": "https://mirror.invalid/"})
    assert_one_line_error(result, "not an allowed package source")
    assert_one_line_error(cli("create", "x", "--backend", "conda", check=False), "needs a channel")
    assert leftovers(tmp_path / "root") == []


def test_without_py_rattler_the_conda_backend_says_how_to_get_it(monkeypatch):
    from pyenvmod import backends
    from pyenvmod.errors import PyenvmodError

    monkeypatch.setitem(sys.modules, "rattler", None)
    with pytest.raises(PyenvmodError) as exc:
        backends.get("conda", channels=["x"])
    assert "pip install 'pyenvmod[conda]'" in exc.value.message


def test_channels_and_package_folder_from_condarc(channel, tmp_path):
    folder, _ = channel
    env = clean_env(tmp_path)
    pkgs = tmp_path / "conda-pkgs"
    condarc = tmp_path / "condarc"
    condarc.write_text(f"channels:\n  - {folder}\nchannel_priority: strict\npkgs_dirs:\n  - {pkgs}\n")
    env["CONDARC"] = str(condarc)
    cli = Cli(env)
    cli("create", "fromrc", "--backend", "conda", "-p", "hello-activate")
    record = json.loads(next((tmp_path / "root").glob("*/meta/fromrc.json")).read_text())
    assert record["channels"] == [folder] and "hello-activate" in record["packages"]
    assert any(pkgs.glob("hello-activate-1.0-0*")), "the package folder from .condarc is used"
    condarc.write_text("- not a mapping\n")
    assert_one_line_error(cli("create", "bad", "--backend", "conda", check=False), str(condarc))
