"""Issue 23, 'pyenvmod stage NAME' in a job script, the driver's side in-process (operations/stage_job.Driver;
mutmut credits only calls made in the test process), without Slurm: 'srun' and 'sbcast' are stand-in
commands on PATH that record how they were called and answer as the nodes would (their JSON lines, their
errors, their exit status). What is planned (packed once, which copy goes where, which step with which
arguments on how many nodes), and what the user reads. The real four-node run: test_stage_broadcast.py
(slow tier). The node's side: test_stage_job_unit.py and the node-step tests at the end of this file."""

import json
import os
import sys
import time
from pathlib import Path

import pytest

from guardenv import World

STAND_IN = """#!/bin/sh
d={folder}
printf '%s\\n' "$@" > "$d/{name}.args"
[ -f "$d/{name}.out" ] && /bin/cat "$d/{name}.out"
[ -f "$d/{name}.err" ] && /bin/cat "$d/{name}.err" >&2
exit $(/bin/cat "$d/{name}.code" 2>/dev/null || echo 0)
"""


class Slurm:
    """Stand-in srun and sbcast in a folder that is the whole PATH (this machine has Slurm's own, never to
    be run here), with the one other command staging runs from PATH (zstd)."""

    def __init__(self, folder: Path, monkeypatch, tools=("srun", "sbcast")):
        self.folder = folder
        folder.mkdir()
        for name in tools:
            path = folder / name
            path.write_text(STAND_IN.format(folder=folder, name=name))
            path.chmod(0o755)
        import shutil

        (folder / "zstd").symlink_to(shutil.which("zstd"))
        monkeypatch.setenv("PATH", str(folder))

    def answer(self, name, out="", err="", code=0):
        (self.folder / f"{name}.out").write_text(out)
        (self.folder / f"{name}.err").write_text(err)
        (self.folder / f"{name}.code").write_text(str(code))

    def nodes_say(self, *records, err="", code=0):
        self.answer("srun", "".join(json.dumps(r) + "\n" for r in records), err, code)

    def args(self, name):
        path = self.folder / f"{name}.args"
        return path.read_text().splitlines() if path.exists() else None


@pytest.fixture
def world(tmp_path, monkeypatch) -> World:
    for var in ("SLURMD_NODENAME", "SLURM_NNODES", "SLURM_JOB_NUM_NODES", "SBCAST_FANOUT", "SLURM_STEP_ID",
                "SLURM_STEPID"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("SLURM_JOB_ID", "77")
    monkeypatch.setenv("USER", "alice")
    return World(tmp_path, monkeypatch)


@pytest.fixture
def slurm(tmp_path, monkeypatch) -> Slurm:
    return Slurm(tmp_path / "slurm", monkeypatch)


class Said(list):
    """What the driver said on stderr, but for pack's own progress lines (kept in ``packing``)."""

    def __init__(self):
        super().__init__()
        self.packing = []

    def append(self, message):
        (self.packing if message.startswith("packing ") else super()).append(message)


def _driver(world):
    from pyenvmod.operations import stage_job

    out, err = [], Said()
    driver = stage_job.Driver(world.config, out=out.append, err=err.append)
    return driver, out, err


def _record(node, action="staged", name="e", **more):
    return dict({"node": node, "name": name, "action": action, "seconds": 0.5, "copy": f"/l/{name}",
                 "folder": "/l", "shared_folder": False}, **more)


def _step_args(python_args):
    return ["--overlap", "--ntasks-per-node=1", "-N", "2", "-n", "2", "--kill-on-bad-exit=0", "--quiet",
            sys.executable, "-m", "pyenvmod", "stage", "--node-step", *python_args]


def test_the_nodes_of_the_allocation(world, monkeypatch):
    from pyenvmod.operations import stage_job

    assert stage_job.Driver(world.config).nodes == 1
    monkeypatch.setenv("SLURM_JOB_NUM_NODES", "5")
    assert stage_job.Driver(world.config).nodes == 5
    monkeypatch.setenv("SLURM_NNODES", "3")
    assert stage_job.Driver(world.config).nodes == 3
    monkeypatch.setenv("SLURM_NNODES", "")
    assert stage_job.Driver(world.config).nodes == 5


@pytest.mark.parametrize("environ, whole_job", [
    ({"SLURM_JOB_ID": ""}, False),
    ({"SLURM_JOB_ID": "7"}, True),
    ({"SLURM_JOB_ID": "7", "SLURM_STEPID": "3"}, False),  # the older spelling, alone
    ({"SLURM_JOB_ID": "7", "SLURM_STEP_ID": "4294967289"}, False),  # the last ordinary step number
    ({"SLURM_JOB_ID": "7", "SLURM_STEP_ID": "4294967290"}, True),  # the first of Slurm's own (interactive)
    ({"SLURM_JOB_ID": "7", "SLURM_STEP_ID": "batch"}, True),
    ({"SLURM_JOB_ID": "7", "SLURM_STEP_ID": "4294967295", "SLURM_STEPID": "0"}, True),  # STEP_ID wins
])
def test_a_job_without_a_step(environ, whole_job):
    from pyenvmod.operations import stage_job

    assert stage_job.job_without_step(environ) is whole_job


def test_stage_packs_once_broadcasts_each_image_and_runs_one_step_on_every_node(world, slurm, monkeypatch):
    from pyenvmod.operations import pack, stage_job

    monkeypatch.setenv("SLURM_NNODES", "2")
    monkeypatch.setenv("SBCAST_FANOUT", "8")
    world.make("e", backend="conda")
    world.make("f", backend="conda")
    slurm.nodes_say(_record("n2"), _record("n1", "reused"), _record("n1", name="f", via="broadcast"),
                    _record("n2", "failed", name="f", error="disk gone"))
    driver, out, err = _driver(world)
    assert driver.stage(["e", "f", "e"]) == 0
    assert err.packing == ["packing 'e' (compiling bytecode, then one image)",
                           "packing 'f' (compiling bytecode, then one image)"]  # once each, said as it goes
    images = {n: pack.pack(world.config, n)[1] for n in ("e", "f")}
    srun = slurm.args("srun")
    prefix = srun[srun.index("--broadcast") + 1]
    assert srun == _step_args(["--broadcast", prefix, "e", "f"])
    folder, _, tail = prefix.rpartition("/")
    assert folder == world.config["stage_dir"] and tail.startswith(".pyenvmod-alice-bcast-77-")
    assert len(tail) == len(".pyenvmod-alice-bcast-77-") + 8
    # sbcast was called once per image (the last call is kept): the image, to the name the nodes look for
    assert slurm.args("sbcast") == ["--fanout", "8", str(images["f"]), stage_job.broadcast_name(prefix, "f")]
    assert stage_job.broadcast_name(prefix, "f") == f"{prefix}-f.tar.zst"
    assert err == []
    assert out == ["  n1: already staged in 0.50 s: /l/e",
                   "  n2: staged in 0.50 s from the shared image: /l/e",
                   "Staged 'e' on 2 nodes in " + out[2].split(" in ")[1],
                   "  n1: staged in 0.50 s from the broadcast copy: /l/f",
                   "  n2: failed (disk gone); runs from the shared copy",
                   "Staged 'f' on 1 node in " + out[5].split(" in ")[1]]
    assert out[2].endswith(" s; 0 failed") and out[5].endswith(" s; 1 failed")
    seconds = float(out[2].split(" in ")[1].split(" s;")[0])
    assert 0 <= seconds < 600


def test_without_sbcast_or_with_the_shared_transport_the_nodes_read_the_shared_image(world, tmp_path, monkeypatch):
    monkeypatch.setenv("SLURM_NNODES", "2")
    slurm = Slurm(tmp_path / "only-srun", monkeypatch, tools=("srun",))
    world.make("e", backend="conda")
    slurm.nodes_say(_record("n1"), _record("n2"))
    driver, out, err = _driver(world)
    assert driver.stage(["e"]) == 0
    assert err == ["sbcast not found: every node reads the image from the shared file system instead"]
    assert slurm.args("srun") == _step_args(["e"])
    assert out[-1].startswith("Staged 'e' on 2 nodes in ")
    # the site chose the shared file system: sbcast is not even looked for
    both = Slurm(tmp_path / "both", monkeypatch)
    both.nodes_say(_record("n1"), _record("n2"))
    world.config.set("stage_transport", "shared", "test")
    driver, out, err = _driver(world)
    assert driver.stage(["e"]) == 0 and err == []
    assert both.args("sbcast") is None and both.args("srun") == _step_args(["e"])


@pytest.mark.parametrize("stderr, said", [("sbcast: error: one\nsbcast: error: Can't open `x`\n\n",
                                           "sbcast: error: Can't open `x`"), ("", "exit 3")])
def test_a_failed_sbcast_is_said_and_the_step_still_runs(world, slurm, monkeypatch, stderr, said):
    monkeypatch.setenv("SLURM_NNODES", "2")
    world.make("e", backend="conda")
    slurm.answer("sbcast", err=stderr, code=3)
    slurm.nodes_say(_record("n1"), _record("n2"))
    driver, out, err = _driver(world)
    assert driver.stage(["e"]) == 0
    assert err == [f"sbcast of 'e' failed ({said}): the nodes without the copy read the image from the shared "
                   "file system instead"]
    assert "--broadcast" in slurm.args("srun") and "--fanout" not in slurm.args("sbcast")


def test_an_sbcast_or_a_step_that_hangs_is_given_up_after_its_time_limit(world, slurm, monkeypatch):
    from pyenvmod.operations import stage_job

    monkeypatch.setenv("SLURM_NNODES", "2")
    monkeypatch.setattr(stage_job, "SBCAST_TIMEOUT", 0.2)
    monkeypatch.setattr(stage_job, "NODE_STEP_TIMEOUT", 0.2)
    world.make("e", backend="conda")
    for name in ("sbcast", "srun"):
        text = (slurm.folder / name).read_text()
        (slurm.folder / name).write_text(text.replace("exit $(", "exec /bin/sleep 5\nexit $("))
    slurm.nodes_say(_record("n1"), _record("n2"))
    driver, out, err = _driver(world)
    started = time.monotonic()
    assert driver.stage(["e"]) == 1
    assert time.monotonic() - started < 4
    assert err[0].startswith("sbcast of 'e' failed (Command '['sbcast', ") and "timed out after 0.2 seconds" in err[0]
    assert err[1].startswith("error: could not start the staging step on the nodes of job 77 (srun did not run "
                             "(Command '['srun', ")


def test_a_name_that_cannot_be_packed_is_said_and_makes_the_status_1(world, slurm, monkeypatch):
    monkeypatch.setenv("SLURM_NNODES", "2")
    world.make("e", backend="conda")
    slurm.nodes_say(_record("n1"), _record("n2"))
    driver, out, err = _driver(world)
    assert driver.stage(["nothere", "e"]) == 1
    assert len(err) == 1 and err[0].startswith("error: cannot stage 'nothere': no environment named 'nothere' ")
    assert err[0].endswith(". The job runs it from the shared copy")
    srun = slurm.args("srun")
    assert srun[-1] == "e" and "nothere" not in srun
    assert out[-1].startswith("Staged 'e' on 2 nodes")
    # none can be packed: no step at all
    os.unlink(slurm.folder / "srun.args")
    driver, out, err = _driver(world)
    assert driver.stage(["nothere"]) == 1 and slurm.args("srun") is None and out == []


def test_a_step_that_does_not_start_is_one_error(world, slurm, monkeypatch, capsys):
    monkeypatch.setenv("SLURM_NNODES", "2")
    world.make("e", backend="conda")
    world.config.set("stage_transport", "shared", "test")
    slurm.answer("srun", out="not json\n", err="srun: error: first\nsrun: error: Unable to create step\n  \n",
                 code=1)
    driver, out, err = _driver(world)
    assert driver.stage(["e"]) == 1
    assert err == ["error: could not start the staging step on the nodes of job 77 (srun: error: Unable to "
                   "create step); the job runs from the shared copy"]
    assert out == []
    slurm.answer("srun", out="no json here\n", code=2)  # no message: the output's last line, then the status
    assert driver.stage(["e"]) == 1 and err[-1].endswith("(no json here); the job runs from the shared copy")
    slurm.answer("srun", code=2)
    assert driver.stage(["e"]) == 1 and err[-1].endswith("(exit 2); the job runs from the shared copy")
    os.unlink(slurm.folder / "srun")
    assert driver.stage(["e"]) == 1 and "(srun did not run (" in err[-1]


def test_the_nodes_answers_are_read_line_by_line_and_their_warnings_passed_on(world, slurm, monkeypatch, capsys):
    monkeypatch.setenv("SLURM_NNODES", "2")
    world.make("e", backend="conda")
    world.config.set("stage_transport", "shared", "test")
    lines = ["srun: some notice", json.dumps(_record("n1")), json.dumps([1, 2]), json.dumps({"name": "e"}),
             json.dumps(_record("n2", "no-space", error="no space left in /l"))]
    slurm.answer("srun", out="\n".join(lines) + "\n", err="pyenvmod: warning: slow disk\nsrun: task 1 exited\n",
                 code=1)  # one node failed: srun's status is not 0, yet the nodes answered
    driver, out, err = _driver(world)
    assert driver.stage(["e"]) == 0
    assert out[:2] == ["  n1: staged in 0.50 s from the shared image: /l/e",
                       "  n2: failed (no space left in /l); runs from the shared copy"]
    assert out[2].startswith("Staged 'e' on 1 node in ") and out[2].endswith(" s; 1 failed")
    assert capsys.readouterr().err == "pyenvmod: warning: slow disk\n"


def test_a_shared_stage_folder_is_warned_about_once_per_folder(world):
    driver, out, err = _driver(world)
    records = [_record("n1", "reused", folder="/b", shared_folder=True),
               _record("n2", "reused", folder="/b", shared_folder=True),
               _record("n3", "reused", folder="/a", shared_folder=True), _record("n4", folder="/c")]
    driver.nodes = 4
    assert driver._report(["e"], records, 1.0, ["e"]) == 0
    assert err == [f"warning: the stage folder {f} is the same folder on several nodes (a shared file system): "
                   "staging gains nothing there; set stage_dir to a node-local disk" for f in ("/a", "/b")]
    assert out[3] == "  n4: staged in 0.50 s from the shared image: /l/e"
    # a failed node without an error names what it did
    out.clear()
    assert driver._report(["e"], [_record("n1", "weird")], 1.0, ["e"]) == 1
    assert out[0] == "  n1: failed (weird); runs from the shared copy"


def test_clean_runs_one_step_and_reports_each_node(world, slurm, monkeypatch):
    monkeypatch.setenv("SLURM_NNODES", "2")
    slurm.nodes_say(_record("n2", "cleaned", removed=1), _record("n1", "cleaned", removed=2),
                    _record("n1", "cleaned", name="f", removed=0), _record("n2", "failed", name="f", error="busy"))
    driver, out, err = _driver(world)
    assert driver.clean(["e", "f", "e"]) == 1
    assert slurm.args("srun") == _step_args(["--clean", "e", "f"])
    assert out == ["  n1: removed 2 copies", "  n2: removed 1 copy", "Cleaned 'e' on 2 nodes; 0 failed",
                   "  n1: removed 0 copies", "  n2: failed (busy)", "Cleaned 'f' on 1 node; 1 failed"]
    slurm.nodes_say(_record("n2", "cleaned", removed=1), _record("n1", "cleaned", removed=1))
    out.clear()
    assert driver.clean(["e"]) == 0 and err == []
    slurm.answer("srun", err="srun: error: no\n", code=1)
    assert driver.clean(["e"]) == 1
    assert err == ["error: could not start the cleaning step on the nodes of job 77 (srun: error: no)"]


def test_the_step_command_keeps_the_group_tree(world, monkeypatch):
    from pyenvmod import config
    from pyenvmod.operations import stage_job

    monkeypatch.setitem(config.GROUP, "spec", "/proj/tree")
    assert stage_job.Driver(world.config)._command("x") == [sys.executable, "-m", "pyenvmod", "--group", "/proj/tree",
                                                            "stage", "--node-step", "x"]
    monkeypatch.setitem(config.GROUP, "spec", "")
    assert stage_job.Driver(world.config)._command("x") == [sys.executable, "-m", "pyenvmod", "stage",
                                                            "--node-step", "x"]


def test_the_default_error_stream_is_stderr_with_the_programs_name(world, capsys):
    from pyenvmod.operations import stage_job

    stage_job.Driver(world.config).err("trouble")
    assert capsys.readouterr().err == "pyenvmod: trouble\n"


# --- the node's side ------------------------------------------------------------------------------------

def test_a_node_marks_its_stage_folder_and_drops_the_marks_of_old_jobs(world, tmp_path, monkeypatch):
    from pyenvmod.operations import stage_job

    monkeypatch.setenv("SLURMD_NODENAME", "n1")
    root = tmp_path / "stage"
    root.mkdir()
    old, recent, same_job = root / ".node-5.n9", root / ".node-6.n9", root / ".node-77.n2"
    keep = root / "other-file"
    for path in (old, recent, same_job, keep):
        path.write_text("")
    day_ago = time.time() - 86400 - 60
    os.utime(old, (day_ago, day_ago))
    os.utime(same_job, (day_ago, day_ago))
    os.utime(keep, (day_ago, day_ago))
    mine = stage_job._mark(root)
    assert mine == ".node-77.n1"
    assert sorted(os.listdir(root)) == [".node-6.n9", ".node-77.n1", ".node-77.n2", "other-file"]
    assert (root / mine).stat().st_mode & 0o777 == 0o600
    assert stage_job._marked_by_others(root, mine)  # n2 of this job: the folder is shared
    os.unlink(same_job)
    assert not stage_job._marked_by_others(root, mine)  # another job's mark says nothing
    assert not stage_job._marked_by_others(tmp_path / "none", mine)


def test_a_node_without_slurmd_nodename_uses_its_host_name(world, tmp_path):
    from pyenvmod.operations import stage_job

    (tmp_path / "s").mkdir()
    assert stage_job._mark(tmp_path / "s") == f".node-77.{os.uname().nodename}"


def test_a_node_step_reports_a_failed_name_and_cleans(world, capsys, monkeypatch):
    from pyenvmod.operations import stage_job

    monkeypatch.setenv("SLURMD_NODENAME", "n1")
    assert stage_job.node_step(world.config, ["nothere"]) == 1
    (record,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert (record["node"], record["name"], record["action"], record["shared_folder"]) == (
        "n1", "nothere", "failed", False)
    assert record["error"].startswith("no environment named 'nothere' ") and "\n" not in record["error"]
    assert record["folder"] == str(Path(world.config["stage_dir"]) / "pyenvmod-alice")
    world.make("e", backend="conda")
    assert stage_job.node_step(world.config, ["e", "bad/name"], clean=True) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["name"], r["action"], r.get("removed")) for r in records] == [("e", "cleaned", 0),
                                                                           ("bad/name", "failed", None)]


def test_a_broadcast_copy_of_another_user_or_a_link_is_never_taken(world, tmp_path):
    from pyenvmod.operations import stage_job

    file = tmp_path / "copy"
    file.write_text("x")
    assert stage_job._own_file(str(file))
    link = tmp_path / "link"
    link.symlink_to(file)
    assert not stage_job._own_file(str(link)) and not stage_job._own_file(str(tmp_path / "none"))
    assert not stage_job._own_file(str(tmp_path))
    os.chown(file, 1, 1)
    assert not stage_job._own_file(str(file))


@pytest.mark.parametrize("broadcast", [False, True])
def test_a_node_without_room_says_so_once_and_reports_no_space(world, tmp_path, capsys, monkeypatch, broadcast):
    """The node's warning goes to stderr (srun passes it on), its JSON line names the folder without room;
    the node marks its stage folder, and another node's mark of this job there makes it a shared folder."""
    import shutil

    from pyenvmod.operations import pack, stage_job
    from pyenvmod.staging import stage_root

    monkeypatch.setenv("SLURMD_NODENAME", "n1")
    world.make("e", backend="conda")
    _, image = pack.pack(world.config, "e")
    manifest_file = image.parent / "manifest.json"
    data = json.loads(manifest_file.read_text())
    data["size"] = 1 << 60  # more than any node-local disk
    manifest_file.write_text(json.dumps(data))
    root = stage_root(world.config)
    root.mkdir(mode=0o700)
    (root / ".node-77.n2").write_text("")  # node n2 of this job staged into the same folder
    prefix = ""
    if broadcast:
        prefix = str(tmp_path / "local" / ".pyenvmod-alice-bcast-77-x")
        shutil.copyfile(image, stage_job.broadcast_name(prefix, "e"))
    assert stage_job.node_step(world.config, ["e"], prefix) == 1
    captured = capsys.readouterr()
    (record,) = [json.loads(line) for line in captured.out.splitlines()]
    assert (record["action"], record["error"], record["via"]) == (
        "no-space", f"no space left in {root}", "broadcast" if broadcast else "shared")
    assert isinstance(record["seconds"], float) and record["shared_folder"] is True
    assert captured.err.startswith(f"pyenvmod: warning: cannot stage 'e' on {os.uname().nodename}: no space left "
                                   f"in {root} (")
    assert (root / ".node-77.n1").is_file()
    assert not os.path.exists(stage_job.broadcast_name(prefix, "e")) if broadcast else True


def test_a_node_whose_copy_is_already_there_succeeds(world, capsys, monkeypatch):
    from pyenvmod.operations import stage_job

    monkeypatch.setenv("SLURMD_NODENAME", "n1")
    world.make("e", backend="conda")
    assert stage_job.node_step(world.config, ["e"]) == 0
    assert stage_job.node_step(world.config, ["e"]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["action"], r["via"]) for r in records] == [("staged", "shared"), ("reused", "shared")]


def test_a_broadcast_copy_that_is_a_link_is_neither_read_nor_removed(world, capsys, tmp_path, monkeypatch):
    from pyenvmod.operations import pack, stage_job

    monkeypatch.setenv("SLURMD_NODENAME", "n1")
    world.make("e", backend="conda")
    _, image = pack.pack(world.config, "e")
    prefix = str(tmp_path / "local" / ".pyenvmod-alice-bcast-77-x")
    os.symlink(image, stage_job.broadcast_name(prefix, "e"))
    assert stage_job.node_step(world.config, ["e"], prefix) == 0
    (record,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert record["via"] == "shared" and os.path.islink(stage_job.broadcast_name(prefix, "e"))
    assert image.is_file()
