"""Progress on long work: a status line on a real pseudo-terminal, a line per step in a batch log,
never on standard output (nor in --json output)."""

import json
import re
import subprocess

import pytest

import localpkg
from conftest import pty_converse
from test_packages import meta

CLEAR = "\r\x1b[K"


@pytest.mark.slow
def test_a_terminal_shows_one_status_line_with_the_package_being_built_and_the_time(env, tmp_path):
    slow, _ = localpkg.slow(tmp_path / "slow", 4)
    code, out = pty_converse(env, ["create", "x", "-p", slow], [], timeout=300)
    assert code == 0, out
    assert "pyenvmod: installing slowpkg @ file://" in out
    assert re.search(r"\r\x1b\[K  \[\d+ s\] building slowpkg @ file://", out), out
    ticks = {int(s) for s in re.findall(r"\[(\d+) s\] building slowpkg", out)}
    assert len(ticks) >= 3 and max(ticks) >= 3, f"the elapsed time counts up while it builds: {sorted(ticks)}"
    # the status line is cleared before anything else is written: what the terminal shows on that
    # line after the last clear is the answer alone
    created = next(ln for ln in out.split("\n") if "Created 'x'" in ln)
    assert created.endswith("\r") and created.split(CLEAR)[-1].startswith("Created 'x'"), repr(created)
    assert "building" not in created.split(CLEAR)[-1]


@pytest.mark.slow
def test_a_batch_log_gets_a_line_per_step_and_standard_output_stays_clean(cli, root, tmp_path):
    slow, _ = localpkg.slow(tmp_path / "slow", 2)
    result = cli("create", "x", "-p", slow)
    lines = result.stderr.splitlines()
    assert any(re.fullmatch(r"pyenvmod: \[\d+ s\] building slowpkg @ file://\S+", ln) for ln in lines), lines
    assert lines.index(next(ln for ln in lines if "installing slowpkg" in ln)) < \
        lines.index(next(ln for ln in lines if "building slowpkg" in ln))
    assert "\r" not in result.stderr and "\x1b" not in result.stderr, "nothing redrawn in a log"
    assert "building" not in result.stdout and "pyenvmod:" not in result.stdout
    # an install too; and --json output never carries progress or notes
    localpkg.make(tmp_path / "other", "otherpkg", {"otherpkg.py": ""}, seconds=1)
    result = cli("install", "x", tmp_path / "other")
    assert re.search(r"pyenvmod: \[\d+ s\] building otherpkg", result.stderr)
    prefix = meta(root, "x")["prefix"]
    subprocess.run([f"{prefix}/bin/python", "-m", "pip", "uninstall", "-y", "-q", "otherpkg"], check=True)
    history = cli("history", "x", "--json")
    assert [e["action"] for e in json.loads(history.stdout)][-1] == "outside"
    assert "changed outside pyenvmod" in history.stderr
    assert json.loads(cli("list", "--json").stdout)[0]["name"] == "x"
