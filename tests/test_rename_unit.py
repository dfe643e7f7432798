"""Issue 23, 'rename' in-process (mutmut credits only calls made in the test process), on a private tree
under tmp_path with real small venvs (``venv --without-pip``): what is refused (and left as it was), what a
rename moves and rewrites (folder, prompt, scripts, pyvenv.cfg, history, modulefiles, launchers, the
environments made with --extends on it), and that a rename interrupted at any step leaves the old name or
the new one working and finishes when run again."""

import json
import os
import stat
import subprocess
import sys

import pytest

from guardenv import MM, World
from pyenvmod.errors import Interrupted, PyenvmodError
from pyenvmod.records import history, registry


@pytest.fixture
def world(tmp_path, monkeypatch) -> World:
    return World(tmp_path, monkeypatch)


def _rename(world, old, new, said=None):
    from pyenvmod.operations import rename

    return rename.rename(world.config, old, new, (said if said is not None else []).append)


def _refused(world, old, new) -> str:
    with pytest.raises(PyenvmodError) as info:
        _rename(world, old, new)
    return info.value.message


def _modulefile(world, name):
    return world.layout.module_dir(name) / f"py{MM}.lua"


def _runs(prefix) -> bool:
    try:
        result = subprocess.run([os.path.join(prefix, "bin", "python"), "-c", "import sys; print(sys.prefix)"],
                                capture_output=True, text=True)
    except OSError:  # missing, or the placeholder link of step 1 (a link to itself)
        return False
    return result.returncode == 0


def _works(world, name) -> bool:
    """'module load pyenv/NAME' would give a working python: its modulefile names its folder, which runs."""
    modulefile = _modulefile(world, name)
    prefix = str(world.layout.prefix(name))
    return modulefile.is_file() and prefix in modulefile.read_text() and _runs(prefix)


def _with_modulefiles(world, record):
    """What create leaves besides the record: the modulefiles (World.make registers only)."""
    from pyenvmod.modules import modulefiles
    from pyenvmod.operations.common import write_modulefiles

    write_modulefiles(world.layout, record, modulefiles.options_from(world.config))
    return record


def _gone(world, name) -> None:
    layout = world.layout
    for path in (layout.prefix(name), layout.meta_file(name), layout.module_dir(name), layout.activate_dir(name),
                 layout.history_dir(name)):
        assert not os.path.lexists(path), path


def _renamed(world, old, new, entries_before: int) -> None:
    """The end state of a finished rename of a venv of the tree from ``old`` to ``new``."""
    layout = world.layout
    _gone(world, old)
    prefix = layout.prefix(new)
    assert prefix.is_dir() and not prefix.is_symlink() and _works(world, new)
    record = registry.record(world.tree, new)
    assert (record.name, record.prefix, record.module) == (new, str(prefix), f"pyenv/{new}/py{MM}")
    entries = history.entries(layout, new)
    assert len(entries) == entries_before + 1
    assert (entries[-1]["action"], entries[-1]["args"]) == ("rename", [old, new])
    assert entries[-1]["packages"] == record.packages and entries[-1]["requested"] == record.requested
    assert entries[-1]["sources"] == record.sources
    for script in ("activate", "activate.csh", "activate.fish"):
        text = (prefix / "bin" / script).read_text()
        assert str(prefix) in text and str(layout.prefix(old)) not in text, script


# --- refusals: each leaves both names as they were ----------------------------------------------------------

def test_rename_refuses_bad_requests_and_leaves_everything(world):
    world.make("a", packages={"six": "1.0"})
    world.make("taken")
    before = registry.record(world.tree, "a")
    assert _refused(world, "a", "a") == "'a' already has that name; give a different new name"
    assert "bad name" in _refused(world, "a", "bad name")
    assert "bad name" in _refused(world, "bad name", "b")
    assert _refused(world, "ghost", "b").startswith("no environment named 'ghost' under ")
    assert _refused(world, "a", "taken") == ("an environment named 'taken' already exists; choose another name, or "
                                             "delete it first with 'pyenvmod delete taken'")
    leftover = world.layout.prefix("half")
    leftover.mkdir()
    assert _refused(world, "a", "half") == (f"{leftover} exists (the leftover of an interrupted create?); remove "
                                            "it with 'pyenvmod delete half', then rename")
    assert leftover.is_dir()
    assert registry.record(world.tree, "a") == before and registry.record(world.tree, "taken").name == "taken"
    assert world.layout.prefix("a").is_dir() and not world.layout.prefix("a").is_symlink()
    for name in ("b", "half"):
        assert not world.layout.meta_file(name).exists() and not world.layout.module_dir(name).exists()


def test_rename_refuses_a_loaded_environment_and_a_conda_one(world, tmp_path, monkeypatch):
    world.make("a")
    monkeypatch.setenv("_LMFILES_", str(_modulefile(world, "a")))
    assert _refused(world, "a", "b") == ("'a' is loaded in this shell; run 'module unload pyenv/a' first, then "
                                         "rename")
    monkeypatch.delenv("_LMFILES_")
    world.make("c", backend="conda")
    assert _refused(world, "c", "d") == ("'c' is a conda environment, whose files embed its folder; rename it as "
                                         "'pyenvmod create d --clone c' then 'pyenvmod delete c'")
    for name in ("b", "d"):
        assert not os.path.lexists(world.layout.prefix(name)) and not world.layout.meta_file(name).exists()
    assert world.layout.prefix("a").is_dir() and world.layout.prefix("c").is_dir()
    # an adopted conda environment is pyenvmod's word only: its name changes, its folder is not touched
    folder = tmp_path / "theirs"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True)
    registry.write(world.tree, world.record("ac", backend="conda", adopted=True, prefix=str(folder)))
    listing = sorted(p.name for p in folder.rglob("*"))
    renamed = _rename(world, "ac", "ad")
    assert (renamed.name, renamed.prefix, renamed.adopted) == ("ad", str(folder), True)
    assert sorted(p.name for p in folder.rglob("*")) == listing
    assert not os.path.lexists(world.layout.prefix("ad")) and not world.layout.meta_file("ac").exists()


# --- a rename: what moves and what is rewritten -------------------------------------------------------------

def test_rename_moves_the_folder_and_rewrites_what_names_it(world, tmp_path):
    from pyenvmod.staging import launchers

    world.make("a", packages={"six": "1.16.0", "tool": "1.0"}, requested=["six", "tool @ file:///w/tool.whl"],
               sources={"tool": "tool @ file:///w/tool.whl"})
    layout = world.layout
    old = layout.prefix("a")
    bin_dir = old / "bin"
    (bin_dir / "tool").write_text(f"#!{old}/bin/python\nprint('(a) ')\n")
    os.chmod(bin_dir / "tool", 0o751)
    (bin_dir / "blob").write_bytes(b"\0" + str(old).encode())  # binary: never rewritten
    # uv's activation scripts spell the prompt in other ways; each is rewritten
    (bin_dir / "activate.nu").write_text("let p = \"a\"\nlet q = 'a'\nlet r = \"xa\"\nPROMPT=a\"\nA=\"a b\"\n")
    os.chmod(bin_dir / "activate.nu", 0o640)
    os.symlink("/etc/hostname", bin_dir / "activate.link")  # a link: never followed
    cfg = old / "pyvenv.cfg"
    cfg.write_text(cfg.read_text() + "prompt = 'a'\nother = a\n")
    history.add(layout, "a", "create", ["six"], {"six": "1.16.0"}, ["six"])
    images = layout.base / "images" / "a"
    images.mkdir(parents=True)
    (images / "image.sqfs").write_text("x")
    stamp_before = sorted(os.listdir(layout.envs_dir))
    said = []
    record = _rename(world, "a", "b", said)

    new = layout.prefix("b")
    assert said == [] and record.kernels == [] and record.packages == {"six": "1.16.0", "tool": "1.0"}
    assert record.sources == {"tool": "tool @ file:///w/tool.whl"}
    assert sorted(os.listdir(layout.envs_dir)) == [n if n != "a" else "b" for n in stamp_before]
    _renamed(world, "a", "b", 1)
    assert history.entries(layout, "b")[0]["action"] == "create"  # its history came along
    assert not images.exists()  # the old name's image names the old folder: the next pack makes b's
    assert (new / "bin" / "tool").read_text() == f"#!{new}/bin/python\nprint('(a) ')\n"  # prompts: activate* only
    assert stat.S_IMODE(os.stat(new / "bin" / "tool").st_mode) == 0o751
    assert (new / "bin" / "blob").read_bytes() == b"\0" + str(old).encode()
    assert (new / "bin" / "activate.nu").read_text() == ("let p = \"b\"\nlet q = 'b'\nlet r = \"xb\"\nPROMPT=b\"\n"
                                                         "A=\"a b\"\n")
    assert stat.S_IMODE(os.stat(new / "bin" / "activate.nu").st_mode) == 0o640
    assert os.readlink(new / "bin" / "activate.link") == "/etc/hostname"
    assert "(b) " in (new / "bin" / "activate").read_text() and "(a) " not in (new / "bin" / "activate").read_text()
    cfg_lines = (new / "pyvenv.cfg").read_text().splitlines()
    assert "prompt = 'b'" in cfg_lines and "other = a" in cfg_lines
    assert not any(str(old) in line for line in cfg_lines) and (new / "pyvenv.cfg").read_text().endswith("\n")
    # the launchers of the new name: one per program of the folder now there
    launcher_dir = launchers.launcher_dir(layout, "b")
    assert sorted(os.listdir(launcher_dir)) == sorted(launchers.programs(str(new))) and "python" in \
        os.listdir(launcher_dir)
    # ... each finding the site's node-local folder the configuration names
    (stage_line,) = [ln for ln in (launcher_dir / "python").read_text().splitlines() if ln.startswith("stage=")]
    assert str(world.tmp_path / "local") in stage_line
    assert not os.path.lexists(launchers.launcher_dir(layout, "a"))
    # the new name is taken now, the old one free
    world.make("a")
    assert _refused(world, "a", "b").startswith("an environment named 'b' already exists")


def test_rename_repoints_the_environments_made_with_extends_on_it(world):
    from pyenvmod.modules import stacking

    base = world.make("base")
    child = world.make("child", extends=base)
    other = world.make("other")
    world.layout.meta_file("broken").write_text("{not json")  # a corrupt record among them: passed over
    other_before = registry.record(world.tree, "other")
    _rename(world, "base", "core")
    core = registry.record(world.tree, "core")
    moved = registry.record(world.tree, "child")
    assert moved.extends == dict(child.extends, name="core", prefix=core.prefix, module=core.module)
    hook = (world.site(child.prefix) / stacking.BASE_HOOK).read_text()
    assert str(world.site(core.prefix)) in hook and str(world.site(base.prefix)) not in hook
    text = _modulefile(world, "child").read_text()
    assert core.module in text and base.module not in text
    assert registry.record(world.tree, "other") == other_before and other.extends is None
    # a base renamed back: its child follows again
    _rename(world, "core", "base")
    assert registry.record(world.tree, "child").extends["prefix"] == base.prefix


def test_rename_of_a_folder_made_elsewhere_marks_it_for_the_new_name(world, tmp_path):
    from pyenvmod.operations import external_prefix

    folder = tmp_path / "ext"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True)
    external_prefix.mark(world.layout, folder, "e1")
    registry.write(world.tree, world.record("e1", prefix=str(folder)))
    activate = (folder / "bin" / "activate").read_text()
    renamed = _rename(world, "e1", "e2")
    assert renamed.prefix == str(folder) and (folder / "bin" / "activate").read_text() == activate
    assert external_prefix.owned(world.layout, str(folder), "e2")
    assert not external_prefix.owned(world.layout, str(folder), "e1")
    assert not os.path.lexists(world.layout.prefix("e2")) and not os.path.lexists(world.layout.prefix("e1"))


def test_a_link_like_step_1s_is_not_taken_for_an_interrupted_rename_of_another_environment(world, tmp_path):
    """'b' is registered, and envs/b is a link named like step 1's placeholder: only when both records name
    the tree's folders is it this rename's own, to be finished; else 'b' is another environment, kept."""
    from pyenvmod.operations import external_prefix

    world.make("a")
    folder = tmp_path / "theirs"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True)
    registry.write(world.tree, world.record("b", adopted=True, prefix=str(folder)))
    os.symlink("b", world.layout.prefix("b"))
    assert _refused(world, "a", "b").startswith("an environment named 'b' already exists")
    assert registry.record(world.tree, "b").prefix == str(folder)
    # the other way round: 'c', made elsewhere, renamed to 'b' (registered in the tree, the same link)
    os.unlink(world.layout.prefix("b"))
    os.unlink(world.layout.meta_file("b"))
    world.make("b")
    elsewhere = tmp_path / "c"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(elsewhere)], check=True)
    external_prefix.mark(world.layout, elsewhere, "c")
    registry.write(world.tree, world.record("c", prefix=str(elsewhere)))
    moved = tmp_path / "b-moved"
    os.rename(world.layout.prefix("b"), moved)
    os.symlink("b", world.layout.prefix("b"))
    assert _refused(world, "c", "b").startswith("an environment named 'b' already exists")
    assert world.layout.meta_file("b").exists() and registry.record(world.tree, "c").prefix == str(elsewhere)


def test_rename_clears_the_leftovers_of_an_earlier_rename_to_or_from_the_new_name(world):
    layout = world.layout
    world.make("a")
    # a symlink left by a finished rename away from 'b' (b -> elsewhere), stale modulefiles and history of 'b'
    os.symlink("zzz", layout.prefix("b"))
    layout.module_dir("b").mkdir(parents=True)
    (layout.module_dir("b") / "stale.lua").write_text("-- stale\n")
    layout.history_dir("b").mkdir(parents=True)
    (layout.history_dir("b") / "0007.json").write_text("{}")
    _rename(world, "a", "b")
    _renamed(world, "a", "b", 0)
    assert not (layout.module_dir("b") / "stale.lua").exists()
    assert [e["n"] for e in history.entries(layout, "b")] == [1]


def test_rename_moves_the_kernel_or_says_why_not(world, tmp_path):
    """The kernel of the old name is replaced by one of the new name; when that cannot be made (no
    ipykernel here), the old one stays and the user is told the command that makes it."""
    kernel = tmp_path / "kernels" / "pyenv-a"
    kernel.mkdir(parents=True)
    (kernel / "kernel.json").write_text("{}")
    world.make("a", kernels=[str(kernel)])
    said = []
    record = _rename(world, "a", "b", said)
    assert said[0] == "installing ipykernel into 'b'" and len(said) == 2
    assert said[-1].startswith("warning: could not make the kernel for 'b': could not install ipykernel")
    assert said[-1].endswith("; run 'pyenvmod kernel b'")
    assert kernel.is_dir() and record.kernels == []


def test_rename_writes_the_kernel_of_the_new_name_and_removes_the_old_one(world):
    from pyenvmod.operations import kernel
    from pyenvmod.records.names import kernel_name

    old_kernel = kernel.jupyter_data_dir() / "kernels" / kernel_name("k")
    old_kernel.mkdir(parents=True)
    (old_kernel / "kernel.json").write_text(json.dumps({"metadata": {"pyenvmod": {
        "prefix": str(world.layout.prefix("k"))}}}))
    world.make("k", kernels=[str(old_kernel)])
    (world.site(world.layout.prefix("k")) / "ipykernel").mkdir()  # installed: nothing to install
    said = []
    _rename(world, "k", "k2", said)
    new_kernel = kernel.jupyter_data_dir() / "kernels" / kernel_name("k2")
    assert said == [f"Jupyter kernel {new_kernel.name!r} written to {new_kernel}",
                    f"removed the old kernel {old_kernel}"]
    assert not old_kernel.exists()
    spec = json.loads((new_kernel / "kernel.json").read_text())
    assert spec["metadata"]["pyenvmod"]["prefix"] == str(world.layout.prefix("k2"))
    assert registry.record(world.tree, "k2").kernels == [str(new_kernel)]


# --- interrupted at a step: the old name or the new one works; the same rename finishes it ----------------

def _interrupt(monkeypatch, target, attr, after=False, nth=1):
    """Raise SIGTERM's exception where ``target.attr`` is called the ``nth`` time (before it runs, or just
    after); every other call runs it."""
    real = getattr(target, attr)
    calls = []

    def interrupted(*args, **kwargs):
        calls.append(1)
        if len(calls) != nth:
            return real(*args, **kwargs)
        if after:
            real(*args, **kwargs)
        raise Interrupted(15)

    monkeypatch.setattr(target, attr, interrupted)
    return calls


@pytest.mark.parametrize("step", ["modulefiles written", "registered", "exchanged", "rewritten", "history moved", "old unregistered",
                                  "old record removed", "finished"])
def test_a_rename_interrupted_at_a_step_leaves_a_working_name_and_finishes(world, tmp_path, monkeypatch, step):
    from pyenvmod.operations import rename

    _with_modulefiles(world, world.make("a"))
    assert _works(world, "a")
    history.add(world.layout, "a", "create", [], {})
    targets = {  # where, just before (or after) which call
        "modulefiles written": (rename.launchers, "write", False, 1),  # step 1 begun: b's modulefiles only
        "registered": (rename.registry, "write", True, 1),        # step 1 done: b registered, a placeholder
        "exchanged": (rename, "_rewrite_prefix", False, 1),       # step 2 done: the folders swapped
        "rewritten": (rename.launchers, "write", False, 2),       # step 3 begun: the prefix rewritten
        "history moved": (rename.history, "add", False, 1),       # the history folder moved
        "old unregistered": (rename, "images_dir", False, 1),     # step 4 begun: a's modulefiles removed
        "old record removed": (rename, "_envs", False, 3),        # a's record gone, its link to b left
        "finished": (rename, "_move_kernels", False, 1),          # past the last step (a kernel to move)
    }
    target, attr, after, nth = targets[step]
    if step == "finished":
        kernel = tmp_path / "kernels" / "pyenv-a"
        registry.write(world.tree, registry.record(world.tree, "a").replace(kernels=[str(kernel)]))
    _interrupt(monkeypatch, target, attr, after, nth)
    with pytest.raises(Interrupted):
        _rename(world, "a", "b")
    assert _works(world, "a") or _works(world, "b"), step
    record = _rename(world, "a", "b")
    assert record.name == "b"
    layout = world.layout
    _gone(world, "a")
    assert _works(world, "b") and registry.record(world.tree, "b").prefix == str(layout.prefix("b"))
    assert [e["action"] for e in history.entries(layout, "b")][:2] == ["create", "rename"]


def test_the_same_rename_run_again_after_it_finished_tidies_up_and_another_is_refused(world):
    """What the last step leaves when interrupted in its middle (a's link, modulefiles, image, history), is
    removed by the same rename run again; a rename of another name to the same new one is not 'finished'."""
    layout = world.layout
    _with_modulefiles(world, world.make("a"))
    _rename(world, "a", "b")
    record = registry.record(world.tree, "b")
    os.symlink("b", layout.prefix("a"))
    _with_modulefiles(world, record.replace(name="a", prefix=str(layout.prefix("a")), module=f"pyenv/a/py{MM}"))
    images = layout.base / "images" / "a"  # its launchers, and an image pack made
    images.mkdir(parents=True, exist_ok=True)
    (images / "image.sqfs").write_text("x")
    layout.history_dir("a").mkdir(parents=True)
    (layout.history_dir("a") / "0001.json").write_text("{}")
    assert _rename(world, "a", "b") == record
    _gone(world, "a")
    assert not images.exists() and _works(world, "b")
    # without the link, the history says it was this rename
    _with_modulefiles(world, record.replace(name="a", prefix=str(layout.prefix("a")), module=f"pyenv/a/py{MM}"))
    assert _rename(world, "a", "b") == record
    assert not layout.module_dir("a").exists()
    # another old name, or this one after b changed since: an unknown name
    assert _refused(world, "x", "b").startswith("no environment named 'x' under ")
    history.add(layout, "b", "install", [], {})
    assert _refused(world, "a", "b").startswith("no environment named 'a' under ")
    os.symlink("elsewhere", layout.prefix("a"))  # a link, but not to b
    assert _refused(world, "a", "b").startswith("no environment named 'a' under ")


def test_rename_in_a_group_tree_hands_the_history_to_the_group(world):
    """The history moved to the new name stays writable by the tree's group (the next member's install
    adds to it)."""
    layout = world.layout
    world.make("a")
    history.add(layout, "a", "create", [], {})
    other_gid = next(g for g in (100, 1000, 50, 10) if g != os.getgid())
    os.chown(layout.root, -1, other_gid)
    world.config.group = "lab"
    _rename(world, "a", "b")
    for path in (layout.history_dir("b"), *layout.history_dir("b").iterdir()):
        st = os.stat(path)
        assert st.st_gid == other_gid and st.st_mode & 0o060 == 0o060, path


def test_rename_rewrites_what_it_can_read_and_leaves_the_rest(world, tmp_path):
    """A folder without bin/ (a broken environment), a bin/ that is a link (never followed: in a group tree
    a member may make it one), bytes that are not UTF-8 (an old tool's Latin-1), a pyvenv.cfg too large to
    be one: the rename goes through, each file rewritten only when it is the environment's own."""
    layout = world.layout
    world.make("nobin")
    old = layout.prefix("nobin")
    for path in (old / "bin").iterdir():
        path.unlink()
    (old / "bin").rmdir()
    _rename(world, "nobin", "nb")
    cfg = (layout.prefix("nb") / "pyvenv.cfg").read_text()
    assert str(layout.prefix("nb")) in cfg and str(old) not in cfg
    # bin/ a link to a folder elsewhere: what is there stays as it is
    world.make("linked")
    old = layout.prefix("linked")
    elsewhere = tmp_path / "elsewhere-bin"
    os.rename(old / "bin", elsewhere)
    os.symlink(elsewhere, old / "bin")
    before = {p.name: p.read_bytes() for p in elsewhere.iterdir() if p.is_file() and not p.is_symlink()}
    _rename(world, "linked", "ln")
    assert {p.name: p.read_bytes() for p in elsewhere.iterdir() if p.is_file() and not p.is_symlink()} == before
    assert os.readlink(layout.prefix("ln") / "bin") == str(elsewhere)
    # Latin-1 bytes in pyvenv.cfg and an activation script; a prompt that only contains the name
    world.make("latin")
    old = layout.prefix("latin")
    with open(old / "pyvenv.cfg", "ab") as fh:
        fh.write(b"comment = caf\xe9\nprompt = Xlatin\n")
    (old / "bin" / "activate.nu").write_bytes(b"# caf\xe9\nlet p = \"latin\"\n")
    _rename(world, "latin", "lt")
    new = layout.prefix("lt")
    cfg_lines = (new / "pyvenv.cfg").read_text(errors="replace").splitlines()
    assert "prompt = Xlatin" in cfg_lines and not any(str(old) in line for line in cfg_lines)
    assert (new / "bin" / "activate.nu").read_bytes().endswith(b"let p = \"lt\"\n")
    # a pyvenv.cfg over 1 MiB is not a venv's: left as it is
    world.make("huge")
    old = layout.prefix("huge")
    with open(old / "pyvenv.cfg", "a") as fh:
        fh.write("# " + "x" * (1536 << 10) + "\n")
    size = os.path.getsize(old / "pyvenv.cfg")
    _rename(world, "huge", "hg")
    new_cfg = layout.prefix("hg") / "pyvenv.cfg"
    assert os.path.getsize(new_cfg) == size and str(old) in new_cfg.read_text()
