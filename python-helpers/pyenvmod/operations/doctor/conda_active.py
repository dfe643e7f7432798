"""The doctor's conda active check: CONDA_SHLVL and CONDA_PREFIX."""

from pyenvmod.operations.doctor.finding import Finding

NAME = "conda-active"
LOOKS_AT = "CONDA_SHLVL and CONDA_PREFIX"
FINDING = "a conda environment active in this shell"
FIX = "conda deactivate before loading a pyenv module"
ORDER = 50
GLOBAL = True  # checks the user's set-up: skipped by 'doctor NAME'


def check(ctx):
    level = ctx.environ.get("CONDA_SHLVL", "0")
    if level.isdigit() and int(level) > 0:
        return [Finding("conda-active", "warning",
                        f"a conda environment is active (CONDA_SHLVL={level}, {ctx.environ.get('CONDA_PREFIX', '?')})",
                        "run 'conda deactivate' before 'module load pyenv/...'")]
    return []
