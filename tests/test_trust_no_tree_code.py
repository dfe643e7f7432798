"""No read-only command runs code from a tree (issue 22, hole 4 and its rule).

An environment made by uv gets what a group member could plant in it: a ``.pth`` file and a
``sitecustomize`` that write a marker when its interpreter starts with its site-packages, and an
mpi4py (a dist-info built from source, an ``MPI.*.so`` that links MPICH) whose import writes the
marker too. ``list``, ``doctor`` (its MPI check included), ``export``, ``prefix``, ``history``, and
``pack`` + ``stage`` of the current image must leave no marker, while the MPI check still names the
libmpi the extension links (read from its ELF dynamic section).

The attack as a real second user (alice plants, bob runs ``doctor``) is in test_trust_holes.py."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # a real environment made by uv

MPICH_CXX = "/usr/lib/x86_64-linux-gnu/libmpichcxx.so.12"  # an ELF that links libmpich.so.12, as mpi4py's MPI.so


def plant(prefix: Path, marker: Path) -> Path:
    """The planted code; returns the environment's site-packages."""
    (site,) = prefix.glob("lib/python*/site-packages")
    write = f"open({str(marker)!r}, 'a').write"
    (site / "zz_planted.pth").write_text(f"import os; {write}('pth\\n')\n")
    (site / "sitecustomize.py").write_text(f"{write}('sitecustomize\\n')\n")
    package = site / "mpi4py"
    package.mkdir()
    (package / "__init__.py").write_text(f"{write}('mpi4py\\n')\n")
    shutil.copy(MPICH_CXX, package / "MPI.cpython-311-x86_64-linux-gnu.so")
    dist = site / "mpi4py-4.0.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: mpi4py\nVersion: 4.0.0\n")
    (dist / "WHEEL").write_text("Wheel-Version: 1.0\nRoot-Is-Purelib: false\nTag: cp311-cp311-linux_x86_64\n")
    (dist / "RECORD").write_text("mpi4py/__init__.py,,\nmpi4py/MPI.cpython-311-x86_64-linux-gnu.so,,\n"
                                 "mpi4py-4.0.0.dist-info/RECORD,,\n")
    return site


@pytest.mark.slow
def test_read_only_commands_start_no_interpreter_of_the_tree(cli, env, tmp_path):
    if not os.path.exists(MPICH_CXX):
        pytest.fail("Debian's mpich is missing: apt-get install mpich libmpich-dev")
    cli("create", "e", "--modules", "mpich/4.0", "--no-capture", "--no-kernel")
    prefix = Path(cli("prefix", "e").stdout.strip())
    marker = tmp_path / "ran"
    plant(prefix, marker)
    # the planted code does run when the environment's interpreter starts: the test can see it
    subprocess.run([str(prefix / "bin" / "python"), "-c", "import mpi4py"], env=env, check=True)
    assert {"pth", "mpi4py"} <= set(marker.read_text().split())
    marker.unlink()

    stage_dir = tmp_path / "stage"
    stage_dir.mkdir(mode=0o700)
    extra = {"PYENVMOD_STAGE_DIR": str(stage_dir)}
    outputs = {}
    for args in (("list",), ("doctor", "e", "--verbose"), ("doctor",), ("export", "e"), ("prefix", "e"), ("history", "e"),
                 ("pack", "e"), ("stage", "e"), ("stage", "e")):
        result = cli(*args, check=False, extra_env=extra)
        assert "Traceback" not in result.stderr, result.stderr
        outputs[" ".join(args)] = result
        assert not marker.exists(), f"pyenvmod {' '.join(args)} ran the tree's code: {marker.read_text()}"
    assert outputs["pack e"].returncode == 0, outputs["pack e"].stderr
    assert outputs["stage e"].returncode == 0, outputs["stage e"].stderr
    # the MPI check still ran, from the files: MPI.so's DT_NEEDED libmpich.so.12, found where ld.so finds it
    doctor = outputs["doctor e --verbose"].stdout
    library = os.path.realpath("/usr/lib/x86_64-linux-gnu/libmpich.so.12")
    assert f"mpi4py/MPI.cpython-311-x86_64-linux-gnu.so loads {library}" in doctor, doctor
    # bytecode was compiled into the environment by pack, without the tree's site (-I -S)
    assert list((prefix / "lib").glob("python*/site-packages/mpi4py/__pycache__/__init__.*.pyc"))


@pytest.mark.slow
def test_pip_of_the_venv_backend_runs_no_pth_of_the_environment_and_still_sees_the_base(cli, env, tmp_path):
    """install/remove with the venv backend run the environment's pip (its code by nature) under
    -I -S: a planted .pth or sitecustomize does not run, and for --extends the base's packages still
    count as installed (read from the stacking hook's file, not by running it)."""
    cli("create", "base", "--backend", "venv", "-p", "six", "--no-kernel")
    cli("create", "v", "--backend", "venv", "--extends", "base", "--no-kernel")
    prefix = Path(cli("prefix", "v").stdout.strip())
    (site,) = prefix.glob("lib/python*/site-packages")
    marker = tmp_path / "ran"
    write = f"open({str(marker)!r}, 'a').write"
    (site / "zz_planted.pth").write_text(f"import os; {write}('pth\\n')\n")
    (site / "sitecustomize.py").write_text(f"{write}('sitecustomize\\n')\n")
    cli("install", "v", "six", "iniconfig")
    assert not marker.exists(), marker.read_text()
    names = {p.name.split("-")[0].lower() for p in site.glob("*.dist-info")}
    assert "iniconfig" in names and "six" not in names  # six is the base's: pip saw it there
    cli("remove", "v", "iniconfig")
    assert not marker.exists(), marker.read_text()
    assert not list(site.glob("iniconfig-*.dist-info"))
