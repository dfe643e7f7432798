"""YAML that someone else may have written (configuration, environment specs, .condarc): parsed
safely, and refused fast when its aliases nested in each other ("billion laughs") would expand
to more values than any such file has."""

from pyenvmod.errors import PyenvmodError


def expanded_size(node, cap: int) -> int:
    """How many values ``node`` stands for once its aliases are expanded (stops counting past ``cap``)."""
    sizes = {}

    def size(n, depth=0):
        if id(n) in sizes:
            return sizes[id(n)]
        if depth > 100:  # deeper than any such file (or an alias to itself): too big
            return cap + 1
        total = 1
        for child in n.value if isinstance(n.value, list) else []:
            for part in (child if isinstance(child, tuple) else (child,)):
                total += size(part, depth + 1)
                if total > cap:
                    break
            if total > cap:
                break
        sizes[id(n)] = total
        return total

    return size(node)


def too_big(where, cap: int) -> PyenvmodError:
    return PyenvmodError(f"{where}: the YAML expands to more than {cap} values (aliases repeated inside each "
                         "other?); write the values out without '*' aliases")


def load(text: str, where, cap: int = 100_000):
    """``yaml.safe_load`` of ``text``, refusing an alias bomb before building anything.
    YAML errors are left to the caller (they name the file and line their own way)."""
    import yaml

    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        if expanded_size(node, cap) > cap:
            raise too_big(where, cap)
        return loader.construct_document(node)
    finally:
        loader.dispose()
