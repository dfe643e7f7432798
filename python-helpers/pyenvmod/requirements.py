"""Checking package specs before they reach pip or uv (a spec must never become an option)."""

from pyenvmod.errors import PyenvmodError


def validate(specs: list[str]) -> list[str]:
    if not specs:
        return specs  # nothing to check: packaging's parser is not even imported (it costs 30-60 ms)
    from packaging.requirements import InvalidRequirement, Requirement

    for spec in specs:
        try:
            if spec.startswith("-"):
                raise InvalidRequirement("it starts with '-'")
            Requirement(spec)
        except InvalidRequirement as exc:
            reason = str(exc).splitlines()[0]
            raise PyenvmodError(
                f"invalid package spec {spec!r} ({reason}); give a name with an optional version, "
                "like numpy or 'numpy>=1.26'"
            ) from None
    return specs


def validate_names(names: list[str]) -> list[str]:
    """Package names (for --no-binary): a name, or :all:."""
    import re

    for name in names:
        if name != ":all:" and not re.fullmatch(r"[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?", name):
            raise PyenvmodError(f"invalid package name {name!r} for --no-binary; give names like mpi4py,h5py")
    return names
