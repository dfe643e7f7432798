"""doctor --fix deletes only what is provably a cache (issue 12, hole 3): hostile cache variables
pointing at the home folder, /, the working folder, a parent of pyenvmod's root, a symlink to home,
a folder with a CACHEDIR.TAG that is home... are reported and left alone; a real uv cache is emptied."""

import json
import os
import subprocess
from pathlib import Path

import pytest

from pyenvmod.trust import caches

TAG = "Signature: 8a477f597d28d172789f06886806bc55\n# uv\n"


def snapshot(top: Path) -> dict:
    """Every path under ``top`` (not following links) with its size: what must survive."""
    out = {}
    for folder, dirs, names in os.walk(top):
        for name in [*dirs, *names]:
            path = os.path.join(folder, name)
            out[path] = os.lstat(path).st_size
    return out


def precious(home: Path):
    """A home folder a careless --fix would empty: files, and folders named like caches' buckets."""
    (home / "thesis").mkdir(parents=True, exist_ok=True)
    (home / "thesis" / "chapter1.tex").write_text("years of work\n")
    (home / "wheels-v5" / "mine").mkdir(parents=True, exist_ok=True)  # named like a uv bucket
    (home / "wheels" / "ab").mkdir(parents=True, exist_ok=True)  # like pip's
    (home / "http-v2" / "a").mkdir(parents=True, exist_ok=True)
    (home / "CACHEDIR.TAG").write_text(TAG)  # someone tagged home to keep it out of backups


def doctor_fix(env, cwd, **variables):
    result = subprocess.run(["pyenvmod", "doctor", "--json", "--fix", "--yes"], env=dict(env, **variables), cwd=cwd,
                            capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert result.returncode in (0, 1), result.stderr
    return json.loads(result.stdout)


def cache_findings(data):
    return [f for f in data["findings"] if f["check"] == "caches"]


@pytest.mark.parametrize("variable", ["UV_CACHE_DIR", "PIP_CACHE_DIR"])
@pytest.mark.parametrize("target", ["home", "dot", "symlink-to-home", "home-with-slash", "parent-of-root",
                                    "root", "home-parent", "relative"])
def test_hostile_cache_variables_remove_nothing(env, home, tmp_path, variable, target):
    precious(home)
    env = dict(env, PYENVMOD_ROOT=str(home / "pyenv-root"))
    (home / "pyenv-root").mkdir()
    (home / "pyenv-root" / "keep").write_text("an environment\n")
    (home / "link").symlink_to(home)
    value, cwd = {
        "home": (str(home), tmp_path),
        "dot": (".", home),
        "symlink-to-home": (str(home / "link"), tmp_path),
        "home-with-slash": (f"{home}/./", tmp_path),
        "parent-of-root": (str(home), home / "pyenv-root"),
        "root": (str(home / "pyenv-root"), tmp_path),
        "home-parent": (str(home.parent), tmp_path),
        "relative": ("thesis/..", home),
    }[target]
    if target == "root":
        (home / "pyenv-root" / "CACHEDIR.TAG").write_text(TAG)
        (home / "pyenv-root" / "wheels-v5").mkdir()
    before = snapshot(tmp_path)
    data = doctor_fix(env, cwd, **{variable: value})
    assert snapshot(tmp_path) == before, "doctor --fix removed something that is not a cache"
    assert not [line for line in data["fixed"] if line.startswith("emptied")]
    for finding in cache_findings(data):
        if variable in finding["message"]:
            assert not finding["fixable"] and "not a" in finding["message"]


@pytest.mark.parametrize("variable", ["UV_CACHE_DIR", "PIP_CACHE_DIR"])
@pytest.mark.parametrize("target", ["/", "/etc", "/usr"])
def test_system_folders_as_caches_are_never_touched(env, home, tmp_path, variable, target):
    before = [os.path.join(target, n) for n in os.listdir(target)]
    data = doctor_fix(env, home, **{variable: target})
    assert not data["fixed"]
    assert [p for p in before if not os.path.lexists(p)] == []
    assert caches.refusal(target, variable.split("_")[0].lower(), home=home) is not None


def test_a_folder_with_a_cache_tag_but_other_things_is_left_alone(env, home, tmp_path):
    build = home / "project" / "build"
    build.mkdir(parents=True)
    (build / "CACHEDIR.TAG").write_text(TAG)
    (build / "wheels-v5").mkdir()
    (build / "results.csv").write_text("1,2,3\n")
    before = snapshot(home)
    data = doctor_fix(env, tmp_path, UV_CACHE_DIR=str(build))
    assert snapshot(home) == before
    (finding,) = [f for f in cache_findings(data) if "uv cache" in f["message"]]
    assert "'results.csv', which uv does not make" in finding["message"] and not finding["fixable"]
    assert "UV_CACHE_DIR" in finding["fix"]


def test_a_pip_variable_at_a_folder_of_wheels_is_left_alone(env, home, tmp_path):
    mine = home / "dist"
    (mine / "wheels").mkdir(parents=True)
    (mine / "wheels" / "mypkg-1.0-py3-none-any.whl").write_text("a wheel I built\n")
    before = snapshot(home)
    data = doctor_fix(env, tmp_path, PIP_CACHE_DIR=str(mine))
    assert snapshot(home) == before
    (finding,) = [f for f in cache_findings(data) if "pip cache" in f["message"]]
    assert "which pip does not make" in finding["message"]


@pytest.mark.slow
def test_a_real_uv_cache_is_emptied_and_still_works(env, home, tmp_path):
    from pyenvmod.backends.uv import uv_binary

    cache = home / ".cache" / "uv"
    fill = dict(env, UV_CACHE_DIR=str(cache))
    subprocess.run([uv_binary(), "venv", "--seed", "-q", str(tmp_path / "v1")], env=fill, check=True, timeout=120)
    assert (cache / "CACHEDIR.TAG").is_file() and any(cache.glob("*-v*"))
    precious(home)
    outside = {p: s for p, s in snapshot(home).items() if not p.startswith(str(cache))}
    data = doctor_fix(env, tmp_path, UV_CACHE_DIR=str(cache))
    assert data["fixed"] == [f"emptied {cache}"]
    assert not any(cache.glob("*-v*")) and (cache / "CACHEDIR.TAG").is_file()
    assert {p: s for p, s in snapshot(home).items() if not p.startswith(str(cache))} == outside
    subprocess.run([uv_binary(), "venv", "--seed", "-q", str(tmp_path / "v2")], env=fill, check=True, timeout=120)


def test_a_pip_cache_with_pips_layout_is_emptied(env, home, tmp_path):
    cache = home / ".cache" / "pip"
    (cache / "http-v2" / "a" / "b").mkdir(parents=True)
    (cache / "http-v2" / "a" / "b" / "0123abcd.body").write_bytes(b"x" * 1000)
    (cache / "wheels" / "ab" / "cd").mkdir(parents=True)
    (cache / "selfcheck").mkdir()
    precious(home)
    data = doctor_fix(env, tmp_path, PIP_CACHE_DIR=str(cache))
    assert data["fixed"] == [f"emptied {cache}"] and list(cache.iterdir()) == []
    assert (home / "thesis" / "chapter1.tex").is_file()


def test_buckets_that_are_symlinks_are_removed_as_links(env, home, tmp_path):
    cache = home / ".cache" / "uv"
    cache.mkdir(parents=True)
    (cache / "CACHEDIR.TAG").write_text(TAG)
    precious(home)
    (cache / "wheels-v8").symlink_to(home / "thesis")
    data = doctor_fix(env, tmp_path, UV_CACHE_DIR=str(cache))
    assert data["fixed"] == [f"emptied {cache}"]
    assert (home / "thesis" / "chapter1.tex").is_file() and not os.path.lexists(cache / "wheels-v8")


def uv_shaped(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "CACHEDIR.TAG").write_text(TAG)
    (folder / "wheels-v5").mkdir(exist_ok=True)
    return folder


@pytest.mark.parametrize("case,reason", [
    ("home", "it is your home folder"),
    ("home-parent", "it holds your home folder"),
    ("root", "it is pyenvmod's root"),
    ("root-parent", "it holds pyenvmod's root"),
    ("cwd", "it is the working folder"),
    ("relative", "not an absolute path"),
    ("no-tag", "no CACHEDIR.TAG"),
    ("bad-tag", "not a cache directory tag"),
    ("stranger", "'notes.txt', which uv does not make"),
    ("file", "not a folder"),
    ("ok", None),
])
def test_each_rule_alone_refuses(tmp_path, monkeypatch, case, reason):
    """Every rule on its own, on folders that pass all the others (uv's layout)."""
    home = uv_shaped(tmp_path / "outer" / "home")
    root = uv_shaped(tmp_path / "proj" / "pyenv")
    cwd = uv_shaped(tmp_path / "work")
    monkeypatch.chdir(cwd)
    path = {"home": home, "home-parent": uv_shaped(tmp_path / "outer"), "root": root,
            "root-parent": uv_shaped(tmp_path / "proj"), "cwd": cwd, "relative": "cache"}.get(case)
    if path is None:
        path = uv_shaped(tmp_path / "cache")
        if case == "no-tag":
            (path / "CACHEDIR.TAG").unlink()
        elif case == "bad-tag":
            (path / "CACHEDIR.TAG").write_text("Signature: nope\n")
        elif case == "stranger":
            (path / "notes.txt").write_text("mine\n")
        elif case == "file":
            path = tmp_path / "a-file"
            path.write_text("")
    why = caches.refusal(path, "uv", home=home, protected=[root])
    assert why == reason if reason is None else reason in why
    if reason is None:
        assert caches.empty(path, "uv", home=home, protected=[root]) == f"emptied {path}"
        assert sorted(p.name for p in path.iterdir()) == ["CACHEDIR.TAG"]
    else:
        assert caches.empty(path, "uv", home=home, protected=[root]).startswith("left")


@pytest.mark.parametrize("layout,reason", [
    ({"http-v2": ["a", "f"], "wheels": ["ab"]}, None),
    ({"http": ["0"], "selfcheck": []}, None),
    ({"selfcheck": []}, "none of pip's"),
    ({"wheels": ["mypkg-1.0-py3-none-any.whl"]}, "'mypkg-1.0-py3-none-any.whl', which pip does not make"),
    ({"http-v2": ["ab"]}, "'ab', which pip does not make"),
    ({"http-v2": ["a"], "src": []}, "'src', which pip does not make"),
])
def test_pip_layout_rules(tmp_path, layout, reason):
    cache = tmp_path / "pip"
    for bucket, children in layout.items():
        (cache / bucket).mkdir(parents=True)
        for child in children:
            (cache / bucket / child).mkdir()
    why = caches.refusal(cache, "pip", home=tmp_path / "home")
    assert why == reason if reason is None else reason in why


def test_conda_package_folder_needs_its_urls_txt(tmp_path):
    pkgs = tmp_path / "pkgs"
    (pkgs / "numpy-1.26.4-py312h0_0" / "info").mkdir(parents=True)
    (pkgs / "numpy-1.26.4-py312h0_0" / "info" / "index.json").write_text("{}")
    (pkgs / "numpy-1.26.4-py312h0_0.conda").write_text("")
    (pkgs / "notes.txt").write_text("mine\n")
    assert "urls.txt" in caches.refusal(pkgs, "conda", home=tmp_path / "home")
    (pkgs / "urls.txt").write_text("")
    assert caches.empty(pkgs, "conda", home=tmp_path / "home") == f"emptied {pkgs}"
    assert sorted(p.name for p in pkgs.iterdir()) == ["notes.txt", "urls.txt"], "only conda's packages went"
