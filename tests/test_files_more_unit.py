"""files.py in-process, second part (issue 22): what the first unit tests left open, found by
mutmut. The in-place write never waits on a FIFO, ``holds`` answers each way, hard links are never
handed to a group, sticky files and others' files, private folders and their group, the trust check
of modulefiles, and folders spelled with ``..``. Real files, FIFOs, hard links, owners (the tests
run as root and hand files to other uids with chown)."""

import errno
import os
import stat
import time

import pytest

from pyenvmod.errors import PyenvmodError
from pyenvmod.trust import files
from test_files_unit import made, mask, mode_of, top  # noqa: F401 - the first part's fixtures and helpers

OTHER_UID, OTHER_GID = 4242, 4343


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


# --- write_at: in place, never through a link, never waiting on a FIFO -----------------------

def test_write_at_overwrites_in_place_at_the_offset(top):
    target = made(top / "lib.so", 0o751, "0123456789")
    inode, before = target.stat().st_ino, open_fds()
    files.write_at(target, 7, b"XY", inside=top)
    assert target.read_bytes() == b"0123456XY9"
    assert (target.stat().st_ino, mode_of(target)) == (inode, 0o751)
    files.write_at(target, 12, b"!", inside=top)  # past the end: the gap is zeros, as pwrite does
    assert target.read_bytes() == b"0123456XY9\0\0!"
    assert open_fds() == before


def test_write_at_refuses_a_fifo_at_once(top):
    """A FIFO where the file was: without a reader the open fails at once (a bug fixed for issue 22:
    the open had no O_NONBLOCK and waited for a reader forever); with one it is refused as no
    regular file, and nothing reaches the reader."""
    fifo = top / "lib.so"
    os.mkfifo(fifo)
    started = time.monotonic()
    with pytest.raises(OSError) as err:
        files.write_at(fifo, 0, b"evil", inside=top)
    assert err.value.errno == errno.ENXIO and time.monotonic() - started < 5
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        before = open_fds()
        with pytest.raises(PyenvmodError) as refused:
            files.write_at(fifo, 0, b"evil", inside=top)
        assert str(refused.value) == f"refusing to write into {fifo}: not a regular file"
        assert open_fds() == before
        assert os.read(reader, 10) == b""  # the writer came and went without writing a byte
    finally:
        os.close(reader)


def test_write_at_never_passes_a_symlinked_folder(tmp_path, top):
    outside = tmp_path / "outside"
    outside.mkdir()
    victim = made(outside / "lib.so", 0o644, "safe")
    (top / "sub").symlink_to(outside)
    with pytest.raises(PyenvmodError, match="never follows links"):
        files.write_at(top / "sub" / "lib.so", 0, b"evil", inside=top)
    assert victim.read_text() == "safe"


# --- holds: each reason to say no --------------------------------------------------------------

def test_holds_says_yes_only_for_the_text_and_mode_written(top, mask):
    path = top / "f.lua"
    files.write_atomic(path, "héllo\n", inside=top)
    assert files.holds(path, "héllo\n", inside=top) is True
    assert files.holds(path, "héllo\n") is True
    assert files.holds(path, "héllo", inside=top) is False  # the file is longer: refused by the cap
    assert files.holds(path, "héllo\n\n", inside=top) is False  # shorter
    assert files.holds(path, "hallo\n", inside=top) is False  # the same length, another text
    assert files.holds(path, "héllo\n", mode=0o600) is False  # another mode
    os.chmod(path, 0o664)
    assert files.holds(path, "héllo\n") is False  # group-writable while the umask says 0644
    os.umask(0)
    assert files.holds(path, "héllo\n") is True  # 0666 less nothing, less write for others
    files.write_atomic(path, "x", mode=0o777)
    assert mode_of(path) == 0o775 and files.holds(path, "x", mode=0o777) is True
    assert files.holds(path, "x", mode=0o775) is True and files.holds(path, "x", mode=0o774) is False
    os.chmod(path, 0o4775)
    assert files.holds(path, "x", mode=0o775) is False  # a setuid bit is a difference too
    assert files.holds(top / "missing", "x") is False


def test_holds_says_no_for_links_fifos_and_folders(tmp_path, top, mask):
    real = made(tmp_path / "real", 0o644, "x")
    (top / "link").symlink_to(real)
    os.mkfifo(top / "fifo", 0o644)
    (top / "dir").mkdir()
    for name in ("link", "fifo", "dir"):
        assert files.holds(top / name, "x", inside=top) is False, name
        assert files.holds(top / name, "x") is False, name


# --- _loose: what counts as writable by others ---------------------------------------------------

def test_a_sticky_file_writable_by_others_still_counts(top):
    """The sticky bit protects the entries of a folder (/tmp); on a file it protects nothing."""
    sticky = made(top / "f", 0o1666)
    folder = top / "d"
    folder.mkdir()
    os.chmod(folder, 0o1777)
    assert dict(files.world_writable(top)) == {str(sticky): stat.S_IFREG | 0o1666}
    assert files.no_world_write(top) == 1
    assert (mode_of(sticky), mode_of(folder)) == (0o1664, 0o1777)


def test_no_world_write_counts_only_real_changes(top):
    os.chmod(top, 0o751)  # others may search, not write: nothing to change
    made(top / "exec", 0o751)
    made(top / "ok", 0o644)
    assert files.no_world_write(top) == 0
    assert (mode_of(top), mode_of(top / "exec")) == (0o751, 0o751)
    os.chmod(top, 0o757)
    made(top / "loose", 0o667)
    assert files.no_world_write(top) == 2
    assert (mode_of(top), mode_of(top / "loose"), mode_of(top / "exec")) == (0o755, 0o665, 0o751)


def test_no_world_write_leaves_other_users_files(top):
    theirs = made(top / "theirs", 0o666)
    os.chown(theirs, OTHER_UID, OTHER_GID)
    mine = made(top / "mine", 0o666)
    assert files.no_world_write(top) == 1
    assert (mode_of(theirs), mode_of(mine)) == (0o666, 0o664)
    assert [p for p, _ in files.world_writable(top)] == [str(theirs)]  # still reported


# --- hard links are never handed to a group --------------------------------------------------

def test_share_with_group_never_hands_over_a_hard_linked_file(tmp_path, top, mask):
    cache = made(tmp_path / "cache-file", 0o600)
    os.link(cache, top / "linked")  # rattler's hard link into the user's package cache
    plain = made(top / "plain", 0o600)
    folder = top / "d"
    folder.mkdir()
    os.chmod(folder, 0o700)
    files.share_with_group(top, OTHER_GID)
    assert (os.lstat(cache).st_gid, mode_of(cache)) == (0, 0o600)
    assert (plain.stat().st_gid, mode_of(plain)) == (OTHER_GID, 0o660)
    assert (folder.stat().st_gid, mode_of(folder)) == (OTHER_GID, 0o770)  # a folder's links are its own
    os.unlink(top / "linked")
    os.link(cache, top / "linked")
    os.link(cache, tmp_path / "third-name")  # three names
    files.share_with_group(top, OTHER_GID)
    assert (os.lstat(cache).st_gid, mode_of(cache)) == (0, 0o600)


def test_settle_for_a_group_never_hands_over_a_hard_linked_file(tmp_path, top):
    cache = made(tmp_path / "cache-file", 0o600)
    os.link(cache, top / "linked")
    plain = made(top / "plain", 0o600)
    assert files.settle(top, [str(top / "linked"), str(plain)], gid=OTHER_GID) == 1
    assert (os.lstat(cache).st_gid, mode_of(cache)) == (0, 0o600)
    assert (plain.stat().st_gid, mode_of(plain)) == (OTHER_GID, 0o660)
    os.chmod(cache, 0o666)  # without a group only write for others goes, links or not
    assert files.settle(top, [str(top / "linked")]) == 1 and mode_of(cache) == 0o664


def test_share_with_group_leaves_a_top_folder_of_another_user(tmp_path):
    top = tmp_path / "top"
    top.mkdir()
    os.chmod(top, 0o700)
    os.chown(top, OTHER_UID, OTHER_GID)
    mine = made(top / "mine", 0o600)
    files.share_with_group(top, 4444)
    assert (os.lstat(top).st_gid, mode_of(top)) == (OTHER_GID, 0o700)
    assert (mine.stat().st_gid, mode_of(mine)) == (4444, 0o660)


# --- settle: sticky folders, links, others' files, group bits -------------------------------------

def test_settle_keeps_sticky_folders_links_and_others_files(tmp_path, top):
    sticky = top / "tmp"
    sticky.mkdir()
    os.chmod(sticky, 0o1777)
    (top / "link").symlink_to(made(tmp_path / "target", 0o666))
    theirs = made(top / "theirs", 0o666)
    os.chown(theirs, OTHER_UID, -1)
    paths = [str(sticky), str(top / "link"), str(theirs)]
    assert files.settle(top, paths) == 0
    assert (mode_of(sticky), mode_of(tmp_path / "target"), mode_of(theirs)) == (0o1777, 0o666, 0o666)
    assert files.settle(top, paths, gid=OTHER_GID) == 1  # the sticky folder is ours: the group's now
    assert (os.lstat(sticky).st_gid, mode_of(sticky)) == (OTHER_GID, 0o1777)
    assert (os.lstat(theirs).st_gid, os.lstat(tmp_path / "target").st_gid) == (0, 0)


def test_settle_gives_the_group_the_owners_bits(top):
    folder = top / "d"
    folder.mkdir()
    os.chmod(folder, 0o1700)
    script = made(top / "run", 0o754)
    private = made(top / "private", 0o600)
    assert files.settle(top, [str(folder), str(script), str(private)], gid=OTHER_GID) == 3
    assert [mode_of(p) for p in (folder, script, private)] == [0o1770, 0o774, 0o660]
    assert {os.lstat(p).st_gid for p in (folder, script, private)} == {OTHER_GID}
    assert files.settle(top, [str(folder), str(script), str(private)], gid=OTHER_GID) == 0


def test_settle_counts_each_file_of_one_folder(top):
    names = ["a", "b", "c"]
    for name in names:
        made(top / name, 0o666)
    assert files.settle(top, [str(top / n) for n in reversed(names)]) == 3
    assert [mode_of(top / n) for n in names] == [0o664] * 3


# --- private_dir -----------------------------------------------------------------------------------

def test_private_dir_takes_the_users_group_when_asked(tmp_path):
    mine = tmp_path / "pyenvmod-me"
    mine.mkdir(mode=0o700)
    os.chown(mine, -1, OTHER_GID)
    files.private_dir(mine, "fix", "elsewhere")
    assert os.lstat(mine).st_gid == OTHER_GID  # without ``group`` it is left as it is
    files.private_dir(mine, "fix", "elsewhere", group=True)
    assert (os.lstat(mine).st_gid, mode_of(mine)) == (os.getegid(), 0o700)
    files.private_dir(mine, "fix", "elsewhere", group=True)  # already: nothing to change
    assert os.lstat(mine).st_gid == os.getegid()


@pytest.mark.parametrize("mode, private", [(0o700, True), (0o750, True), (0o755, True), (0o705, True),
                                           (0o720, False), (0o702, False), (0o770, False), (0o1777, False)])
def test_private_dir_refuses_what_others_may_write(tmp_path, mode, private):
    folder = tmp_path / "pyenvmod-me"
    folder.mkdir()
    os.chmod(folder, mode)
    if private:
        files.private_dir(folder, "fix", "elsewhere", missing="ask")
        assert mode_of(folder) == mode  # an existing folder keeps its mode
    else:
        with pytest.raises(PyenvmodError) as err:
            files.private_dir(folder, "fix", "elsewhere", missing="ask")
        assert str(err.value) == (f"{folder} is not a private folder of yours (someone else made it, or others "
                                  "may write to it); remove it or elsewhere")


def test_private_dir_refuses_a_folder_of_another_user(tmp_path):
    folder = tmp_path / "pyenvmod-me"
    folder.mkdir(mode=0o700)
    os.chown(folder, OTHER_UID, -1)
    with pytest.raises(PyenvmodError, match=f"^{folder} is not a private folder of yours"):
        files.private_dir(folder, "fix", "elsewhere", group=True)
    assert os.lstat(folder).st_gid == 0  # refused before anything is changed


def test_private_dir_made_new_is_private_whatever_the_umask(tmp_path):
    old = os.umask(0)
    try:
        files.private_dir(tmp_path / "a" / "b", "fix", "elsewhere")
    finally:
        os.umask(old)
    assert mode_of(tmp_path / "a") == mode_of(tmp_path / "a" / "b") == 0o700


def test_private_dir_names_a_parent_it_cannot_open(tmp_path):
    with pytest.raises(PyenvmodError) as err:
        files.private_dir(tmp_path / ("x" * 300) / "me", "fix it", "elsewhere")
    assert str(err.value) == f"cannot create {tmp_path / ('x' * 300) / 'me'}: File name too long; fix it"


# --- make_root -------------------------------------------------------------------------------------

def test_make_root_spelled_with_dot_dot_makes_each_folder_once(tmp_path, mask):
    """``a/..`` exists once ``a`` is made: it is passed, never given the new folders' mode."""
    base = tmp_path / "base"
    base.mkdir()
    os.chmod(base, 0o751)
    wanted = base / "a" / ".." / "b"
    assert files.make_root(wanted, 0o700) == wanted
    assert (mode_of(base), mode_of(base / "a"), mode_of(base / "b")) == (0o751, 0o700, 0o700)


def test_make_root_modes_follow_the_umask(tmp_path, mask):
    files.make_root(tmp_path / "x" / "y")
    assert mode_of(tmp_path / "x") == mode_of(tmp_path / "x" / "y") == 0o755
    files.make_root(tmp_path / "g", 0o2775)
    assert mode_of(tmp_path / "g") == 0o2755
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    with pytest.raises(FileExistsError):
        files.make_root(tmp_path / "dangling" / "below")
    assert not (tmp_path / "nowhere").exists()


# --- written_only_by_you_or_root ------------------------------------------------------------------

def test_written_only_by_you_or_root_file_modes(tmp_path):
    folder = tmp_path / "mods"
    folder.mkdir()
    os.chmod(folder, 0o755)
    lua = made(folder / "1.lua", 0o644)
    assert files.written_only_by_you_or_root(lua) is True
    for mode, trusted in ((0o600, True), (0o755, True), (0o4755, True), (0o654, True), (0o645, True),
                          (0o646, False), (0o664, False), (0o624, False), (0o642, False)):
        os.chmod(lua, mode)
        assert files.written_only_by_you_or_root(lua) is trusted, oct(mode)
    os.chmod(lua, 0o644)
    for mode, trusted in ((0o751, True), (0o757, False), (0o1757, True), (0o1775, True), (0o765, False)):
        os.chmod(folder, mode)
        assert files.written_only_by_you_or_root(lua) is trusted, oct(mode)
        assert files.written_only_by_you_or_root(folder, folder=True) is trusted, oct(mode)


def test_written_only_by_you_or_root_whatever_cannot_be_looked_at(tmp_path):
    os.mkfifo(tmp_path / "fifo", 0o644)
    assert files.written_only_by_you_or_root(tmp_path / "fifo") is False
    assert files.written_only_by_you_or_root(f"{tmp_path}/a\0b") is False  # a NUL: ValueError, not trusted
    assert files.written_only_by_you_or_root("/", folder=True) is True  # the walk ends at /
    assert files.written_only_by_you_or_root(tmp_path / "missing", folder=True) is False
    (tmp_path / "f").write_text("")
    assert files.written_only_by_you_or_root(tmp_path / "f", folder=True) is False


def test_written_only_by_you_or_root_trusts_the_owners_given(tmp_path):
    folder = tmp_path / "mods"
    folder.mkdir()
    lua = made(folder / "1.lua", 0o644)
    for path in (folder, lua):
        os.chown(path, OTHER_UID, -1)
    assert files.written_only_by_you_or_root(lua) is False
    assert files.written_only_by_you_or_root(lua, owners=(OTHER_UID,)) is True
    assert files.written_only_by_you_or_root(lua, owners=(1, OTHER_UID)) is True
    os.chown(folder, 0, -1)
    assert files.written_only_by_you_or_root(lua, owners=(OTHER_UID,)) is True  # root's folder
    os.chown(lua, 0, -1)
    os.chown(folder, OTHER_UID + 1, -1)
    assert files.written_only_by_you_or_root(lua, owners=(OTHER_UID,)) is False
    assert files.written_only_by_you_or_root(folder, folder=True, owners=(OTHER_UID + 1,)) is True


# --- replace_in_text_files -----------------------------------------------------------------------

def test_replace_in_text_files_skips_fifos_and_keeps_each_mode(top):
    os.mkfifo(top / "a-fifo")
    made(top / "b", 0o700, "#!/old/python\n")
    made(top / "c", 0o640, "source /old/bin/activate\n/old")
    before = open_fds()
    assert files.replace_in_text_files(top, "/old", "/new") == 2
    assert (top / "b").read_text() == "#!/new/python\n" and (top / "c").read_text() == "source /new/bin/activate\n/new"
    assert (mode_of(top / "b"), mode_of(top / "c")) == (0o700, 0o640)
    assert stat.S_ISFIFO(os.lstat(top / "a-fifo").st_mode)
    assert open_fds() == before
    assert files.replace_in_text_files(top / "missing", "/old", "/new") == 0


# --- remove_inside -----------------------------------------------------------------------------------

def test_remove_inside_of_a_relative_path(tmp_path, monkeypatch):
    root = tmp_path / "root"
    (root / "env" / "bin").mkdir(parents=True)
    (root / "env" / "bin" / "python").write_text("")
    monkeypatch.chdir(root / "env")
    assert files.remove_inside("bin/../bin", root) is True
    assert sorted(os.listdir(root / "env")) == []
    assert files.remove_inside(".", root) is True and os.listdir(root) == []


def test_remove_inside_a_fifo_is_unlinked_never_opened(top):
    os.mkfifo(top / "pipe")
    assert files.remove_inside(top / "pipe", top) is True
    assert not os.path.lexists(top / "pipe")


# --- what no_world_write counts ----------------------------------------------------------------------

def test_no_world_write_counts_no_socket_it_cannot_open(top):
    import socket

    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(top / "a-socket"))
    try:
        os.chmod(top / "a-socket", 0o777)
        made(top / "b-loose", 0o666)
        assert files.no_world_write(top) == 1  # a socket cannot be opened: left, and not counted
        assert (mode_of(top / "a-socket"), mode_of(top / "b-loose")) == (0o777, 0o664)
    finally:
        sock.close()


def test_no_world_write_changes_a_hard_linked_file(tmp_path, top):
    """Only handing to a group spares a file with other names; write for others goes everywhere."""
    cache = made(tmp_path / "cache-file", 0o666)
    os.link(cache, top / "linked")
    assert files.no_world_write(top) == 1 and mode_of(cache) == 0o664


# --- written_only_by_you_or_root: every folder up to / --------------------------------------------

def test_written_only_by_you_or_root_looks_at_every_folder_above(tmp_path):
    upper = tmp_path / "upper"
    lower = upper / "lower"
    lower.mkdir(parents=True)
    os.chmod(upper, 0o755)
    os.chmod(lower, 0o755)
    lua = made(lower / "1.lua", 0o644)
    assert files.written_only_by_you_or_root(lua) is True
    assert files.written_only_by_you_or_root(lower, folder=True) is True
    os.chmod(upper, 0o775)  # the group may replace lower, and so the file
    assert files.written_only_by_you_or_root(lua) is False
    assert files.written_only_by_you_or_root(lower, folder=True) is False
    os.chmod(upper, 0o755)
    os.chown(upper, OTHER_UID, -1)
    assert files.written_only_by_you_or_root(lua) is False
    assert files.written_only_by_you_or_root(lua, owners=(OTHER_UID,)) is True


def test_written_only_by_you_or_root_trusts_root_for_every_user():
    """Run as another uid (nobody) in a forked child: root's files and folders are trusted like its
    own, another user's are not. (As root the two cannot be told apart.) In a folder of /tmp that
    nobody may enter (pytest's own is private)."""
    import shutil
    import tempfile
    from pathlib import Path

    if os.geteuid() != 0:
        pytest.fail("needs root (to run the child as another uid)") if os.environ.get("CI") == "true" \
            else pytest.skip("needs root")
    top = Path(tempfile.mkdtemp(prefix="written-only-"))
    try:
        top.chmod(0o755)
        _trusted_as_nobody(top / "roots")
    finally:
        shutil.rmtree(top)


def _trusted_as_nobody(roots):
    import json

    roots.mkdir(mode=0o755)
    made(roots / "root.lua", 0o644)
    made(roots / "nobodys.lua", 0o644)
    made(roots / "others.lua", 0o644)
    os.chown(roots / "nobodys.lua", 65534, -1)
    os.chown(roots / "others.lua", OTHER_UID, -1)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(read)
            os.setgid(65534)
            os.setuid(65534)
            answer = [files.written_only_by_you_or_root(roots / name)
                      for name in ("root.lua", "nobodys.lua", "others.lua")]
            answer.append(files.written_only_by_you_or_root(roots, folder=True))
            answer.append(files.written_only_by_you_or_root(roots / "others.lua", owners=(OTHER_UID,)))
            os.write(write, json.dumps(answer).encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as fh:
        answer = fh.read()
    os.waitpid(pid, 0)
    assert json.loads(answer or b"null") == [True, True, False, True, True]
    # and for root itself (a call in this process, which mutmut sees): nobody is trusted by nobody only
    assert [files.written_only_by_you_or_root(roots / name) for name in ("root.lua", "nobodys.lua")] == [True, False]


def test_read_bytes_with_headers_cut_off_keeps_every_byte_in_order(tmp_path):
    """A METADATA file without an empty line, longer than the cap: the first ``limit`` bytes exactly,
    read across several chunks and joined as they were."""
    chunk = 1 << 16
    data = bytes(range(1, 256)) * (3 * chunk // 255 + 1)  # no empty line anywhere
    meta = tmp_path / "METADATA"
    meta.write_bytes(data)
    assert files.read_bytes(meta, 2 * chunk + 7, headers=True) == data[:2 * chunk + 7]
    assert files.read_bytes(meta, len(data), headers=True) == data
