"""files.py in-process (mutation scope of the trust code): atomic writes, descriptor walks that never
follow a symlink below the root, capped reads that never block, removal inside a root only, the
permission fixes (settle, share_with_group, no_world_write) and the folder swap. Real files, real
symlinks, real FIFOs and sockets, real O_NOFOLLOW. (The same attacks through the command line, as
a second Unix user, are in test_trust_*.py.)"""

import errno
import grp
import os
import stat
from pathlib import Path

import pytest

from pyenvmod.trust import files
from pyenvmod.errors import PyenvmodError


@pytest.fixture
def mask():
    old = os.umask(0o022)
    yield
    os.umask(old)


@pytest.fixture
def top(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    return root


def mode_of(path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def made(path, mode, text="x"):
    """A file with this text and mode."""
    path.write_text(text)
    os.chmod(path, mode)
    return path


def two_folders(base, a_holds=("from_a",), b_holds=("from_b",)):
    """The folders a and b under ``base``, holding empty files of these names: to be swapped."""
    a, b = base / "a", base / "b"
    for folder, holds in ((a, a_holds), (b, b_holds)):
        folder.mkdir()
        for name in holds:
            (folder / name).write_text("")
    return a, b


def test_umask_reads_without_changing(mask):
    assert files.umask() == 0o022
    assert files.umask() == 0o022
    os.umask(0o077)
    assert files.umask() == 0o077


def test_write_atomic_content_and_modes(tmp_path, mask):
    target = tmp_path / "f.txt"
    files.write_atomic(target, "héllo\n")
    assert target.read_bytes() == "héllo\n".encode()
    assert mode_of(target) == 0o644
    files.write_atomic(target, "two", inside=tmp_path, mode=0o777)
    assert target.read_text() == "two" and mode_of(target) == 0o775  # never world-writable
    files.write_atomic(target, "three", mode=0o600)
    assert mode_of(target) == 0o600
    os.umask(0o000)
    files.write_atomic(target, "four")
    assert mode_of(target) == 0o664
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.txt"]  # no temporary file left


def test_write_atomic_never_follows_a_symlinked_folder_or_file_below_the_root(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    root = tmp_path / "root"
    root.mkdir()
    (root / "meta").symlink_to(outside)
    with pytest.raises(PyenvmodError, match="symlink to outside the root"):
        files.write_atomic(root / "meta" / "x.json", "{}", inside=root)
    assert list(outside.iterdir()) == []
    # without ``inside`` the folder itself is trusted
    files.write_atomic(root / "meta" / "x.json", "{}")
    assert (outside / "x.json").read_text() == "{}"
    (root / "link").symlink_to(outside / "target")
    files.write_atomic(root / "link", "x", inside=root)  # the link itself is replaced by a file
    assert not (root / "link").is_symlink() and (root / "link").read_text() == "x"
    assert not (outside / "target").exists()


def test_write_atomic_removes_its_temporary_file_on_failure(tmp_path):
    target = tmp_path / "d"
    target.mkdir()
    (target / "keep").write_text("x")
    with pytest.raises(OSError):
        files.write_atomic(target, "text")  # replacing a non-empty folder fails
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d"]
    assert (target / "keep").read_text() == "x"


def test_parts_and_outside_refusal(tmp_path):
    assert files._parts(tmp_path, tmp_path) == []
    assert files._parts(tmp_path, tmp_path / "a" / "b") == ["a", "b"]
    assert files._parts(tmp_path, f"{tmp_path}/a/../c/") == ["c"]
    for bad in (tmp_path.parent, tmp_path / ".." / "x"):
        with pytest.raises(PyenvmodError) as err:
            files._parts(tmp_path, bad)
        assert str(err.value) == f"refusing to use {os.path.normpath(bad)}: it is outside the tree {tmp_path}"
    assert files._parts(tmp_path, tmp_path / "..x") == ["..x"]  # a name starting with .. is inside


def test_refusal_words(tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "link_in").symlink_to(tmp_path / "in")
    (tmp_path / "link_out").symlink_to("/")
    assert files.refusal(tmp_path / "link_in", tmp_path) == (
        f"refusing {tmp_path}/link_in: it is a symlink or not a folder, and pyenvmod never follows links "
        "inside its tree; remove it")
    assert files.refusal(tmp_path / "link_out", tmp_path) == (
        f"refusing {tmp_path}/link_out: it is a symlink to outside the root, and pyenvmod never follows links "
        "inside its tree; remove it")


def test_open_dir_creates_with_the_mode_less_umask(tmp_path, mask):
    fd = files.open_dir(tmp_path, tmp_path / "a" / "b", create_mode=0o777)
    try:
        assert os.path.samestat(os.fstat(fd), os.stat(tmp_path / "a" / "b"))
    finally:
        os.close(fd)
    assert mode_of(tmp_path / "a") == 0o755 and mode_of(tmp_path / "a" / "b") == 0o755
    os.umask(0)
    assert files.make_dirs(tmp_path, tmp_path / "c", mode=0o2777) == tmp_path / "c"
    assert mode_of(tmp_path / "c") == 0o2775  # setgid kept from the mode, others never write
    (tmp_path / "g").mkdir()
    os.chmod(tmp_path / "g", 0o2770)
    files.make_dirs(tmp_path, tmp_path / "g" / "sub" / "deeper", mode=0o750)
    assert mode_of(tmp_path / "g" / "sub") == 0o2750  # the inherited setgid bit stays
    assert mode_of(tmp_path / "g" / "sub" / "deeper") == 0o2750  # and is handed down again
    os.chmod(tmp_path / "a", 0o700)
    files.make_dirs(tmp_path, tmp_path / "a" / "b", mode=0o777)
    assert mode_of(tmp_path / "a") == 0o700  # folders that exist keep their mode


def test_open_dir_missing_and_top_itself(tmp_path):
    with pytest.raises(FileNotFoundError):
        files.open_dir(tmp_path, tmp_path / "missing" / "x")
    assert not (tmp_path / "missing").exists()
    fd = files.open_dir(tmp_path, tmp_path)
    try:
        assert os.path.samestat(os.fstat(fd), os.stat(tmp_path))
    finally:
        os.close(fd)


@pytest.mark.parametrize("kind", ["symlink", "file", "symlink_in_middle"])
def test_open_dir_refuses_symlinks_and_files_on_the_way(tmp_path, kind):
    root = tmp_path / "root"
    root.mkdir()
    other = tmp_path / "other"
    (other / "x").mkdir(parents=True)
    if kind == "symlink":
        (root / "a").symlink_to(other)
    elif kind == "file":
        (root / "a").write_text("")
    else:
        (root / "real").mkdir()
        (root / "real" / "a").symlink_to(root / "real")
        with pytest.raises(PyenvmodError) as err:
            files.open_dir(root, root / "real" / "a" / "x", create_mode=0o755)
        assert str(err.value) == files.refusal(root / "real" / "a", root)
        return
    with pytest.raises(PyenvmodError) as err:
        files.make_dirs(root, root / "a" / "x")
    assert str(err.value) == files.refusal(root / "a", root)
    assert sorted(p.name for p in other.iterdir()) == ["x"]


def test_open_dir_refuses_a_file_as_the_folder_and_passes_other_errors_on(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(PyenvmodError, match="a symlink or not a folder"):
        files.open_dir(tmp_path, tmp_path / "file")
    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(PyenvmodError):  # ENOTDIR
        files.open_dir(tmp_path, tmp_path / "fifo")
    with pytest.raises(NotADirectoryError):
        files.open_dir(tmp_path / "fifo", tmp_path / "fifo" / "x")


def test_read_bytes_limits(tmp_path):
    path = tmp_path / "f"
    data = bytes(range(256)) * 1000  # more than one read chunk
    path.write_bytes(data)
    assert files.read_bytes(path, len(data)) == data
    assert files.read_bytes(path, len(data), inside=tmp_path) == data
    with pytest.raises(PyenvmodError) as err:
        files.read_bytes(path, len(data) - 1)
    assert str(err.value) == f"{path} is larger than {len(data) - 1} bytes; remove it"
    path.write_bytes(b"")
    assert files.read_bytes(path, 0) == b""


def test_read_bytes_of_a_growing_file_stops_at_the_limit(tmp_path):
    # /proc files report size 0 but have content: the read loop's own cap applies
    assert files.read_bytes("/proc/self/status", 1 << 20).startswith(b"Name:")
    with pytest.raises(PyenvmodError) as err:
        files.read_bytes("/proc/self/status", 10)
    assert str(err.value) == "/proc/self/status is larger than 10 bytes; remove it"
    text = files.read_bytes("/proc/self/status", 1 << 20)
    assert files.read_bytes("/proc/self/status", len(text) + 5).startswith(b"Name:")


def test_read_bytes_refuses_symlinks_fifos_and_symlinked_folders(tmp_path):
    (tmp_path / "real").write_text("secret")
    (tmp_path / "link").symlink_to(tmp_path / "real")
    with pytest.raises(PyenvmodError) as err:
        files.read_bytes(tmp_path / "link", 100)
    assert str(err.value) == f"{tmp_path}/link is a symlink: pyenvmod does not follow it; remove it"
    with pytest.raises(PyenvmodError, match="is a symlink"):
        files.read_bytes(tmp_path / "link", 100, inside=tmp_path)
    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(PyenvmodError) as err:  # never blocks on a FIFO without a writer
        files.read_bytes(tmp_path / "fifo", 100, inside=tmp_path)
    assert str(err.value) == f"{tmp_path}/fifo is not a regular file; remove it"
    (tmp_path / "d").mkdir()
    (tmp_path / "dl").symlink_to(tmp_path / "d")
    (tmp_path / "d" / "f").write_text("x")
    with pytest.raises(PyenvmodError, match="never follows links"):
        files.read_bytes(tmp_path / "dl" / "f", 100, inside=tmp_path)
    assert files.read_bytes(tmp_path / "dl" / "f", 100) == b"x"
    with pytest.raises(FileNotFoundError):
        files.read_bytes(tmp_path / "missing", 100)
    with pytest.raises(IsADirectoryError):  # opening is refused before the type check for other reasons
        os.open(tmp_path / "d", os.O_WRONLY)
    with pytest.raises(PyenvmodError, match="not a regular file"):
        files.read_bytes(tmp_path / "d", 100)


def test_read_bytes_passes_other_open_errors_on(tmp_path):
    path = tmp_path / "f"
    path.write_text("x")
    with pytest.raises(NotADirectoryError):
        files.read_bytes(path / "x", 100)


def test_chmod_nofollow_and_drop_world_write(tmp_path):
    (tmp_path / "f").write_text("")
    files.chmod_nofollow(tmp_path / "f", 0o640)
    assert mode_of(tmp_path / "f") == 0o640
    (tmp_path / "l").symlink_to(tmp_path / "f")
    with pytest.raises(OSError):
        files.chmod_nofollow(tmp_path / "l", 0o666)
    assert mode_of(tmp_path / "f") == 0o640
    os.mkfifo(tmp_path / "fifo", 0o600)
    files.chmod_nofollow(tmp_path / "fifo", 0o644)  # never blocks on a FIFO
    assert mode_of(tmp_path / "fifo") == 0o644
    made(tmp_path / "open", 0o606)
    files.drop_world_write(tmp_path / "open", stat.S_IFREG | 0o606)
    assert mode_of(tmp_path / "open") == 0o604


def test_world_writable_and_no_world_write(tmp_path):
    top = tmp_path / "top"
    (top / "sub").mkdir(parents=True)
    (top / "sticky").mkdir()
    (top / "a").write_text("")
    (top / "sub" / "b").write_text("")
    (top / "ok").write_text("")
    (top / "link").symlink_to(top / "a")
    outside = made(tmp_path / "outside", 0o666)
    (top / "out").symlink_to(outside)
    os.chmod(top / "a", 0o666)
    os.chmod(top / "sub", 0o777)
    os.chmod(top / "sub" / "b", 0o646)
    os.chmod(top / "sticky", 0o1777)
    os.chmod(top / "ok", 0o664)
    found = dict(files.world_writable(top))
    assert sorted(found) == sorted([str(top / "a"), str(top / "sub"), str(top / "sub" / "b")])
    assert stat.S_IMODE(found[str(top / "a")]) == 0o666
    os.chmod(top, 0o777)
    assert files.no_world_write(top) == 4
    assert [mode_of(p) for p in (top, top / "a", top / "sub", top / "sub" / "b", top / "sticky", top / "ok")] == \
        [0o775, 0o664, 0o775, 0o644, 0o1777, 0o664]
    assert mode_of(outside) == 0o666  # a link is never followed
    assert files.no_world_write(top) == 0
    assert files.no_world_write(tmp_path / "missing") == 0
    (tmp_path / "toplink").symlink_to(top)
    os.chmod(top, 0o777)
    assert files.no_world_write(tmp_path / "toplink") == 0  # a symlinked top itself is never changed
    assert mode_of(top) == 0o777


def test_share_with_group(tmp_path, mask):
    gid = grp.getgrnam("daemon").gr_gid
    top = tmp_path / "top"
    (top / "d").mkdir(parents=True)
    (top / "d" / "f").write_text("")
    os.chmod(top / "d" / "f", 0o604)
    (top / "x").write_text("")
    os.chmod(top / "x", 0o706)
    (top / "other").write_text("")
    os.chown(top / "other", 1, 1)
    os.chmod(top / "other", 0o600)
    target = tmp_path / "target"
    target.write_text("")
    os.chmod(target, 0o600)
    (top / "link").symlink_to(target)
    os.mkfifo(top / "fifo", 0o600)
    files.share_with_group(top, gid)
    for path, mode in ((top, 0o775), (top / "d", 0o775), (top / "d" / "f", 0o664), (top / "x", 0o774),
                       (top / "fifo", 0o660)):
        assert (os.lstat(path).st_uid, os.lstat(path).st_gid, mode_of(path)) == (os.getuid(), gid, mode), path
    assert (os.lstat(top / "other").st_gid, mode_of(top / "other")) == (1, 0o600)  # not ours: untouched
    assert (os.stat(target).st_gid, mode_of(target)) == (0, 0o600)  # a symlink is never followed
    files.share_with_group(top, gid)  # already the group: only the mode is set, the same
    assert mode_of(top / "d" / "f") == 0o664


def test_remove_inside(tmp_path):
    root = tmp_path / "root"
    (root / "d" / "sub").mkdir(parents=True)
    (root / "d" / "sub" / "f").write_text("")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep").write_text("")
    (root / "d" / "sub" / "link").symlink_to(outside)
    (root / "flink").symlink_to(outside / "keep")
    (root / "file").write_text("")
    assert files.remove_inside(root / "d", root) is True
    assert files.remove_inside(root / "flink", root) is True
    assert files.remove_inside(root / "file", root) is True
    assert list(root.iterdir()) == [] and (outside / "keep").exists()
    assert files.remove_inside(root / "file", root) is False
    assert files.remove_inside(root / "missing" / "x", root) is False
    with pytest.raises(PyenvmodError) as err:
        files.remove_inside(root, root)
    assert str(err.value) == f"refusing to remove {root}: it is the root {root} itself"
    with pytest.raises(PyenvmodError, match="outside the tree"):
        files.remove_inside(outside / "keep", root)
    (root / "via").symlink_to(outside)
    with pytest.raises(PyenvmodError, match="never follows links"):
        files.remove_inside(root / "via" / "keep", root)
    assert (outside / "keep").exists()


def test_remove_inside_a_symlink_to_a_folder_removes_the_link(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    outside = tmp_path / "outside"
    (outside / "d").mkdir(parents=True)
    (root / "link").symlink_to(outside)
    assert files.remove_inside(root / "link", root) is True
    assert not os.path.lexists(root / "link") and (outside / "d").is_dir()


def test_exchange(tmp_path):
    a, b = two_folders(tmp_path)
    (tmp_path / "a.exchange").mkdir()  # the swap by renames would need this name: the atomic one never does
    (tmp_path / "a.exchange" / "busy").write_text("")
    files.exchange(a, b)
    assert [p.name for p in a.iterdir()] == ["from_b"] and [p.name for p in b.iterdir()] == ["from_a"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "a.exchange", "b"]
    with pytest.raises(FileNotFoundError) as err:
        files.exchange(a, tmp_path / "missing")
    assert (err.value.errno, err.value.filename) == (errno.ENOENT, str(a))
    assert err.value.strerror == os.strerror(errno.ENOENT)
    assert [p.name for p in a.iterdir()] == ["from_b"]


def test_replace_in_text_files(tmp_path):
    (tmp_path / "script").write_text("#!/old/bin/python\nprint('/old')\n")
    os.chmod(tmp_path / "script", 0o751)
    (tmp_path / "binary").write_bytes(b"/old\0")
    (tmp_path / "plain").write_text("nothing\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "deep").write_text("/old")
    outside = tmp_path.parent / (tmp_path.name + "-target")
    outside.write_text("/old")
    (tmp_path / "link").symlink_to(outside)
    try:
        assert files.replace_in_text_files(tmp_path, "/old", "/new") == 1
        assert (tmp_path / "script").read_text() == "#!/new/bin/python\nprint('/new')\n"
        assert mode_of(tmp_path / "script") == 0o751
        assert (tmp_path / "binary").read_bytes() == b"/old\0"
        assert (tmp_path / "sub" / "deep").read_text() == "/old"
        assert outside.read_text() == "/old"
    finally:
        outside.unlink()


def test_exchange_falls_back_to_renames(tmp_path, monkeypatch):
    import ctypes

    class NoExchange:
        def __init__(self, *a, **k):
            pass

        def renameat2(self, *args):
            ctypes.set_errno(errno.EINVAL)
            return -1

    monkeypatch.setattr(ctypes, "CDLL", NoExchange)
    a, b = two_folders(tmp_path, b_holds=())
    files.exchange(a, b)
    assert list(a.iterdir()) == [] and [p.name for p in b.iterdir()] == ["from_a"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b"]


def test_make_dirs_default_mode_follows_the_umask(tmp_path, mask):
    files.make_dirs(tmp_path, tmp_path / "a" / "b")
    assert mode_of(tmp_path / "a") == 0o755 and mode_of(tmp_path / "a" / "b") == 0o755
    os.umask(0)
    files.make_dirs(tmp_path, tmp_path / "c")
    assert mode_of(tmp_path / "c") == 0o775  # never world-writable


def test_write_atomic_never_follows_a_planted_temporary_name(tmp_path, monkeypatch):
    """The temporary name is random; were it guessed, a link planted there is never written through."""
    import secrets

    monkeypatch.setattr(secrets, "token_hex", lambda n: "0" * (2 * n))
    victim = tmp_path / "victim"
    victim.write_text("safe")
    (tmp_path / ".f.txt.000000000000.tmp").symlink_to(victim)
    with pytest.raises(FileExistsError):
        files.write_atomic(tmp_path / "f.txt", "evil", inside=tmp_path)
    assert victim.read_text() == "safe" and not (tmp_path / "f.txt").exists()


def test_read_bytes_caps_files_whose_size_is_not_known():
    """/proc files report a size of 0: the read itself is capped, across many read chunks."""
    with pytest.raises(PyenvmodError, match="larger than 0 bytes"):
        files.read_bytes("/proc/self/status", 0)
    with pytest.raises(PyenvmodError) as err:
        files.read_bytes("/proc/kallsyms", 200000)
    assert str(err.value) == "/proc/kallsyms is larger than 200000 bytes; remove it"


def test_share_with_group_goes_on_past_what_it_skips(tmp_path, mask):
    import socket

    gid = grp.getgrnam("daemon").gr_gid
    top = tmp_path / "top"
    top.mkdir()
    names = [f"f{i:02d}" for i in range(30)]
    for i, name in enumerate(names):
        if i % 10 == 3:
            (top / name).symlink_to(tmp_path)
        elif i % 10 == 6:
            (top / name).write_text("")
            os.chown(top / name, 1, 1)
        elif i % 10 == 8:
            sock = socket.socket(socket.AF_UNIX)
            sock.bind(str(top / name))  # a socket cannot be opened: skipped, never followed
            sock.close()
        else:
            (top / name).write_text("")
            os.chmod(top / name, 0o600)
    files.share_with_group(top, gid)
    mine = [n for i, n in enumerate(names) if i % 10 not in (3, 6, 8)]
    for name in mine:
        st = os.lstat(top / name)
        assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (os.getuid(), gid, 0o660), name
    assert os.lstat(top / "f06").st_uid == 1 and os.lstat(top / "f06").st_gid == 1


def test_exchange_of_relative_paths(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    two_folders(tmp_path, b_holds=())
    files.exchange(Path("a"), Path("b"))
    assert [p.name for p in (tmp_path / "b").iterdir()] == ["from_a"] and list((tmp_path / "a").iterdir()) == []
    with pytest.raises(FileNotFoundError) as err:
        files.exchange(Path("a"), Path("missing"))
    assert str(err.value) == "[Errno 2] No such file or directory: 'a'"


def test_replace_in_text_files_counts_every_file(tmp_path):
    for name in ("one", "two", "three"):
        (tmp_path / name).write_text("#!/old/python\n")
    assert files.replace_in_text_files(tmp_path, "/old", "/new") == 3


def test_the_swap_by_renames_for_file_systems_without_an_atomic_one(tmp_path):
    """What exchange does where renameat2(RENAME_EXCHANGE) is missing (older NFS, some FUSE file
    systems), run here directly on real folders."""
    a, b = two_folders(tmp_path)
    files._exchange_by_renames(a, b)
    assert os.listdir(a) == ["from_b"] and os.listdir(b) == ["from_a"]
    assert sorted(os.listdir(tmp_path)) == ["a", "b"]  # nothing parked is left
    (tmp_path / "a.exchange").mkdir()
    (tmp_path / "a.exchange" / "busy").write_text("")  # the parked name is taken: nothing moves
    with pytest.raises(OSError):
        files._exchange_by_renames(a, b)
    assert os.listdir(a) == ["from_b"] and os.listdir(b) == ["from_a"]


def test_the_atomic_swap_reports_what_it_did(tmp_path):
    a, b = two_folders(tmp_path, a_holds=(), b_holds=("x",))
    assert files._exchange_atomic(a, b) is True
    assert os.listdir(a) == ["x"]


def test_no_world_write_never_blocks_on_a_fifo(top):
    os.mkfifo(top / "pipe")
    os.chmod(top / "pipe", 0o666)
    assert files.no_world_write(top) == 1
    assert mode_of(top / "pipe") == 0o664


# --- settle: the paths one change wrote --------------------------------------------------------

def test_settle_goes_on_after_a_path_it_cannot_use(top, tmp_path):
    (top / "a").mkdir()
    (top / "z").mkdir()
    (top / "link").symlink_to(tmp_path)
    for path in (top / "a" / "2", top / "z" / "1"):
        made(path, 0o666)
    foreign = made(top / "a" / "1", 0o666)
    os.chown(foreign, 4242, -1)  # another user's: never changed
    paths = [str(top / "a" / "0-missing"), str(foreign), str(top / "a" / "2"), str(top / "link" / "x"),
             str(top / "gone" / "x"), str(top / "z" / "1")]
    assert files.settle(top, paths) == 2
    assert mode_of(top / "a" / "2") == 0o664 and mode_of(top / "z" / "1") == 0o664
    assert mode_of(foreign) == 0o666


def test_settle_changes_modes_exactly(top):
    folder = top / "d"
    folder.mkdir()
    os.chmod(folder, 0o777)  # a plain folder: no write for others either
    full = made(top / "full", 0o777)
    assert files.settle(top, [str(folder), str(full)]) == 2
    assert mode_of(folder) == 0o775 and mode_of(full) == 0o775


def test_settle_for_a_group_sets_the_group_even_when_the_mode_is_right(top):
    path = made(top / "f", 0o664)
    os.chown(path, -1, 0)
    other = made(top / "g", 0o604)
    assert files.settle(top, [str(path), str(other)], gid=4242) == 2
    for p in (path, other):
        assert (p.stat().st_gid, p.stat().st_uid, mode_of(p)) == (4242, os.getuid(), 0o664)


def test_settle_never_blocks_on_a_fifo(top):
    fifo = top / "pipe"
    os.mkfifo(fifo)
    os.chmod(fifo, 0o666)
    assert files.settle(top, [str(fifo)]) == 1  # opened without blocking; a reader would never come
    assert mode_of(fifo) == 0o664


def test_settle_and_share_go_on_past_what_cannot_be_opened_or_needs_nothing(top):
    import socket

    folder = top / "d"
    folder.mkdir()
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(folder / "a-socket"))  # cannot be opened: skipped, never the end of the folder
    try:
        os.chmod(folder / "a-socket", 0o777)
        made(folder / "b-right", 0o644)
        made(folder / "c-loose", 0o666)
        paths = [str(folder / n) for n in ("a-socket", "b-right", "c-loose")]
        assert files.settle(top, paths) == 1
        assert mode_of(folder / "c-loose") == 0o664
        os.chmod(folder / "c-loose", 0o606)
        files.share_with_group(folder, 4242)
        assert (folder / "c-loose").stat().st_gid == 4242 and (folder / "b-right").stat().st_gid == 4242
    finally:
        sock.close()


def test_read_bytes_follows_a_link_only_when_asked(tmp_path):
    """The files of installed packages (dist_info) may be links a package manager made: followed on
    request, still never a FIFO (never waited on) nor larger than the cap."""
    real = tmp_path / "real"
    real.write_bytes(b"Name: a\n\nbody")
    link = tmp_path / "link"
    link.symlink_to(real)
    with pytest.raises(PyenvmodError, match="is a symlink"):
        files.read_bytes(link, 100)
    assert files.read_bytes(link, 100, follow=True) == b"Name: a\n\nbody"
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(PyenvmodError, match=f"^{fifo} is not a regular file; remove it$"):
        files.read_bytes(fifo, 100, follow=True)
    with pytest.raises(PyenvmodError, match=f"^{link} is larger than 5 bytes; remove it$"):
        files.read_bytes(link, 5, follow=True)
    with pytest.raises(FileNotFoundError):
        files.read_bytes(tmp_path / "missing", 5, follow=True)


def test_read_bytes_with_headers_stops_after_the_first_empty_line(tmp_path):
    chunk = 1 << 16
    meta = tmp_path / "METADATA"
    meta.write_bytes(b"Name: a\n\n" + b"d" * (4 * chunk))
    assert files.read_bytes(meta, 1 << 20, headers=True) == b"Name: a\n\n" + b"d" * (chunk - 9)  # one read
    assert files.read_bytes(meta, 100, headers=True) == (b"Name: a\n\n" + b"d" * 91)  # cut off, not refused
    meta.write_bytes(b"Name: a\r\n\r\n" + b"d" * (4 * chunk))
    assert len(files.read_bytes(meta, 1 << 20, headers=True)) == chunk
    meta.write_bytes(b"h" * (5 * chunk))  # no empty line: read up to the cap
    assert len(files.read_bytes(meta, 1 << 20, headers=True)) == 5 * chunk
    assert len(files.read_bytes(meta, 3 * chunk + 7, headers=True)) == 3 * chunk + 7
    # the empty line across the boundary of two reads
    for before, after in ((b"\n", b"\n"), (b"\n", b"\r\n"), (b"\n\r", b"\n")):
        meta.write_bytes(b"h" * (chunk - len(before)) + before + after + b"d" * (4 * chunk))
        assert len(files.read_bytes(meta, 1 << 20, headers=True)) == 2 * chunk, (before, after)
    meta.write_bytes(b"h" * (chunk - 1) + b"\n" + b"h" + b"\n" + b"d" * (4 * chunk))  # two lines, none empty
    assert len(files.read_bytes(meta, 1 << 20, headers=True)) == meta.stat().st_size


def test_remove_inside_removes_what_it_can_and_names_the_rest(tmp_path):
    """What a group member left in an environment (a folder of hers the maintainer may not empty):
    removed as far as it can be, the rest collected with its reason, or raised without a list.
    Run as a real other uid (nobody) in a forked child: root may remove anything."""
    import json
    import tempfile

    from pyenvmod.records.layout import Layout
    from pyenvmod.trust.tree import Tree

    if os.geteuid() != 0:
        pytest.fail("needs root (to run the child as another uid)") if os.environ.get("CI") == "true" \
            else pytest.skip("needs root")
    top = Path(tempfile.mkdtemp(prefix="remove-inside-"))
    try:
        top.chmod(0o755)
        env = top / "env"
        theirs = env / "theirs"
        theirs.mkdir(parents=True)
        (theirs / "f").write_text("x")
        (env / "mine").write_text("x")
        (env / "sub").mkdir()
        (env / "sub" / "g").write_text("")
        for path in (env, env / "mine", env / "sub", env / "sub" / "g"):
            os.chown(path, 65534, 65534)
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: nobody, removing what it can
            try:
                os.close(read)
                os.setgid(65534)
                os.setuid(65534)
                left = []
                removed = Tree(Layout(top, "p")).remove(env, left)
                try:
                    files.remove_inside(env, top)
                    raised = None
                except PermissionError as exc:
                    raised = [exc.errno, exc.strerror]
                os.write(write, json.dumps([removed, sorted(left), raised]).encode())
            finally:
                os._exit(0)
        os.close(write)
        with os.fdopen(read, "rb") as fh:
            answer = fh.read()
        os.waitpid(pid, 0)
        assert json.loads(answer or b"null") == [True, [[str(env), "Permission denied"],  # root's top
                                                        [str(theirs), "Directory not empty"],
                                                        [str(theirs / "f"), "Permission denied"]],
                                                 [errno.EACCES, "Permission denied"]]
        assert sorted(p.name for p in env.iterdir()) == ["theirs"]  # the rest went
        # root removes what nobody could not; this call, in the test's own process, is also what
        # makes mutmut run the test for remove_inside's mutants (it sees no call of a forked child)
        left = []
        assert files.remove_inside(env, top, left) is True and left == []
        assert os.listdir(top) == []
    finally:
        import shutil

        shutil.rmtree(top)


def test_walks_given_an_inside_never_pass_a_link_on_the_way(tmp_path, mask):
    """``inside``: the folder is reached from it without following a link on the way; without it,
    only the folder's own last step must not be a link."""
    real = tmp_path / "real" / "sub"
    real.mkdir(parents=True)
    loose = real / "loose"
    loose.write_text("#!/old\n")
    loose.chmod(0o666)
    (real / "ok").write_text("ok\n")
    (real / "ok").chmod(0o644)
    (tmp_path / "link").symlink_to(tmp_path / "real")
    via = tmp_path / "link" / "sub"
    assert list(files.world_writable(via, inside=tmp_path)) == []
    assert files.no_world_write(via, inside=tmp_path) == 0
    files.share_with_group(via, os.getegid(), inside=tmp_path)
    assert files.replace_in_text_files(via, "/old", "/new", inside=tmp_path) == 0
    assert not files.holds(via / "ok", "ok\n", inside=tmp_path, mode=0o644)
    assert files.holds(real / "ok", "ok\n", inside=tmp_path, mode=0o644)
    assert stat.S_IMODE(loose.stat().st_mode) == 0o666 and loose.read_text() == "#!/old\n"
    assert [p for p, _ in files.world_writable(via)] == [str(via / "loose")]  # its last step is no link
    assert files.replace_in_text_files(via, "/old", "/new") == 1


def test_walks_look_at_links_not_at_what_they_point_to(tmp_path, mask):
    top = tmp_path / "top"
    top.mkdir()
    target = tmp_path / "big"
    target.write_bytes(b"x" * 5000)
    target.chmod(0o666)
    (top / "link").symlink_to(target)
    (top / "small").write_bytes(b"x" * 3)
    assert files.tree_size(top) == 3 + len(str(target))  # a link counts as itself: its target's name
    assert list(files.world_writable(top)) == []
    assert files.no_world_write(top) == 0 and stat.S_IMODE(target.stat().st_mode) == 0o666
