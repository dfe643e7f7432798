"""Trust by construction (issue 22): no module of pyenvmod outside ``pyenvmod/trust/`` changes or
walks the file system by path.

In a group tree everything a member can write is untrusted, and a path can be swapped for a
symlink between two calls. Only the trust package, which works through descriptors reached from a
root without following links, may create, write, chmod, rename, remove or walk files. This test
reads (ast) every other module and fails on any call that does so by path; the short allow-list
below names each exception with its reason, and an entry no longer used fails too (stale). The
checker itself is mutation-tested: one such call inserted into a real operation must be found."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "python-helpers" / "pyenvmod"

# os functions that change the file system by path, or walk it following what they find
OS_CALLS = {"chmod", "lchmod", "chown", "lchown", "replace", "rename", "renames", "unlink", "remove", "rmdir",
            "removedirs", "mkdir", "makedirs", "walk", "fwalk", "symlink", "link", "truncate", "mkfifo", "mknod",
            "utime"}
# os.open flags that create or write
OS_OPEN_WRITING = {"O_CREAT", "O_WRONLY", "O_RDWR", "O_TRUNC", "O_APPEND"}
# shutil: everything changes files, except these read-only helpers
SHUTIL_READ_ONLY = {"which", "get_terminal_size", "disk_usage"}
# tempfile: everything that makes a file or folder by a path
TEMPFILE_CALLS = {"mkdtemp", "mkstemp", "mktemp", "NamedTemporaryFile", "TemporaryDirectory"}
# pathlib.Path methods (by name; the number of positional arguments tells them from str.replace,
# EnvRecord.replace and the trust package's Folder methods, which take a name first)
PATH_ANY = {"write_text", "write_bytes", "symlink_to", "hardlink_to", "rglob", "lchmod", "touch", "rmdir"}
PATH_ONE_ARG = {"chmod", "rename", "replace"}  # Path.chmod(mode), .rename(target), .replace(target)
PATH_NO_NAME = {"mkdir", "unlink"}  # Path.mkdir(mode=..., ...), Path.unlink(missing_ok=...)
WRITE_MODES = set("wax+")

# (module, call) -> why it may stay by path. Only files private to the user running pyenvmod
# (their own $HOME, cache, configuration, a file they named) or set-up done as root.
ALLOWED = {
    ("commands/export.py", "open(write)"):
        "--output FILE: a file the user named on the command line, written with their own rights like a shell "
        "redirection; never a tree path pyenvmod chose",
    ("operations/kernel.py", "Path.mkdir"):
        "the Jupyter kernelspec folders in the user's own $HOME (jupyter_data_dir) or under a --prefix they named",
    ("operations/kernel.py", "os.chmod"):
        "the mode of the kernelspec folders just made in the user's own $HOME (or a --prefix they named)",
    ("modules/spider_cache.py", "Path.touch"):
        "Lmod's user cache in the user's own home (~/.cache/lmod/invalidated): marks it stale, as Lmod documents",
    ("modules/spider_cache.py", "open(write)"):
        "the site's lmod_cache_timestamp file (a site setting), touched with the user's rights the way Lmod "
        "expects; not in a tree",
    ("backends/uv.py", "tempfile.NamedTemporaryFile"):
        "uv's --excludes list of the packages the recorded modules provide: a private temporary file (O_EXCL, "
        "0600) in the user's TMPDIR, removed when uv is done; never in a tree",
    ("modules/spider_cache.py", "os.utime"):
        "the time of the site's lmod_cache_timestamp file (a site setting), one second ahead as Lmod compares",
}


def _mode_of(call: ast.Call, position: int):
    """The mode argument of an open() call, when it is a literal."""
    node = call.args[position] if len(call.args) > position else \
        next((k.value for k in call.keywords if k.arg == "mode"), None)
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _names_in(node) -> set:
    return {n.attr for n in ast.walk(node) if isinstance(n, ast.Attribute)} | \
        {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def violations(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, call) of every by-path change or walk of the file system in a module's AST."""
    modules = {}  # local name -> module (import os as x)
    imported = {}  # local name -> "module.function" (from os import walk)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                modules[alias.asname or alias.name] = alias.name
        elif isinstance(node, ast.ImportFrom) and node.module in ("os", "shutil", "tempfile", "io"):
            for alias in node.names:
                imported[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func, name = node.func, None
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id in modules:
            name = f"{modules[func.value.id]}.{func.attr}"
        elif isinstance(func, ast.Name) and func.id in imported:
            name = imported[func.id]
        elif isinstance(func, ast.Name) and func.id == "open":
            name = "open"
        if name is not None:
            module, _, attr = name.rpartition(".")
            if module == "os" and attr in OS_CALLS:
                found.append((node.lineno, name))
            elif name == "os.open" and len(node.args) > 1 and _names_in(node.args[1]) & OS_OPEN_WRITING:
                found.append((node.lineno, "os.open(write)"))
            elif module == "shutil" and attr not in SHUTIL_READ_ONLY:
                found.append((node.lineno, name))
            elif module == "tempfile" and attr in TEMPFILE_CALLS:
                found.append((node.lineno, name))
            elif name in ("open", "io.open") and set(_mode_of(node, 1) or "") & WRITE_MODES:
                found.append((node.lineno, "open(write)"))
            continue
        if not isinstance(func, ast.Attribute):
            continue
        method, positional = func.attr, len(node.args)
        if method in PATH_ANY or (method in PATH_ONE_ARG and positional == 1 and not node.keywords) \
                or (method in PATH_NO_NAME and (positional == 0 or isinstance(node.args[0], ast.Constant)
                                                and isinstance(node.args[0].value, int))):
            found.append((node.lineno, f"Path.{method}"))
        elif method == "open" and set(_mode_of(node, 0) or "") & WRITE_MODES \
                and not any(k.arg == "fileobj" for k in node.keywords):
            found.append((node.lineno, "Path.open(write)"))
    return sorted(found)


def _modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        if not rel.startswith("trust/"):
            yield rel, path


def _scan() -> dict:
    """(module, call) -> the lines where it happens, over every module outside the trust package."""
    seen = {}
    for rel, path in _modules():
        for line, call in violations(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            seen.setdefault((rel, call), []).append(line)
    return seen


def test_no_module_outside_the_trust_package_changes_or_walks_files_by_path():
    seen = _scan()
    unexpected = [f"pyenvmod/{rel}:{lines}: {call}" for (rel, call), lines in sorted(seen.items())
                  if (rel, call) not in ALLOWED]
    assert not unexpected, ("by-path changes of the file system outside pyenvmod/trust/ (use or add a "
                            "descriptor-based function there, see trust/folders.py):\n" + "\n".join(unexpected))


def test_every_allow_list_entry_is_still_used_and_says_why():
    seen = _scan()
    stale = [f"{rel}: {call}" for rel, call in ALLOWED if (rel, call) not in seen]
    assert not stale, "allow-list entries no longer needed (remove them):\n" + "\n".join(stale)
    assert all(len(reason) > 30 for reason in ALLOWED.values())


def test_the_trust_package_exists_and_owns_the_trust_modules():
    trust = PACKAGE / "trust"
    assert "every change to a tree or a stage folder" in (trust / "__init__.py").read_text()
    for module in ("tree", "files", "private_files", "identity", "locking", "caches", "folders"):
        assert (trust / f"{module}.py").is_file()
        assert not (PACKAGE / f"{module}.py").exists(), f"{module}.py is back outside pyenvmod/trust/"


# -- the checker checks: one by-path call added to a real operation must be found ----------------
INSERTED = {
    "os.chmod": "os.chmod(image, 0o644)",
    "os.replace": "os.replace(tmp, image)",
    "os.rename": "os.rename(tmp, image)",
    "os.unlink": "os.unlink(image)",
    "os.makedirs": "os.makedirs(folder, exist_ok=True)",
    "os.walk": "list(os.walk(folder))",
    "os.symlink": "os.symlink(name, folder)",
    "os.open(write)": "os.open(image, os.O_WRONLY | os.O_CREAT, 0o600)",
    "shutil.rmtree": "shutil.rmtree(folder)",
    "shutil.copy2": "shutil.copy2(image, folder)",
    "tempfile.mkdtemp": "tempfile.mkdtemp(dir=folder)",
    "Path.write_text": "folder.joinpath('x').write_text('x')",
    "Path.chmod": "image.chmod(0o644)",
    "Path.mkdir": "folder.mkdir(parents=True, exist_ok=True)",
    "Path.unlink": "image.unlink(missing_ok=True)",
    "Path.replace": "image.replace(folder)",
    "Path.touch": "image.touch()",
    "Path.symlink_to": "folder.symlink_to(image)",
    "Path.rglob": "list(folder.rglob('*'))",
    "open(write)": "open(image, 'w').close()",
    "Path.open(write)": "image.open('ab').close()",
}


@pytest.mark.parametrize("call", sorted(INSERTED))
def test_the_checker_finds_one_by_path_call_added_to_an_operation(call):
    source = (PACKAGE / "operations" / "pack.py").read_text(encoding="utf-8")
    module = ast.parse(source)
    if call.startswith("tempfile"):
        module.body.insert(0, ast.parse("import tempfile").body[0])
    before = violations(module)
    (pack,) = [n for n in module.body if isinstance(n, ast.FunctionDef) and n.name == "pack"]
    statement = ast.parse(INSERTED[call]).body[0]
    ast.fix_missing_locations(ast.copy_location(statement, pack.body[-1]))
    pack.body.insert(len(pack.body) - 1, statement)
    after = violations(module)
    assert [c for _, c in after if c == call] == [c for _, c in before if c == call] + [call]


def test_the_checker_leaves_descriptor_work_and_strings_alone():
    module = ast.parse("import os\nfrom pyenvmod.trust.folders import Folder\n"
                       "def f(record, text, held, dir_fd):\n"
                       "    text.replace('a', 'b')\n    record.replace(name='x')\n"
                       "    held.unlink('x', missing_ok=True)\n    held.rename('a', 'b')\n    held.chmod('x', 0o644)\n"
                       "    held.mkdir('x', 0o755)\n    os.open('x', os.O_RDONLY | os.O_NOFOLLOW, dir_fd=dir_fd)\n"
                       "    open('x').read()\n    open('x', 'rb').read()\n    os.fdopen(3, 'w')\n")
    assert violations(module) == []
