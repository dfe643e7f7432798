"""The doctor's python vars check: PYTHONPATH and PYTHONHOME."""

from pyenvmod.operations.doctor.finding import Check, Finding


def check(ctx):
    return [Finding("python-vars", "warning", f"{var} is set ({ctx.environ[var]}): it overrides what any "
                    "environment provides", f"unset {var} (look for it in your start-up files)")
            for var in ("PYTHONPATH", "PYTHONHOME") if ctx.environ.get(var)]


CHECK = Check("python-vars", 60, "user", looks_at="PYTHONPATH and PYTHONHOME",
              finding="a variable that overrides what any environment provides", fix="unset it")
