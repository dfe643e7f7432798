"""The doctor's python vars check: PYTHONPATH and PYTHONHOME."""

from pyenvmod.operations.doctor.finding import Finding

NAME = "python-vars"
LOOKS_AT = "PYTHONPATH and PYTHONHOME"
FINDING = "a variable that overrides what any environment provides"
FIX = "unset it"
ORDER = 60
GLOBAL = True  # checks the user's set-up: skipped by 'doctor NAME'


def check(ctx):
    return [Finding("python-vars", "warning", f"{var} is set ({ctx.environ[var]}): it overrides what any "
                    "environment provides", f"unset {var} (look for it in your start-up files)")
            for var in ("PYTHONPATH", "PYTHONHOME") if ctx.environ.get(var)]
