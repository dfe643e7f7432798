"""The packages of a spec file for ``install NAME --file`` and ``update NAME --file``: a pyenvmod
export, a conda environment.yml or a requirements.txt (read by ``spec``), checked against the
environment they go into (its Python version, its backend)."""

from pyenvmod.packages import spec as spec_mod
from pyenvmod.config import Config
from pyenvmod.errors import PyenvmodError
from pyenvmod.operations.common import layout_for, load_record


def specs(config: Config, name: str, path: str) -> list:
    """The package specs of the file at ``path``, in the language of environment ``name``."""
    record = load_record(layout_for(config), name)
    spec = spec_mod.read(path)
    env_mm = ".".join(record.python.split(".")[:2])
    if spec.python and spec.python != env_mm:
        raise PyenvmodError(f"{path} is for Python {spec.python}, {name!r} uses Python {record.python}; "
                            f"create a new environment from it: pyenvmod create NEW --file {path}")
    if record.backend == "conda":
        if spec.packages:
            raise PyenvmodError(f"{path} has a pip: part; the conda environment {name!r} takes conda packages only "
                                "(pip install inside it after 'module load')")
        packages = list(spec.conda_only)
    else:
        if spec.conda_only:
            raise PyenvmodError(f"{path} has conda-only entries the {record.backend} environment {name!r} cannot "
                                f"install: {', '.join(spec.conda_only)}; move them under 'pip:'")
        packages = list(spec.packages)
    if not packages:
        raise PyenvmodError(f"{path} names no packages to install")
    return packages
