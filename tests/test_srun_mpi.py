"""mpi4py from an environment, started by srun across the two nodes of a real Slurm cluster.

The environment is the session's 'mpi' (mpi4py built from source against Debian's mpich, tests/mpienv.py);
the job script of docs/user-guide/mpi.md runs inside a real allocation: load the environment, then
``srun --mpi=pmi2``. Debian's mpich speaks the PMI wire protocol that Slurm's pmi2 plugin serves, so the
ranks form one world; without a PMI plugin (``--mpi=none``, Slurm's default here) every rank is a world of
its own. ``mpiexec`` inside the allocation (hydra starting its proxies through srun) works as well, and so
does ``srun --mpi=pmi2`` after ``pyenvmod stage``, every rank then running from its node's copy.
"""

import json
import shlex
import subprocess

import pytest


CODE = ("import json, os, sys; from mpi4py import MPI; c = MPI.COMM_WORLD\n"
        "print(json.dumps({'tag': os.environ['TAG'], 'rank': c.Get_rank(), 'size': c.Get_size(),\n"
        "                  'sum': c.allreduce(c.Get_rank()), 'node': os.environ.get('SLURMD_NODENAME'),\n"
        "                  'exe': sys.executable}))")


def _records(stdout: str, tag: str):
    return [record for record in map(json.loads, filter(lambda ln: ln.startswith("{"), stdout.splitlines()))
            if record["tag"] == tag]


def _lines(stdout: str, tag: str):
    return sorted((r["rank"], r["size"], r["sum"], r["node"]) for r in _records(stdout, tag))


@pytest.mark.slow
def test_srun_with_pmi2_runs_mpi4py_as_one_world_across_two_nodes(mpi_env, slurm_cluster, tmp_path):  # noqa: F811
    stage_dir = tmp_path / "local"
    stage_dir.mkdir()
    code = shlex.quote(CODE)
    script = f"""{mpi_env['lmod'].init()}
module purge
module use {shlex.quote(str(mpi_env['site']))}
module use {shlex.quote(mpi_env['cli']('modulepath').stdout.strip())}
module load pyenv/mpi || exit 11
TAG=pmi2 srun -N 2 -n 2 --mpi=pmi2 python -c {code} || exit 12
TAG=none srun -N 2 -n 2 --mpi=none python -c {code} || exit 13
TAG=mpiexec mpiexec -n 2 python -c {code} || exit 14
srun --ntasks-per-node=1 -n 2 pyenvmod stage mpi || exit 15
TAG=staged srun -N 2 -n 2 --mpi=pmi2 python -c {code} || exit 16
"""
    env = dict(mpi_env["env"], SLURM_CONF=slurm_cluster.env["SLURM_CONF"], PYENVMOD_STAGE_DIR=str(stage_dir))
    result = subprocess.run(["salloc", "-Q", "-N2", "--ntasks-per-node=1", "bash", "--norc", "--noprofile", "-c",
                             script], env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr + slurm_cluster.log()
    # srun --mpi=pmi2: one world of 2 ranks, one per node, that can talk (allreduce of the ranks)
    assert _lines(result.stdout, "pmi2") == [(0, 2, 1, "node1"), (1, 2, 1, "node2")], result.stdout
    # no PMI plugin: each task is a singleton world (size 1, rank 0): the mistake the docs warn of
    assert _lines(result.stdout, "none") == [(0, 1, 0, "node1"), (0, 1, 0, "node2")], result.stdout
    # mpiexec inside the allocation: hydra launches through Slurm, the same world over both nodes
    ranks = _lines(result.stdout, "mpiexec")
    assert [r[:3] for r in ranks] == [(0, 2, 1), (1, 2, 1)], result.stdout
    assert sorted(r[3] for r in ranks) == ["node1", "node2"], result.stdout
    # the job script of mpi-at-scale.md: after pyenvmod stage, the same world, every rank from the node's copy
    assert _lines(result.stdout, "staged") == [(0, 2, 1, "node1"), (1, 2, 1, "node2")], result.stdout
    assert all(r["exe"].startswith(str(stage_dir / "pyenvmod-")) for r in _records(result.stdout, "staged")), \
        result.stdout
    assert not any(r["exe"].startswith(str(stage_dir)) for r in _records(result.stdout, "pmi2")), result.stdout
