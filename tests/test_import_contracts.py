"""The architecture's contracts (issue 27), checked by import-linter's ``lint-imports`` with the
[tool.importlinter] contracts of pyproject.toml: the layers from the commands down to the leaf
packages, the backends independent of each other, the commands independent of each other, no
template engine, YAML or requirement parser in the modules on the way to uv, and no cycle between the
modules of a package (docs/development/architecture.md). It reads every import, those inside
functions included."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SOURCE = REPO / "python-helpers"


def lint_imports(source: Path, config_dir: Path) -> subprocess.CompletedProcess:
    """Run lint-imports on the package under ``source`` with the contracts of ``config_dir``/pyproject.toml."""
    command = Path(sys.executable).parent / "lint-imports"
    assert command.exists(), "lint-imports is missing: pip install '.[test]' (import-linter)"
    return subprocess.run([str(command), "--no-cache"], cwd=config_dir, capture_output=True, text=True,
                          env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(source)}, timeout=300)


def test_the_package_keeps_its_contracts():
    result = lint_imports(SOURCE, REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.fixture
def copy(tmp_path):
    """A copy of the package and of pyproject.toml, to add a wrong-way import to."""
    shutil.copytree(SOURCE / "pyenvmod", tmp_path / "src" / "pyenvmod",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def _add_import(copy: Path, module: str, line: str) -> None:
    path = copy / "src" / "pyenvmod" / module
    path.write_text(path.read_text() + f"\n\ndef _wrong_way():\n    {line}\n")


def _broken(copy: Path) -> str:
    """lint-imports over the changed copy: it must fail; what it printed."""
    result = lint_imports(copy / "src", copy)
    assert result.returncode != 0, result.stdout
    return result.stdout


def test_an_import_from_a_lower_layer_to_a_higher_one_fails(copy):
    # a record reaching up into an operation, inside a function: lint-imports sees that too
    _add_import(copy, "records/names.py", "from pyenvmod.operations import create")
    stdout = _broken(copy)
    assert "pyenvmod.records is not allowed to import pyenvmod.operations" in stdout
    assert "pyenvmod.records.names -> pyenvmod.operations.create" in stdout


def test_a_cycle_between_two_modules_of_a_package_fails(copy):
    # common, which every operation imports, importing one of them back
    _add_import(copy, "operations/common.py", "from pyenvmod.operations import packages")
    stdout = _broken(copy)
    assert "No cycles are allowed in pyenvmod.operations" in stdout


def test_the_template_engine_on_the_way_to_uv_fails(copy):
    _add_import(copy, "backends/uv.py", "import jinja2")
    stdout = _broken(copy)
    assert "pyenvmod.backends.uv is not allowed to import jinja2" in stdout


def test_a_command_importing_another_fails(copy):
    # what two commands share goes to commands/common.py (or an operation), never one command into another
    _add_import(copy, "commands/remove.py", "from pyenvmod.commands.install import report")
    stdout = _broken(copy)
    assert "pyenvmod.commands.remove is not allowed to import pyenvmod.commands.install" in stdout


def test_the_shared_module_of_the_commands_importing_a_command_fails(copy):
    _add_import(copy, "commands/common.py", "from pyenvmod.commands import create")
    stdout = _broken(copy)
    assert "pyenvmod.commands.common is not allowed to import pyenvmod.commands.create" in stdout


def test_a_module_in_commands_not_listed_in_the_contract_fails(copy):
    (copy / "src" / "pyenvmod" / "commands" / "shared.py").write_text('"""a second home for shared code"""\n')
    stdout = _broken(copy)
    assert "The following modules are not listed as layers:\n\n- pyenvmod.commands.shared" in stdout
