"""'pyenvmod stage NAME' in a job script stages on every node of the allocation, on a real four-node
Slurm cluster whose nodes each have a node-local disk of their own at one path (tests/slurm.py).

The image is read from the shared tree once per job (sbcast forwards it to the nodes), where
'srun --ntasks-per-node=1 pyenvmod stage' reads it once per node: counted with inotify on the
image file (every open of it, from any process of any node, is one IN_OPEN event).
"""

import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

import localpkg
from conftest import Cli, clean_env
from modsys import Lmod
from opens import OpenCounter

LMOD = f"source {Lmod.INIT}"
NODES = ("node1", "node2", "node3", "node4")
CODE = "import os, sys, tinypkg; print('rank', os.environ['SLURMD_NODENAME'], tinypkg.X, sys.executable)"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """A root with 'tiny' (one small local package) and 'other' (none), Python 3.12, packed."""
    base = tmp_path_factory.mktemp("bcast")
    env = clean_env(base)
    cli = Cli(env)
    req, _ = localpkg.make(base / "tinypkg", "tinypkg", {"tinypkg.py": "X = 42\n"})
    cli("create", "tiny", "--python", "3.12", "-p", req)
    cli("create", "other", "--python", "3.12")
    cli("pack", "tiny")
    cli("pack", "other")
    tree = next(p for p in Path(env["PYENVMOD_ROOT"]).iterdir() if p.is_dir())
    return {"env": env, "cli": cli, "tree": tree, "image": tree / "images" / "tiny" / "image.tar.zst",
            "other_image": tree / "images" / "other" / "image.tar.zst",
            "modulepath": cli("modulepath").stdout.strip()}


def _job(cluster, env, script, nodes=4, timeout=600):
    full = dict(env, SLURM_CONF=cluster.env["SLURM_CONF"])
    return subprocess.run(["salloc", "-Q", f"-N{nodes}", "--ntasks-per-node=1", "bash", "--norc", "--noprofile",
                           "-c", f"{LMOD}\nmodule use {shlex.quote(str(env['MODULEPATH_SITE']))}\n{script}"],
                          env=full, capture_output=True, text=True, timeout=timeout)


def _env(site, cluster, **extra):
    return dict(site["env"], PYENVMOD_STAGE_DIR=str(cluster.node_local), MODULEPATH_SITE=site["modulepath"], **extra)


def _copies(cluster, node):
    tops = list(cluster.disk(node).glob("pyenvmod-*"))
    return sorted(p.name for top in tops for p in top.iterdir() if p.is_dir()) if tops else []


def _clean_disks(cluster):
    for node in NODES:
        subprocess.run(["rm", "-rf", *map(str, cluster.disk(node).iterdir())], check=True)


@pytest.mark.slow
def test_one_stage_in_the_job_script_stages_every_node_reading_the_image_once(site, slurm_cluster):  # noqa: F811
    _clean_disks(slurm_cluster)
    script = f"""module load pyenv/tiny || exit 11
pyenvmod stage tiny other || exit 12
srun python -c {shlex.quote(CODE)} || exit 13
"""
    with OpenCounter(site["image"]) as opens, OpenCounter(site["other_image"]) as other_opens:
        result = _job(slurm_cluster, _env(site, slurm_cluster), script)
    assert result.returncode == 0, result.stdout + result.stderr + slurm_cluster.log()
    lines = result.stdout.splitlines()
    # one line per node, then the summary
    per_node = [ln for ln in lines if ln.startswith("  node")]
    assert sorted(ln.split(":")[0].strip() for ln in per_node) == sorted(NODES * 2), lines  # two environments
    assert all("staged in" in ln and "from the broadcast copy" in ln for ln in per_node), lines
    for name in ("tiny", "other"):
        summary = [ln for ln in lines if ln.startswith(f"Staged '{name}' on")]
        assert len(summary) == 1 and summary[0].startswith(f"Staged '{name}' on 4 nodes in ") \
            and summary[0].endswith("; 0 failed"), lines
    # every rank ran python from the copy on its own node's disk, and imported the package from it
    ranks = sorted(ln.split()[1:] for ln in lines if ln.startswith("rank "))
    assert [r[0] for r in ranks] == list(NODES) and all(r[1] == "42" for r in ranks), lines
    assert all(r[2].startswith(str(slurm_cluster.node_local / "pyenvmod-")) for r in ranks), lines
    for node in NODES:  # each node's own disk holds the two copies, and no broadcast file is left
        copies = _copies(slurm_cluster, node)
        assert [c.split("-")[0] for c in copies] == ["other", "tiny"], copies
        assert not [p for p in slurm_cluster.disk(node).iterdir() if "bcast" in p.name]
    # sbcast read each shared image once for the whole job (one broadcast per image)
    assert (opens.count, other_opens.count) == (1, 1), (opens.count, other_opens.count)


@pytest.mark.slow
def test_the_per_node_way_reads_the_image_once_per_node_and_clean_empties_every_node(site, slurm_cluster):  # noqa: F811
    _clean_disks(slurm_cluster)
    script = """module load pyenv/tiny || exit 11
srun --ntasks-per-node=1 -n 4 pyenvmod stage tiny || exit 12
"""
    with OpenCounter(site["image"]) as opens:
        result = _job(slurm_cluster, _env(site, slurm_cluster), script)
    assert result.returncode == 0, result.stdout + result.stderr + slurm_cluster.log()
    assert sorted(ln.split()[0] for ln in result.stdout.splitlines()) == ["Staged"] * 4, result.stdout
    assert opens.count == 4, opens.count
    assert all(_copies(slurm_cluster, node) for node in NODES)
    # stage --clean in the job script: every node's copy goes
    result = _job(slurm_cluster, _env(site, slurm_cluster), "pyenvmod stage --clean tiny")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Cleaned 'tiny' on 4 nodes; 0 failed" in result.stdout.splitlines(), result.stdout
    assert sum(ln.startswith("  node") and "removed 1 copy" in ln for ln in result.stdout.splitlines()) == 4
    assert not any(_copies(slurm_cluster, node) for node in NODES)


@pytest.mark.slow
def test_stage_transport_shared_has_every_node_read_the_shared_image(site, slurm_cluster):  # noqa: F811
    _clean_disks(slurm_cluster)
    env = _env(site, slurm_cluster, PYENVMOD_STAGE_TRANSPORT="shared")
    with OpenCounter(site["image"]) as opens:
        result = _job(slurm_cluster, env, "pyenvmod stage tiny", nodes=2)
    assert result.returncode == 0, result.stdout + result.stderr
    per_node = [ln for ln in result.stdout.splitlines() if ln.startswith("  node")]
    assert len(per_node) == 2 and all("from the shared image" in ln for ln in per_node), result.stdout
    assert "Staged 'tiny' on 2 nodes in " in result.stdout
    assert opens.count == 2, opens.count


@pytest.mark.slow
def test_without_sbcast_one_line_says_so_and_every_node_reads_the_shared_image(site, slurm_cluster,  # noqa: F811
                                                                                tmp_path):
    _clean_disks(slurm_cluster)
    bin_dir = tmp_path / "bin"  # srun and what a node's stage runs (tar, zstd), but no sbcast
    bin_dir.mkdir()
    for program in ("srun", "tar", "zstd", "pyenvmod"):
        (bin_dir / program).symlink_to(shutil.which(program, path=site["env"]["PATH"] + ":/usr/bin:/bin"))
    script = f"PATH={shlex.quote(str(bin_dir))} pyenvmod stage tiny"
    with OpenCounter(site["image"]) as opens:
        result = _job(slurm_cluster, _env(site, slurm_cluster), script, nodes=2)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = [ln for ln in result.stderr.splitlines() if ln.startswith("pyenvmod:")]
    assert len(lines) == 1 and "sbcast not found" in lines[0] and "shared file system" in lines[0], result.stderr
    assert "Staged 'tiny' on 2 nodes in " in result.stdout, result.stdout
    assert opens.count == 2, opens.count


@pytest.mark.slow
def test_bad_input_in_a_job_script_is_one_line_each_and_the_job_goes_on(site, slurm_cluster, tmp_path):  # noqa: F811
    _clean_disks(slurm_cluster)
    # an unknown name beside a good one: one line for it, the good one is staged, exit status 1
    script = """pyenvmod stage tiny nosuch; echo "exit=$?"
srun -n 2 python -c 'import sys; print("exe", sys.executable)'
"""
    env = _env(site, slurm_cluster)
    result = _job(slurm_cluster, env, "module load pyenv/tiny\n" + script, nodes=2)
    errors = [ln for ln in result.stderr.splitlines() if ln.startswith("pyenvmod: error:")]
    assert len(errors) == 1 and "'nosuch'" in errors[0] and "Traceback" not in result.stderr, result.stderr
    assert "exit=1" in result.stdout and "Staged 'tiny' on 2 nodes" in result.stdout, result.stdout
    assert sum(ln.startswith("exe " + str(slurm_cluster.node_local)) for ln in result.stdout.splitlines()) == 2
    # a stage folder that is one folder for all nodes (a shared file system): staged, with one warning
    shared = tmp_path / "shared"
    shared.mkdir()
    result = _job(slurm_cluster, dict(env, PYENVMOD_STAGE_DIR=str(shared)), "pyenvmod stage tiny", nodes=2)
    assert result.returncode == 0, result.stdout + result.stderr
    warnings = [ln for ln in result.stderr.splitlines() if "warning" in ln]
    assert len(warnings) == 1 and "same folder on several nodes" in warnings[0], result.stderr
    # no step can start in the job (here: the job is gone): one line, non-zero, the shared copy stays in use
    result = subprocess.run(["pyenvmod", "stage", "tiny"], env=dict(env, SLURM_CONF=slurm_cluster.env["SLURM_CONF"],
                            SLURM_JOB_ID="999999", SLURM_NNODES="2"), capture_output=True, text=True, timeout=300)
    errors = [ln for ln in result.stderr.splitlines() if ln.startswith("pyenvmod: error:")]
    assert result.returncode == 1 and len(errors) == 1, result.stderr
    assert "could not start the staging step" in errors[0] and "runs from the shared copy" in errors[0]


def _read_only_but_the_stage_folder(cluster, node):
    """On ``node`` only: a read-only disk at the node-local path (sbcast cannot write its copy there),
    except the user's stage folder pyenvmod-root, a writable mount of its own (the node can still
    stage). A fresh tmpfs over the node's disk: remounting that disk read-only fails while a job
    before left a file open on it."""
    top = cluster.node_local / "pyenvmod-root"
    cluster.on_node(node, "sh", "-c", 'mount -t tmpfs -o size=1g,mode=755 pyenvmod-test "$2" && mkdir -m 700 "$1" '
                    '&& mount --bind "$1" "$1" && mount -o remount,bind,ro "$2"', "_", str(top), str(cluster.node_local))


def _node_disk_back(cluster, node, nested=True):
    top = cluster.node_local / "pyenvmod-root"
    script = 'umount -l "$1"; umount -l "$2"' if nested else 'umount -l "$2"'
    cluster.on_node(node, "sh", "-c", script, "_", str(top), str(cluster.node_local), check=False)


def _copies_on_node(cluster, node):
    listing = cluster.on_node(node, "ls", "-a", str(cluster.node_local), str(cluster.node_local / "pyenvmod-root"))
    return listing.stdout.split()


@pytest.mark.slow
def test_when_sbcast_fails_on_some_nodes_they_read_the_shared_image_and_say_so_in_one_line(site, slurm_cluster):  # noqa: F811
    """sbcast fails for real (two nodes' destination is read-only): one line says so, those nodes stage
    from the shared image, the others from their broadcast copy, the job goes on (exit 0)."""
    _clean_disks(slurm_cluster)
    broken = ("node3", "node4")
    try:
        for node in broken:
            _read_only_but_the_stage_folder(slurm_cluster, node)
        with OpenCounter(site["image"]) as opens:
            result = _job(slurm_cluster, _env(site, slurm_cluster), "pyenvmod stage tiny; echo \"exit=$?\"")
        on_broken = {node: _copies_on_node(slurm_cluster, node) for node in broken}
    finally:
        for node in broken:
            _node_disk_back(slurm_cluster, node)
    said = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(said) == 1 and said[0].startswith("pyenvmod: sbcast of 'tiny' failed (") \
        and "read the image from the shared file system instead" in said[0], result.stderr
    assert "Traceback" not in result.stderr and "exit=0" in result.stdout, result.stdout + result.stderr
    per_node = {ln.split(":")[0].strip(): ln for ln in result.stdout.splitlines() if ln.startswith("  node")}
    assert sorted(per_node) == list(NODES), result.stdout
    # the broken nodes read the shared image; the others the broadcast copy when sbcast left them all
    # of it (sbcast stops when a node fails: a part is never unpacked, that node reads the shared image)
    for node in NODES:
        ways = ("from the shared image",) if node in broken else ("from the shared image", "from the broadcast copy")
        assert "staged in" in per_node[node] and per_node[node].split(": ")[1].endswith(ways), per_node[node]
    from_shared = sum(ln.split(": ")[1].endswith("from the shared image") for ln in per_node.values())
    assert "Staged 'tiny' on 4 nodes in " in result.stdout and "; 0 failed" in result.stdout, result.stdout
    assert all(_copies(slurm_cluster, node) for node in NODES if node not in broken)
    assert all(any(n.startswith("tiny-") and ".tmp" not in n for n in names) for names in on_broken.values()), \
        on_broken
    assert not any("bcast" in p.name for node in NODES for p in slurm_cluster.disk(node).iterdir())
    assert not any("bcast" in n for names in on_broken.values() for n in names), on_broken
    assert opens.count == 1 + from_shared, opens.count  # sbcast once, then each node without its copy


@pytest.mark.slow
def test_when_sbcast_fails_and_no_node_can_stage_the_exit_status_says_so(site, slurm_cluster):  # noqa: F811
    """Every node's disk read-only: sbcast fails, no node stages; one line each, exit status 1, and
    python still runs from the shared environment on every rank."""
    _clean_disks(slurm_cluster)
    nodes = ("node1", "node2")
    try:
        for node in nodes:  # a fresh read-only tmpfs at the node-local path (see above)
            slurm_cluster.on_node(node, "mount", "-t", "tmpfs", "-o", "ro,size=1m", "pyenvmod-test",
                                  str(slurm_cluster.node_local))
        script = """module load pyenv/tiny || exit 11
pyenvmod stage tiny; echo "exit=$?"
srun -n 2 python -c 'import sys, tinypkg; print("exe", sys.executable)'
"""
        result = _job(slurm_cluster, _env(site, slurm_cluster), script, nodes=2)
    finally:
        for node in nodes:
            _node_disk_back(slurm_cluster, node, nested=False)
    assert "exit=1" in result.stdout and "Traceback" not in result.stderr, result.stdout + result.stderr
    said = [ln for ln in result.stderr.splitlines() if ln.startswith("pyenvmod:")]
    assert sum("sbcast of 'tiny' failed" in ln for ln in said) == 1, result.stderr
    assert "Staged 'tiny' on 0 nodes in " in result.stdout and "; 2 failed" in result.stdout, result.stdout
    failed = [ln for ln in result.stdout.splitlines() if ln.startswith("  node")]
    assert len(failed) == 2 and all("failed (" in ln and "runs from the shared copy" in ln for ln in failed), failed
    exes = [ln.split()[1] for ln in result.stdout.splitlines() if ln.startswith("exe ")]
    assert len(exes) == 2 and all(e.startswith(site["env"]["PYENVMOD_ROOT"]) for e in exes), result.stdout
