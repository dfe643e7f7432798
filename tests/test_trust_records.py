"""Hole 5, malformed metadata: wrong types, deep nesting, a FIFO, a huge file, any JSON at all.
A bad record is one "broken" row in list and doctor, never a failure of the others; delete still
removes it; nothing hangs and nothing takes the file's size in memory."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import assert_one_line_error
from users import group_env, people  # noqa: F401 (fixture)


@pytest.fixture
def tree(env, monkeypatch):
    """pyenvmod's configuration pointed at a fresh root (in this process), with one healthy
    environment 'good' (a folder with bin/python, its modulefiles and record; nothing is run)."""
    from pyenvmod import config as config_mod
    from pyenvmod.modules import modulefiles
    from pyenvmod.records import metadata
    from pyenvmod.operations.common import tree_for

    for key, value in env.items():
        monkeypatch.setenv(key, value)
    config = config_mod.load()
    tree = tree_for(config)
    tree.ensure()
    record = good_record(tree, "good")
    (Path(record.prefix) / "bin").mkdir(parents=True)
    (Path(record.prefix) / "bin" / "python").write_text("")
    modulefiles.write(tree.layout, record, modulefiles.options_from(config))
    metadata.write(tree.meta_file("good"), record)
    return config, tree


def good_record(tree, name):
    from pyenvmod.records import metadata

    return metadata.EnvRecord(name=name, prefix=str(tree.prefix(name)), python="3.11.2", base_python="/usr/bin/python3",
                              backend="uv", module=f"pyenv/{name}/py3.11", created="2026-01-01T00:00:00+00:00",
                              owner="someone", platform=tree.layout.platform)


def _states(config) -> dict:
    from pyenvmod.operations import listing

    return {e.name: e for e in listing.entries(config)}


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12)
FIELDS = ["name", "prefix", "python", "base_python", "backend", "module", "created", "owner", "platform",
          "description", "requested", "extends", "modules", "module_paths", "kernels", "channels", "adopted",
          "no_binary", "packages", "sources", "updated", "pyenvmod_version", "schema"]


def _check_list_doctor_delete(config, tree, text: bytes):
    from pyenvmod.operations import doctor
    from pyenvmod.operations.delete import delete

    tree.meta_file("bad").write_bytes(text)
    states = _states(config)
    assert states["good"].state == "ok", states["good"].problems
    assert states["bad"].state in ("ok", "broken")
    if states["bad"].state == "broken":
        assert str(tree.meta_file("bad")) in states["bad"].problems[0] or states["bad"].record is not None
    findings = doctor.run(config)
    assert not [f for f in findings if f.message.startswith("good:")]
    assert delete(config, "bad") is True
    assert not os.path.lexists(tree.meta_file("bad"))
    assert list(_states(config)) == ["good"]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=json_values)
def test_any_json_as_a_record_is_one_broken_row(tree, value):
    config, tree_ = tree
    _check_list_doctor_delete(config, tree_, json.dumps(value).encode())


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(field=st.sampled_from(FIELDS), value=json_values)
def test_one_field_of_any_json_in_a_valid_record_never_breaks_the_others(tree, field, value):
    config, tree_ = tree
    data = good_record(tree_, "bad").to_dict()
    data[field] = value
    _check_list_doctor_delete(config, tree_, json.dumps(data).encode())


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=200))
def test_any_bytes_as_a_record_is_one_broken_row(tree, data):
    config, tree_ = tree
    _check_list_doctor_delete(config, tree_, data)


def test_wrong_types_are_named_with_the_field(tree):
    config, tree_ = tree
    data = good_record(tree_, "bad").to_dict()
    data["packages"] = ["numpy"]
    tree_.meta_file("bad").write_text(json.dumps(data))
    problem = _states(config)["bad"].problems[0]
    assert str(tree_.meta_file("bad")) in problem and "packages must be a mapping" in problem


def test_a_python_version_cannot_lead_out_of_the_environment(tree):
    config, tree_ = tree
    data = good_record(tree_, "bad").to_dict()
    data["python"] = "3.11/../../../../etc"
    tree_.meta_file("bad").write_text(json.dumps(data))
    assert "python must be a Python version" in _states(config)["bad"].problems[0]


def _cli_list(cli, *extra, timeout=30):
    started = time.monotonic()
    code = ("import resource, subprocess, sys; r = subprocess.run(sys.argv[1:], capture_output=True, text=True, "
            "timeout=%d); print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); "
            "sys.stdout.write(r.stdout); sys.stderr.write(r.stderr); sys.exit(r.returncode)" % timeout)
    result = subprocess.run([sys.executable, "-c", code, "pyenvmod", *extra], env=cli.env, capture_output=True,
                            text=True, timeout=timeout + 10)
    rss_kb, _, out = result.stdout.partition("\n")
    return result, out, int(rss_kb), time.monotonic() - started


@pytest.mark.parametrize("kind", ["fifo", "huge", "deep", "wrong-types", "symlink"])
def test_list_doctor_and_delete_survive_a_bad_record_for_real(cli, tree, kind):
    config, tree_ = tree
    bad = tree_.meta_file("bad")
    if kind == "fifo":
        os.mkfifo(bad)
    elif kind == "huge":
        with open(bad, "wb") as fh:
            fh.truncate(1 << 30)  # 1 GB (sparse): refused by its size, never read
    elif kind == "deep":
        bad.write_text("[" * 200_000 + "]" * 200_000)
    elif kind == "wrong-types":
        bad.write_text(json.dumps({"name": "bad", "prefix": 1, "python": [], "base_python": {}, "backend": None,
                                   "module": 2, "created": 3, "owner": 4, "platform": 5}))
    else:
        bad.symlink_to("/etc/passwd")
    result, out, rss_kb, seconds = _cli_list(cli, "list", "--json")
    assert result.returncode == 0, result.stderr
    rows = {e["name"]: e for e in json.loads(out)}
    assert rows["good"]["health"] == "ok" and rows["bad"]["health"] == "broken"
    assert str(bad) in rows["bad"]["problems"][0]
    assert rss_kb < 200_000, rss_kb  # kilobytes: never the file's size
    doctor = cli("doctor", check=False, timeout=30)
    assert doctor.returncode == 1 and "Traceback" not in doctor.stderr and "internal error" not in doctor.stderr
    assert f"bad: metadata file {bad}" in doctor.stdout
    assert cli("delete", "bad", "--yes", timeout=30).returncode == 0
    assert not os.path.lexists(bad) and Path("/etc/passwd").exists()
    assert [e["name"] for e in json.loads(cli("list", "--json").stdout)] == ["good"]


def test_malformed_history_is_one_line_naming_the_file(cli, tree):
    config, tree_ = tree
    folder = tree_.history_dir("good")
    folder.mkdir(parents=True)
    (folder / "0001.json").write_text(json.dumps({"n": "1", "time": [], "action": 3, "args": "x", "packages": []}))
    assert_one_line_error(cli("history", "good", check=False), str(folder / "0001.json"), "corrupt")
    (folder / "0001.json").unlink()
    os.mkfifo(folder / "0001.json")
    assert_one_line_error(cli("history", "good", check=False, timeout=30), str(folder / "0001.json"),
                          "not a regular file")


@pytest.mark.slow
def test_a_group_members_bad_record_leaves_the_maintainer_working(people):
    base = group_env(people, "records")
    for name, how in (("fifo", "mkfifo {p}"), ("deep", "python3 -c 'print(\"[\" * 100000)' > {p}"),
                      ("types", "echo '{{\"name\": \"types\", \"prefix\": []}}' > {p}")):
        path = base / "meta" / f"{name}.json"
        assert people.alice.run("sh", "-c", how.format(p=path)).returncode == 0
    result = people.bob.pyenvmod("--group", base.parent, "list", "--json", timeout=60)
    assert result.returncode == 0, result.stderr
    rows = {e["name"]: e["health"] for e in json.loads(result.stdout)}
    assert rows == {"shared": "ok", "fifo": "broken", "deep": "broken", "types": "broken"}
    for name in ("fifo", "deep", "types"):
        deleted = people.bob.pyenvmod("--group", base.parent, "delete", name, "--yes", timeout=60)
        assert deleted.returncode == 0, deleted.stderr
    assert [e["name"] for e in json.loads(people.bob.pyenvmod("--group", base.parent, "list", "--json").stdout)] \
        == ["shared"]
