"""files.py in-process, on real folders, symlinks and FIFOs: writes that are atomic and never follow a
link, reads that never block or swallow a huge file, removals that stay inside the tree, and the
permission fixes. (The same attacks through the command line are in test_trust_*.py.)"""

import os
import stat

import pytest

from pyenvmod import files
from pyenvmod.errors import PyenvmodError


@pytest.fixture
def top(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    return root


def test_write_atomic_replaces_whole_with_the_umasks_mode_never_world_writable(top):
    old = os.umask(0o022)
    try:
        target = top / "f.txt"
        target.write_text("old")
        files.write_atomic(target, "new", inside=top)
        assert target.read_text() == "new" and target.stat().st_mode & 0o777 == 0o644
        files.write_atomic(target, "newer", inside=top, mode=0o777)
        assert target.stat().st_mode & 0o777 == 0o775
        os.umask(0)
        files.write_atomic(target, "loose", inside=top)
        assert target.stat().st_mode & 0o777 == 0o664
        files.write_atomic(target, "free", inside=None)
        assert target.read_text() == "free"
    finally:
        os.umask(old)
    assert sorted(os.listdir(top)) == ["f.txt"]  # no temporary file left


def test_write_atomic_leaves_nothing_when_it_fails(top):
    (top / "f.txt").mkdir()  # a folder in the way: the replace fails
    with pytest.raises(OSError):
        files.write_atomic(top / "f.txt", "x", inside=top)
    assert os.listdir(top) == ["f.txt"]


def test_write_atomic_never_follows_a_symlinked_folder_or_file(top, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (top / "sub").symlink_to(elsewhere)
    with pytest.raises(PyenvmodError, match="symlink to outside the root"):
        files.write_atomic(top / "sub" / "f", "x", inside=top)
    assert os.listdir(elsewhere) == []
    (top / "link").symlink_to(elsewhere / "target")
    files.write_atomic(top / "link", "x", inside=top)  # the link itself is replaced by a file
    assert not (top / "link").is_symlink() and not (elsewhere / "target").exists()


def test_parts_are_below_the_top_only(top):
    assert files._parts(top, top) == []
    assert files._parts(top, top / "a" / "b") == ["a", "b"]
    with pytest.raises(PyenvmodError, match="outside the tree"):
        files._parts(top, top.parent / "x")
    with pytest.raises(PyenvmodError):
        files._parts(top, top.parent)
    assert files._parts(top, top / ".." / top.name / "c") == ["c"]


def test_refusal_says_where_the_link_goes(top, tmp_path):
    (top / "in").mkdir()
    (top / "inner").symlink_to(top / "in")
    (top / "outer").symlink_to(tmp_path)
    assert "a symlink or not a folder" in files.refusal(top / "inner", top)
    assert "a symlink to outside the root" in files.refusal(top / "outer", top)
    assert "remove it" in files.refusal(top / "outer", top)


def test_open_dir_creates_private_then_final_modes_and_keeps_setgid(top):
    old = os.umask(0o022)
    try:
        os.chmod(top, 0o2775)
        fd = files.open_dir(top, top / "a" / "b", create_mode=0o777)
        os.close(fd)
        for folder in (top / "a", top / "a" / "b"):
            assert folder.stat().st_mode & 0o7777 == 0o2755
        os.umask(0)
        files.make_dirs(top, top / "c")
        assert (top / "c").stat().st_mode & 0o777 == 0o775  # never world-writable
    finally:
        os.umask(old)
    with pytest.raises(FileNotFoundError):
        files.open_dir(top, top / "missing")


def test_open_dir_refuses_a_symlink_or_a_file_on_the_way(top, tmp_path):
    (top / "file").write_text("")
    with pytest.raises(PyenvmodError):
        files.open_dir(top, top / "file" / "x")
    (top / "link").symlink_to(tmp_path)
    with pytest.raises(PyenvmodError):
        files.open_dir(top, top / "link", create_mode=0o777)


def test_read_bytes_refuses_links_fifos_devices_and_big_files(top, tmp_path):
    (top / "ok").write_bytes(b"12345")
    assert files.read_bytes(top / "ok", 5, inside=top) == b"12345"
    assert files.read_bytes(top / "ok", 5) == b"12345"
    with pytest.raises(PyenvmodError, match="larger than 4 bytes"):
        files.read_bytes(top / "ok", 4, inside=top)
    (top / "link").symlink_to(top / "ok")
    with pytest.raises(PyenvmodError, match="is a symlink"):
        files.read_bytes(top / "link", 100, inside=top)
    os.mkfifo(top / "fifo")
    with pytest.raises(PyenvmodError, match="not a regular file"):
        files.read_bytes(top / "fifo", 100, inside=top)  # and it returns at once: never blocks
    (top / "null").symlink_to("/dev/null")
    with pytest.raises(PyenvmodError):
        files.read_bytes(top / "null", 100, inside=top)
    with pytest.raises(FileNotFoundError):
        files.read_bytes(top / "missing", 100, inside=top)


def test_read_bytes_stops_at_the_limit_when_a_file_grows(top):
    path = top / "growing"
    path.write_bytes(b"x" * 10)
    assert len(files.read_bytes(path, 10, inside=top)) == 10


def test_remove_inside_removes_links_as_links_and_never_the_root(top, tmp_path):
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "keep").write_text("x")
    (top / "tree").mkdir()
    (top / "tree" / "link").symlink_to(victim)
    (top / "tree" / "file").write_text("x")
    assert files.remove_inside(top / "tree" / "link", top) is True
    assert (victim / "keep").exists()
    assert files.remove_inside(top / "tree", top) is True and not (top / "tree").exists()
    assert files.remove_inside(top / "tree", top) is False
    assert files.remove_inside(top / "nofolder" / "x", top) is False
    with pytest.raises(PyenvmodError, match="the root"):
        files.remove_inside(top, top)
    (top / "via").symlink_to(victim)
    with pytest.raises(PyenvmodError):
        files.remove_inside(top / "via" / "keep", top)
    assert (victim / "keep").exists()


def test_no_world_write_fixes_everything_below_but_links_and_sticky_folders(top, tmp_path):
    (top / "a").mkdir()
    (top / "a" / "f").write_text("x")
    os.chmod(top / "a" / "f", 0o666)
    os.chmod(top / "a", 0o777)
    (top / "sticky").mkdir()
    os.chmod(top / "sticky", 0o1777)
    outside = tmp_path / "outside"
    outside.write_text("x")
    os.chmod(outside, 0o666)
    (top / "link").symlink_to(outside)
    os.chmod(top, 0o777)
    assert files.no_world_write(top) == 3
    assert (top / "a" / "f").stat().st_mode & 0o777 == 0o664
    assert (top / "a").stat().st_mode & 0o777 == 0o775
    assert top.stat().st_mode & 0o777 == 0o775
    assert (top / "sticky").stat().st_mode & 0o7777 == 0o1777
    assert outside.stat().st_mode & 0o777 == 0o666
    assert files.no_world_write(top) == 0
    assert files.no_world_write(top / "missing") == 0


def test_share_with_group_gives_the_group_the_owners_rights_and_never_others(top, tmp_path):
    (top / "d").mkdir()
    (top / "d" / "f").write_text("x")
    os.chmod(top / "d" / "f", 0o706)
    outside = tmp_path / "outside"
    outside.write_text("x")
    os.chmod(outside, 0o600)
    (top / "d" / "link").symlink_to(outside)
    files.share_with_group(top / "d", 4242)
    st = (top / "d" / "f").stat()
    assert st.st_gid == 4242 and st.st_mode & 0o777 == 0o774
    assert (top / "d").stat().st_gid == 4242
    assert outside.stat().st_gid != 4242 and outside.stat().st_mode & 0o777 == 0o600


def test_chmod_nofollow_refuses_a_symlink(top, tmp_path):
    target = tmp_path / "t"
    target.write_text("x")
    os.chmod(target, 0o600)
    (top / "l").symlink_to(target)
    with pytest.raises(OSError):
        files.chmod_nofollow(top / "l", 0o777)
    assert target.stat().st_mode & 0o777 == 0o600
    files.drop_world_write(target, stat.S_IFREG | 0o606)
    assert target.stat().st_mode & 0o777 == 0o604


def test_exchange_swaps_two_folders(top):
    (top / "a").mkdir()
    (top / "a" / "from-a").write_text("")
    (top / "b").mkdir()
    (top / "b" / "from-b").write_text("")
    files.exchange(top / "a", top / "b")
    assert os.listdir(top / "a") == ["from-b"] and os.listdir(top / "b") == ["from-a"]
    with pytest.raises(OSError):
        files.exchange(top / "a", top / "missing")
    assert os.listdir(top / "a") == ["from-b"]


def test_replace_in_text_files_changes_text_only_and_keeps_modes(top, tmp_path):
    folder = top / "bin"
    folder.mkdir()
    (folder / "script").write_text("#!/old/python\nrun /old/python\n")
    os.chmod(folder / "script", 0o755)
    (folder / "binary").write_bytes(b"\0/old/python")
    (folder / "other").write_text("nothing here")
    outside = tmp_path / "outside"
    outside.write_text("/old/python")
    (folder / "link").symlink_to(outside)
    (folder / "sub").mkdir()
    assert files.replace_in_text_files(folder, "/old/python", "/new/py") == 1
    assert (folder / "script").read_text() == "#!/new/py\nrun /new/py\n"
    assert (folder / "script").stat().st_mode & 0o777 == 0o755
    assert (folder / "binary").read_bytes() == b"\0/old/python" and outside.read_text() == "/old/python"


def test_umask_reads_without_changing(top):
    old = os.umask(0o027)
    try:
        assert files.umask() == 0o027 and files.umask() == 0o027
    finally:
        os.umask(old)


def test_exchange_is_atomic_and_says_what_failed(top):
    import errno

    (top / "a").mkdir()
    (top / "a" / "from-a").write_text("")
    (top / "b").mkdir()
    (top / "a.exchange").mkdir()  # the two-rename fallback would need this name: it is never used here
    (top / "a.exchange" / "busy").write_text("")
    files.exchange(top / "a", top / "b")
    assert os.listdir(top / "b") == ["from-a"] and os.listdir(top / "a") == []
    with pytest.raises(OSError) as caught:
        files.exchange(top / "a", top / "missing")
    assert caught.value.errno == errno.ENOENT and caught.value.filename == str(top / "a")
    assert caught.value.strerror == os.strerror(errno.ENOENT)


# --- settle: the paths one change wrote --------------------------------------------------------

def test_settle_goes_on_after_a_path_it_cannot_use(top, tmp_path):
    (top / "a").mkdir()
    (top / "z").mkdir()
    (top / "link").symlink_to(tmp_path)
    for path in (top / "a" / "2", top / "z" / "1"):
        path.write_text("x")
        os.chmod(path, 0o666)
    foreign = top / "a" / "1"
    foreign.write_text("x")
    os.chmod(foreign, 0o666)
    os.chown(foreign, 4242, -1)  # another user's: never changed
    paths = [str(top / "a" / "0-missing"), str(foreign), str(top / "a" / "2"), str(top / "link" / "x"),
             str(top / "gone" / "x"), str(top / "z" / "1")]
    assert files.settle(top, paths) == 2
    assert (top / "a" / "2").stat().st_mode & 0o777 == 0o664 and (top / "z" / "1").stat().st_mode & 0o777 == 0o664
    assert foreign.stat().st_mode & 0o777 == 0o666


def test_settle_changes_modes_exactly(top):
    folder = top / "d"
    folder.mkdir()
    os.chmod(folder, 0o777)  # a plain folder: no write for others either
    full = top / "full"
    full.write_text("x")
    os.chmod(full, 0o777)
    assert files.settle(top, [str(folder), str(full)]) == 2
    assert folder.stat().st_mode & 0o7777 == 0o775 and full.stat().st_mode & 0o777 == 0o775


def test_settle_for_a_group_sets_the_group_even_when_the_mode_is_right(top):
    path = top / "f"
    path.write_text("x")
    os.chmod(path, 0o664)
    os.chown(path, -1, 0)
    other = top / "g"
    other.write_text("x")
    os.chmod(other, 0o604)
    assert files.settle(top, [str(path), str(other)], gid=4242) == 2
    for p in (path, other):
        assert p.stat().st_gid == 4242 and p.stat().st_uid == os.getuid()
    assert path.stat().st_mode & 0o777 == 0o664 and other.stat().st_mode & 0o777 == 0o664


def test_settle_never_blocks_on_a_fifo(top):
    fifo = top / "pipe"
    os.mkfifo(fifo)
    os.chmod(fifo, 0o666)
    assert files.settle(top, [str(fifo)]) == 1  # opened without blocking; a reader would never come
    assert fifo.stat().st_mode & 0o777 == 0o664


def test_share_with_group_skips_links_and_others_files_and_never_blocks(top, tmp_path):
    folder = top / "d"
    folder.mkdir()
    outside = tmp_path / "outside"
    outside.write_text("x")
    for n in range(12):  # around the link and the foreign file, whatever order the folder lists them in
        (folder / f"f{n}").write_text("x")
        os.chmod(folder / f"f{n}", 0o605)
    (folder / "link").symlink_to(outside)
    (folder / "foreign").write_text("x")
    os.chown(folder / "foreign", 4242, -1)
    os.chmod(folder / "foreign", 0o600)
    os.mkfifo(folder / "pipe")
    os.chmod(folder / "pipe", 0o606)
    files.share_with_group(folder, 4242)
    for n in range(12):
        st = (folder / f"f{n}").stat()
        assert (st.st_mode & 0o777, st.st_gid, st.st_uid) == (0o665, 4242, os.getuid())
    assert (folder / "pipe").stat().st_mode & 0o777 == 0o664
    assert (folder / "foreign").stat().st_mode & 0o777 == 0o600 and (folder / "foreign").stat().st_gid != 4242
    assert outside.stat().st_gid != 4242


def test_read_bytes_reads_a_file_of_many_chunks_whole_and_refuses_a_linked_folder(top, tmp_path):
    data = bytes(range(256)) * 1200  # 300 KB: more than one read
    (top / "big").write_bytes(data)
    assert files.read_bytes(top / "big", len(data), inside=top) == data
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "f").write_bytes(b"secret")
    (top / "via").symlink_to(elsewhere)
    with pytest.raises(PyenvmodError, match="symlink"):
        files.read_bytes(top / "via" / "f", 100, inside=top)


def test_open_dir_gives_setgid_only_where_the_parent_has_it_and_names_the_link(top, tmp_path):
    os.chmod(top, 0o755)
    files.make_dirs(top, top / "plain" / "child")
    assert not (top / "plain" / "child").stat().st_mode & 0o2000
    (top / "plain" / "link").symlink_to(tmp_path)
    with pytest.raises(PyenvmodError) as caught:
        files.open_dir(top, top / "plain" / "link" / "x")
    assert caught.value.message.startswith(f"refusing {top / 'plain' / 'link'}: it is a symlink to outside the root")


def test_a_file_that_grows_past_the_limit_while_read_is_refused(tmp_path):
    """/proc files say size 0 and then give their content: the size checked first is not trusted."""
    with pytest.raises(PyenvmodError, match="/proc/self/maps is larger than 100 bytes"):
        files.read_bytes("/proc/self/maps", 100)
    assert len(files.read_bytes("/proc/self/maps", 1 << 20)) > 100


def test_refusal_of_a_link_inside_the_tree_is_said_exactly(top):
    (top / "in").mkdir()
    (top / "inner").symlink_to(top / "in")
    assert files.refusal(top / "inner", top) == (f"refusing {top / 'inner'}: it is a symlink or not a folder, and "
                                                 "pyenvmod never follows links inside its tree; remove it")


def test_open_dir_refuses_a_file_as_the_folder_itself(top):
    (top / "file").write_text("")
    with pytest.raises(PyenvmodError, match="a symlink or not a folder"):
        files.open_dir(top, top / "file")


def test_replace_in_text_files_counts_every_file_it_changed(top):
    for name in ("one", "two"):
        (top / name).write_text("/old/python\n")
    assert files.replace_in_text_files(top, "/old/python", "/new") == 2


def unix_socket(path):
    import socket

    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(path))
    return sock


def test_settle_and_share_go_on_past_what_cannot_be_opened_or_needs_nothing(top):
    folder = top / "d"
    folder.mkdir()
    sock = unix_socket(folder / "a-socket")  # cannot be opened: skipped, never the end of the folder
    try:
        os.chmod(folder / "a-socket", 0o777)
        (folder / "b-right").write_text("x")
        os.chmod(folder / "b-right", 0o644)
        (folder / "c-loose").write_text("x")
        os.chmod(folder / "c-loose", 0o666)
        paths = [str(folder / n) for n in ("a-socket", "b-right", "c-loose")]
        assert files.settle(top, paths) == 1
        assert (folder / "c-loose").stat().st_mode & 0o777 == 0o664
        os.chmod(folder / "c-loose", 0o606)
        files.share_with_group(folder, 4242)
        assert (folder / "c-loose").stat().st_gid == 4242 and (folder / "b-right").stat().st_gid == 4242
    finally:
        sock.close()


def test_no_world_write_never_blocks_on_a_fifo(top):
    os.mkfifo(top / "pipe")
    os.chmod(top / "pipe", 0o666)
    assert files.no_world_write(top) == 1
    assert (top / "pipe").stat().st_mode & 0o777 == 0o664


def test_the_swap_by_renames_for_file_systems_without_an_atomic_one(top):
    """What exchange does where renameat2(RENAME_EXCHANGE) is missing (older NFS, some FUSE file
    systems), run here directly on real folders."""
    (top / "a").mkdir()
    (top / "a" / "from-a").write_text("")
    (top / "b").mkdir()
    (top / "b" / "from-b").write_text("")
    files._exchange_by_renames(top / "a", top / "b")
    assert os.listdir(top / "a") == ["from-b"] and os.listdir(top / "b") == ["from-a"]
    assert sorted(os.listdir(top)) == ["a", "b"]  # nothing parked is left
    (top / "a.exchange").mkdir()
    (top / "a.exchange" / "busy").write_text("")  # the parked name is taken: nothing moves
    with pytest.raises(OSError):
        files._exchange_by_renames(top / "a", top / "b")
    assert os.listdir(top / "a") == ["from-b"] and os.listdir(top / "b") == ["from-a"]


def test_the_atomic_swap_reports_what_it_did(top):
    (top / "a").mkdir()
    (top / "b").mkdir()
    (top / "b" / "x").write_text("")
    assert files._exchange_atomic(top / "a", top / "b") is True
    assert os.listdir(top / "a") == ["x"]
