"""pyenvmod pack / stage: node-local copies for parallel jobs, on a real two-node Slurm cluster.

The job script of the user guide runs for real (salloc, srun, Lmod); each rank imports numpy
under strace, unstaged and staged, and the file-system calls that reach the shared trees
(the pyenvmod root and the base interpreter's prefix) are counted per rank.
"""

import json
import os
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

import localpkg
from conftest import Cli, assert_one_line_error, clean_env
from immutable import immutable
from modsys import MODULE_SYSTEMS, Lmod, parse_env0, require, run_bash, user_env

IMPORT = "import sys, numpy; print(numpy.__version__, float(numpy.arange(10).sum()), sys.version_info[:2])"
LMOD = f"source {Lmod.INIT}"


def _base_prefix(prefix) -> str:
    return os.path.dirname(os.path.dirname(os.path.realpath(os.path.join(prefix, "bin", "python"))))


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """A root with 'np' (numpy) and 'tools' (a local package with a console script), Python 3.12."""
    base = tmp_path_factory.mktemp("stage")
    env = clean_env(base)
    cli = Cli(env)
    req, _ = localpkg.make(base / "toolpkg", "toolpkg", {"toolpkg.py": "import sys\ndef main():\n"
                                                         "    print('toolcli', sys.executable)\n"},
                           scripts={"toolcli": "toolpkg:main"})
    cli("create", "np", "--python", "3.12", "-p", "numpy")
    cli("create", "tools", "--python", "3.12", "-p", req)
    root = Path(env["PYENVMOD_ROOT"])
    (platform,) = [p.name for p in root.iterdir() if p.is_dir()]
    return {"env": env, "cli": cli, "base": base, "tree": root / platform,
            "modulepath": cli("modulepath").stdout.strip()}


def _job(cluster, env, script, nodes=2, tasks=2, timeout=900, cwd=None):
    """Run ``script`` in bash inside a real allocation (salloc), like a batch script."""
    full = dict(env, SLURM_CONF=cluster.env["SLURM_CONF"])
    result = subprocess.run(["salloc", "-Q", f"-N{nodes}", f"--ntasks-per-node={tasks}", "bash", "--norc",
                             "--noprofile", "-c", script], env=full, capture_output=True, text=True,
                            timeout=timeout, cwd=cwd)
    return result


def _count(path: Path, trees) -> int:
    """strace lines (file-system calls) that name a path in one of ``trees``."""
    count = 0
    for line in path.read_text(errors="replace").splitlines():
        if any(f'"{tree}/' in line or f'"{tree}"' in line for tree in trees):
            count += 1
    return count


@pytest.mark.slow
def test_the_job_script_runs_every_rank_from_the_node_local_copy(site, slurm_cluster, tmp_path):  # noqa: F811
    require(shutil.which("strace") is not None, "strace", "apt-get install strace")
    stage_dir, traces = tmp_path / "local", tmp_path / "traces"
    stage_dir.mkdir()
    traces.mkdir()
    trace = ("strace -f -qq -s 4096 -e trace=%file -o " + str(traces) + "/$1.$SLURM_PROCID python -c "
             + shlex.quote(IMPORT))
    script = f"""{LMOD}
module use {shlex.quote(site['modulepath'])}
module load pyenv/np || exit 11
srun bash -c {shlex.quote(trace)} _ shared || exit 12
srun --ntasks-per-node=1 pyenvmod stage np || exit 13
srun bash -c {shlex.quote(trace)} _ staged || exit 14
srun python -c 'import sys; print(sys.executable)' || exit 15
"""
    env = dict(site["env"], PYENVMOD_STAGE_DIR=str(stage_dir))
    result = _job(slurm_cluster, env, script, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr + slurm_cluster.log()
    lines = result.stdout.splitlines()
    outputs = [ln for ln in lines if ln.startswith(tuple("0123456789"))]
    assert len(outputs) == 8 and len(set(outputs)) == 1, lines  # same result, shared or staged
    staged_lines = [ln for ln in lines if ln.startswith(("Staged 'np'", "Already staged 'np'"))]
    # both nodes share this machine's disk: one task stages, the others find the copy (srun inherits
    # the allocation's task count, so there may be more than one task per node)
    verbs = sorted(ln.split()[0] for ln in staged_lines)
    assert verbs.count("Staged") == 1 and len(verbs) >= 2 and set(verbs) == {"Already", "Staged"}, lines
    executables = [ln for ln in lines if ln.endswith("/env/bin/python")]
    assert len(executables) == 4 and all(ln.startswith(str(stage_dir / "pyenvmod-")) for ln in executables), lines
    prefix = site["tree"] / "envs" / "np"
    trees = [str(site["tree"].parent), _base_prefix(prefix)]
    counts = {kind: [_count(traces / f"{kind}.{rank}", trees) for rank in range(4)] for kind in ("shared", "staged")}
    print("file-system calls on the shared trees per rank:", counts)
    assert all(c > 200 for c in counts["shared"]), counts  # the measurement sees the shared trees
    assert all(c <= 20 for c in counts["staged"]), counts  # the target


@pytest.mark.slow
def test_concurrent_stage_on_one_node_does_the_work_once(site, slurm_cluster, tmp_path):  # noqa: F811
    stage_dir = tmp_path / "local"
    stage_dir.mkdir()
    env = dict(site["env"], PYENVMOD_STAGE_DIR=str(stage_dir))
    site["cli"]("pack", "np", extra_env=env)
    result = _job(slurm_cluster, env, "srun -N1 -n4 --overcommit pyenvmod stage np", nodes=1, tasks=2)
    assert result.returncode == 0, result.stdout + result.stderr
    verbs = sorted(ln.split()[0] for ln in result.stdout.splitlines())
    assert verbs == ["Already", "Already", "Already", "Staged"], result.stdout
    (top,) = stage_dir.iterdir()
    assert top.stat().st_mode & 0o777 == 0o700
    copies = sorted(p.name for p in top.iterdir())
    assert len(copies) == 2 and copies[1].endswith(".lock"), copies  # one copy, its lock; nothing partial
    result = site["cli"]("stage", "--clean", "np", extra_env=env)
    assert "Removed 1 staged copy" in result.stdout
    assert [p.name for p in top.iterdir()] == [copies[1]]


@pytest.mark.slow
def test_a_stale_image_is_repacked_and_restaged_never_mixed(tmp_path):
    env = clean_env(tmp_path)
    env["PYENVMOD_STAGE_DIR"] = str(tmp_path / "local")
    (tmp_path / "local").mkdir()  # the site's node-local folder: pyenvmod makes only its own in it
    cli = Cli(env)
    one, _ = localpkg.make(tmp_path / "one", "pkgone", {"pkgone.py": "X = 1\n"})
    two, _ = localpkg.make(tmp_path / "two", "pkgtwo", {"pkgtwo.py": "X = 2\n"})
    cli("create", "e", "--python", "3.12", "-p", one)
    tree = next(Path(env["PYENVMOD_ROOT"]).iterdir())
    launcher = tree / "images" / "e" / "bin" / "python"
    first = cli("stage", "e").stdout
    assert "Staged 'e'" in first and "packed first" in first
    code = "import sys, pkgone; print(sys.executable)\ntry:\n import pkgtwo; print('two')\nexcept ImportError: " \
           "print('no two')"
    out = subprocess.run([str(launcher), "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    assert out.split() == [first.split(": ")[-1].strip() + "/env/bin/python", "no", "two"]
    cli("install", "e", two)
    # the copy on this node is of the old version: never used, python runs from the environment
    out = subprocess.run([str(launcher), "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    assert out.split() == [str(tree / "envs" / "e" / "bin" / "python"), "two"]
    second = cli("stage", "e").stdout
    assert "Staged 'e'" in second and "packed first" in second
    out = subprocess.run([str(launcher), "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    assert out.split() == [second.split(": ")[-1].strip() + "/env/bin/python", "two"]
    copies = [p.name for p in next((tmp_path / "local").iterdir()).iterdir() if not p.name.endswith(".lock")]
    assert copies == [Path(second.split(": ")[-1].strip()).name]  # the old version is gone


@pytest.mark.slow
def test_no_space_on_the_node_says_so_once_and_runs_from_the_shared_copy(site, slurm_cluster, tmp_path):  # noqa: F811
    require(os.geteuid() == 0, "root (mount -t tmpfs)", "run the tests as root")
    # an 8 MB node-local disk on every node (mounted in each slurmd's own mount namespace)
    small = slurm_cluster.node_local / "small"
    nodes = [n for n in sorted(p.name[5:] for p in slurm_cluster.base.glob("disk-*"))]
    for node in nodes:
        (slurm_cluster.disk(node) / "small").mkdir(exist_ok=True)
        slurm_cluster.on_node(node, "mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", small)
    try:
        env = dict(site["env"], PYENVMOD_STAGE_DIR=str(small))
        site["cli"]("pack", "np", extra_env=env)
        script = f"""{LMOD}
module use {shlex.quote(site['modulepath'])}
module load pyenv/np || exit 11
srun -N1 -n4 --overcommit pyenvmod stage np || exit 12
srun -N1 -n1 python -c 'import sys, numpy; print(sys.executable)' || exit 13
"""
        result = _job(slurm_cluster, env, script, nodes=1, tasks=2)
        assert result.returncode == 0, result.stdout + result.stderr
        warnings = [ln for ln in result.stderr.splitlines() if ln.startswith("pyenvmod: warning:")]
        assert len(warnings) == 1, result.stderr
        assert "no space left" in warnings[0] and "runs from the shared copy" in warnings[0]
        assert "Traceback" not in result.stderr
        assert result.stdout.splitlines() == [str(site["tree"] / "envs" / "np" / "bin" / "python")]
        for node in nodes:  # nothing partial left behind
            found = slurm_cluster.on_node(node, "find", small, "-mindepth", "2", "-type", "d").stdout.split()
            assert found == [], (node, found)
    finally:
        for node in nodes:
            slurm_cluster.on_node(node, "umount", small, check=False)


@pytest.mark.slow
def test_a_stacked_pair_runs_from_both_copies(site, tmp_path):
    stage_dir = tmp_path / "local"
    stage_dir.mkdir()
    env = dict(site["env"], PYENVMOD_STAGE_DIR=str(stage_dir))
    for name in ("np", "tools"):
        site["cli"]("stage", name, extra_env=env)
    code = "import sys, numpy, toolpkg; print(numpy.__file__); print(toolpkg.__file__); toolpkg.main()"
    script = f"""{LMOD}
module use {shlex.quote(site['modulepath'])}
module load pyenv/np pyenv/tools || exit 11
python -c {shlex.quote(code)} || exit 12
toolcli || exit 13
"""
    result = run_bash(script, env, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    top = next(stage_dir.iterdir())
    numpy_file, tool_file, tool_exe, cli_exe = (ln.split()[-1] for ln in result.stdout.splitlines())
    assert numpy_file.startswith(str(top / "np-")) and "/env/lib/python3.12/site-packages/numpy/" in numpy_file
    assert tool_file.startswith(str(top / "tools-"))
    assert tool_exe.startswith(str(top / "tools-")) and cli_exe == tool_exe  # console script from the copy


@pytest.mark.slow
@pytest.mark.parametrize("system", sorted(MODULE_SYSTEMS))
def test_unload_after_staging_restores_the_environment_exactly(site, system, tmp_path):
    ms = MODULE_SYSTEMS[system]().require()
    env = dict(site["env"], PYENVMOD_STAGE_DIR=str(tmp_path / "local"))
    (tmp_path / "local").mkdir()
    files = {k: tmp_path / k for k in ("before", "during", "after")}
    script = f"""{ms.init()}
module use {shlex.quote(site['modulepath'])}
env -0 > {files['before']}
module load pyenv/np || exit 11
pyenvmod stage np > /dev/null || exit 12
env -0 > {files['during']}
python -c 'import sys; print(sys.executable)'
module unload pyenv/np || exit 13
env -0 > {files['after']}
"""
    result = run_bash(script, env, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    during = parse_env0(files["during"].read_bytes())
    assert during["PATH"].split(":")[0] == str(site["tree"] / "images" / "np" / "bin")
    assert result.stdout.strip().startswith(str(tmp_path / "local" / "pyenvmod-"))
    before, after = user_env(parse_env0(files["before"].read_bytes()), parse_env0(files["after"].read_bytes()))
    assert before == after


@pytest.mark.slow
def test_a_conda_environment_is_staged_with_its_prefix_rewritten(tmp_path):
    try:
        import rattler  # noqa: F401
    except ImportError:
        require(False, "py-rattler", "pip install 'pyenvmod[conda]'")
    import condachannel

    channel = tmp_path / "channel"
    condachannel.make(channel)
    _placeholder_package(channel)
    env = clean_env(tmp_path)
    env["PYENVMOD_STAGE_DIR"] = str(tmp_path / "local")
    (tmp_path / "local").mkdir()  # the site's node-local folder: pyenvmod makes only its own in it
    cli = Cli(env)
    cli("create", "cenv", "--backend", "conda", "-c", str(channel), "-p", "where")
    prefix = next(Path(env["PYENVMOD_ROOT"]).glob("*/envs/cenv"))
    assert str(prefix) in (prefix / "share" / "where.txt").read_text()  # conda wrote its prefix in
    copy = cli("stage", "cenv").stdout.split(": ")[-1].strip()
    launcher = prefix.parent.parent / "images" / "cenv" / "bin" / "where"
    out = subprocess.run([str(launcher)], env=env, capture_output=True, text=True, check=True).stdout
    assert out.split() == [f"{copy}/env/share/where.txt", f"{copy}/env"]
    python = subprocess.run([str(launcher.parent / "python"), "-c", "import sys; print(sys.prefix)"], env=env,
                            capture_output=True, text=True, check=True).stdout.strip()
    assert python == f"{copy}/env"


def _placeholder_package(channel: Path) -> None:
    """A conda package whose files carry conda's prefix placeholder (replaced at install)."""
    import asyncio
    import hashlib
    import io
    import tarfile

    from rattler.index import index_fs

    placeholder = "/opt/anaconda1anaconda2anaconda3"
    files = {"share/where.txt": f"{placeholder}/share/where.txt\n",
             "bin/where": f"#!/bin/sh\ncat {placeholder}/share/where.txt\necho {placeholder}\n"}
    index = {"name": "where", "version": "1.0", "build": "0", "build_number": 0, "depends": [],
             "noarch": "generic", "subdir": "noarch", "timestamp": 1, "license": "MIT"}
    paths = []
    with tarfile.open(channel / "noarch" / "where-1.0-0.tar.bz2", "w:bz2") as tar:
        def add(arc, data, mode=0o644):
            info = tarfile.TarInfo(arc)
            info.size, info.mode = len(data), mode
            tar.addfile(info, io.BytesIO(data))

        for rel, text in files.items():
            data = text.encode()
            add(rel, data, 0o755 if rel.startswith("bin/") else 0o644)
            paths.append({"_path": rel, "path_type": "hardlink", "sha256": hashlib.sha256(data).hexdigest(),
                          "size_in_bytes": len(data), "prefix_placeholder": placeholder, "file_mode": "text"})
        add("info/index.json", json.dumps(index).encode())
        add("info/paths.json", json.dumps({"paths": paths, "paths_version": 1}).encode())
        add("info/has_prefix", "".join(f"{placeholder} text {rel}\n" for rel in files).encode())
        add("info/files", "".join(f"{rel}\n" for rel in files).encode())
    asyncio.run(index_fs(channel))


def test_stage_of_an_unknown_environment_is_one_clear_error(cli, env, tmp_path):
    result = cli("stage", "nosuch", check=False, extra_env={"PYENVMOD_STAGE_DIR": str(tmp_path / "l")})
    assert_one_line_error(result, "no environment named 'nosuch'")
    result = cli("pack", "nosuch", check=False)
    assert_one_line_error(result, "no environment named 'nosuch'")


@pytest.mark.slow
def test_an_extending_environment_carries_its_base_environment_along(site, tmp_path):
    env = dict(site["env"], PYENVMOD_STAGE_DIR=str(tmp_path / "local"))
    (tmp_path / "local").mkdir()
    cli = site["cli"]
    req, _ = localpkg.make(tmp_path / "extpkg", "extpkg", {"extpkg.py": "X = 1\n"})
    cli("create", "derived", "--extends", "np", "-p", req)
    code = "import sys, numpy, extpkg; print(numpy.__file__); print(extpkg.__file__); print(len(sys.path))"
    script = f"""{LMOD}
module use {shlex.quote(site['modulepath'])}
module load pyenv/derived || exit 11
python -c {shlex.quote(code)} || exit 12
pyenvmod stage derived > /dev/null || exit 13
python -c {shlex.quote(code)} || exit 14
"""
    result = run_bash(script, env, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    shared, staged = result.stdout.splitlines()[:3], result.stdout.splitlines()[3:]
    assert shared[0].startswith(str(site["tree"] / "envs" / "np"))
    copy = next(p for p in next((tmp_path / "local").iterdir()).iterdir() if p.is_dir())
    assert staged[0] == shared[0].replace(str(site["tree"] / "envs" / "np"), f"{copy}/ext")
    assert staged[1] == shared[1].replace(str(site["tree"] / "envs" / "derived"), f"{copy}/env")
    assert staged[2] == shared[2]  # the same sys.path, entry for entry


@pytest.mark.slow
def test_pack_is_done_once_per_version_and_goes_with_the_environment(tmp_path):
    env = clean_env(tmp_path)
    env["PYENVMOD_STAGE_DIR"] = str(tmp_path / "local")
    (tmp_path / "local").mkdir()  # the site's node-local folder: pyenvmod makes only its own in it
    cli = Cli(env)
    cli("create", "e", "--python", "3.12")
    tree = next(Path(env["PYENVMOD_ROOT"]).iterdir())
    images = tree / "images" / "e"
    assert (images / "bin" / "python").is_file() and not (images / "stamp").exists()  # launchers from the start
    first = cli("pack", "e").stdout
    assert first.startswith("Packed 'e' (version ") and "tar.zst" in first
    assert (images / "image.tar.zst").stat().st_size > 1 << 20
    assert cli("pack", "e").stdout.startswith("The image of 'e' is current")
    assert cli("pack", "--force", "e").stdout.startswith("Packed 'e'")
    req, _ = localpkg.make(tmp_path / "clipkg", "clipkg", {"clipkg.py": "def main():\n    print('hi')\n"},
                           scripts={"clitool": "clipkg:main"})
    cli("install", "e", req)
    assert (images / "bin" / "clitool").is_file()  # a launcher for the new console script
    assert cli("stage", "--clean", "e").stdout.startswith("Removed 0 staged copies of 'e'")
    cli("delete", "--yes", "e")
    assert not images.exists()
    # a node's copies outlive the name: --clean still finds them by their names
    assert cli("stage", "--clean", "e").stdout.startswith("Removed 0 staged copies of 'e'")


@pytest.mark.slow
def test_a_stale_image_nobody_may_rewrite_is_one_clear_error(tmp_path):
    require(shutil.which("chattr") is not None and os.geteuid() == 0, "chattr as root", "run the tests as root")
    env = clean_env(tmp_path)
    env["PYENVMOD_STAGE_DIR"] = str(tmp_path / "local")
    (tmp_path / "local").mkdir()  # the site's node-local folder: pyenvmod makes only its own in it
    cli = Cli(env)
    cli("create", "e", "--python", "3.12")
    cli("pack", "e")
    req, _ = localpkg.make(tmp_path / "p", "pkgp", {"pkgp.py": "X = 1\n"})
    cli("install", "e", req)  # the image is stale now
    images = next(Path(env["PYENVMOD_ROOT"]).iterdir()) / "images" / "e"
    with immutable(images):
        result = cli("stage", "e", check=False)
    assert_one_line_error(result, "the image of 'e' is missing or older", "ask its owner to run 'pyenvmod pack e'")
    assert not [p for p in next((tmp_path / "local").iterdir()).iterdir() if p.is_dir()]
