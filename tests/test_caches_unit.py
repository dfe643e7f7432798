"""caches.py in-process (mutation scope of the trust code): each refusal word for word, exactly
which entries emptying removes for uv, pip and conda on a real folder holding every kind of entry,
and that a symlinked bucket goes as a link. Real folders; test_trust_doctor_fix.py drives the same
through `doctor --fix`."""

import os
from pathlib import Path

import pytest

from pyenvmod.trust import caches

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


def pip_cache(folder: Path, layout: dict) -> Path:
    folder.mkdir(parents=True)
    for bucket, children in layout.items():
        (folder / bucket).mkdir()
        for child in children:
            (folder / bucket / child).mkdir()
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
    for bucket, other in (("wheels", "http"), ("http", "wheels")):  # whichever bucket it is
        c = pip_cache(tmp_path / f"linked-{bucket}", {other: []})
        (c / bucket).symlink_to(home)
        assert caches.refusal(c, "pip", home=home) == f"its {bucket} is not a plain folder"
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


def folder_with_everything(folder: Path) -> Path:
    """One folder holding what uv, pip and conda make, and names that only look like theirs."""
    folder.mkdir()
    for name in ("archive-v0", "wheels-v5", "http-v2", "sdists", "notes",  # uv: NAME-vN only
                 "http", "wheels", "selfcheck", "XselfcheckX", "other",  # pip: its exact names
                 "cache", "no-index"):  # conda: and package folders holding info/index.json
        (folder / name).mkdir()
    for name in ("CACHEDIR.TAG", ".lock", "selfcheck.json", "numpy-2.0-0.conda", "six-1.16-0.tar.bz2",
                 "pkg.tar.gz", "c.tar", "urls.txt", "mine.txt"):
        (folder / name).write_text("")
    (folder / "numpy-1" / "info").mkdir(parents=True)
    (folder / "numpy-1" / "info" / "index.json").write_text("{}")
    (folder / "half" / "info" / "index.json").mkdir(parents=True)  # a folder, not the file
    return folder


@pytest.mark.parametrize("tool,removed", [
    ("uv", ["archive-v0", "http-v2", "wheels-v5"]),
    ("pip", ["http", "http-v2", "selfcheck", "selfcheck.json", "wheels"]),
    ("conda", ["cache", "numpy-1", "numpy-2.0-0.conda", "six-1.16-0.tar.bz2"]),
    ("PIP", []),
    ("other", []),
])
def test_each_tool_empties_its_own_entries_only(tmp_path, tool, removed):
    folder = folder_with_everything(tmp_path / "cache")
    assert caches.buckets(folder, tool) == [folder / name for name in removed]


def test_buckets_are_named_by_the_folder_a_link_leads_to(tmp_path):
    folder = folder_with_everything(tmp_path / "cache")
    (tmp_path / "alias").symlink_to(folder)
    assert caches.buckets(tmp_path / "alias", "uv") == [folder / n for n in ("archive-v0", "http-v2", "wheels-v5")]


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
