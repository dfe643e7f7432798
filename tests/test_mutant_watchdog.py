"""tests/conftest.py's watchdog for mutation runs: a test that blocks fails after the limit under
mutmut (MUTANT_UNDER_TEST set), and nothing changes in an ordinary run."""

import os
import subprocess
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parent

BLOCKING = '''
import os

def test_opens_a_fifo_nobody_writes(tmp_path):
    fifo = tmp_path / "stamp"
    os.mkfifo(fifo)
    open(fifo).read()   # blocks: what a mutant without O_NONBLOCK does


def test_quick():
    assert True
'''


def run_pytest(tmp_path, timeout=60, **env):
    (tmp_path / "test_blocking.py").write_text(BLOCKING)
    environ = {k: v for k, v in os.environ.items() if k != "MUTANT_UNDER_TEST"}
    environ.update(env, PYTHONPATH=str(TESTS))
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
                           "-p", "conftest", "--rootdir", str(tmp_path), str(tmp_path / "test_blocking.py")],
                          cwd=tmp_path, env=environ, capture_output=True, text=True, timeout=timeout)


def test_under_mutmut_a_blocked_test_fails_after_the_limit_and_the_next_one_runs(tmp_path):
    # the bound only guards against a hang: a pytest that starts under a load of 15 takes a minute
    done = run_pytest(tmp_path, timeout=300, MUTANT_UNDER_TEST="pyenvmod.x__mutmut_1", MUTANT_TEST_LIMIT="1")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "mutant watchdog: the test ran over 1.0 s" in done.stdout
    assert "1 failed, 1 passed" in done.stdout


def test_without_mutmut_there_is_no_limit(tmp_path):
    try:
        run_pytest(tmp_path, timeout=6, MUTANT_TEST_LIMIT="1")
    except subprocess.TimeoutExpired:
        pass   # still blocked well after the limit: no watchdog
    else:
        raise AssertionError("a test was stopped outside a mutation run")
