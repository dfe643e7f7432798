"""Issue 23, operations in-process on real small venvs: what 'rename' may write into (only folders
its layout names), and the order of precedence 'run' gives a chain of --extends without a module
system (the environment's own python and packages first, then each base inward)."""

import os
import subprocess
import sys

import pytest

from guardenv import PYTHON, World
from pyenvmod.modules import stacking
from pyenvmod.records import metadata, registry


@pytest.fixture
def world(tmp_path, monkeypatch) -> World:
    return World(tmp_path, monkeypatch)


def base_hook(world, prefix) -> str:
    return (world.site(prefix) / stacking.BASE_HOOK).read_text()


# --- rename re-points only the environments whose folders the layout names --------------------------

def test_rename_repoints_a_dependent_in_the_tree_but_never_writes_where_a_record_says(world, tmp_path):
    from pyenvmod.operations import rename

    base = world.make("base")
    child = world.make("child", extends=base)
    # a record a group member wrote by hand: it extends 'base' and names a folder outside the tree
    victim = tmp_path / "victim"
    victim_site = world.site(victim)
    victim_site.mkdir(parents=True)
    forged = world.record("forged", prefix=str(victim), extends=child.extends)
    metadata.write(world.layout.meta_file("forged"), forged)
    old_site = str(world.site(base.prefix))
    assert old_site in base_hook(world, child.prefix)

    renamed = rename.rename(world.config, "base", "core")

    assert renamed.prefix == str(world.layout.prefix("core"))
    new_site = str(world.site(renamed.prefix))
    hook = base_hook(world, child.prefix)
    assert new_site in hook and old_site not in hook  # the dependent follows its base
    assert registry.record(world.tree, "child").extends["prefix"] == renamed.prefix
    assert sorted(os.listdir(victim_site)) == []  # no hook was written where only a record pointed
    assert not any(victim.rglob("*.pth")) and not any(victim.rglob("*.py"))


def test_rename_leaves_a_folder_the_layout_does_not_name_in_place(world, tmp_path):
    """A record whose prefix is another folder (made with --prefix: its marker names it) is
    renamed without moving or rewriting that folder's scripts."""
    from pyenvmod.operations import external_prefix, rename

    folder = tmp_path / "elsewhere" / "ext"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True)
    external_prefix.mark(world.layout, folder, "ext")
    registry.write(world.tree, world.record("ext", prefix=str(folder)))
    activate = (folder / "bin" / "activate").read_text()
    renamed = rename.rename(world.config, "ext", "moved")
    assert renamed.prefix == str(folder) and folder.is_dir()
    assert not os.path.lexists(world.layout.prefix("moved")) and not os.path.lexists(world.layout.prefix("ext"))
    assert (folder / "bin" / "activate").read_text() == activate  # its own folder name: unchanged
    assert world.tree.owns_prefix(str(folder), "moved")  # the marker follows the name


# --- run without a module system: the environment first, then each base ------------------------------

def _chain(world):
    bottom = world.make("bottom")
    middle = world.make("middle", extends=bottom)
    top = world.make("top", extends=middle)
    return bottom, middle, top


def test_run_puts_the_environment_before_its_base_on_path_and_site_path(world):
    from pyenvmod.operations import run_in

    base = world.make("base")
    child = world.make("child", extends=base)
    env = run_in.environment(world.config, "child", {"PATH": "/usr/bin:/bin"})
    bins = env["PATH"].split(":")
    assert bins[:2] == [os.path.join(child.prefix, "bin"), os.path.join(base.prefix, "bin")]
    assert bins[2:] == ["/usr/bin", "/bin"]
    sites = env["PYENVMOD_SITE_PATH"].split(":")
    assert sites == [str(world.site(child.prefix)), str(world.site(base.prefix))]
    python = run_in.resolve_command("python", env)
    assert python == os.path.join(child.prefix, "bin", "python")
    out = subprocess.run([python, "-c", "import sys; print(sys.prefix)"], env=env, capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == child.prefix and env["VIRTUAL_ENV"] == child.prefix


def test_run_orders_a_chain_of_extends_innermost_base_last(world):
    from pyenvmod.operations import run_in

    bottom, middle, top = _chain(world)
    env = run_in.environment(world.config, "top", {"PATH": "/usr/bin", "PYENVMOD_SITE_PATH": "/elsewhere/site"})
    assert env["PATH"].split(":") == [os.path.join(r.prefix, "bin") for r in (top, middle, bottom)] + ["/usr/bin"]
    assert env["PYENVMOD_SITE_PATH"].split(":") == [str(world.site(r.prefix)) for r in (top, middle, bottom)] + \
        ["/elsewhere/site"]
    mm = PYTHON.rsplit(".", 1)[0]
    assert env["PYENVMOD_LOADED"].split(":") == [f"{r.name}@{mm}" for r in (top, middle, bottom)]
    # a program of the base is found when the environment has none of that name
    tool = os.path.join(bottom.prefix, "bin", "only-in-bottom")
    with open(tool, "w") as fh:
        fh.write("#!/bin/sh\n")
    os.chmod(tool, 0o755)
    assert run_in.resolve_command("only-in-bottom", env) == tool
    assert run_in.resolve_command("python", env) == os.path.join(top.prefix, "bin", "python")


def test_run_of_an_environment_set_its_variables_over_the_callers(world):
    from pyenvmod.operations import run_in

    world.make("solo")
    env = run_in.environment(world.config, "solo", {"PATH": "/usr/bin", "VIRTUAL_ENV": "/other",
                                                      "PYTHONNOUSERSITE": ""})
    assert env["VIRTUAL_ENV"] == str(world.layout.prefix("solo")) and env["PYTHONNOUSERSITE"] == "1"
    assert env["PATH"] == f"{world.layout.prefix('solo')}/bin:/usr/bin"


def test_run_of_a_loop_of_extends_ends(world):
    from pyenvmod.operations import run_in

    a = world.make("a")
    b = world.make("b", extends=a)
    looped = a.replace(extends=dict(b.extends, name="b", prefix=b.prefix, module=b.module))
    registry.write(world.tree, looped)  # a now extends b: written by hand, or by two renames racing
    env = run_in.environment(world.config, "b", {"PATH": "/usr/bin"})
    assert env["PATH"].split(":") == [f"{b.prefix}/bin", f"{a.prefix}/bin", "/usr/bin"]


def test_run_refuses_an_environment_without_its_python(world):
    from pyenvmod.errors import PyenvmodError
    from pyenvmod.operations import run_in

    record = world.make("gone")
    os.unlink(os.path.join(record.prefix, "bin", "python"))
    with pytest.raises(PyenvmodError, match="'gone' at .* is missing or broken"):
        run_in.environment(world.config, "gone", {"PATH": "/usr/bin"})
    with pytest.raises(run_in.CommandNotFound, match="command not found: 'python'"):
        run_in.resolve_command("python", {"PATH": os.path.join(record.prefix, "bin")})


# --- sys.path of several loaded environments: the most recently loaded wins an import ----------------

def _which(world, names, loaded, run_in):
    """Run ``run_in``'s python with PYENVMOD_SITE_PATH = ``loaded`` (most recent first, as the
    modulefiles prepend): (the environment 'import which' finds, the loaded sites in sys.path order)."""
    sites = {n: str(world.site(world.layout.prefix(n))) for n in names}
    code = ("import json, sys, which; print(json.dumps([which.WHERE, [p for p in sys.path if p in %r]]))"
            % sorted(sites.values()))
    env = {"PATH": "/usr/bin:/bin", "PYENVMOD_SITE_PATH": ":".join(sites[n] for n in loaded)}
    out = subprocess.run([str(world.layout.prefix(run_in) / "bin" / "python"), "-c", code], env=env,
                         capture_output=True, text=True, check=True).stdout
    import json

    where, order = json.loads(out)
    return where, [next(n for n, s in sites.items() if s == p) for p in order]


def test_the_most_recently_loaded_environment_wins_an_import(world):
    names = ["a", "b", "c"]
    for name in names:
        record = world.make(name)
        stacking.install_hook(record.prefix, PYTHON)
        (world.site(record.prefix) / "which.py").write_text(f"WHERE = {name!r}\n")
    # loaded a, then b, then c: PYENVMOD_SITE_PATH is c:b:a, whichever python runs
    assert _which(world, names, ["c", "b", "a"], "b") == ("c", ["c", "b", "a"])
    assert _which(world, names, ["c", "b", "a"], "a") == ("c", ["c", "b", "a"])
    assert _which(world, names, ["a", "c", "b"], "c") == ("a", ["a", "c", "b"])
    assert _which(world, names, ["a", "b"], "c") == ("c", ["c"])  # not loaded: its python sees only itself


def test_rename_never_writes_through_a_link_in_the_environments_folder(world, tmp_path):
    """In a group tree anyone in the group may put a link into an environment's folder: rename rewrites
    the old prefix in the files there, never in what a link points at."""
    from pyenvmod.operations import rename

    record = world.make("a")
    prefix = record.prefix
    victims = {}
    for rel in ("pyvenv.cfg", "bin/activate", "bin/tool"):
        victim = tmp_path / "victims" / rel.replace("/", "-")
        victim.parent.mkdir(exist_ok=True)
        victim.write_text(f"#!{prefix}/bin/python\nhome = {prefix}\nprompt = a\n")
        victims[victim] = victim.read_text()
        path = os.path.join(prefix, rel)
        if os.path.lexists(path):
            os.unlink(path)
        os.symlink(victim, path)
    renamed = rename.rename(world.config, "a", "b")
    assert renamed.prefix == str(world.layout.prefix("b"))
    for victim, text in victims.items():
        assert victim.read_text() == text, victim
    for rel in ("pyvenv.cfg", "bin/activate", "bin/tool"):  # nor read through: what a link points at
        assert os.path.islink(os.path.join(renamed.prefix, rel)), rel  # would land in a file the group reads


def test_stage_never_rewrites_a_pyvenv_cfg_that_leads_out_of_the_copy(tmp_path):
    from pyenvmod.operations.stage import _relocate

    victim = tmp_path / "victim.cfg"
    victim.write_text("home = /old/base/bin\n")
    tmp = tmp_path / "copy.tmp"
    (tmp / "env").mkdir(parents=True)
    (tmp / "env" / "pyvenv.cfg").symlink_to(victim)
    from pyenvmod.staging import image

    manifest = image.Manifest(stamp="0123456789ab", name="e", python_mm="3.12", backend="venv",
                              trees={"env": "/old/envs/e", "base": "/old/base"}, site_packages={},
                              mapping={"/old/envs/e": "env"})
    _relocate(tmp, tmp_path / "final", manifest)
    assert victim.read_text() == "home = /old/base/bin\n"
    (tmp / "env" / "pyvenv.cfg").unlink()
    (tmp / "env" / "pyvenv.cfg").write_text("home = /old/base/bin\nversion = 3.12.1\n")  # its own: rewritten
    _relocate(tmp, tmp_path / "final", manifest)
    assert (tmp / "env" / "pyvenv.cfg").read_text() == f"home = {tmp_path}/final/base/bin\nversion = 3.12.1\n"
    (tmp / "env" / "pyvenv.cfg").write_text("home = /opt/conda/bin\n")
    del manifest.trees["base"]  # no base interpreter in the image (conda): its home stays
    _relocate(tmp, tmp_path / "final", manifest)
    assert (tmp / "env" / "pyvenv.cfg").read_text() == "home = /opt/conda/bin\n"
