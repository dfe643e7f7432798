"""pack's own tar stream (issue 25), in-process on a real small environment (a venv without pip, its
interpreter inside it as conda's is): every file reaches the image whole and byte for byte, the
relocation list names exactly the files that mention an old prefix, files over the scan limit are
copied in chunks without being searched, and the stream ends as GNU tar expects."""

import os
import stat
import subprocess
import tarfile

import pytest

from guardenv import World
from pyenvmod.errors import PyenvmodError
from pyenvmod.staging import images_dir


@pytest.fixture
def world(tmp_path, monkeypatch) -> World:
    return World(tmp_path, monkeypatch)


def _members(path):
    data = subprocess.run(["zstd", "-d", "-c", "-q", str(path)], capture_output=True, check=True).stdout
    out = {}
    raw = tmp = path.parent / "image.tar"
    tmp.write_bytes(data)
    with tarfile.open(raw) as tar:
        for info in tar:
            out[info.name] = (info, tar.extractfile(info).read() if info.isfile() else None)
    tmp.unlink()
    return out, data


@pytest.mark.parametrize("big", [1 << 20, 16], ids=["small-files-read-whole", "one-buffer-for-all"])
def test_every_file_is_packed_whole_and_the_relocation_list_is_exact(world, monkeypatch, big):
    """With ``big`` 16, every file of 16 bytes or more goes through the one reused buffer: a larger one
    before a smaller one leaves bytes there (a prefix, say) that must never be searched or packed."""
    from pyenvmod.operations import pack
    from pyenvmod.staging import relocate

    record = world.make("e", backend="conda")
    prefix = record.prefix
    site = world.site(prefix)
    files = {"mentions.py": f"PREFIX = {prefix!r}\n".encode(), "plain.py": b"x = 1\n",
             "binary.dat": b"\0\1" + prefix.encode() + b"\0",  # not text, not ELF: left alone
             "lib.so": b"\x7fELF" + b"\0" * 12 + prefix.encode() + b"/lib\0",
             "big.txt": prefix.encode() + b"\n" + b"y" * 3000,  # over the (lowered) scan limit: not searched
             "exact.bin": b"z" * 1024, "empty.txt": b""}
    for name, data in files.items():
        (site / name).write_bytes(data)
    os.chmod(site / "lib.so", 0o755)
    (site / "link.py").symlink_to(site / "plain.py")  # an absolute link inside the tree
    monkeypatch.setattr(relocate, "SCAN_LIMIT", 2048)
    monkeypatch.setattr(pack, "PIPE_CHUNK", 1000)  # big.txt crosses chunks
    monkeypatch.setattr(pack, "BIG", big)
    manifest, path = pack.pack(world.config, "e")
    members, raw = _members(path)
    rel = os.path.relpath(site, prefix)
    for name, data in files.items():
        info, content = members[f"env/{rel}/{name}"]
        assert content == data, name
        assert info.mode == stat.S_IMODE(os.lstat(site / name).st_mode) and info.uid == info.gid == 0
        assert info.mtime == int(os.lstat(site / name).st_mtime)
    assert members[f"env/{rel}/link.py"][0].linkname == "plain.py"
    # the files that mention the prefix: text (no NUL in the first 8 KB) or ELF, no bytecode, none too big
    expected = []
    for folder, _, names in os.walk(prefix):
        for name in names:
            full = os.path.join(folder, name)
            data = b"" if os.path.islink(full) else open(full, "rb").read()
            if prefix.encode() in data and len(data) <= 2048 and not name.endswith(".pyc") \
                    and (b"\0" not in data[:8192] or data.startswith(b"\x7fELF")):
                expected.append("env/" + os.path.relpath(full, prefix))
    assert {f"env/{rel}/mentions.py", f"env/{rel}/lib.so", "env/pyvenv.cfg"} <= set(expected)
    assert sorted(manifest.relocate) == sorted(expected)
    assert manifest.size == sum(os.lstat(os.path.join(d, f)).st_size for d, _, fs in os.walk(prefix) for f in fs
                                if not os.path.islink(os.path.join(d, f)))
    # every file and folder of the environment is there, and nothing else but the manifest
    walked = {"env"} | {f"env/{os.path.relpath(os.path.join(d, n), prefix)}" for d, ds, fs in os.walk(prefix)
                        for n in ds + fs}
    assert set(members) == walked | {"manifest.json"}
    assert len(raw) % (20 * 512) == 0 and raw[-1024:] == bytes(1024)


def test_a_large_file_that_shrinks_while_it_is_packed_is_refused(world, monkeypatch):
    from pyenvmod.operations import pack
    from pyenvmod.staging import relocate

    record = world.make("e", backend="conda")
    (world.site(record.prefix) / "big.txt").write_bytes(b"y" * 5000)
    monkeypatch.setattr(relocate, "SCAN_LIMIT", 100)
    real = pack.os.read
    monkeypatch.setattr(pack.os, "read", lambda fd, n: b"" if n == 5000 else real(fd, n))
    monkeypatch.setattr(pack, "PIPE_CHUNK", 8192)
    with pytest.raises(PyenvmodError, match="big.txt of the environment shrank while it was packed; pack again"):
        pack.pack(world.config, "e")
    assert not list(path for path in images_dir(world.layout, "e").iterdir() if path.name.startswith("."))


def test_a_file_read_short_is_read_on_until_its_size_or_its_end(tmp_path):
    from pyenvmod.operations import pack

    path = tmp_path / "f"
    path.write_bytes(b"abcdef")
    fd = os.open(path, os.O_RDONLY)
    try:
        assert pack._read_rest(fd, 6, os.read(fd, 2)) == b"abcdef"
        os.lseek(fd, 0, 0)
        assert pack._read_rest(fd, 10, os.read(fd, 2)) == b"abcdef"  # shrank: what there is
        assert pack._read_rest(fd, 6, b"") == b""
    finally:
        os.close(fd)
