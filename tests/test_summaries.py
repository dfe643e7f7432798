"""Honest summaries: what a change did (or that nothing changed), changes made outside pyenvmod
recorded and counted as requested, create --file of a full export, broken requirements once."""

import json
import subprocess

import pytest
import yaml

import localpkg
from test_packages import meta


def summary(result):
    return [ln.strip() for ln in result.stdout.splitlines()]


@pytest.mark.slow
def test_install_update_remove_print_what_changed_or_that_nothing_did(cli, root):
    cli("create", "a", "-p", "packaging<24")
    old = meta(root, "a")["packages"]["packaging"]
    out = summary(cli("install", "a", "iniconfig"))
    assert out[0] == "Updated 'a':" and out[1].startswith("added iniconfig ") and len(out) == 2, out
    assert summary(cli("update", "a")) == ["Nothing changed in 'a': already up to date."]
    assert summary(cli("install", "a", "iniconfig")) == ["Nothing changed in 'a': already up to date."]
    new_out = summary(cli("install", "a", "packaging>=24,<25"))
    new = meta(root, "a")["packages"]["packaging"]
    assert new_out == ["Updated 'a':", f"packaging {old} -> {new}"]
    assert summary(cli("remove", "a", "iniconfig"))[1].startswith("removed iniconfig ")


@pytest.mark.slow
def test_a_plain_pip_install_is_recorded_at_the_next_command_and_counts_as_requested(cli, root, tmp_path):
    cli("create", "a", "-p", "six")
    prefix = meta(root, "a")["prefix"]
    dep, _ = localpkg.make(tmp_path / "deppkg", "deppkg", {"deppkg.py": "X = 1\n"})
    top, _ = localpkg.make(tmp_path / "toppkg", "toppkg", {"toppkg.py": "import deppkg\n"}, requires=["deppkg"])
    # what the guide recommends after 'module load pyenv/a'
    subprocess.run([f"{prefix}/bin/python", "-m", "pip", "install", "-q", "iniconfig", str(tmp_path / "deppkg"),
                    str(tmp_path / "toppkg")], check=True, capture_output=True)
    history = cli("history", "a")
    assert "changed outside pyenvmod" in history.stderr and "added toppkg 0.1" in history.stderr
    lines = [ln.strip() for ln in history.stdout.splitlines()]
    outside_line = next(ln for ln in lines if ln.endswith("changed outside pyenvmod"))
    assert outside_line.startswith("2 ")
    assert "+toppkg==0.1" in lines and "+deppkg==0.1" in lines and any(ln.startswith("+iniconfig==") for ln in lines)
    entries = json.loads(cli("history", "a", "--json").stdout)
    assert [e["action"] for e in entries] == ["create", "outside"], "recorded once, not at every command"
    requested = yaml.safe_load(cli("export", "a", "--requested").stdout)["dependencies"][-1]["pip"]
    assert requested[:2] == ["six", "iniconfig"] and requested[2].startswith("toppkg @ file://"), requested
    assert not any(r.startswith("deppkg") for r in requested), "a dependency is not requested"
    update = cli("update", "a")
    assert "updating six iniconfig toppkg @ file://" in update.stderr
    assert "Nothing changed in 'a'" in update.stdout
    # changed again by hand, then a pyenvmod install: two entries, the outside one first
    subprocess.run([f"{prefix}/bin/python", "-m", "pip", "uninstall", "-y", "-q", "iniconfig"], check=True)
    result = cli("install", "a", "pluggy")
    assert "removed iniconfig" in result.stderr
    assert [e["action"] for e in json.loads(cli("history", "a", "--json").stdout)][-2:] == ["outside", "install"]
    assert "iniconfig" not in " ".join(meta(root, "a")["requested"])
    out = summary(result)
    assert out[0] == "Updated 'a':" and out[1].startswith("added pluggy ") and len(out) == 2, out


@pytest.mark.slow
def test_create_file_of_a_full_export_counts_only_the_requested_packages(cli, root, tmp_path):
    cli("create", "a", "-p", "packaging<25", "iniconfig")
    spec = tmp_path / "a.yml"
    cli("export", "a", "-o", spec)
    assert len(yaml.safe_load(spec.read_text())["dependencies"][-1]["pip"]) >= 2
    cli("create", "b", "--file", spec, "-p", "six")
    record = meta(root, "b")
    assert record["requested"] == ["packaging<25", "iniconfig", "six"]
    assert set(record["packages"]) >= {"packaging", "iniconfig", "six"}
    cli("create", "c", "--clone", "a")
    assert meta(root, "c")["requested"] == ["packaging<25", "iniconfig"]


@pytest.mark.slow
def test_broken_requirements_are_reported_once(cli, root, tmp_path):
    needs_six, _ = localpkg.make(tmp_path / "needsix", "needsix", {"needsix.py": "import six\n"}, requires=["six"])
    cli("create", "a", "-p", needs_six)
    prefix = meta(root, "a")["prefix"]
    subprocess.run([f"{prefix}/bin/python", "-m", "pip", "uninstall", "-y", "-q", "six"], check=True)
    result = cli("install", "a", "iniconfig")
    mentions = [ln for ln in result.stderr.splitlines() if "needsix" in ln and "six" in ln]
    assert len(mentions) == 1, result.stderr
    assert result.stderr.count("Broken requirements in 'a'") == 1
