"""Tiny local packages built by an in-tree PEP 517/660 backend: no network, no setuptools.

``make(folder, name, files)`` writes a project whose backend builds a wheel of
``files`` (or, for ``pip install -e``, an editable wheel whose ``.pth`` points at the
folder), optionally with console scripts, and optionally slowly: its build writes
``building.pid`` and sleeps, so a test can interrupt a create during the build.
"""

import json
from pathlib import Path

WHEEL_WRITER = '''
import base64, hashlib, os, zipfile


def write_wheel(directory, name, version, files, scripts=None, requires=(), generator="localpkg"):
    """A pure-Python wheel of ``files`` ({path: text}) in ``directory``; returns its file name."""
    stem = name.replace("-", "_")  # wheel and dist-info names escape '-' (PEP 427)
    dist = f"{stem}-{version}.dist-info"
    files = dict(files)
    files[f"{dist}/METADATA"] = (f"Metadata-Version: 2.1\\nName: {name}\\nVersion: {version}\\n"
                                 + "".join(f"Requires-Dist: {r}\\n" for r in requires))
    files[f"{dist}/WHEEL"] = (f"Wheel-Version: 1.0\\nGenerator: {generator}\\nRoot-Is-Purelib: true\\n"
                              "Tag: py3-none-any\\n")
    if scripts:
        lines = "".join(f"{k} = {v}\\n" for k, v in scripts.items())
        files[f"{dist}/entry_points.txt"] = "[console_scripts]\\n" + lines
    record = []
    for path, text in files.items():
        data = text.encode()
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(data)}")
    record.append(f"{dist}/RECORD,,")
    files[f"{dist}/RECORD"] = "\\n".join(record) + "\\n"
    wheel = f"{stem}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(os.path.join(directory, wheel), "w") as zf:
        for path, text in files.items():
            zf.writestr(path, text)
    return wheel
'''

# the same writer for tests that write wheels themselves (tests/mpipkg.py)
_namespace: dict = {}
exec(WHEEL_WRITER, _namespace)
write_wheel = _namespace["write_wheel"]

BACKEND = WHEEL_WRITER + '''
import json, sys, time

HERE = os.path.dirname(os.path.abspath(__file__))
SPEC = json.load(open(os.path.join(HERE, "spec.json")))


def get_requires_for_build_wheel(config_settings=None):
    return []


get_requires_for_build_editable = get_requires_for_build_wheel


def _wheel(directory, files):
    with open(os.path.join(HERE, "building.pid"), "w") as fh:
        fh.write(str(os.getpid()))
    say = SPEC.get("say", [])  # lines the build prints, spread over its seconds (a compiler's, say)
    for line in say:
        time.sleep(SPEC["seconds"] / (len(say) + 1))
        print(line, file=sys.stderr, flush=True)
    time.sleep(SPEC["seconds"] / (len(say) + 1))
    return write_wheel(directory, SPEC["name"], SPEC["version"], files, SPEC["scripts"], SPEC["requires"])


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    return _wheel(wheel_directory, SPEC["files"])


def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    return _wheel(wheel_directory, {f"__editable__.{SPEC['name']}.pth": os.path.join(HERE, "src") + "\\n"})
'''

PYPROJECT = """
[build-system]
requires = []
build-backend = "{backend}"
backend-path = ["."]

[project]
name = "{name}"
version = "{version}"
"""


def make(folder: Path, name: str, files: dict, *, version="0.1", scripts=None, seconds=0.0, requires=(), say=()):
    """Write the project; its sources also go to ``folder/src`` (what an editable install uses).
    ``say``: lines its build prints on standard error, one after another over its ``seconds``.

    Returns (requirement string, path of the pid file the build writes)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "pyproject.toml").write_text(PYPROJECT.format(name=name, version=version, backend="localbackend"))
    (folder / "localbackend.py").write_text(BACKEND)
    spec = {"name": name, "version": version, "files": files, "scripts": scripts or {}, "seconds": seconds,
            "requires": list(requires), "say": list(say)}
    (folder / "spec.json").write_text(json.dumps(spec))
    for path, text in files.items():
        target = folder / "src" / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    return f"{name} @ file://{folder}", folder / "building.pid"


def slow(folder: Path, seconds: float):
    """A package whose build takes ``seconds``: (requirement, pid file)."""
    return make(folder, "slowpkg", {"slowpkg.py": "VALUE = 42\n"}, seconds=seconds)


def simple_index(base: Path, name: str, files: dict) -> Path:
    """A PEP 503 'simple' index in ``base/simple`` holding the wheel of package ``name`` (``files``)
    and what 'uv venv --seed' installs (pip, setuptools, wheel), which a site's index must have too."""
    import importlib.util
    import subprocess
    import sys

    make(base / "src", name, files)
    spec = importlib.util.spec_from_file_location("localbackend", base / "src" / "localbackend.py")
    backend = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(backend)
    wheels = base / "wheels"
    wheels.mkdir()
    backend.build_wheel(str(wheels))
    subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--only-binary", ":all:", "-d",
                    str(wheels), "pip", "setuptools", "wheel"], check=True)
    projects = {}
    for path in wheels.glob("*.whl"):
        projects.setdefault(path.name.split("-")[0].lower().replace("_", "-"), []).append(path.name)
    for project, names in projects.items():
        (base / "simple" / project).mkdir(parents=True)
        links = "".join(f'<a href="../../wheels/{f}">{f}</a>\n' for f in names)
        (base / "simple" / project / "index.html").write_text(f"<html><body>{links}</body></html>\n")
    (base / "simple" / "index.html").write_text("".join(f'<a href="{p}/">{p}</a>\n' for p in projects))
    return base / "simple"
