"""A tiny local package whose build takes as long as a test wants (an in-tree PEP 517 backend).

Its build writes ``<marker>`` with its pid when it starts, then sleeps; so a test can
interrupt a create while the package is being built, with no network involved.
"""

from pathlib import Path

BACKEND = '''
import base64, hashlib, os, time, zipfile

MARKER = {marker!r}
SECONDS = {seconds!r}
NAME, VERSION = "slowpkg", "0.1"


def get_requires_for_build_wheel(config_settings=None):
    return []


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    with open(MARKER, "w") as fh:
        fh.write(str(os.getpid()))
    time.sleep(SECONDS)
    dist = f"{{NAME}}-{{VERSION}}.dist-info"
    files = {{
        "slowpkg.py": "VALUE = 42\\n",
        f"{{dist}}/METADATA": f"Metadata-Version: 2.1\\nName: {{NAME}}\\nVersion: {{VERSION}}\\n",
        f"{{dist}}/WHEEL": "Wheel-Version: 1.0\\nGenerator: slowpkg\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n",
    }}
    record = []
    for path, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record.append(f"{{path}},sha256={{digest}},{{len(text.encode())}}")
    record.append(f"{{dist}}/RECORD,,")
    files[f"{{dist}}/RECORD"] = "\\n".join(record) + "\\n"
    wheel = f"{{NAME}}-{{VERSION}}-py3-none-any.whl"
    with zipfile.ZipFile(os.path.join(wheel_directory, wheel), "w") as zf:
        for path, text in files.items():
            zf.writestr(path, text)
    return wheel
'''

PYPROJECT = """
[build-system]
requires = []
build-backend = "slowbackend"
backend-path = ["."]

[project]
name = "slowpkg"
version = "0.1"
"""


def make(directory: Path, seconds: float) -> tuple[str, Path]:
    """Write the package; return (requirement string, marker path)."""
    directory.mkdir(parents=True, exist_ok=True)
    marker = directory / "building.pid"
    (directory / "pyproject.toml").write_text(PYPROJECT)
    (directory / "slowbackend.py").write_text(BACKEND.format(marker=str(marker), seconds=seconds))
    return f"slowpkg @ file://{directory}", marker
