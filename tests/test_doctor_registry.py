"""The doctor as a registry of checks (issue 27): one module each under operations/doctor/, each saying
its name, what it looks at, its finding and its fix; a check added as one module is run, in its place."""

from pyenvmod.operations import doctor

SHOWN = ["user_site", "caches", "env_locations", "conda_init", "conda_active", "python_vars", "environments",
         "stale_modulefiles", "loaded_deleted", "loaded_builds", "tombstones", "modulepath", "permissions",
         "recorded_modules", "mpi", "shadowed", "toolchain"]


def test_every_check_says_what_it_looks_at_finds_and_fixes():
    found = doctor.checks()
    assert [m.__name__.rsplit(".", 1)[1] for m in found] == SHOWN, "the order the doctor has always shown"
    for module in found:
        c = module.CHECK
        assert all(isinstance(v, str) and v for v in (c.name, c.looks_at, c.finding, c.fix)), module.__name__
        assert c.scope in ("user", "environments") and callable(module.check)
    assert len({m.CHECK.name for m in found}) == len(found) and len({m.CHECK.order for m in found}) == len(found)
    # 'doctor NAME' skips what checks the user's set-up rather than an environment
    assert {m.CHECK.name for m in found if m.CHECK.scope == "user"} == {
        "user-site", "caches", "env-locations", "conda-init", "conda-active", "python-vars", "modulepath"}


def test_a_check_added_as_one_module_is_run_in_its_place(env, monkeypatch, tmp_path):
    (tmp_path / "demo_check.py").write_text(
        'from pyenvmod.operations.doctor.finding import Check, Finding\n\n'
        'def check(ctx):\n    return [Finding("demo", "info", "demo ran", "none")]\n\n'
        'CHECK = Check("demo", 65, "user", looks_at="nothing", finding="always", fix="none")\n')
    monkeypatch.setattr(doctor, "__path__", [*doctor.__path__, str(tmp_path)])
    from pyenvmod import config

    for key in ("PYENVMOD_ROOT", "HOME", "XDG_CONFIG_HOME", "PYENVMOD_SITE_CONFIG"):
        monkeypatch.setenv(key, env[key])
    found = doctor.run(config.load(), environ={"PYTHONPATH": "/x", "MODULEPATH": ""})
    checks = [f.check for f in found]
    assert "demo" in checks and checks.index("python-vars") < checks.index("demo")
