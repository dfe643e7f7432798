"""Trusted package sources: refused before anything is downloaded, the same way for uv and pip,
and both backends install from the configured index."""

import json

import pytest

import localpkg
from conftest import assert_one_line_error, leftovers

# slow: builds a local package index
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def local_index(tmp_path_factory):
    """A PEP 503 'simple' index on disk holding one package that exists nowhere else."""
    base = tmp_path_factory.mktemp("index")
    localpkg.simple_index(base, "pyenvmod-localonly", {"pyenvmod_localonly.py": "WHERE = 'local index'\n"})
    return f"file://{base}/simple"


@pytest.mark.parametrize("backend", ["uv", "venv"])
def test_both_backends_install_from_the_configured_index(cli, root, local_index, backend):
    policy = {"PYENVMOD_INDEX_URL": local_index, "PYENVMOD_ALLOWED_SOURCES": local_index,
              "PIP_INDEX_URL": "http://127.0.0.1:9/not-allowed", "UV_INDEX_URL": "http://127.0.0.1:9/not-allowed"}
    cli("create", "a", "--backend", backend, "-p", "pyenvmod-localonly", extra_env=policy)
    record = json.loads(next(root.glob("*/meta/a.json")).read_text())
    assert record["packages"].get("pyenvmod-localonly") == "0.1"


@pytest.mark.parametrize("backend", ["uv", "venv"])
@pytest.mark.parametrize("settings,spec,fragment", [
    ({}, "six", "the package index https://pypi.org/simple is not an allowed package source"),
    ({"PYENVMOD_INDEX_URL": "https://mirror.invalid/simple"}, "six", "https://mirror.invalid/simple is not"),
    ({"PYENVMOD_EXTRA_INDEX_URLS": "https://extra.invalid/simple"}, "six", "the extra index"),
    ({}, "evil @ https://files.invalid/evil-1.0-py3-none-any.whl", "comes from https://files.invalid"),
])
def test_other_sources_are_refused_before_anything_is_made(cli, root, local_index, backend, settings, spec, fragment):
    policy = {"PYENVMOD_ALLOWED_SOURCES": local_index}
    if spec != "six" or "PYENVMOD_EXTRA_INDEX_URLS" in settings:
        policy["PYENVMOD_INDEX_URL"] = local_index
    policy.update(settings)
    result = cli("create", "a", "--backend", backend, "-p", spec, check=False, extra_env=policy)
    line = assert_one_line_error(result, fragment, f"the site allows: {local_index}")
    assert "creating" not in result.stderr, "refused before anything was built"
    assert leftovers(root) == [], line


def test_install_into_an_existing_environment_is_checked_too(cli, local_index):
    cli("create", "a")
    result = cli("install", "a", "six", check=False, extra_env={"PYENVMOD_ALLOWED_SOURCES": local_index})
    assert_one_line_error(result, "not an allowed package source")
