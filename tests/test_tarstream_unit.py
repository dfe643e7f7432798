"""The image's tar stream (staging/tarstream.py, operations/pack.py's _Pipe), written without tarfile:
every header is the one tarfile writes in its PAX format, and GNU tar (what 'stage' unpacks with)
reads the stream back member for member."""

import os
import subprocess
import tarfile
import threading

import pytest

from pyenvmod.staging import tarstream


def _tarfile_header(name, mode, mtime, kind, size=0, link=""):
    info = tarfile.TarInfo(name)
    info.mode, info.mtime, info.type, info.size, info.linkname = mode, mtime, kind, size, link
    return info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")


CASES = [
    ("env/lib/python3.12/site-packages/m.py", 0o644, 1700000000, tarstream.REGULAR, 123, ""),
    ("env/bin", 0o755, 1, tarstream.DIRECTORY, 0, ""),
    ("env/bin/", 0o2775, 1, tarstream.DIRECTORY, 0, ""),
    ("env/bin/python", 0o777, 5, tarstream.SYMLINK, 0, "../../base/bin/python3.12"),
    ("a" * 100, 0o4755, 0, tarstream.REGULAR, 0, ""),  # exactly what ustar holds
    ("a" * 101, 0o644, 0, tarstream.REGULAR, 0, ""),  # one more: a PAX header
    ("a" * 99, 0o755, 0, tarstream.DIRECTORY, 0, ""),  # 100 with its slash
    ("a" * 100, 0o755, 0, tarstream.DIRECTORY, 0, ""),  # 101 with its slash: PAX
    ("env/é.py", 0o644, 0, tarstream.REGULAR, 7, ""),  # not ASCII: PAX
    ("env/x\udcff", 0o644, 0, tarstream.REGULAR, 1, ""),  # a name that is not UTF-8
    ("env/l", 0o777, 0, tarstream.SYMLINK, 0, "b" * 100),
    ("env/l", 0o777, 0, tarstream.SYMLINK, 0, "b" * 101),
    ("env/l", 0o777, 0, tarstream.SYMLINK, 0, "ü"),
    ("env/big", 0o644, 8 ** 11 - 1, tarstream.REGULAR, 8 ** 11 - 1, ""),  # the largest ustar numbers
    ("env/huge", 0o644, 0, tarstream.REGULAR, 8 ** 11, ""),  # 8 GiB: PAX
    ("env/late", 0o644, 8 ** 11, tarstream.REGULAR, 0, ""),
    ("env/mode", 0o170755, 0, tarstream.REGULAR, 0, ""),  # type bits in the mode are dropped
]


@pytest.mark.parametrize("case", CASES, ids=range(len(CASES)))
def test_each_header_is_the_one_tarfile_writes(case):
    name, mode, mtime, kind, size, link = case
    ours = tarstream.header(name, mode, mtime, kind, size, link)
    assert ours == _tarfile_header(name, mode & 0o7777, mtime, kind, size, link)
    assert len(ours) % tarstream.BLOCK == 0


def test_padding_and_the_end_fill_whole_blocks_and_a_whole_record():
    assert [len(tarstream.padding(n)) for n in (0, 1, 511, 512, 513, 1024)] == [0, 511, 1, 0, 511, 0]
    assert set(tarstream.padding(5)) == {0}
    for written in (0, 512, 10240 - 1024, 10240 - 512, 10240, 5 * 512):
        end = tarstream.end(written)
        assert set(end) == {0} and len(end) >= 1024 and (written + len(end)) % tarstream.RECORD == 0, written


def test_gnu_tar_reads_a_stream_of_every_kind_back(tmp_path):
    members = [("env/", tarstream.DIRECTORY, b"", ""), ("env/m.py", tarstream.REGULAR, b"x = 1\n", ""),
               ("env/" + "d" * 120 + ".txt", tarstream.REGULAR, b"long", ""),
               ("env/é.txt", tarstream.REGULAR, b"a" * 512, ""), ("env/empty", tarstream.REGULAR, b"", ""),
               ("env/link", tarstream.SYMLINK, b"", "m.py")]
    chunks = []
    for name, kind, data, link in members:
        chunks += [tarstream.header(name, 0o640, 1700000000, kind, len(data), link), data,
                   tarstream.padding(len(data))]
    stream = b"".join(chunks)
    stream += tarstream.end(len(stream))
    (tmp_path / "out").mkdir()
    subprocess.run(["tar", "-x", "-C", str(tmp_path / "out")], input=stream, check=True)
    out = tmp_path / "out" / "env"
    assert (out / "m.py").read_bytes() == b"x = 1\n" and (out / ("d" * 120 + ".txt")).read_bytes() == b"long"
    assert (out / "é.txt").read_bytes() == b"a" * 512 and (out / "empty").read_bytes() == b""
    assert os.readlink(out / "link") == "m.py"
    assert (out / "m.py").stat().st_mtime == 1700000000 and oct((out / "m.py").stat().st_mode & 0o777) == "0o640"
    listing = subprocess.run(["tar", "-t"], input=stream, capture_output=True, check=True).stdout.decode()
    assert listing.splitlines() == [m[0] for m in members]  # GNU tar sees no trailing garbage


def test_the_pipe_hands_every_piece_over_in_order_even_after_short_writes(monkeypatch):
    from pyenvmod.operations import pack

    r, w = os.pipe()
    got = []
    reader = threading.Thread(target=lambda: got.append(b"".join(iter(lambda: os.read(r, 65536), b""))))
    reader.start()
    real = os.writev
    monkeypatch.setattr(pack.os, "writev", lambda fd, pieces: real(fd, [bytes(pieces[0])[:3]]))  # 3 bytes a call
    pipe = pack._Pipe(w)
    pieces = [b"abcdefg", b"", b"h", bytes(range(256)) * 5]
    for piece in pieces:
        pipe.put(piece)
    pipe.flush()
    os.close(w)
    reader.join(10)
    os.close(r)
    assert got == [b"".join(pieces)] and pipe.written == len(b"".join(pieces))


def test_the_pipe_writes_once_it_holds_a_chunk_or_as_many_pieces_as_writev_takes(monkeypatch):
    from pyenvmod.operations import pack

    calls = []
    monkeypatch.setattr(pack.os, "writev", lambda fd, pieces: calls.append(len(pieces)) or sum(map(len, pieces)))
    pipe = pack._Pipe(-1)
    pipe.put(b"x" * (pack.PIPE_CHUNK - 1))
    assert calls == []
    pipe.put(b"y")
    assert calls == [2] and pipe.pieces == [] and pipe.pending == 0
    for _ in range(pack.IOV_MAX):
        pipe.put(b"z")
    assert calls == [2, pack.IOV_MAX]


def test_every_member_ustar_can_hold_takes_the_fast_path_never_tarfiles(monkeypatch):
    """tarfile's header cost pack half its time: only a member ustar cannot hold may take it. Each case
    sits on a bound of what ustar holds (the same headers as tarfile's, test above; here: without it)."""
    def refuse(*args):
        raise AssertionError(f"tarfile's path taken for {args}")

    monkeypatch.setattr(tarstream, "_with_pax", refuse)
    for name, mode, mtime, kind, size, link in [
            ("a" * 100, 0o644, 0, tarstream.REGULAR, 0, ""), ("a" * 99, 0o755, 0, tarstream.DIRECTORY, 0, ""),
            ("env/l", 0o777, 0, tarstream.SYMLINK, 0, "b" * 100), ("env/f", 0o644, 0, tarstream.REGULAR, 1, ""),
            ("env/big", 0o644, 8 ** 11 - 1, tarstream.REGULAR, 8 ** 11 - 1, ""),
            ("env/old", 0o644, 1, tarstream.REGULAR, 88, "")]:
        assert len(tarstream.header(name, mode, mtime, kind, size, link)) == tarstream.BLOCK
    with pytest.raises(AssertionError, match="tarfile's path"):
        tarstream.header("a" * 101, 0o644, 0)


def test_a_header_without_size_or_link_is_one_of_an_empty_member_without_a_link():
    assert tarstream.header("env/f", 0o644, 7) == _tarfile_header("env/f", 0o644, 7, tarstream.REGULAR)
    assert tarstream.header("env/d", 0o755, 7, tarstream.DIRECTORY) == _tarfile_header("env/d/", 0o755, 7,
                                                                                         tarstream.DIRECTORY)


def test_the_pipe_never_hands_the_kernel_more_pieces_than_one_writev_takes():
    """Thousands of small files (three pieces each) before a chunk's worth of bytes: each writev gets at
    most IOV_MAX pieces, or Linux refuses it (EINVAL) and pack fails."""
    from pyenvmod.operations import pack

    r, w = os.pipe()
    got = []
    reader = threading.Thread(target=lambda: got.append(b"".join(iter(lambda: os.read(r, 65536), b""))),
                              daemon=True)
    reader.start()
    pipe = pack._Pipe(w)
    pieces = [bytes([i % 251]) for i in range(3 * pack.IOV_MAX + 7)]
    try:
        for piece in pieces:
            pipe.put(piece)
        pipe.flush()
    finally:
        os.close(w)  # the reader ends either way
        reader.join(10)
        os.close(r)
    assert pack.IOV_MAX <= os.sysconf("SC_IOV_MAX")
    assert got == [b"".join(pieces)] and pipe.written == len(pieces)
