"""The tar stream of an image, written without the tarfile module (which cost pack half its time).

Every member gets the ustar header tarfile writes in its PAX format: name, mode, uid and gid 0,
size, whole-second mtime, type, link target, empty owner names. A member ustar cannot hold (a
name or link target longer than 100 bytes or not ASCII, a size of 8 GiB or more) is handed to
tarfile itself, which puts a PAX extended header before it, as before. The stream ends as
tarfile and GNU tar end theirs: two zero blocks, padded to a record of 20 blocks. 'stage'
unpacks it with GNU tar, as every image before.
"""

import struct

BLOCK = 512
RECORD = 20 * BLOCK
REGULAR, SYMLINK, DIRECTORY = b"0", b"2", b"5"
_ZEROS = bytes(RECORD + 2 * BLOCK)
_FIELDS = struct.Struct("100s8s8s8s12s12s8sc100s8s32s32s8s8s155s12x")  # POSIX ustar, 512 bytes
_MAX_SIZE = 8 ** 11  # 11 octal digits
_ZERO_ID = b"0000000\0"  # uid and gid 0
_MAGIC = b"ustar\x0000"  # ustar, version 00
_CHECKSUM_BLANK = b" " * 8  # the checksum is summed with its own field as spaces


# what the fields every header shares add to its checksum: ids, blank checksum, magic (the rest is NULs)
_SHARED_SUM = 2 * sum(_ZERO_ID) + sum(_CHECKSUM_BLANK) + sum(_MAGIC)


def header(name: str, mode: int, mtime: int, kind: bytes = REGULAR, size: int = 0, link: str = "") -> bytes:
    """The header block(s) of one member. ``mode``: the permission bits; ``mtime``: whole seconds."""
    if kind == DIRECTORY and not name.endswith("/"):
        name += "/"  # as tarfile and GNU tar name folders
    if name.isascii() and link.isascii() and len(name) <= 100 and len(link) <= 100 and 0 <= size < _MAX_SIZE \
            and 0 <= mtime < _MAX_SIZE:
        fields = (name.encode(), b"%07o\0" % (mode & 0o7777), b"%011o\0" % size, b"%011o\0" % mtime, kind,
                  link.encode())
        checksum = _SHARED_SUM + sum(map(sum, fields))  # the byte sum of the block, counted on its few fields
        return _FIELDS.pack(fields[0], fields[1], _ZERO_ID, _ZERO_ID, fields[2], fields[3], b"%06o\0 " % checksum,
                            kind, fields[5], _MAGIC, b"", b"", b"", b"", b"")
    return _with_pax(name, mode, mtime, kind, size, link)


def _with_pax(name: str, mode: int, mtime: int, kind: bytes, size: int, link: str) -> bytes:
    """tarfile's own PAX extended header and ustar header, for the rare member ustar cannot hold."""
    import tarfile

    info = tarfile.TarInfo(name)
    info.mode, info.mtime, info.type, info.size, info.linkname = mode & 0o7777, mtime, kind, size, link
    return info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")


def padding(size: int) -> bytes:
    """The zeros after ``size`` bytes of a member's data, up to a whole block."""
    return _ZEROS[:-size % BLOCK]


def end(written: int) -> bytes:
    """The end of an archive of ``written`` bytes so far: two zero blocks, then zeros to a whole record."""
    written += 2 * BLOCK
    return _ZEROS[:2 * BLOCK + (-written % RECORD)]
