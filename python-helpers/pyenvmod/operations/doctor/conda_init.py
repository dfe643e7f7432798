"""The doctor's conda init check: the shell start-up files."""

from pyenvmod.operations.doctor.finding import Check, Finding

CONDA_BLOCK = ">>> conda initialize >>>"
START_UP_FILES = (".bashrc", ".zshrc", ".tcshrc", ".cshrc", ".bash_profile", ".profile")


def check(ctx):
    out = []
    for name in START_UP_FILES:
        path = ctx.home / name
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        if CONDA_BLOCK in text:
            line = text[: text.index(CONDA_BLOCK)].count("\n") + 1
            out.append(Finding("conda-init", "warning",
                               f"{path}:{line} has a 'conda init' block: it activates conda's base in every "
                               "shell and batch job, ahead of your modules",
                               "run 'conda init --reverse', or delete the block between the '>>> conda "
                               "initialize >>>' lines (pyenvmod never edits start-up files)"))
    return out


CHECK = Check("conda-init", 40, "user", looks_at="the shell start-up files",
              finding="a 'conda init' block that activates conda's base in every shell", fix="conda init --reverse, or delete the block")
