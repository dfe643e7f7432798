"""caches.buckets in-process: what emptying a cache removes, per tool, on a real folder holding every
kind of entry (the rules that decide whether a folder is a cache at all are in test_trust_doctor_fix.py)."""

from pathlib import Path

from pyenvmod import caches


def folder_with_everything(tmp_path) -> Path:
    folder = tmp_path / "cache"
    folder.mkdir()
    for name in ["archive-v0", "wheels-v5", "sdists", "CACHEDIR.TAG", ".lock",  # uv
                 "http", "http-v2", "wheels", "selfcheck", "selfcheck.json",  # pip
                 "numpy-2.0-0.conda", "six-1.16-0.tar.bz2", "cache", "unpacked-pkg", "urls.txt",  # conda
                 "mine.txt", "XselfcheckX", "pkg.tar.gz"]:
        (folder / name).mkdir() if "." not in name or name.endswith("-v5") else (folder / name).write_text("")
    (folder / "unpacked-pkg" / "info").mkdir()
    (folder / "unpacked-pkg" / "info" / "index.json").write_text("{}")
    (folder / "no-index").mkdir()
    return folder


def names(paths) -> list:
    return [p.name for p in paths]


def test_each_tool_empties_its_own_entries_only(tmp_path):
    folder = folder_with_everything(tmp_path)
    assert names(caches.buckets(folder, "uv")) == ["archive-v0", "http-v2", "wheels-v5"]  # uv's NAME-vN form
    assert names(caches.buckets(folder, "pip")) == ["http", "http-v2", "selfcheck", "selfcheck.json", "wheels"]
    assert names(caches.buckets(folder, "conda")) == ["cache", "numpy-2.0-0.conda", "six-1.16-0.tar.bz2",
                                                       "unpacked-pkg"]
    assert caches.buckets(folder, "PIP") == [] and caches.buckets(folder, "other") == []


def test_buckets_are_named_by_the_folder_a_link_leads_to(tmp_path):
    folder = folder_with_everything(tmp_path)
    (tmp_path / "alias").symlink_to(folder)
    assert caches.buckets(tmp_path / "alias", "conda")[0] == folder / "cache"


def refused(path, tool, tmp_path):
    return caches.refusal(path, tool, home=str(tmp_path / "home"))


def test_what_is_never_a_cache_is_said_exactly(tmp_path):
    (tmp_path / "home").mkdir()
    (tmp_path / "file").write_text("")
    assert refused("relative/cache", "uv", tmp_path) == "it is not an absolute path"
    assert refused("/proc", "uv", tmp_path) == "it is a whole filesystem"
    assert refused(str(tmp_path / "file"), "pip", tmp_path) == "it is not a folder"


def test_each_tools_layout_is_said_exactly(tmp_path):
    (tmp_path / "home").mkdir()
    uv = tmp_path / "uv"
    uv.mkdir()
    assert refused(str(uv), "uv", tmp_path) == "it has no CACHEDIR.TAG, which uv writes into its cache"
    (uv / "CACHEDIR.TAG").write_text("not a tag")
    assert refused(str(uv), "uv", tmp_path) == "its CACHEDIR.TAG is not a cache directory tag"
    pip = tmp_path / "pip"
    pip.mkdir()
    (pip / "selfcheck.json").write_text("{}")
    assert refused(str(pip), "pip", tmp_path) == "it has none of pip's http, http-v2 or wheels folders"
    real = tmp_path / "real-http"
    real.mkdir()
    (pip / "http").symlink_to(real)
    assert refused(str(pip), "pip", tmp_path) == "its http is not a plain folder"
    conda = tmp_path / "conda"
    conda.mkdir()
    assert refused(str(conda), "conda", tmp_path) == "it has no urls.txt, which conda keeps in its package folder"
