"""pyenvmod init and site init, answered at a real pseudo-terminal."""

import yaml

from conftest import assert_one_line_error, pty_converse


def test_init_asks_and_writes_the_user_configuration(env, home, tmp_path):
    env = dict(env, PROJECT=str(tmp_path / "proj"))
    env.pop("PYENVMOD_ROOT")
    code, out = pty_converse(env, ["init"], ["", "venv", "yes"])
    assert code == 0, out
    assert "Where should environments go?" in out and "[$PROJECT/$USER/pyenvmod]" in out
    assert 'module use "$(pyenvmod modulepath)"' in out
    written = yaml.safe_load((home / ".config" / "pyenvmod" / "config.yaml").read_text())
    assert written == {"root": "$PROJECT/$USER/pyenvmod", "backend": "venv", "kernel": True}
    assert not (home / ".bashrc").exists(), "start-up files are never edited"


def test_init_warns_about_home_and_retries_bad_answers(env, home):
    env = dict(env)
    env.pop("PYENVMOD_ROOT")
    code, out = pty_converse(env, ["init"], ["relative/path", "~/envs", "conda", "uv", "no"])
    assert code == 0, out
    assert "not an absolute path" in out and "in your home directory" in out and "Please answer uv or venv" in out
    written = yaml.safe_load((home / ".config" / "pyenvmod" / "config.yaml").read_text())
    assert written == {"root": "~/envs", "backend": "uv", "kernel": False}


def test_init_yes_takes_the_defaults_and_never_overwrites(cli, home):
    cli("init", "--yes")
    assert yaml.safe_load((home / ".config" / "pyenvmod" / "config.yaml").read_text())["backend"] == "uv"
    assert_one_line_error(cli("init", "--yes", check=False), "exists")
    assert_one_line_error(cli("init", check=False), "no terminal", "--yes")


def test_init_on_a_terminal_asks_before_replacing(cli, env, home):
    cli("init", "--yes")
    code, out = pty_converse(env, ["init"], ["no"])
    assert code == 1 and "Replace it?" in out and "Nothing written." in out


def test_site_init_writes_config_and_samples_and_hook_lines(cli, env, tmp_path):
    site = tmp_path / "etc" / "pyenvmod" / "config.yaml"
    env = dict(env, PYENVMOD_SITE_CONFIG=str(site))
    code, out = pty_converse(env, ["site", "init"], ["/data/$USER/envs", "", "", "mpi4py"])
    assert code == 0, out
    config = yaml.safe_load(site.read_text())
    assert config["root"] == "/data/$USER/envs" and config["no_binary"] == ["mpi4py"]
    assert config["cache_dir"] == "/scratch/$USER/.cache" and config["locked"] == ["cache_dir"]
    pip_conf = (site.parent / "pip.conf.sample").read_text()
    assert "cache-dir = /scratch/$USER/.cache/pip" in pip_conf and "no-binary = mpi4py" in pip_conf
    condarc = yaml.safe_load((site.parent / "condarc.sample").read_text())
    assert condarc["channel_priority"] == "strict" and condarc["pkgs_dirs"] == ["/scratch/$USER/.cache/conda-pkgs"]
    assert "export LMOD_PACKAGE_PATH=" in out
    shown = cli("config", "show", "--origin", extra_env={"PYENVMOD_SITE_CONFIG": str(site)}).stdout
    assert f"{site}:" in shown and "(locked by the site)" in shown
    assert_one_line_error(cli("site", "init", "--yes", check=False, extra_env={"PYENVMOD_SITE_CONFIG": str(site)}),
                          "exists")
