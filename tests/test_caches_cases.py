"""caches.py in-process (issue 17: mutation scope of the trust code): each refusal word for word,
exactly which entries emptying removes for uv, pip and conda, and that a symlinked bucket goes
as a link. Real folders; test_trust_doctor_fix.py drives the same through `doctor --fix`."""

import os
from pathlib import Path

import pytest

from pyenvmod import caches

TAG = "Signature: 8a477f597d28d172789f06886806bc55\n# uv\n"


@pytest.fixture
def where(tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return home


def uv_cache(folder: Path, *entries) -> Path:
    folder.mkdir(parents=True)
    (folder / "CACHEDIR.TAG").write_text(TAG)
    for entry in entries:
        (folder / entry).mkdir()
    return folder


def test_signature_is_the_cachedir_standard():
    assert caches.CACHEDIR_SIGNATURE == b"Signature: 8a477f597d28d172789f06886806bc55"
    assert caches.TOOLS == ("uv", "pip", "conda")


def test_refusals_word_for_word(tmp_path, where):
    home = where
    assert caches.refusal("rel", "uv", home=home) == "it is not an absolute path"
    assert caches.refusal(home, "uv", home=home) == "it is your home folder"
    assert caches.refusal(f"{home}/", "pip", home=home) == "it is your home folder"
    assert caches.refusal(tmp_path, "uv", home=home) == "it holds your home folder"
    assert caches.refusal(os.getcwd(), "uv", home=home) == "it is the working folder"
    root = tmp_path / "x" / "root"
    root.mkdir(parents=True)
    assert caches.refusal(root, "uv", home=home, protected=[root]) == "it is pyenvmod's root"
    assert caches.refusal(tmp_path / "x", "uv", home=home, protected=["/nowhere", root]) == "it holds pyenvmod's root"
    assert caches.refusal("/proc", "uv", home=home) == "it is a whole filesystem"
    assert caches.refusal(tmp_path / "missing", "uv", home=home) == "it is not a folder"
    (tmp_path / "file").write_text("")
    assert caches.refusal(tmp_path / "file", "pip", home=home) == "it is not a folder"
    uv = uv_cache(tmp_path / "uv", "wheels-v5")
    assert caches.refusal(uv, "uv", home=home) is None
    (tmp_path / "link").symlink_to(home)
    assert caches.refusal(tmp_path / "link", "uv", home=home) == "it is your home folder"
    (tmp_path / "sibling").mkdir()
    assert caches.refusal(tmp_path / "home2", "uv", home=home) == "it is not a folder"  # a prefix, not a parent


def test_uv_rules(tmp_path, where):
    home = where
    cache = uv_cache(tmp_path / "uv", "wheels-v5", "archive-v0", "built-wheels-v3", "sdists-v9")
    for other in (".gitignore", ".lock"):
        (cache / other).write_text("")
    assert caches.refusal(cache, "uv", home=home) is None
    for stranger in ("Wheels-v5", "wheels-v", "wheels", "wheels-v5x", "5-v1", "notes"):
        (cache / stranger).mkdir()
        assert caches.refusal(cache, "uv", home=home) == f"it holds {stranger!r}, which uv does not make"
        (cache / stranger).rmdir()
    (cache / "CACHEDIR.TAG").write_text("Signature: 8a477f597d28d172789f06886806bc5")
    assert caches.refusal(cache, "uv", home=home) == "its CACHEDIR.TAG is not a cache directory tag"
    (cache / "CACHEDIR.TAG").unlink()
    assert caches.refusal(cache, "uv", home=home) == "it has no CACHEDIR.TAG, which uv writes into its cache"
    (cache / "CACHEDIR.TAG").mkdir()
    assert caches.refusal(cache, "uv", home=home) == "it has no CACHEDIR.TAG, which uv writes into its cache"


def pip_cache(folder: Path, layout: dict) -> Path:
    folder.mkdir(parents=True)
    for bucket, children in layout.items():
        (folder / bucket).mkdir()
        for child in children:
            (folder / bucket / child).mkdir()
    return folder


def test_pip_rules(tmp_path, where):
    home = where
    full = {"http": list("0123456789abcdef"), "http-v2": ["a"], "wheels": ["ab", "0f"]}
    cache = pip_cache(tmp_path / "pip", full)
    for other in ("selfcheck", "selfcheck.json", "CACHEDIR.TAG"):
        (cache / other).write_text("")
    assert caches.refusal(cache, "pip", home=home) is None
    assert caches.refusal(pip_cache(tmp_path / "w", {"wheels": []}), "pip", home=home) is None
    assert caches.refusal(pip_cache(tmp_path / "h", {"http-v2": []}), "pip", home=home) is None
    assert caches.refusal(pip_cache(tmp_path / "e", {}), "pip", home=home) == \
        "it has none of pip's http, http-v2 or wheels folders"
    for bucket, odd in (("http", "ab"), ("http", "g"), ("http-v2", "A"), ("wheels", "a"), ("wheels", "abc"),
                        ("wheels", "zz")):
        c = pip_cache(tmp_path / f"{bucket}-{odd}", {bucket: [odd]})
        assert caches.refusal(c, "pip", home=home) == f"its {bucket} folder holds {odd!r}, which pip does not make"
    c = pip_cache(tmp_path / "later", {"http": ["a"], "wheels": ["a"]})  # every bucket is checked
    assert caches.refusal(c, "pip", home=home) == "its wheels folder holds 'a', which pip does not make"
    c = pip_cache(tmp_path / "s", {"http": []})
    (c / "stuff").mkdir()
    assert caches.refusal(c, "pip", home=home) == "it holds 'stuff', which pip does not make"
    c = pip_cache(tmp_path / "linked", {"http": []})
    (c / "wheels").symlink_to(home)
    assert caches.refusal(c, "pip", home=home) == "its wheels is not a plain folder"
    c = pip_cache(tmp_path / "filebucket", {"http": []})
    (c / "wheels").write_text("")
    assert caches.refusal(c, "pip", home=home) == "its wheels is not a plain folder"


def test_conda_rule(tmp_path, where):
    pkgs = tmp_path / "pkgs"
    pkgs.mkdir()
    assert caches.refusal(pkgs, "conda", home=where) == \
        "it has no urls.txt, which conda keeps in its package folder"
    (pkgs / "urls.txt").write_text("")
    assert caches.refusal(pkgs, "conda", home=where) is None


def test_buckets_per_tool(tmp_path):
    uv = uv_cache(tmp_path / "uv", "wheels-v5", "archive-v0", "notes")
    (uv / ".lock").write_text("")
    assert caches.buckets(uv, "uv") == [uv / "archive-v0", uv / "wheels-v5"]
    pip = pip_cache(tmp_path / "pip", {"wheels": [], "http": [], "http-v2": [], "other": []})
    (pip / "selfcheck.json").write_text("")
    (pip / "selfcheck").mkdir()
    (pip / "CACHEDIR.TAG").write_text(TAG)
    assert caches.buckets(pip, "pip") == [pip / n for n in ("http", "http-v2", "selfcheck", "selfcheck.json",
                                                             "wheels")]
    pkgs = tmp_path / "pkgs"
    (pkgs / "numpy-1" / "info").mkdir(parents=True)
    (pkgs / "numpy-1" / "info" / "index.json").write_text("{}")
    (pkgs / "half" / "info" / "index.json").mkdir(parents=True)  # a folder, not the file
    (pkgs / "cache").mkdir()
    for name in ("a.conda", "b.tar.bz2", "urls.txt", "c.tar", "notes.txt"):
        (pkgs / name).write_text("")
    assert caches.buckets(pkgs, "conda") == [pkgs / n for n in ("a.conda", "b.tar.bz2", "cache", "numpy-1")]
    (tmp_path / "uvlink").symlink_to(uv)
    assert caches.buckets(tmp_path / "uvlink", "uv") == [uv / "archive-v0", uv / "wheels-v5"]
    assert caches.buckets(pkgs, "uv") == [] and caches.buckets(uv, "conda") == []


def test_empty_removes_buckets_only_and_links_as_links(tmp_path, where):
    home = where
    (home / "precious").write_text("x")
    cache = uv_cache(tmp_path / "uv", "archive-v0")
    (cache / "archive-v0" / "deep").mkdir()
    (cache / "wheels-v5").symlink_to(home)
    (cache / ".lock").write_text("")
    (tmp_path / "via").symlink_to(cache)
    assert caches.empty(tmp_path / "via", "uv", home=home) == f"emptied {tmp_path / 'via'}"
    assert sorted(p.name for p in cache.iterdir()) == [".lock", "CACHEDIR.TAG"]
    assert (home / "precious").read_text() == "x"
    root = tmp_path / "uv" / "inner"
    root.mkdir()
    assert caches.empty(cache, "uv", home=home, protected=[root]) == \
        f"left {cache} alone: it holds pyenvmod's root"
    assert root.is_dir()
