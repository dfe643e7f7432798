"""trust/folders.py in-process (mutation scope of the trust code): a folder held by its descriptor,
and every change made relative to it, never through a symlink; plus the descriptor walks of
files.py that serve the permission walk (make_root, tree_size, private_dir, below)."""

import errno
import os
import stat

import pytest

from pyenvmod.errors import PyenvmodError
from pyenvmod.trust import files
from pyenvmod.trust.folders import Folder, _renameat2


def mode_of(path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


@pytest.fixture
def mask():
    old = os.umask(0o022)
    yield
    os.umask(old)


@pytest.fixture
def top(tmp_path):
    root = tmp_path / "root"
    (root / "a" / "b").mkdir(parents=True)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_text("mine")
    os.chmod(outside / "secret", 0o600)
    (root / "a" / "link").symlink_to(outside)
    return root


def test_open_reaches_a_folder_from_the_root_and_refuses_a_link_on_the_way(top, tmp_path):
    with Folder.open(top, top / "a" / "b") as held:
        assert os.path.samestat(os.fstat(held.fd), os.stat(top / "a" / "b"))
        assert held.path == str(top / "a" / "b")
    with pytest.raises(PyenvmodError, match="symlink to outside the root"):
        Folder.open(top, top / "a" / "link")
    with Folder.open(top) as held:  # the root itself
        assert held.names() == ["a"]
    with Folder.open(top, top / "new" / "deep", create_mode=0o777) as held:
        assert (top / "new" / "deep").is_dir()
    held.close()  # closing twice is harmless
    assert held.fd == -1


def test_open_last_and_sub_refuse_a_link_and_a_file(top):
    with pytest.raises(PyenvmodError, match="symlink or not a folder"):
        Folder.open_last(top / "a" / "link")
    (top / "file").write_text("")
    with pytest.raises(PyenvmodError, match="symlink or not a folder"):
        Folder.open_last(top / "file")
    with pytest.raises(FileNotFoundError):
        Folder.open_last(top / "missing")
    with Folder.open_last(top / "a") as held:
        with pytest.raises(PyenvmodError, match="never follows links"):
            held.sub("link")
        with held.sub("b") as sub:
            assert sub.path == str(top / "a" / "b")
        with held.sub("c", create_mode=0o750) as sub:
            assert mode_of(top / "a" / "c") == 0o750 & ~files.umask()
        with held.sub("c", create_mode=0o700):  # already there: opened as it is
            assert mode_of(top / "a" / "c") == 0o750 & ~files.umask()
        with pytest.raises(FileNotFoundError):
            held.sub("none")


def test_write_replaces_atomically_with_the_mode_never_world_writable(top, mask):
    with Folder.open(top, top / "a") as held:
        held.write("f", "text")
        assert (top / "a" / "f").read_text() == "text" and mode_of(top / "a" / "f") == 0o644
        held.write("f", b"bytes", mode=0o777)
        assert (top / "a" / "f").read_bytes() == b"bytes" and mode_of(top / "a" / "f") == 0o775
        held.write("link", "x")  # a link at the name is replaced, never written through
        assert not (top / "a" / "link").is_symlink()
        assert (top.parent / "outside" / "secret").read_text() == "mine"
        assert sorted(os.listdir(top / "a")) == ["b", "f", "link"]  # no temporary left


def test_a_failed_write_leaves_no_temporary(top, monkeypatch):
    """The data goes first into a hidden temporary named after the file (``.f.<random>.tmp``), which
    is removed when the final rename fails."""
    seen = []

    def failing_replace(src, dst, **kwargs):
        seen.append((src, dst, (top / "a" / src).read_bytes()))
        raise OSError(5, "boom")

    with Folder.open(top, top / "a") as held:
        monkeypatch.setattr(os, "replace", failing_replace)
        with pytest.raises(OSError):
            held.write("f", "x")
    assert sorted(os.listdir(top / "a")) == ["b", "link"]
    [(tmp, dst, data)] = seen
    assert (dst, data) == ("f", b"x")
    assert tmp.startswith(".f.") and tmp.endswith(".tmp") and len(tmp) == len(".f.") + 16 + len(".tmp")


def test_temporary_names_are_new_and_unpredictable(top, mask, monkeypatch):
    with Folder.open(top, top / "a") as held:
        one, fd = held.create_temp(".img.", 0o646)
        os.close(fd)
        two, fd = held.create_temp(".img.")
        os.close(fd)
        assert one != two and one.startswith(".img.") and one.endswith(".tmp") and len(one) == len(".img.") + 16 + 4
        assert mode_of(top / "a" / one) == 0o644 and mode_of(top / "a" / two) == 0o600
        folder = held.mkdtemp(".bin.")
        assert folder.startswith(".bin.") and len(folder) == len(".bin.") + 16 and mode_of(top / "a" / folder) == 0o700
        taken = iter(["aaaa", "aaaa", "bbbb", "cccc", "cccc", "dddd"])
        monkeypatch.setattr("pyenvmod.trust.folders._token", lambda: next(taken))
        assert held.mkdtemp("x") == "xaaaa" and held.mkdtemp("x") == "xbbbb"  # a name taken: the next
        assert held.create_temp("y")[0] == "ycccc.tmp" and held.create_temp("y")[0] == "ydddd.tmp"


def test_a_new_folder_keeps_the_setgid_bit_and_is_never_world_writable(top):
    os.chmod(top / "a", 0o2775)
    old = os.umask(0)
    try:
        with Folder.open(top, top / "a") as held:
            held.mkdir("g", 0o777)
            with pytest.raises(FileExistsError):
                held.mkdir("g")
    finally:
        os.umask(old)
    assert mode_of(top / "a" / "g") == 0o2775


def test_chmod_goes_through_a_descriptor_never_a_link(top):
    secret = top.parent / "outside" / "secret"
    (top / "a" / "f").write_text("")
    (top / "a" / "tolink").symlink_to(secret)
    os.mkfifo(top / "a" / "fifo", 0o600)
    with Folder.open(top, top / "a") as held:
        assert held.chmod("f", 0o640) is True and mode_of(top / "a" / "f") == 0o640
        assert held.chmod("tolink", 0o666) is False and mode_of(secret) == 0o600
        assert held.chmod("missing", 0o666) is False
        assert held.chmod("fifo", 0o644) is True and mode_of(top / "a" / "fifo") == 0o644  # never blocks
        if os.geteuid() == 0:
            os.chown(top / "a" / "f", 65534, 65534)
            assert held.chmod("f", 0o600) is False and mode_of(top / "a" / "f") == 0o640
            assert held.chmod("f", 0o600, only_mine=False) is True and mode_of(top / "a" / "f") == 0o600
        held.fchmod_self(0o751)
    assert mode_of(top / "a") == 0o751


def test_rename_exchange_symlink_unlink_and_remove(top, tmp_path):
    a = top / "a"
    (a / "x").write_text("x")
    (a / "y").write_text("y")
    with Folder.open(top, a) as held, Folder.open(top, a / "b") as b:
        held.rename("x", "moved", into=b)
        assert (a / "b" / "moved").read_text() == "x"
        held.rename("y", "z")
        assert (a / "z").read_text() == "y" and not (a / "y").exists()
        (a / "w").write_text("w")
        with pytest.raises(FileExistsError):
            held.rename_new("w", "z")
        held.rename_new("w", "v")
        assert (a / "v").read_text() == "w" and (a / "z").read_text() == "y"
        held.exchange("v", "z")
        assert (a / "v").read_text() == "y" and (a / "z").read_text() == "w"
        held.symlink("z", "sl")
        assert held.is_link("sl") and held.readlink("sl") == "z" and not held.is_link("z")
        assert held.is_link("nothing") is False and held.exists("sl") and not held.exists("nothing")
        held.unlink("sl")
        held.unlink("sl", missing_ok=True)
        with pytest.raises(FileNotFoundError):
            held.unlink("sl")
        assert held.remove("link") is True  # the link, not what it points at
        assert (tmp_path / "outside" / "secret").read_text() == "mine"
        (a / "b" / "inner").symlink_to(tmp_path / "outside")
        assert held.remove("b") is True and not (a / "b").exists()
        assert (tmp_path / "outside" / "secret").read_text() == "mine"
        assert held.remove("b") is False
        assert held.remove("v") is True and not (a / "v").exists()


def test_exchange_and_rename_new_without_renameat2(top, monkeypatch):
    a = top / "a"
    (a / "p").write_text("p")
    (a / "q").write_text("q")
    monkeypatch.setattr("pyenvmod.trust.folders._renameat2", lambda *args: False)
    with Folder.open(top, a) as held:
        held.exchange("p", "q")
        assert (a / "p").read_text() == "q" and (a / "q").read_text() == "p"
        assert not (a / "p.exchange").exists()
        with pytest.raises(FileExistsError):
            held.rename_new("p", "q")
        held.rename_new("p", "r")
        assert (a / "r").read_text() == "q"


def test_renameat2_reports_other_errors(top):
    with Folder.open(top, top / "a") as held:
        with pytest.raises(FileNotFoundError):
            _renameat2(held.fd, "missing", held.fd, "other", 2)


def test_reading_refuses_links_fifos_and_large_files(top):
    (top / "a" / "f").write_text("12345")
    os.mkfifo(top / "a" / "fifo")
    with Folder.open(top, top / "a") as held:
        assert held.read_bytes("f", 5) == b"12345"
        with pytest.raises(PyenvmodError, match="larger than 4 bytes"):
            held.read_bytes("f", 4)
        with pytest.raises(PyenvmodError, match="not a regular file"):
            held.read_bytes("fifo", 10)
        with pytest.raises(OSError):
            held.open_file("link")


def test_walk_never_follows_a_link(top):
    (top / "a" / "b" / "f").write_text("")
    with Folder.open(top) as held:
        seen = {(folder, tuple(sorted(dirs)), tuple(sorted(names))) for folder, dirs, names, _ in held.walk()}
    # a link to a folder is listed with the folders (as os.walk does) but never entered
    assert seen == {(".", ("a",), ()), ("./a", ("b", "link"), ()), ("./a/b", (), ("f",))}


def test_the_permission_walks_take_a_root_to_start_from(top, tmp_path):
    loose = top / "a" / "b" / "loose"
    loose.write_text("")
    os.chmod(loose, 0o666)
    assert files.no_world_write(top / "a" / "link", inside=top) == 0  # a link on the way: nothing
    assert mode_of(tmp_path / "outside" / "secret") == 0o600
    assert dict(files.world_writable(top / "a", inside=top)) == {str(loose): stat.S_IFREG | 0o666}
    assert files.no_world_write(top / "a", inside=top) == 1 and mode_of(loose) == 0o664
    assert list(files.world_writable(top / "missing")) == []
    assert files.below(top / "a", top) == top and files.below(tmp_path, top) is None
    assert files.below(top, top) is None


def test_make_root_tree_size_and_private_dir(tmp_path):
    old = os.umask(0)
    try:
        made = files.make_root(tmp_path / "x" / "y")
        assert made == tmp_path / "x" / "y" and mode_of(made) == 0o775 and mode_of(tmp_path / "x") == 0o775
        assert files.make_root(tmp_path / "p", 0o700) == tmp_path / "p" and mode_of(tmp_path / "p") == 0o700
        assert files.make_root(made) == made  # already there
    finally:
        os.umask(old)
    (made / "f").write_bytes(b"x" * 10)
    (made / "sub").mkdir()
    (made / "sub" / "g").write_bytes(b"x" * 5)
    (made / "out").symlink_to(tmp_path)
    assert files.tree_size(tmp_path / "x") == 15  # the link to a folder is neither counted nor followed
    assert files.tree_size(tmp_path / "missing") == 0
    (tmp_path / "file").write_text("")
    with pytest.raises(FileExistsError):
        files.make_root(tmp_path / "file" / "below")
    mine = tmp_path / "s" / "t" / "pyenvmod-me"
    files.private_dir(mine, "fix", "elsewhere")  # the user's own cache: missing parents made 0700
    assert mode_of(mine) == mode_of(mine.parent) == mode_of(mine.parent.parent) == 0o700
    os.chmod(mine, 0o770)
    with pytest.raises(PyenvmodError, match="remove it or elsewhere"):
        files.private_dir(mine, "fix", "elsewhere")
    with pytest.raises(PyenvmodError, match=r"cannot create .*/file/x: File exists; fix"):
        files.private_dir(tmp_path / "file" / "x", "fix", "elsewhere")
    with pytest.raises(PyenvmodError, match=r"cannot create .*/file/x: Not a directory; fix"):
        files.private_dir(tmp_path / "file" / "x", "fix", "elsewhere", missing="point it elsewhere")


def test_private_dir_with_missing_makes_only_the_last_folder(tmp_path):
    """A stage folder: the folder it goes in is the site's; a missing one is named, never made."""
    site = tmp_path / "site" / "local"
    with pytest.raises(PyenvmodError) as refused:
        files.private_dir(site / "pyenvmod-me", "fix", "elsewhere", missing="ask the admin")
    assert str(refused.value) == f"cannot create {site}/pyenvmod-me: the folder {site} does not exist; ask the admin"
    assert not (tmp_path / "site").exists()
    site.mkdir(parents=True)
    os.chmod(site, 0o1777)
    old = os.umask(0)
    try:
        files.private_dir(site / "pyenvmod-me", "fix", "elsewhere", missing="ask the admin")
    finally:
        os.umask(old)
    assert mode_of(site / "pyenvmod-me") == 0o700 and mode_of(site) == 0o1777
    (site / "file").write_text("")
    (site / "link").symlink_to(site / "pyenvmod-me")
    for name in ("file", "link"):
        with pytest.raises(PyenvmodError, match=f"^{site}/{name} is not a private folder of yours"):
            files.private_dir(site / name, "fix", "elsewhere", missing="ask the admin")


def test_private_dir_names_what_keeps_it_from_being_made(tmp_path):
    target = tmp_path / ("x" * 300)  # a name no file system takes: mkdir itself fails
    with pytest.raises(PyenvmodError, match=f"^cannot create {target}: File name too long; fix$"):
        files.private_dir(target, "fix", "elsewhere", missing="ask")


def test_rename_new_without_renameat2_still_never_replaces(tmp_path, monkeypatch):
    """Where renameat2 is missing (an old C library, a file system without RENAME_NOREPLACE)."""
    from pyenvmod.trust import folders

    monkeypatch.setattr(folders, "_renameat2", lambda *args: False)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").write_text("keep")
    with Folder.open_last(tmp_path) as held:
        with pytest.raises(FileExistsError) as caught:
            held.rename_new("a", "b")
        assert (caught.value.errno, caught.value.strerror, caught.value.filename) == (
            errno.EEXIST, "File exists", str(tmp_path / "b"))
        held.rename_new("a", "c")
        (tmp_path / "d").mkdir()
        held.exchange("c", "d")  # the swap by renames
    assert (tmp_path / "c").is_dir() and not (tmp_path / "a").exists() and (tmp_path / "b").read_text() == "keep"


def test_renameat2_reports_its_errors_and_what_it_cannot_do(tmp_path):
    (tmp_path / "a").write_text("a")
    with Folder.open_last(tmp_path) as held:
        with pytest.raises(OSError) as caught:
            _renameat2(held.fd, "missing", held.fd, "b", 0)
        assert (caught.value.errno, caught.value.strerror, caught.value.filename) == (
            errno.ENOENT, os.strerror(errno.ENOENT), "b")
        assert _renameat2(held.fd, "a", held.fd, "b", 1 << 30) is False  # a flag it does not know: EINVAL
        assert _renameat2(held.fd, "a", held.fd, "b", 1) is True
    assert (tmp_path / "b").read_text() == "a"


def test_messages_name_the_whole_path(tmp_path):
    (tmp_path / "fifo").mkdir()
    (tmp_path / "big").write_text("x" * 10)
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    with Folder.open_last(tmp_path) as held:
        with pytest.raises(PyenvmodError) as caught:
            held.open_file("fifo")
        assert str(caught.value) == f"{tmp_path}/fifo is not a regular file; remove it"
        with pytest.raises(PyenvmodError) as caught:
            held.read_bytes("big", 9)
        assert str(caught.value) == f"{tmp_path}/big is larger than 9 bytes; remove it"
        assert held.read_bytes("big", 10) == b"x" * 10
        with pytest.raises(PyenvmodError) as caught:
            held.sub("link")
        assert str(caught.value).startswith(f"refusing {tmp_path}/link: it is ")
    with pytest.raises(PyenvmodError) as caught:
        Folder.open_last(tmp_path / "link")
    assert str(caught.value) == (f"refusing {tmp_path}/link: it is a symlink or not a folder, and pyenvmod never "
                                 "follows it; remove it")


def test_fchown_self_gives_the_folder_a_group_and_keeps_its_owner(tmp_path):
    """A group tree's new folders get the root's group (records.layout): only the group changes."""
    if os.geteuid() != 0:
        pytest.skip("giving a folder away needs root")
    folder = tmp_path / "shared"
    folder.mkdir()
    os.chown(folder, 4343, 4343)
    with Folder.open_last(folder) as held:
        held.fchown_self(4242)
    assert (os.stat(folder).st_uid, os.stat(folder).st_gid) == (4343, 4242)


def test_an_atomic_exchange_touches_only_the_two_entries(tmp_path):
    """renameat2(RENAME_EXCHANGE) swaps the two names at once: nothing is parked under a third name,
    so an entry that happens to be called like the parking place is left as it is."""
    (tmp_path / "v").write_text("v")
    (tmp_path / "z").mkdir()
    (tmp_path / "v.exchange").write_text("keep")
    with Folder.open_last(tmp_path) as held:
        held.exchange("v", "z")
    assert (tmp_path / "v").is_dir() and (tmp_path / "z").read_text() == "v"
    assert (tmp_path / "v.exchange").read_text() == "keep"


def test_the_defaults_of_new_folders_and_temporary_names(top, mask):
    """mkdir: 0777 less the umask; mkdtemp and create_temp: hidden ``.tmp.`` names, private."""
    with Folder.open(top, top / "a") as held:
        held.mkdir("plain")
        folder = held.mkdtemp()
        name, fd = held.create_temp()
        os.close(fd)
    assert mode_of(top / "a" / "plain") == 0o755
    assert folder.startswith(".tmp.") and len(folder) == len(".tmp.") + 16 and mode_of(top / "a" / folder) == 0o700
    assert name.startswith(".tmp.") and name.endswith(".tmp") and mode_of(top / "a" / name) == 0o600


def test_an_executable_temporary_keeps_every_bit_but_world_write(top, mask):
    """A launcher written through create_temp: only the others' write bit is taken away."""
    with Folder.open(top, top / "a") as held:
        name, fd = held.create_temp(".run.", 0o777)
        os.close(fd)
        other, fd = held.create_temp(".run.", 0o751)
        os.close(fd)
    assert mode_of(top / "a" / name) == 0o775 and mode_of(top / "a" / other) == 0o751


def test_walk_of_a_folder_inside(top):
    (top / "a" / "b" / "f").write_text("")
    with Folder.open(top) as held:
        seen = [(folder, sorted(dirs), names) for folder, dirs, names, _ in held.walk("a")]
    assert seen == [("a", ["b", "link"], []), ("a/b", [], ["f"])]


def test_descriptor_0_is_closed_like_any_other(tmp_path):
    """A program started with its standard input closed gets descriptor 0 for the first folder it
    opens: closing the folder must close it."""
    saved = os.dup(0)
    os.close(0)
    try:
        held = Folder.open_last(tmp_path)
        assert held.fd == 0
        held.close()
        assert held.fd == -1
        with pytest.raises(OSError) as caught:
            os.fstat(0)
        assert caught.value.errno == errno.EBADF
    finally:
        os.dup2(saved, 0)
        os.close(saved)


def test_open_creates_missing_folders_with_the_mode_and_leaves_existing_ones(top):
    """Folder.open with create_mode: each missing folder gets the mode less the umask, never
    world-writable, keeping the setgid bit of a group tree; folders already there keep theirs."""
    os.chmod(top / "a", 0o2750)
    old = os.umask(0)
    try:
        with Folder.open(top, top / "a" / "b" / "new" / "deeper", create_mode=0o777):
            pass
        with Folder.open(top, top / "a" / "x", create_mode=0o1751):
            pass
        with Folder.open(top, top / "a" / "s" / "t", create_mode=0o770):
            pass
    finally:
        os.umask(old)
    assert mode_of(top / "a") == 0o2750 and mode_of(top / "a" / "b") == 0o755  # both were there
    assert mode_of(top / "a" / "b" / "new") == mode_of(top / "a" / "b" / "new" / "deeper") == 0o775
    assert mode_of(top / "a" / "x") == 0o3751  # below the setgid a
    assert mode_of(top / "a" / "s") == mode_of(top / "a" / "s" / "t") == 0o2770
    old = os.umask(0o027)
    try:
        with Folder.open(top, top / "c" / "d", create_mode=0o777):
            pass
    finally:
        os.umask(old)
    assert mode_of(top / "c") == mode_of(top / "c" / "d") == 0o750


def test_open_refuses_a_path_outside_and_a_file_on_the_way_word_for_word(top, tmp_path):
    (top / "file").write_text("")
    (top / "..x").mkdir()  # a name that begins with two dots is inside
    with Folder.open(top, top / "..x") as held:
        assert held.path == str(top / "..x")
    for path in (tmp_path, tmp_path / "rootx", top / ".." / "outside"):
        with pytest.raises(PyenvmodError) as caught:
            Folder.open(top, path)
        assert str(caught.value) == f"refusing to use {os.path.normpath(path)}: it is outside the tree {top}"
    for path in (top / "file", top / "file" / "below"):
        with pytest.raises(PyenvmodError) as caught:
            Folder.open(top, path, create_mode=0o755 if path.name == "below" else None)
        assert str(caught.value) == (f"refusing {top}/file: it is a symlink or not a folder, and pyenvmod never "
                                     "follows links inside its tree; remove it")
    with pytest.raises(PyenvmodError) as caught:
        Folder.open(top, top / "a" / "link" / "deeper")
    assert str(caught.value) == (f"refusing {top}/a/link: it is a symlink to outside the root, and pyenvmod never "
                                 "follows links inside its tree; remove it")
    with pytest.raises(NotADirectoryError):
        Folder.open(top / "file")  # the root itself must be a folder
    with pytest.raises(FileNotFoundError):
        Folder.open(top, top / "missing" / "deeper")
    with Folder.open(top) as held:
        assert held.path == str(top)
