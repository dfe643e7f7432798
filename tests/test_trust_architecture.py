"""Trust by construction (issue 22): no module of pyenvmod outside ``pyenvmod/trust/`` changes or
walks the file system by path.

In a group tree everything a member can write is untrusted, and a path can be swapped for a
symlink between two calls. Only the trust package, which works through descriptors reached from a
root without following links, may create, write, chmod, rename, remove or walk files. This test
reads (ast) every other module and fails on any call that does so by path; the short allow-list
below names each exception with its reason, and an entry no longer used fails too (stale). The
checker itself is mutation-tested: one such call inserted into a real operation must be found."""

import ast
import os
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
# os functions found in a third round of attacks on this checker: change files by path too
OS_CALLS |= {"chflags", "lchflags", "setxattr", "removexattr", "system", "popen", "mkfifo"}
# the os module is also reachable as posix; io, codecs and builtins have an open()
OS_NAMES = ("os", "posix")
OPENS = {"open", "io.open", "codecs.open", "builtins.open"}
# os.open flags that only read: any other name in the flags (a variable, say) is not known to read
OS_OPEN_READING = {"os", "posix", "O_RDONLY", "O_NOFOLLOW", "O_DIRECTORY", "O_CLOEXEC", "O_NONBLOCK", "O_PATH",
                   "O_NOCTTY", "O_NOATIME", "O_LARGEFILE"}
# modules whose functions change files by path when reached in a way the scan cannot name
FILE_MODULES = {"os", "posix", "shutil", "tempfile", "io", "codecs", "builtins", "pathlib"}
# commands that change files by path, when a program is run with a literal argument list
COMMANDS = {"rm", "chmod", "chown", "chgrp", "mv", "cp", "ln", "mkdir", "rmdir", "touch", "install", "tar", "unzip",
            "rsync", "truncate", "dd", "tee", "sed"}

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
    ("operations/stage.py", "subprocess(tar)"):
        "tar -x of the image into a new folder made through the descriptor of the user's private stage folder "
        "(0700, checked: theirs, not a link); GNU tar refuses absolute and '..' members and extracts links last",
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
        elif isinstance(node, ast.ImportFrom) and node.module in ("os", "posix", "shutil", "tempfile", "io", "codecs",
                                                                  "builtins"):
            for alias in node.names:
                imported[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    found = []
    called = set()  # the function nodes of calls, checked with their arguments below
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            called.add(id(node.func))
    for node in ast.walk(tree):
        # a forbidden function named but not called here (f = os.chmod; map(os.unlink, ...)) is found too
        if id(node) not in called:
            name = _named(node, modules, imported)
            if name is not None and _forbidden(name):
                found.append((node.lineno, _canonical(name)))
        if isinstance(node, ast.Attribute) and node.attr == "__dict__" and isinstance(node.value, ast.Name) \
                and modules.get(node.value.id) in FILE_MODULES:
            found.append((node.lineno, "dynamic(" + modules[node.value.id] + ")"))
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = _named(func, modules, imported)
        if name is None and isinstance(func, ast.Name) and func.id == "open":
            name = "open"
        dynamic = _dynamic(node, modules)
        if dynamic:
            found.append((node.lineno, dynamic))
            continue
        if _runs_command(node, modules, imported):
            found.append((node.lineno, "subprocess(" + node.args[0].elts[0].value + ")"))
            continue
        if name is not None:
            module, _, attr = name.rpartition(".")
            if module in OS_NAMES and attr in OS_CALLS:
                found.append((node.lineno, _canonical(name)))
            elif module in OS_NAMES and attr == "open":
                flags = node.args[1] if len(node.args) > 1 else next((k.value for k in node.keywords
                                                                      if k.arg == "flags"), None)
                if flags is not None and not _names_in(flags) <= OS_OPEN_READING:
                    found.append((node.lineno, "os.open(write)"))
            elif module == "shutil" and attr not in SHUTIL_READ_ONLY:
                found.append((node.lineno, name))
            elif module == "tempfile" and attr in TEMPFILE_CALLS:
                found.append((node.lineno, name))
            elif (name in OPENS or name in ("tarfile.open", "zipfile.ZipFile", "gzip.open", "bz2.open", "lzma.open")) \
                    and _writes(node, 1) and not any(k.arg == "fileobj" for k in node.keywords):
                found.append((node.lineno, "open(write)"))
            continue
        if not isinstance(func, ast.Attribute):
            continue
        method, positional = func.attr, len(node.args)
        keywords = {k.arg for k in node.keywords}
        if method in PATH_ANY or (method in PATH_ONE_ARG and positional == 1 and not node.keywords) \
                or (method in PATH_NO_NAME and (positional == 0 or isinstance(node.args[0], ast.Constant)
                                                and isinstance(node.args[0].value, int))):
            found.append((node.lineno, f"Path.{method}"))
        elif method in PATH_ONE_ARG and positional == 0 and keywords & {"mode", "target"}:
            found.append((node.lineno, f"Path.{method}"))  # Path.chmod(mode=...), Path.rename(target=...)
        elif method in ("link_to", "extractall", "extract") and positional + len(keywords) >= 1 \
                and not (method == "extract" and positional == 1 and not keywords):
            found.append((node.lineno, f"Path.{method}" if method == "link_to" else "archive.extract"))
        elif method == "open" and _writes(node, 0) and not any(k.arg == "fileobj" for k in node.keywords) \
                and not (isinstance(func.value, ast.Name) and func.value.id == "Folder"):  # Folder.open(top, path)
            found.append((node.lineno, "Path.open(write)"))
    return sorted(set(found))


def _named(node, modules: dict, imported: dict):
    """'module.function' when ``node`` names a function of an imported module (os.chmod, c after
    'from os import chmod as c'), else None."""
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in modules:
        return f"{modules[node.value.id]}.{node.attr}"
    if isinstance(node, ast.Name) and node.id in imported:
        return imported[node.id]
    return None


def _canonical(name: str) -> str:
    module, _, attr = name.rpartition(".")
    return f"os.{attr}" if module == "posix" else name


def _forbidden(name: str) -> bool:
    module, _, attr = name.rpartition(".")
    return (module in OS_NAMES and attr in OS_CALLS) or (module == "shutil" and attr not in SHUTIL_READ_ONLY) \
        or (module == "tempfile" and attr in TEMPFILE_CALLS)


def _writes(call: ast.Call, position: int) -> bool:
    """An open() whose mode writes, or whose mode is not a literal (a variable may say 'w')."""
    given = len(call.args) > position or any(k.arg == "mode" for k in call.keywords)
    mode = _mode_of(call, position)
    return bool(set(mode or "") & WRITE_MODES) or (given and mode is None)


def _dynamic(call: ast.Call, modules: dict) -> str | None:
    """getattr(os, ...) of a forbidden or computed name, __import__ / importlib.import_module of a
    module that changes files: ways to reach a by-path call the scan could not name."""
    func = call.func
    if isinstance(func, ast.Name) and func.id == "getattr" and call.args and isinstance(call.args[0], ast.Name) \
            and modules.get(call.args[0].id) in FILE_MODULES:
        module = modules[call.args[0].id]
        attr = call.args[1] if len(call.args) > 1 else None
        if not (isinstance(attr, ast.Constant) and isinstance(attr.value, str)) \
                or _forbidden(f"{module}.{attr.value}") or attr.value in ("open",):
            return f"dynamic({module})"
    importing = (isinstance(func, ast.Name) and func.id == "__import__") or \
        (isinstance(func, ast.Attribute) and func.attr == "import_module"
         and isinstance(func.value, ast.Name) and modules.get(func.value.id) == "importlib")
    if importing and call.args:
        target = call.args[0]
        if isinstance(target, ast.Constant) and target.value in FILE_MODULES:
            return "dynamic(import)"
    return None


def _runs_command(call: ast.Call, modules: dict, imported: dict) -> bool:
    """A program that changes files run with a literal argument list (subprocess.run(['rm', ...]),
    proc.run(['chmod', ...]))."""
    func = call.func
    runs = (isinstance(func, ast.Attribute) and func.attr in ("run", "Popen", "call", "check_call", "check_output")) \
        or (isinstance(func, ast.Name) and func.id in ("run", "Popen", "call", "check_call", "check_output"))
    if not runs or not call.args or not isinstance(call.args[0], (ast.List, ast.Tuple)) or not call.args[0].elts:
        return False
    first = call.args[0].elts[0]
    return isinstance(first, ast.Constant) and isinstance(first.value, str) \
        and os.path.basename(first.value) in COMMANDS


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


# -- third attack round: ways to hide a by-path call from a scan of plain calls ---------------------
HIDDEN = {
    "getattr": ("", "getattr(os, 'chmod')(image, 0o644)", "dynamic(os)"),
    "getattr computed": ("", "getattr(os, 'ch' + 'mod')(image, 0o644)", "dynamic(os)"),
    "module __dict__": ("", "os.__dict__['chmod'](image, 0o644)", "dynamic(os)"),
    "function as a value": ("", "change = os.chmod", "os.chmod"),
    "map over a function": ("", "list(map(os.unlink, [image]))", "os.unlink"),
    "alias import": ("from os import chmod as c", "c(image, 0o644)", "os.chmod"),
    "posix module": ("import posix", "posix.unlink(image)", "os.unlink"),
    "from posix": ("from posix import rename as mv", "mv(image, folder)", "os.rename"),
    "__import__": ("", "__import__('shutil').rmtree(folder)", "dynamic(import)"),
    "importlib": ("import importlib", "importlib.import_module('shutil').rmtree(folder)", "dynamic(import)"),
    "os.open flags in a variable": ("", "os.open(image, flags)", "os.open(write)"),
    "os.open flags by keyword": ("", "os.open(image, flags=os.O_WRONLY | os.O_CREAT)", "os.open(write)"),
    "open with a variable mode": ("", "open(image, how).close()", "open(write)"),
    "open mode by keyword": ("", "open(image, mode=how).close()", "open(write)"),
    "codecs.open": ("import codecs", "codecs.open(image, 'w').close()", "open(write)"),
    "builtins.open": ("import builtins", "builtins.open(image, 'a').close()", "open(write)"),
    "Path.open variable mode": ("", "image.open(how).close()", "Path.open(write)"),
    "Path.chmod by keyword": ("", "image.chmod(mode=0o644)", "Path.chmod"),
    "Path.rename by keyword": ("", "image.rename(target=folder)", "Path.rename"),
    "Path.link_to": ("", "image.link_to(folder)", "Path.link_to"),
    "os.chflags": ("", "os.chflags(image, 0)", "os.chflags"),
    "os.setxattr": ("", "os.setxattr(image, 'user.x', b'1')", "os.setxattr"),
    "os.system": ("", "os.system('rm -rf ' + str(folder))", "os.system"),
    "tarfile.open to write": ("import tarfile", "tarfile.open(image, 'w:gz').close()", "open(write)"),
    "tar extractall": ("import tarfile", "tarfile.open(image).extractall(folder)", "archive.extract"),
    "rm in a subprocess": ("", "subprocess.run(['rm', '-rf', str(folder)])", "subprocess(rm)"),
    "chmod in a subprocess": ("", "subprocess.run(['/bin/chmod', '644', str(image)])", "subprocess(/bin/chmod)"),
}


@pytest.mark.parametrize("case", sorted(HIDDEN))
def test_the_checker_finds_a_by_path_call_hidden_from_a_plain_scan(case):
    """Round 3: an alias, getattr, a module's __dict__, posix, a dynamic import, flags or a mode in a
    variable, keywords, or a program run for it: each added to pack must be found."""
    imports, line, label = HIDDEN[case]
    source = (PACKAGE / "operations" / "pack.py").read_text(encoding="utf-8")
    module = ast.parse(source)
    if imports:
        module.body.insert(0, ast.parse(imports).body[0])
    before = violations(module)
    (pack,) = [n for n in module.body if isinstance(n, ast.FunctionDef) and n.name == "pack"]
    statement = ast.parse(line).body[0]
    ast.fix_missing_locations(ast.copy_location(statement, pack.body[-1]))
    pack.body.insert(len(pack.body) - 1, statement)
    after = violations(module)
    assert len([c for _, c in after if c == label]) > len([c for _, c in before if c == label]), (case, after)


def test_the_checker_still_leaves_reading_alone():
    module = ast.parse("import os, subprocess, importlib\nfrom pyenvmod.trust.folders import Folder\n"
                       "def f(p, top, dir_fd, name):\n"
                       "    os.open(p, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dir_fd)\n"
                       "    getattr(os, 'O_PATH', 0)\n    Folder.open(top, p)\n    open(p, encoding='utf-8')\n"
                       "    subprocess.run(['uv', 'pip', 'list'])\n    importlib.import_module(name)\n"
                       "    p.open(encoding='utf-8')\n    tar.extract(member)\n")
    assert violations(module) == []
