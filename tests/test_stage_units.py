"""The pieces of pack/stage that need no environment: the launcher's rules (real /bin/sh), the
staged stacking hook's mapping, relocation of files, the stamp, the private stage folder."""

import os
import subprocess
import time
from pathlib import Path

import pytest

from pyenvmod.modules import render
from pyenvmod.errors import PyenvmodError
from pyenvmod.staging import copy_id, ensure_private_dir, fnv, image, relocate

STAMP = "0123456789ab"


def _script(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!/bin/sh\necho {text} \"$@\"\n")
    path.chmod(0o755)
    return path


@pytest.fixture
def launcher(tmp_path):
    """A launcher for environment 'e' whose programs say where they run from."""
    tree = tmp_path / "tree"
    prefix = tree / "envs" / "e"
    site = prefix / "lib" / "python3.12" / "site-packages"
    site.mkdir(parents=True)
    _script(prefix / "bin" / "prog", "shared")
    images = tree / "images" / "e"
    images.mkdir(parents=True)
    (images / "stamp").write_text(STAMP + "\n")
    later = time.time() + 5
    os.utime(images / "stamp", (later, later))
    context = {"name": "e", "prefix": str(prefix), "copy_id": copy_id("e", str(prefix)),
               "stamp_file": str(images / "stamp"), "site_packages": str(site), "stage_dir": ""}
    path = images / "bin" / "prog"
    path.parent.mkdir()
    path.write_text(render.render_template("stage-launcher.sh.j2", context))
    path.chmod(0o755)
    top = tmp_path / "local" / f"pyenvmod-{os.environ.get('USER') or 'root'}"
    top.parent.mkdir()  # the site's node-local folder
    copy = top / f"{copy_id('e', str(prefix))}.{STAMP}"
    return {"path": path, "top": top, "copy": copy, "site": site, "stamp": images / "stamp", "prefix": prefix,
            "env": {"PATH": "/usr/bin:/bin", "USER": os.environ.get("USER") or "root",
                    "PYENVMOD_STAGE_DIR": str(tmp_path / "local")}}


def _run(launcher, *args, env=None):
    result = subprocess.run([str(launcher["path"]), *args], env=env or launcher["env"], capture_output=True,
                            text=True, check=True)
    return result.stdout.split()


def test_launcher_runs_the_shared_program_where_nothing_was_staged(launcher):
    assert _run(launcher, "a b", "c") == ["shared", "a", "b", "c"]


def test_launcher_runs_the_current_copy_with_the_same_arguments(launcher):
    launcher["top"].mkdir(parents=True, mode=0o700)
    _script(launcher["copy"] / "env" / "bin" / "prog", "staged")
    assert _run(launcher, "x") == ["staged", "x"]
    env = dict(launcher["env"], TMPDIR=launcher["env"].pop("PYENVMOD_STAGE_DIR"))
    assert _run(launcher, env=env) == ["staged"]  # default stage folder: $TMPDIR


def test_launcher_never_uses_a_copy_of_another_version(launcher):
    launcher["top"].mkdir(parents=True, mode=0o700)
    _script(launcher["copy"].with_name(launcher["copy"].name[:-1] + "c") / "env" / "bin" / "prog", "old")
    assert _run(launcher) == ["shared"]


def test_launcher_ignores_the_copy_once_the_environment_changed(launcher):
    launcher["top"].mkdir(parents=True, mode=0o700)
    _script(launcher["copy"] / "env" / "bin" / "prog", "staged")
    later = launcher["stamp"].stat().st_mtime + 10
    os.utime(launcher["site"], (later, later))  # a pip install after the pack
    assert _run(launcher) == ["shared"]


def test_launcher_ignores_a_stage_folder_someone_else_owns(launcher):
    launcher["top"].mkdir(parents=True, mode=0o700)
    _script(launcher["copy"] / "env" / "bin" / "prog", "planted")
    if os.geteuid() != 0:
        pytest.skip("needs root to give the folder away")
    os.chown(launcher["top"], 65534, 65534)
    assert _run(launcher) == ["shared"]


@pytest.mark.parametrize("content", ["../../../tmp/x", "0123456789a", "0123456789abc", "0123456789aB", ""])
def test_launcher_refuses_a_stamp_that_is_not_a_stamp(launcher, content):
    launcher["top"].mkdir(parents=True, mode=0o700)
    bad = launcher["top"] / f"{copy_id('e', str(launcher['prefix']))}.{content}" / "env" / "bin" / "prog"
    _script(bad, "planted")
    launcher["stamp"].write_text(content + "\n")
    later = time.time() + 5
    os.utime(launcher["stamp"], (later, later))
    assert _run(launcher) == ["shared"]


@pytest.mark.parametrize("program", ["pip", "pip3", "pip3.12"])
def test_launcher_of_pip_always_runs_the_shared_pip(launcher, program):
    """pip changes the environment: a copy on the node is never the one it installs into."""
    launcher["top"].mkdir(parents=True, mode=0o700)
    _script(launcher["prefix"] / "bin" / program, "shared-pip")
    _script(launcher["copy"] / "env" / "bin" / program, "staged-pip")
    _script(launcher["copy"] / "env" / "bin" / "prog", "staged")
    link = launcher["path"].with_name(program)
    link.symlink_to(launcher["path"].name)
    assert _run(dict(launcher, path=link), "install", "x") == ["shared-pip", "install", "x"]
    assert _run(launcher) == ["staged"]  # the other programs still run from the copy


def test_launcher_without_user_finds_your_stage_folder_without_a_fork(launcher):
    launcher["top"].mkdir(parents=True, mode=0o700)
    _script(launcher["copy"] / "env" / "bin" / "prog", "staged")
    user = launcher["env"].pop("USER")
    # no 'id' on PATH: it is not needed, with LOGNAME or without
    assert _run(launcher, env=dict(launcher["env"], LOGNAME=user, PATH="/nonexistent")) == ["staged"]
    assert _run(launcher, env=dict(launcher["env"], PATH="/nonexistent")) == ["staged"]
    os.chown(launcher["top"], 65534, 65534)  # a pyenvmod-* folder someone else owns: never used
    assert _run(launcher, env=dict(launcher["env"], PATH="/nonexistent")) == ["shared"]


def test_launcher_without_user_stops_at_the_first_folder_of_yours(launcher):
    """Without USER or LOGNAME the glob may find several pyenvmod-* folders; the first of yours is
    taken with its stamp, and a later one (someone else's, with the same copy name) never replaces
    it: the copy runs from the folder whose checks passed."""
    launcher["top"].mkdir(parents=True, mode=0o700)
    _script(launcher["copy"] / "env" / "bin" / "prog", "staged")
    later = launcher["top"].with_name(launcher["top"].name + "~zz")  # after it in the glob's order
    _script(later / launcher["copy"].name / "env" / "bin" / "prog", "planted")
    later.chmod(0o755)
    os.chown(later, 65534, 65534)
    env = dict(launcher["env"], PATH="/nonexistent")
    env.pop("USER")
    assert _run(launcher, env=env) == ["staged"]


def test_finish_points_the_copys_pip_at_the_shared_environment(tmp_path):
    from pyenvmod.staging import finish

    site = tmp_path / "copy" / "env" / "lib" / "python3.12" / "site-packages"
    (site / "pip").mkdir(parents=True)
    (site / "pip" / "__main__.py").write_text("from pip._internal.cli.main import main\n")
    for name in ("pip", "pip3", "pip3.12", "pipx-like", "python"):
        _script(tmp_path / "copy" / "env" / "bin" / name, name)
    manifest = image.Manifest(stamp=STAMP, name="e", python_mm="3.12", backend="uv",
                              trees={"env": "/shared/envs/e"}, site_packages={"env": "lib/python3.12/site-packages"})
    finish.finish(tmp_path / "copy", manifest, [])
    main = (site / "pip" / "__main__.py").read_text()
    assert "'/shared/envs/e/bin/python'" in main and "os.execv" in main
    compile(main, "__main__.py", "exec")
    for name in ("pip", "pip3", "pip3.12"):
        text = (tmp_path / "copy" / "env" / "bin" / name).read_text()
        assert f"exec '/shared/envs/e/bin/{name}' \"$@\"" in text, text
    for name in ("pipx-like", "python"):  # not pip: untouched
        assert (tmp_path / "copy" / "env" / "bin" / name).read_text().startswith("#!/bin/sh\necho ")


def _staged_hook(tmp_path, shared_site, depth=4, along=None):
    text = render.render_template("pyenvmod_stack_staged.py.j2",
                                  {"shared_site": shared_site, "depth": depth, "along": along or {}})
    namespace = {"__file__": str(tmp_path / "hook.py"), "__name__": "hook"}
    saved = os.environ.pop("PYENVMOD_SITE_PATH", None)
    try:
        exec(compile(text, "hook.py", "exec"), namespace)
    finally:
        if saved is not None:
            os.environ["PYENVMOD_SITE_PATH"] = saved
    return namespace


def test_staged_hook_names_copies_as_pyenvmod_does(tmp_path):
    hook = _staged_hook(tmp_path, "/x/envs/a/lib/python3.12/site-packages")
    for prefix in ("/x/envs/a", "/scratch/group tree/linux/envs/ml-1.0", "/ünï/envs/b"):
        assert hook["_copy_id"](prefix) == copy_id(os.path.basename(prefix), prefix)


def test_staged_hook_maps_another_loaded_environment_to_its_current_copy_only(tmp_path):
    hook = _staged_hook(tmp_path, "/x/envs/a/lib/python3.12/site-packages")
    prefix = tmp_path / "tree" / "envs" / "b"
    site = prefix / "lib" / "python3.12" / "site-packages"
    site.mkdir(parents=True)
    stamp = tmp_path / "tree" / "images" / "b" / "stamp"
    stamp.parent.mkdir(parents=True)
    stamp.write_text(STAMP + "\n")
    later = time.time() + 5
    os.utime(stamp, (later, later))
    top = tmp_path / "top"
    assert hook["_staged"](str(site), str(top)) == str(site)  # not staged here
    copied = top / f"{copy_id('b', str(prefix))}.{STAMP}" / "env" / "lib" / "python3.12" / "site-packages"
    copied.mkdir(parents=True)
    assert hook["_staged"](str(site), str(top)) == str(copied)
    os.utime(site, (later + 10, later + 10))  # changed since packed
    assert hook["_staged"](str(site), str(top)) == str(site)


def test_fnv_is_stable_and_short():
    assert fnv("") == "cbf29ce484"  # FNV-1a offset basis: the hash is the standard one
    assert fnv("a") == "af63dc4c86"
    assert len(copy_id("x", "/p/envs/x").split("-")[-1]) == 10


def test_text_files_get_the_new_prefix_everywhere(tmp_path):
    path = tmp_path / "script"
    path.write_text("#!/old/envs/e/bin/python\n# /old/envs/e and /base/lib\n")
    path.chmod(0o751)
    assert relocate.rewrite(str(path), {"/old/envs/e": "/new/copy/env", "/base": "/new/copy/base"})
    assert path.read_text() == "#!/new/copy/env/bin/python\n# /new/copy/env and /new/copy/base/lib\n"
    assert path.stat().st_mode & 0o777 == 0o751


def test_elf_strings_are_padded_when_the_new_path_is_shorter_and_left_when_longer(tmp_path):
    path = tmp_path / "lib.so"
    data = b"\x7fELF\0\0\0/old/prefix/lib:/other\0tail\0"
    path.write_bytes(data)
    assert relocate.rewrite(str(path), {"/old/prefix": "/new"})
    assert path.read_bytes() == b"\x7fELF\0\0\0/new/lib:/other\0" + b"\0" * 7 + b"tail\0"
    path.write_bytes(data)
    assert not relocate.rewrite(str(path), {"/old/prefix": "/a/much/longer/prefix"})
    assert path.read_bytes() == data


def test_bytecode_and_other_binaries_are_never_rewritten():
    olds = [b"/old/prefix"]
    assert not relocate.holders("x/__pycache__/m.cpython-312.pyc", b"\0\0/old/prefix", olds)
    assert not relocate.holders("data.bin", b"\0\0/old/prefix", olds)  # not ELF, not text
    assert relocate.holders("bin/tool", b"#!/old/prefix/bin/python\n", olds)
    assert relocate.holders("lib/x.so", b"\x7fELF\0/old/prefix\0", olds)
    assert not relocate.holders("bin/tool", b"#!/usr/bin/python\n", olds)


def test_the_interpreter_finds_libpython_beside_it():
    data = b"\x7fELF\0/opt/py/3.12/lib\0rest"
    out = relocate.relative_runpath(data, "/opt/py/3.12")
    assert out == b"\x7fELF\0$ORIGIN/../lib\0" + b"\0" * (len("/opt/py/3.12/lib") - len("$ORIGIN/../lib")) + b"rest"
    assert len(out) == len(data)
    buffer = bytearray(data + b"/opt/py/3.12/lib\0" + b"/opt/py/3.12/lib\0")  # a reused buffer: its first bytes
    end = len(data)
    assert relocate.relative_runpath(buffer, "/opt/py/3.12", end=end) is buffer
    assert bytes(buffer[:end]) == out and buffer[end:] == b"/opt/py/3.12/lib\0" * 2  # in place, within end
    assert relocate.holders("lib/x.so", bytearray(b"\x7fELF\0/x\0/old/prefix"), [b"/old/prefix"], 6) is False
    assert relocate.holders("t.py", bytearray(b"/old/prefix\0"), [b"/old/prefix"], 11) is True  # NUL after end
    assert relocate.relative_runpath(b"\x7fELF\0/usr/lib\0", "/opt/py/3.12") == b"\x7fELF\0/usr/lib\0"
    assert relocate.relative_runpath(b"#!/opt/py/3.12/lib\0", "/opt/py/3.12") == b"#!/opt/py/3.12/lib\0"


def test_the_stamp_changes_when_packages_change(tmp_path):
    prefix = tmp_path / "envs" / "e"
    site = prefix / "lib" / "python3.12" / "site-packages"
    site.mkdir(parents=True)
    (prefix / "bin").mkdir()
    source = image.Source("e", str(prefix), "3.12", "uv", "2026-01-01T00:00:00+00:00")
    first = image.stamp(source)
    assert first == image.stamp(source) and len(first) == 12
    (site / "newpkg-1.0.dist-info").mkdir()
    second = image.stamp(source)
    assert second != first
    source.updated = "2026-01-02T00:00:00+00:00"
    assert image.stamp(source) not in (first, second)


@pytest.mark.parametrize("rel, skipped", [
    ("bin/python3.12", False), ("bin/2to3", True), ("lib/libpython3.12.so.1.0", False),
    ("lib/python3.12/os.py", False), ("lib/python3.12/lib-dynload", False), ("lib/python3.12/test", True),
    ("lib/python3.12/site-packages", True), ("lib/python3.12/config-3.12-x86_64-linux-gnu", True),
    ("lib/pkgconfig", True), ("include", True), ("share/man", True)])
def test_only_the_interpreter_and_its_standard_library_are_copied(rel, skipped):
    assert image.stdlib_skipped(rel, "3.12") is skipped


def test_the_stage_folder_must_be_private_and_ours(tmp_path):
    mine = tmp_path / "a" / "pyenvmod-me"
    mine.parent.mkdir()
    ensure_private_dir(mine)
    assert mine.stat().st_mode & 0o777 == 0o700
    ensure_private_dir(mine)  # again: fine
    mine.chmod(0o777)
    with pytest.raises(PyenvmodError, match="not a private folder of yours"):
        ensure_private_dir(mine)
    if os.geteuid() == 0:
        mine.chmod(0o700)
        os.chown(mine, 65534, 65534)
        with pytest.raises(PyenvmodError, match="someone else"):
            ensure_private_dir(mine)


def test_launcher_uses_the_configured_stage_dir_it_was_packed_with(launcher, tmp_path):
    text = launcher["path"].read_text()
    site_dir = tmp_path / "site-local"
    fixed = text.replace("${TMPDIR:-/tmp}", f"'{site_dir}'")
    assert fixed != text
    launcher["path"].write_text(fixed)
    top = site_dir / launcher["top"].name
    top.mkdir(parents=True, mode=0o700)
    _script(top / launcher["copy"].name / "env" / "bin" / "prog", "site")
    env = dict(launcher["env"])
    del env["PYENVMOD_STAGE_DIR"]
    assert _run(launcher, env=env) == ["site"]
    rendered = render.render_template("stage-launcher.sh.j2", {
        "name": "e", "prefix": "/p", "copy_id": "e-1", "stamp_file": "/s", "site_packages": "/sp",
        "stage_dir": "/local/it's"})
    assert "${PYENVMOD_STAGE_DIR:-'/local/it'\\''s'}" in rendered  # quoted for sh


@pytest.mark.parametrize("value, fragment", [("$HOME/x", "without variables"), ("relative", "not an absolute")])
def test_stage_dir_must_be_a_fixed_absolute_folder(cli, value, fragment):
    from conftest import assert_one_line_error

    result = cli("stage", "e", check=False, extra_env={"PYENVMOD_STAGE_DIR": value})
    assert_one_line_error(result, "STAGE_DIR", fragment)


def test_relocation_never_writes_outside_the_copy(tmp_path):
    """The manifest comes from whoever packed the image: its paths may not lead out of the copy."""
    from pyenvmod.operations.stage import _relocate

    outside = tmp_path / "victim.txt"
    outside.write_text("#!/old/envs/e/bin/python\n")
    tmp = tmp_path / "copy.tmp"
    (tmp / "env" / "bin").mkdir(parents=True)
    (tmp / "env" / "bin" / "tool").write_text("#!/old/envs/e/bin/python\n#!/usr/bin/python3\n")
    (tmp / "env" / "link").symlink_to(outside)
    manifest = image.Manifest(stamp=STAMP, name="e", python_mm="3.12", backend="uv",
                              trees={"env": "/old/envs/e"}, site_packages={"env": "../../.."},
                              relocate=["env/bin/tool", "../victim.txt", "env/link"],
                              mapping={"/old/envs/e": "env", "/usr/bin/python": "../../../x"})
    _relocate(tmp, tmp_path / "final", manifest)
    assert (tmp / "env" / "bin" / "tool").read_text() == f"#!{tmp_path}/final/env/bin/python\n#!/usr/bin/python3\n"
    assert outside.read_text() == "#!/old/envs/e/bin/python\n"


# --- stage --clean of a name no longer registered (renamed or deleted since it was staged) -----------

def test_clean_of_an_unregistered_name_removes_its_copies_by_their_names_alone(tmp_path, monkeypatch):
    from pyenvmod import config as config_mod
    from pyenvmod.operations import stage
    from pyenvmod.staging import stage_root

    monkeypatch.setenv("PYENVMOD_ROOT", str(tmp_path / "root"))
    monkeypatch.setenv("PYENVMOD_STAGE_DIR", str(tmp_path / "local"))
    (tmp_path / "local").mkdir()
    config = config_mod.load()
    root = stage_root(config)
    ensure_private_dir(root)
    old = copy_id("old", str(tmp_path / "root" / "x" / "envs" / "old"))
    elsewhere = copy_id("old", "/project/envs/old")  # the same name made with --prefix elsewhere
    mine = [root / f"{old}.{STAMP}", root / f".{old}.{STAMP}.tmp", root / f"{elsewhere}.{STAMP}"]
    others = [root / f"{copy_id('old-b', '/x')}.{STAMP}", root / f"{copy_id('older', '/x')}.{STAMP}",
              root / f"old-{STAMP}", root / "old-notahexnumber.0123"]
    for folder in mine + others:
        (folder / "bin").mkdir(parents=True)
    (root / f"{old}.lock").write_text("")
    removed = stage.clean(config, "old")
    assert sorted(removed) == sorted(map(str, mine))
    locks = {f"{old}.lock", f"{elsewhere}.lock"}  # kept: another task may hold one
    assert sorted(p.name for p in root.iterdir()) == sorted([*(p.name for p in others), *locks])
    assert stage.clean(config, "old") == []
    with pytest.raises(PyenvmodError, match="not a valid environment name|invalid"):
        stage.clean(config, "../old")


# --- the launchers are written again only when they would change ------------------------------------

def test_launchers_are_rewritten_only_when_the_programs_or_their_text_change(tmp_path):
    from pyenvmod.trust import files
    from pyenvmod.records.layout import Layout
    from pyenvmod.records.metadata import EnvRecord
    from pyenvmod.staging import launchers

    layout = Layout(tmp_path / "root", "testarch-testos1")
    layout.ensure()
    prefix = layout.prefix("e")
    for program in ("python", "pip"):
        _script(prefix / "bin" / program, program)
    rec = EnvRecord(name="e", prefix=str(prefix), python="3.12.1", base_python="/usr/bin/python3", backend="uv",
                    module="pyenv/e/py3.12", created="now", owner="me", platform=layout.platform)
    folder = launchers.write(layout, rec)
    first = os.lstat(folder).st_ino
    assert sorted(os.listdir(folder)) == ["pip", "python"]
    assert launchers.write(layout, rec) == folder and os.lstat(folder).st_ino == first  # nothing to do
    _script(prefix / "bin" / "tool", "tool")  # a new console script: a new folder with its launcher
    launchers.write(layout, rec)
    assert sorted(os.listdir(folder)) == ["pip", "python", "tool"] and os.lstat(folder).st_ino != first
    second = os.lstat(folder).st_ino
    (folder / "pip").write_text("#!/bin/sh\necho spoiled\n")  # a launcher that is not what it should be
    launchers.write(layout, rec)
    assert os.lstat(folder).st_ino != second
    assert (folder / "pip").read_text() == (folder / "python").read_text()
    (folder / "pip").chmod(0o700)  # or has another mode
    third = os.lstat(folder).st_ino
    launchers.write(layout, rec)
    assert os.lstat(folder).st_ino != third and os.lstat(folder / "pip").st_mode & 0o777 == 0o775 & ~files.umask()


def test_the_copys_interpreter_gets_an_rpath_that_ld_library_path_cannot_override(tmp_path):
    """pack makes the interpreter's RUNPATH $ORIGIN/../lib; stage makes it an RPATH, searched before
    LD_LIBRARY_PATH: the copy loads its own libpython even with a Python module's lib folder there."""
    import shutil
    import sys

    from pyenvmod.staging import finish

    exe = os.path.realpath(sys.executable)
    base = os.path.dirname(os.path.dirname(exe))
    data = relocate.relative_runpath(Path(exe).read_bytes(), base, "../lib")
    if data == Path(exe).read_bytes():
        pytest.fail(f"{exe} has no RUNPATH {base}/lib to test with (a python built with --enable-shared)")
    changed = finish.origin_rpath(data)
    assert changed is not None and len(changed) == len(data) and changed != data
    assert finish.origin_rpath(changed) is None  # done once
    assert finish.origin_rpath(Path("/bin/sh").read_bytes()) is None  # no $ORIGIN runpath: left alone
    out = tmp_path / "python"
    out.write_bytes(changed)
    readelf = shutil.which("readelf")
    if readelf:
        dynamic = subprocess.run([readelf, "-d", str(out)], capture_output=True, text=True, check=True).stdout
        assert "(RPATH)" in dynamic and "$ORIGIN/../lib" in dynamic and "(RUNPATH)" not in dynamic, dynamic


def test_missing_bytecode_is_found_from_the_folder_listings(tmp_path):
    site = tmp_path / "site-packages"
    (site / "pkg" / "__pycache__").mkdir(parents=True)
    (site / "pkg" / "__init__.py").write_text("")
    (site / "pkg" / "data.txt").write_text("")
    assert image.missing_bytecode(str(site), "3.12")  # no .pyc yet
    (site / "pkg" / "__pycache__" / "__init__.cpython-311.pyc").write_bytes(b"")
    assert image.missing_bytecode(str(site), "3.12")  # another Python's only
    (site / "pkg" / "__pycache__" / "__init__.cpython-312.pyc").write_bytes(b"")
    assert not image.missing_bytecode(str(site), "3.12")  # all compiled: pack skips compileall
    (site / "top.py").write_text("")
    assert image.missing_bytecode(str(site), "3.12")  # a module without a __pycache__ folder


@pytest.mark.parametrize("environ, whole_job", [
    ({}, False),  # no Slurm
    ({"SLURM_JOB_ID": "7", "SLURM_NNODES": "4"}, True),  # salloc shell, batch script (what Slurm 22.05 sets)
    ({"SLURM_JOB_ID": "7", "SLURM_STEP_ID": "0", "SLURM_STEPID": "0"}, False),  # inside srun
    ({"SLURM_JOB_ID": "7", "SLURM_STEP_ID": "4294967291"}, True),  # the batch step, where a site sets it
    ({"SLURM_JOB_ID": "7", "SLURM_STEP_ID": "4294967290"}, True),  # salloc's interactive step
])
def test_stage_covers_the_whole_job_only_outside_a_step(environ, whole_job):
    from pyenvmod.operations import stage_job as broadcast

    assert broadcast.job_without_step(environ) is whole_job


def test_the_job_report_is_one_line_per_node_and_a_summary(monkeypatch):
    from pyenvmod.operations import stage_job as broadcast

    monkeypatch.setenv("SLURM_NNODES", "3")
    out, err = [], []
    driver = broadcast.Driver({"stage_transport": "sbcast"}, out=out.append, err=err.append)
    records = [
        {"node": "n2", "name": "e", "action": "no-space", "seconds": 0.1, "copy": "/l/c",
         "error": "no space left in /l", "folder": "/l", "shared_folder": False},
        {"node": "n1", "name": "e", "action": "staged", "seconds": 1.5, "copy": "/l/c", "via": "broadcast",
         "folder": "/l", "shared_folder": False},
    ]  # n3 never answered
    assert driver._report(["e"], records, 3.14, ["e"]) == 0  # staged on a node: the job can use it
    assert out == ["  n1: staged in 1.50 s from the broadcast copy: /l/c",
                   "  n2: failed (no space left in /l); runs from the shared copy",
                   "Staged 'e' on 1 node in 3.1 s; 2 failed"]
    assert err == []
    out.clear()
    shared = [dict(r, action="reused", shared_folder=True) for r in records]
    assert driver._report(["e"], shared, 1.0, ["e", "gone"]) == 1  # a name that could not be staged: status 1
    assert len(err) == 1 and "same folder on several nodes" in err[0]
    out.clear()
    assert driver._report(["e"], [dict(records[0])], 1.0, ["e"]) == 1  # no node staged
    assert out[-1] == "Staged 'e' on 0 nodes in 1.0 s; 3 failed"


def test_write_at_changes_bytes_in_place_and_refuses_a_symlink(tmp_path):
    from pyenvmod.trust import files

    target = tmp_path / "copy" / "base" / "bin" / "python3.12"
    target.parent.mkdir(parents=True)
    target.write_bytes(b"0123456789")
    target.chmod(0o755)
    inode = target.stat().st_ino
    files.write_at(target, 2, b"ab", inside=tmp_path / "copy")
    assert target.read_bytes() == b"01ab456789" and target.stat().st_ino == inode
    assert target.stat().st_mode & 0o777 == 0o755
    (tmp_path / "elsewhere").write_bytes(b"xxxx")
    (target.parent / "link").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(OSError):
        files.write_at(target.parent / "link", 0, b"yy", inside=tmp_path / "copy")
    assert (tmp_path / "elsewhere").read_bytes() == b"xxxx"


def test_missing_bytecode_never_follows_a_link_and_takes_a_missing_folder_as_missing(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "__pycache__").mkdir(parents=True)
    (elsewhere / "m.py").write_text("")
    site = tmp_path / "site-packages"
    site.mkdir()
    (site / "linked").symlink_to(elsewhere)  # a member's link: not walked, so nothing to compile there
    assert not image.missing_bytecode(str(site), "3.12")
    assert image.missing_bytecode(str(tmp_path / "nothing-here"), "3.12")
