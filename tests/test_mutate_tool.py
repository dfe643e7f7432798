"""tests/mutate.py's staged pyproject: a run over a narrower test selection."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import mutate  # noqa: E402

REPO = Path(__file__).resolve().parent.parent


def test_the_staged_selection_becomes_exactly_the_files_given(tmp_path):
    staged = tmp_path / "pyproject.toml"
    staged.write_text((REPO / "pyproject.toml").read_text())
    mutate._select_tests(staged, ["tests/test_names.py", "tests/test_loaded.py"])
    text = staged.read_text()
    assert 'pytest_add_cli_args_test_selection = ["tests/test_names.py", "tests/test_loaded.py"]' in text
    assert "tests/test_quoting.py" not in text  # the rest of the selection is gone
    assert 'pytest_add_cli_args = ["-p", "no:cacheprovider", "-m", "not slow"]' in text  # the rest stays


def test_a_pyproject_without_a_selection_stops_the_run(tmp_path):
    staged = tmp_path / "pyproject.toml"
    staged.write_text("[tool.mutmut]\n")
    with pytest.raises(SystemExit, match="no pytest_add_cli_args_test_selection"):
        mutate._select_tests(staged, ["tests/test_names.py"])
