"""pyenvmod doctor: each check against the broken situation made for real, and --fix."""

import json
import os
import shutil
import stat

import pytest

import sitemodules
from conftest import assert_one_line_error


@pytest.fixture
def doc(cli, env):
    """Run doctor in a shell where the module tree is on MODULEPATH (so a clean state is clean)."""
    cli.env = dict(env, MODULEPATH=cli("modulepath").stdout.strip())

    def run(*args, **extra):
        result = cli("doctor", "--json", *args, check=False, extra_env=extra or None)
        assert result.returncode in (0, 1), result.stderr
        data = json.loads(result.stdout)
        return result.returncode, data["findings"], data["fixed"]
    return run


def checks(findings, name):
    return [f for f in findings if f["check"] == name]


def test_clean_state_exits_zero(cli, doc):
    cli("create", "a")
    code, findings, _ = doc()
    assert (code, findings) == (0, [])
    assert "No problems found." in cli("doctor").stdout


def test_notes_are_printed_only_with_verbose(cli, doc, home):
    (home / ".conda" / "pkgs").mkdir(parents=True)  # a cache in its default place: a note, not a problem
    code, findings, _ = doc()
    assert code == 0 and [f["severity"] for f in findings] == ["info"], findings
    plain, verbose = cli("doctor"), cli("doctor", "--verbose")
    assert plain.stdout.splitlines() == [
        "No problems found.", "(notes that need nothing done: 1; pyenvmod doctor --verbose shows them)"]
    assert verbose.stdout.splitlines()[0] == "No problems found."
    assert verbose.stdout.splitlines()[1].startswith("INFO    [caches] conda packages in your home directory")
    (home / ".local" / "lib" / "python3.11" / "site-packages" / "x-1.0.dist-info").mkdir(parents=True)
    problem = cli("doctor", check=False)  # a problem is printed, the note still only counted
    assert problem.returncode == 1 and "[user-site]" in problem.stdout and "INFO" not in problem.stdout
    assert "No problems found." not in problem.stdout and "notes that need nothing done: 1" in problem.stdout


def test_packages_in_the_user_site(doc, home):
    site = home / ".local" / "lib" / "python3.11" / "site-packages" / "numpy-1.0.dist-info"
    site.mkdir(parents=True)
    code, findings, _ = doc()
    (f,) = checks(findings, "user-site")
    assert code == 1 and f["severity"] == "warning" and "PYTHONNOUSERSITE" in f["fix"]
    assert not checks(doc(PYTHONNOUSERSITE="1")[1], "user-site")


def test_caches_in_home_with_size_and_fix(cli, doc, home):
    cache = home / ".cache" / "pip"
    (cache / "http-v2" / "a").mkdir(parents=True)  # pip's layout: --fix empties only a provable cache
    (cache / "http-v2" / "a" / "blob").write_bytes(b"x" * 300_000)
    _, findings, _ = doc(PIP_CACHE_DIR=str(cache))
    (f,) = [f for f in checks(findings, "caches") if "pip cache" in f["message"]]
    assert "293.0 KB" in f["message"] and "free" in f["message"] and f["fixable"]
    _, findings, fixed = doc("--fix", "--yes", PIP_CACHE_DIR=str(cache))
    assert fixed == [f"emptied {cache}"] and cache.is_dir() and not any(cache.iterdir())


def test_environments_under_home(cli, env, doc):
    cli.env.pop("PYENVMOD_ROOT")
    cli("create", "a")
    _, findings, _ = doc()
    (f,) = checks(findings, "locations")
    assert "home directory" in f["message"] and "PYENVMOD_ROOT" in f["fix"]


def test_conda_init_block(doc, home):
    (home / ".bashrc").write_text("export A=1\n# >>> conda initialize >>>\n__conda_setup=...\n"
                                  "# <<< conda initialize <<<\n")
    (f,) = checks(doc()[1], "conda-init")
    assert f"{home / '.bashrc'}:2" in f["message"] and "conda init --reverse" in f["fix"]
    assert not f["fixable"], "start-up files are never edited"


def test_active_conda_and_python_variables(doc, env, monkeypatch):
    _, findings, _ = doc(CONDA_SHLVL="1", CONDA_PREFIX="/opt/conda", PYTHONPATH="/x")
    assert "conda deactivate" in checks(findings, "conda-active")[0]["fix"]
    assert [f["message"].split()[0] for f in checks(findings, "python-vars")] == ["PYTHONPATH"]
    # PYTHONHOME breaks pyenvmod's own interpreter too, so that case runs in-process
    from pyenvmod import config
    from pyenvmod.operations import doctor

    for key in ("PYENVMOD_ROOT", "HOME", "XDG_CONFIG_HOME", "PYENVMOD_SITE_CONFIG"):
        monkeypatch.setenv(key, env[key])
    found = doctor.run(config.load(), environ={"PYTHONHOME": "/y", "MODULEPATH": ""})
    assert [f.message.split()[0] for f in found if f.check == "python-vars"] == ["PYTHONHOME"]


def test_interpreter_gone_then_fix_removes_its_modulefiles(cli, doc, root):
    cli("create", "a")
    prefix = json.loads(cli("list", "--json").stdout)[0]["prefix"]
    os.unlink(f"{prefix}/bin/python")
    (f,) = checks(doc()[1], "environments")
    assert f["severity"] == "error" and "interpreter missing" in f["message"]
    _, _, fixed = doc("--fix", "--yes")
    assert fixed == ["removed the modulefiles of 'a'"]
    assert not list(root.glob("*/modules/pyenv/a"))


def test_modulefiles_of_a_missing_environment_are_removed_by_fix(cli, doc, root):
    cli("create", "a")
    shutil.rmtree(next(root.glob("*/envs/a")))
    os.unlink(next(root.glob("*/meta/a.json")))
    (f,) = checks(doc()[1], "modulefiles")
    assert "does not exist" in f["message"]
    doc("--fix", "--yes")
    assert not list(root.glob("*/modules/pyenv/a")) and doc()[0] == 0


def test_environment_without_modulefiles_is_regenerated_by_fix(cli, doc, root):
    cli("create", "a")
    shutil.rmtree(next(root.glob("*/modules/pyenv/a")))
    (f,) = checks(doc()[1], "modulefiles")
    assert "modulefile missing" in f["message"]
    _, findings, fixed = doc("--fix", "--yes")
    assert fixed == ["wrote the modulefiles of 'a'"] and findings == []


def test_tree_not_on_modulepath(cli, doc):
    cli("create", "a")
    (f,) = checks(doc(MODULEPATH="/elsewhere")[1], "modulepath")
    assert "module use" in f["fix"]


def test_nothing_created_is_world_writable_and_fix_repairs(cli, doc, root):
    cli("create", "a", "-p", "six")
    for folder, dirs, names in os.walk(root):
        for n in dirs + names:
            mode = os.lstat(os.path.join(folder, n)).st_mode
            assert stat.S_ISLNK(mode) or not mode & stat.S_IWOTH, os.path.join(folder, n)
    victim = next(root.glob("*/envs/a/bin/python*"))
    target = next(root.glob("*/envs/a/pyvenv.cfg"))
    os.chmod(target, 0o666)
    (f,) = checks(doc()[1], "permissions")
    assert str(target) in f["message"]
    doc("--fix", "--yes")
    assert not os.stat(target).st_mode & stat.S_IWOTH and victim.exists()


def test_recorded_module_that_no_longer_exists(cli, doc, tmp_path):
    tree = sitemodules.make(tmp_path / "site")
    cli("create", "a", "--modules", "gcc/13.2", extra_env={"MODULEPATH": str(tree)})
    assert not checks(doc(MODULEPATH=f"{cli('modulepath').stdout.strip()}:{tree}")[1], "modules")
    os.unlink(tree / "gcc" / "13.2.lua")
    os.unlink(tree / "gcc" / "13.2")
    (f,) = checks(doc(MODULEPATH=f"{cli('modulepath').stdout.strip()}:{tree}")[1], "modules")
    assert "gcc/13.2 no longer exists" in f["message"]


def test_leftover_of_a_killed_create(cli, doc, root):
    cli("create", "a")
    leftover = next(root.glob("*/envs")) / "ghost"
    leftover.mkdir()
    (f,) = checks(doc()[1], "environments")
    assert "ghost" in f["message"] and "interrupted create" in f["message"]
    doc("--fix", "--yes")
    assert not leftover.exists()


def test_one_environment_only(cli, doc, root):
    cli("create", "a")
    cli("create", "b")
    os.unlink(next(root.glob("*/envs/b/bin/python")))
    assert checks(doc()[1], "environments")
    assert doc("a") == (0, [], [])
    assert_one_line_error(cli("doctor", "ghost", check=False), "no environment named 'ghost'")


def test_fix_without_terminal_needs_yes(cli):
    assert_one_line_error(cli("doctor", "--fix", check=False), "--yes")
