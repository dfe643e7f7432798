"""Local folders, archives and URLs as packages, as pip accepts them, with real local projects
(tests/localpkg.py) on the uv and venv backends; checked against allowed_sources; exports warn."""

import json
import subprocess

import pytest
import yaml

import localpkg
from conftest import assert_one_line_error
from test_packages import meta, py


def run(env, cwd, *args):
    """pyenvmod in the folder ``cwd``, where ./mypkg means what the user sees."""
    return subprocess.run(["pyenvmod", *map(str, args)], env=env, cwd=cwd, capture_output=True, text=True,
                          timeout=600, stdin=subprocess.DEVNULL)


@pytest.fixture
def projects(tmp_path):
    work = tmp_path / "work"
    localpkg.make(work / "mypkg", "mypkg", {"mypkg.py": "VALUE = 'plain'\n"})
    localpkg.make(work / "edpkg", "edpkg", {"edpkg.py": "VALUE = 'before'\n"})
    return work


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["uv", "venv"])
def test_install_a_folder_and_an_editable_folder(cli, env, root, projects, backend):
    cli("create", "dev", "--backend", backend)
    result = run(env, projects, "install", "dev", "./mypkg", "-e", "./edpkg")
    assert result.returncode == 0, result.stderr
    assert "added mypkg 0.1" in result.stdout and "added edpkg 0.1" in result.stdout
    assert py(root, "dev", "import mypkg, edpkg; print(mypkg.VALUE, edpkg.VALUE)").stdout.split() == \
        ["plain", "before"]
    (projects / "edpkg" / "src" / "edpkg.py").write_text("VALUE = 'after'\n")
    assert py(root, "dev", "import edpkg; print(edpkg.VALUE)").stdout.strip() == "after", "editable"
    assert meta(root, "dev")["requested"] == [str(projects / "mypkg"), f"-e {projects / 'edpkg'}"]
    # recorded in exports, with a warning that a path belongs to this machine
    exported = cli("export", "dev")
    pins = yaml.safe_load(exported.stdout)["dependencies"][-1]["pip"]
    assert f"mypkg @ file://{projects / 'mypkg'}" in pins
    assert "this machine's folders or files" in exported.stderr and "# Warning:" in exported.stdout
    requested = cli("export", "dev", "--requested", "--format", "requirements")
    assert f"-e {projects / 'edpkg'}" in requested.stdout.splitlines() and "machine" in requested.stderr
    assert "# Warning" not in cli("export", "dev", "--requested", "--format", "requirements").stdout.split(
        f"-e {projects / 'edpkg'}")[1]
    removed = cli("remove", "dev", "mypkg")
    assert "removed mypkg 0.1" in removed.stdout and meta(root, "dev")["requested"] == [f"-e {projects / 'edpkg'}"]


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["uv", "venv"])
def test_create_with_a_folder_an_editable_folder_and_a_file_url(cli, env, root, projects, tmp_path, backend):
    third, _ = localpkg.make(tmp_path / "third", "thirdpkg", {"thirdpkg.py": "X = 3\n"})
    result = run(env, projects, "create", "x", "--backend", backend, "-p", "./mypkg", third, "-e", "./edpkg")
    assert result.returncode == 0, result.stderr
    assert py(root, "x", "import mypkg, edpkg, thirdpkg; print(thirdpkg.X)").stdout.strip() == "3"
    assert meta(root, "x")["requested"] == [str(projects / "mypkg"), third, f"-e {projects / 'edpkg'}"]
    # a requirements.txt names them as pip reads it; a full export recreates them
    spec = projects / "requirements.txt"
    spec.write_text("./mypkg\n-e ./edpkg\n")
    assert run(env, projects, "create", "y", "--backend", backend, "--file", spec).returncode == 0
    assert meta(root, "y")["requested"] == [str(projects / "mypkg"), f"-e {projects / 'edpkg'}"]
    export = tmp_path / "x.yml"
    cli("export", "x", "-o", export)
    cli("create", "z", "--file", export)
    assert py(root, "z", "import mypkg, edpkg, thirdpkg").returncode == 0


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["uv", "venv"])
def test_folders_are_requested_and_switching_to_editable_is_reported(cli, env, root, projects, backend):
    cli("create", "dev", "--backend", backend)
    assert run(env, projects, "install", "dev", "./mypkg", "-e", "./edpkg").returncode == 0
    listed = {p["name"]: p["source"] for p in json.loads(cli("list", "dev", "--json").stdout)}
    assert listed["mypkg"] == "requested" and listed["edpkg"] == "requested", listed
    table = [ln.split() for ln in cli("list", "dev").stdout.splitlines()]
    assert ["mypkg", "0.1", "requested"] in table and ["edpkg", "0.1", "requested"] in table
    switched = run(env, projects, "install", "dev", "-e", "./mypkg")
    assert switched.returncode == 0, switched.stderr
    assert "Nothing changed" not in switched.stdout
    assert f"mypkg now editable (-e {projects / 'mypkg'})" in switched.stdout, switched.stdout
    (projects / "mypkg" / "src" / "mypkg.py").write_text("VALUE = 'edited'\n")
    assert py(root, "dev", "import mypkg; print(mypkg.VALUE)").stdout.strip() == "edited"
    assert meta(root, "dev")["requested"] == [f"-e {projects / 'edpkg'}", f"-e {projects / 'mypkg'}"]
    back = run(env, projects, "install", "dev", "./mypkg")
    assert f"mypkg no longer editable ({projects / 'mypkg'})" in back.stdout, back.stdout
    (projects / "mypkg" / "src" / "mypkg.py").write_text("VALUE = 'later'\n")
    # a copy again (uv may reuse its build of the folder from before the edit: not 'later' is what counts)
    assert py(root, "dev", "import mypkg; print(mypkg.VALUE)").stdout.strip() in ("edited", "plain")
    assert {p["name"]: p["source"] for p in json.loads(cli("list", "dev", "--json").stdout)}["mypkg"] == "requested"


@pytest.mark.slow
def test_a_git_url(cli, root, tmp_path):
    repo = tmp_path / "repo"
    localpkg.make(repo, "gitpkg", {"gitpkg.py": "X = 'git'\n"})
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.org"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "one"], check=True)
    cli("create", "g")
    cli("install", "g", f"git+file://{repo}")
    assert py(root, "g", "import gitpkg; print(gitpkg.X)").stdout.strip() == "git"
    commit = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    assert meta(root, "g")["sources"]["gitpkg"] == f"gitpkg @ git+file://{repo}@{commit}"
    assert {p["name"]: p["source"] for p in json.loads(cli("list", "g", "--json").stdout)}["gitpkg"] == "requested"
    pins = yaml.safe_load(cli("export", "g").stdout)["dependencies"][-1]["pip"]
    assert f"gitpkg @ git+file://{repo}@{commit}" in pins
    cli("create", "g2", "--clone", "g")
    assert py(root, "g2", "import gitpkg; print(gitpkg.X)").stdout.strip() == "git"


def test_allowed_sources_apply_to_folders_and_urls(cli, root, projects):
    cli("create", "dev")
    policy = {"PYENVMOD_ALLOWED_SOURCES": "https://pypi.org/"}
    assert_one_line_error(cli("install", "dev", projects / "mypkg", check=False, extra_env=policy),
                          f"comes from file://{projects / 'mypkg'}", "not an allowed package source")
    assert_one_line_error(cli("install", "dev", "-e", projects / "edpkg", check=False, extra_env=policy),
                          "not an allowed package source")
    assert_one_line_error(cli("install", "dev", "git+https://github.com/example/pkg", check=False,
                              extra_env=policy), "git+https://github.com/example/pkg", "not an allowed")
    assert_one_line_error(cli("create", "y", "-p", projects / "mypkg", check=False, extra_env=policy),
                          "not an allowed package source")
    assert not list(root.glob("*/meta/y.json"))
    allowed = {"PYENVMOD_ALLOWED_SOURCES": f"https://pypi.org/,file://{projects}/"}
    cli("install", "dev", projects / "mypkg", extra_env=allowed)
    assert py(root, "dev", "import mypkg").returncode == 0


@pytest.mark.parametrize("spec,fragment", [
    ("./nope", "(no folder or file /"),
    ("ftp://example.org/pkg.tar.gz", "ftp:// is not one pip installs from"),
    ("pkg @ ftp://example.org/pkg.tar.gz", "ftp:// is not one pip installs from"),
])
def test_bad_folders_and_urls_are_refused_before_anything_is_made(cli, env, root, projects, spec, fragment):
    result = run(env, projects, "create", "bad", "-p", spec)
    assert_one_line_error(result, "invalid package spec", fragment, "a folder or archive (./mypkg)")
    assert not any(root.glob("*/envs/*"))


def test_editable_needs_a_project_folder(cli, env, root, projects):
    assert_one_line_error(run(env, projects, "create", "bad", "-e", "six"), "-e takes a folder")
    (projects / "empty").mkdir()
    assert_one_line_error(run(env, projects, "create", "bad", "-e", "./empty"), "no pyproject.toml or setup.py")
    assert not any(root.glob("*/envs/*"))
    assert json.loads(cli("list", "--json").stdout) == []
