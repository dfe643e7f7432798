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
