"""The doctor's conda active check: CONDA_SHLVL and CONDA_PREFIX."""

from pyenvmod.operations.doctor.finding import Check, Finding


def check(ctx):
    level = ctx.environ.get("CONDA_SHLVL", "0")
    if level.isdigit() and int(level) > 0:
        return [Finding("conda-active", "warning",
                        f"a conda environment is active (CONDA_SHLVL={level}, {ctx.environ.get('CONDA_PREFIX', '?')})",
                        "run 'conda deactivate' before 'module load pyenv/...'")]
    return []


CHECK = Check("conda-active", 50, "user", looks_at="CONDA_SHLVL and CONDA_PREFIX",
              finding="a conda environment active in this shell", fix="conda deactivate before loading a pyenv module")
