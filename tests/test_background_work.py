"""Work queued with ``background.later``: it runs once, in the background thread that the next helper
(uv, pip) starts, and its result or error reaches whoever waits for it; with no helper started, the
waiter runs it itself. The modulefiles' and the stacking hook's templates are compiled that way while
uv works (issue 14)."""

import json
import subprocess
import sys
import threading
import time

import pytest

from pyenvmod.runtime import background, proc


@pytest.fixture(autouse=True)
def nothing_queued():
    """Each test starts and ends with no module or job waiting for a helper."""
    background._wanted.clear()
    background._queued.clear()
    yield
    background._wanted.clear()
    background._queued.clear()


def test_a_job_waits_for_the_next_helper_and_runs_beside_it():
    ran = []
    gate = threading.Event()

    def job(x):
        thread = threading.current_thread()
        ran.append((thread.name, thread.daemon))  # a daemon: it never holds pyenvmod's exit up
        gate.wait(5)
        return x + 1

    wait = background.later(job, 41)
    assert ran == []  # queued, not started
    proc.run(["true"], what="true")  # the helper starts the background thread
    for _ in range(500):
        if ran:
            break
        threading.Event().wait(0.01)
    assert ran == [("pyenvmod-prewarm", True)]
    gate.set()
    assert wait() == 42
    assert background._queued == []


def test_a_job_no_helper_started_runs_where_it_is_waited_for():
    names = []
    wait = background.later(lambda: names.append(threading.current_thread().name) or "done")
    assert wait() == "done"
    assert names == [threading.current_thread().name]


def test_a_job_runs_once_however_often_it_is_waited_for():
    calls = []
    wait = background.later(lambda: calls.append(1) or len(calls))
    proc.run(["true"], what="true")
    assert wait() == 1 and wait() == 1
    assert calls == [1]


def test_a_jobs_error_reaches_the_waiter_and_later_jobs_still_run():
    def broken():
        raise ValueError("broken template")

    first = background.later(broken)
    second = background.later(lambda: "fine")
    proc.run(["true"], what="true")
    with pytest.raises(ValueError, match="broken template"):
        first()
    assert second() == "fine"


def test_requested_modules_are_imported_in_the_background(tmp_path, monkeypatch):
    (tmp_path / "pyenvmod_test_warm.py").write_text("import threading\nBY = threading.current_thread().name\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "pyenvmod_test_warm", raising=False)
    background.prewarm("pyenvmod_test_warm", "no_such_module_anywhere")
    assert "pyenvmod_test_warm" not in sys.modules
    done = background.later(lambda: sys.modules["pyenvmod_test_warm"].BY)
    proc.run(["sleep", "0.5"], what="sleep")
    assert done() == "pyenvmod-prewarm"  # imported there, before the job ran; the missing one passed over
    assert background._wanted == [] and background._queued == []  # each is started once
    sys.modules.pop("pyenvmod_test_warm", None)


# --- call: a job started at once, beside the caller ----------------------------------------------

def test_call_returns_the_result_and_runs_beside_the_caller():
    started = threading.Event()

    def job(x):
        started.set()
        time.sleep(0.2)
        return x * 2, threading.current_thread().name, threading.current_thread().daemon

    begin = time.monotonic()
    wait = background.call(job, 21)
    assert started.wait(5) and time.monotonic() - begin < 0.15  # the caller was not held up
    assert wait() == (42, "pyenvmod-background", True)  # a daemon: it never holds pyenvmod's exit up


def test_call_hands_an_error_to_the_waiter():
    def job():
        raise ValueError("broken")

    wait = background.call(job)
    with pytest.raises(ValueError, match="broken"):
        wait()



# --- the templates: compiled while uv works, used by the writer --------------------------------------

def test_prepare_compiles_every_template_the_writer_uses(tmp_path, monkeypatch):
    from pyenvmod.modules import modulefiles
    from pyenvmod.records.layout import Layout
    from pyenvmod.records.metadata import EnvRecord

    every = {"formats": ["lua", "tcl", "bash", "csh", "fish"]}
    env = modulefiles.prepare(every)

    def no_source(*_args):
        raise AssertionError("a template was read again")

    monkeypatch.setattr(env.loader, "get_source", no_source)
    layout = Layout(tmp_path, "x86_64-test")
    record = EnvRecord(name="e", prefix=str(tmp_path / "env"), python="3.12.1", base_python="/usr/bin/python3",
                       backend="uv", module="pyenv/e/3.12", created="now", owner="me", platform="x86_64-test")
    written = modulefiles.write(layout, record, every, env)
    assert {p.name for p in written} == {"3.12.lua", "3.12", "activate.sh", "activate.csh", "deactivate.csh",
                                         "activate.fish"}
    assert str(tmp_path / "env") in (layout.module_dir("e") / "3.12.lua").read_text()


def test_prepare_names_a_broken_site_template_as_rendering_does(tmp_path):
    from pyenvmod.modules import modulefiles
    from pyenvmod.errors import PyenvmodError

    site = tmp_path / "templates"
    site.mkdir(mode=0o755)
    (site / "modulefile.lua.j2").write_text("{% if %}\n")
    site.chmod(0o755)
    with pytest.raises(PyenvmodError, match=r"modulefile\.lua\.j2:1: .*fix or remove it"):
        modulefiles.prepare({"templates": [str(site)]})


def test_the_stacking_hook_templates_are_prepared_built_in_only():
    from pyenvmod.modules import stacking

    env = stacking.prepare()
    assert {"pyenvmod_stack.py.j2", "pyenvmod_stack.pth.j2", "pyenvmod_base.pth.j2"} <= {
        t.name for t in env.cache.values()}


@pytest.mark.slow
def test_an_install_compiles_its_templates_while_uv_works(cli, tmp_path):
    """A real create and install: every modulefile template is loaded by the background thread, none
    by the main thread after uv finished."""
    from localpkg import write_wheel

    cli("create", "bg", "--no-kernel")
    wheel = str(tmp_path / write_wheel(tmp_path, "bgpkg", "1.0", {"bgpkg/__init__.py": "x = 1\n"}))
    code = ("import json, threading\nimport jinja2\nfrom pyenvmod import cli\n"
            "seen = []\noriginal = jinja2.FileSystemLoader.get_source\n"
            "def get_source(self, env, template):\n    seen.append((template, threading.current_thread().name))\n"
            "    return original(self, env, template)\n"
            "jinja2.FileSystemLoader.get_source = get_source\n"
            f"code = cli.main(['install', 'bg', {wheel!r}])\n"
            "print('CODE', code)\nprint(json.dumps(sorted(set(seen))))")
    result = subprocess.run([sys.executable, "-c", code], env=cli.env, capture_output=True, text=True,
                            timeout=300)
    assert "CODE 0" in result.stdout, result.stdout + result.stderr
    loads = json.loads(result.stdout.splitlines()[-1])
    modulefiles = {"modulefile.lua.j2", "modulefile.tcl.j2"}
    assert {t for t, _ in loads} >= modulefiles  # the templates were read (from Jinja2's cache or the file)
    assert {thread for t, thread in loads if t in modulefiles} == {"pyenvmod-prewarm"}
    assert "bgpkg-1.0-py3-none-any.whl" in cli("export", "bg").stdout  # and the install was recorded
