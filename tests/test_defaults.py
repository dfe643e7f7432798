"""Defaults that agree with themselves: doctor on a fresh default set-up, init under PYENVMOD_ROOT,
list's problems with their fixes."""

import json
import os

import pytest
import yaml


@pytest.fixture
def fresh(cli, env):
    """A fresh default set-up as the getting-started page makes it: no root, no cache settings."""
    for var in ("PYENVMOD_ROOT", "UV_CACHE_DIR", "PIP_CACHE_DIR"):
        cli.env.pop(var, None)
    cli("init", "--yes")
    cli.env["MODULEPATH"] = cli("modulepath").stdout.strip()  # module use "$(pyenvmod modulepath)"
    return cli


def doctor(cli):
    result = cli("doctor", "--json", check=False)
    assert result.returncode in (0, 1), result.stderr
    return result.returncode, json.loads(result.stdout)["findings"]


@pytest.mark.slow
def test_doctor_exits_zero_on_a_fresh_default_set_up(fresh, home, tmp_path):
    fresh("create", "a", "-p", "six")
    assert (home / ".cache" / "uv").is_dir(), "uv's default cache is in $HOME"
    code, findings = doctor(fresh)
    by_check = {f["check"]: f for f in findings}
    assert code == 0, findings
    assert by_check["caches"]["severity"] == "info" and "default place" in by_check["caches"]["message"]
    assert by_check["locations"]["severity"] == "info" and "(the default)" in by_check["locations"]["message"]
    # notes are not problems: printed with --verbose only
    plain, verbose = fresh("doctor").stdout, fresh("doctor", "--verbose").stdout
    assert "No problems found." in plain and "INFO" not in plain and "--verbose shows them" in plain
    assert "INFO    [caches]" in verbose and "INFO    [locations]" in verbose
    # the site chose where caches go: a cache in home is then a warning naming that place
    site = tmp_path / "site.yaml"
    site.write_text(f"cache_dir: {tmp_path / 'scratch'}\n")
    fresh.env["PYENVMOD_SITE_CONFIG"] = str(site)
    code, findings = doctor(fresh)
    (cache,) = [f for f in findings if f["check"] == "caches"]
    assert code == 1 and cache["severity"] == "warning" and str(tmp_path / "scratch") in cache["fix"]


def test_a_root_chosen_in_home_is_still_a_warning(cli, home):
    cli.env["PYENVMOD_ROOT"] = str(home / "envs")
    cli("create", "a")
    code, findings = doctor(cli)
    (where,) = [f for f in findings if f["check"] == "locations"]
    assert code == 1 and where["severity"] == "warning" and "(the default)" not in where["message"]


def test_init_yes_respects_pyenvmod_root(cli, env, home):
    result = cli("init", "--yes")
    written = yaml.safe_load((home / ".config" / "pyenvmod" / "config.yaml").read_text())
    assert written["root"] == env["PYENVMOD_ROOT"]
    assert "home directory" not in result.stdout + result.stderr
    assert cli("config", "show").returncode == 0


def test_list_shows_each_problem_with_its_fix(cli, root):
    cli("create", "alpha")
    cli("create", "beta")
    entries = {e["name"]: e for e in json.loads(cli("list", "--json").stdout)}
    os.unlink(entries["alpha"]["prefix"] + "/bin/python")
    for path in root.glob("*/modules/pyenv/beta/*"):
        path.unlink()
    lines = cli("list").stdout.splitlines()
    alpha = lines.index(next(ln for ln in lines if ln.startswith("  alpha: interpreter missing")))
    assert "fix:" in lines[alpha + 1] and "pyenvmod create alpha --file" in lines[alpha + 1] \
        and "pyenvmod delete alpha" in lines[alpha + 1]
    beta = lines.index(next(ln for ln in lines if ln.startswith("  beta: ") and "modulefile missing" in ln))
    assert lines[beta + 1].strip().startswith("fix: pyenvmod module beta")
    data = {e["name"]: e for e in json.loads(cli("list", "--json").stdout)}
    assert len(data["beta"]["fixes"]) == len(data["beta"]["problems"]) == 2
    cli("module", "beta")
    assert "beta:" not in cli("list").stdout
