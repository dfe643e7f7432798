"""Site certificates: a package index over HTTPS signed by the site's own CA (a test CA made with
openssl, tests/tlsindex.py). uv and pip trust what the system trusts (the CA in the system store, or
only in SSL_CERT_FILE) on both backends; an untrusted CA is one line saying what to set."""

import os
import shutil
import subprocess

import pytest

import localpkg
import tlsindex
from conftest import assert_one_line_error, leftovers
from modsys import require

PACKAGE = "pyenvmod-tlsonly"


@pytest.fixture(scope="module")
def site_ca(tmp_path_factory):
    require(shutil.which("openssl") is not None, "openssl", "apt-get install openssl")
    return tlsindex.make_ca(tmp_path_factory.mktemp("ca"))


@pytest.fixture(scope="module")
def https_index(tmp_path_factory, site_ca):
    """A PEP 503 index holding a package that exists nowhere else (and the seed packages uv venv
    --seed takes from the index), served on 127.0.0.1 with the site CA's certificate."""
    base = tmp_path_factory.mktemp("index")
    localpkg.simple_index(base, PACKAGE, {"pyenvmod_tlsonly.py": "WHERE = 'https index'\n"})
    with tlsindex.serve(base, site_ca) as url:
        yield f"{url}/simple"


@pytest.fixture
def site_user(cli, https_index, tmp_path):
    """A user of that site: pyenvmod's index is the HTTPS one; nothing of this machine's own certificate
    settings (SSL_CERT_*, PIP_CERT, pip.conf) reaches the helpers, and their caches are new (a page
    cached by an earlier test would answer without a TLS connection)."""
    for var in ("SSL_CERT_FILE", "SSL_CERT_DIR", "PIP_CERT", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE",
                "PIP_FIND_LINKS", "UV_NATIVE_TLS", "UV_SYSTEM_CERTS"):
        cli.env.pop(var, None)
    cli.env.update(PYENVMOD_INDEX_URL=https_index, PIP_CONFIG_FILE=os.devnull,
                   UV_CACHE_DIR=str(tmp_path / "uv-cache"), PIP_CACHE_DIR=str(tmp_path / "pip-cache"))
    return cli


def installed(root, name) -> str:
    python = next(root.glob(f"*/envs/{name}")) / "bin" / "python"
    return subprocess.run([python, "-c", "import pyenvmod_tlsonly as m; print(m.WHERE)"], capture_output=True,
                          text=True).stdout.strip()


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["uv", "venv"])
def test_a_site_ca_in_the_system_store_is_trusted(site_user, root, site_ca, backend):
    require(os.geteuid() == 0 and shutil.which("update-ca-certificates") is not None,
            "root and update-ca-certificates", "run the certificate tests as root on Debian")
    with tlsindex.in_system_store(site_ca["ca"], os.environ.get("PYENVMOD_TEST_USERS", "t24c") + backend):
        site_user("create", "x", "--backend", backend, "-p", PACKAGE)
    assert installed(root, "x") == "https index"


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["uv", "venv"])
def test_a_site_ca_only_in_ssl_cert_file_is_trusted(site_user, root, site_ca, backend):
    site_user("create", "x", "--backend", backend, "-p", PACKAGE, extra_env={"SSL_CERT_FILE": str(site_ca["ca"])})
    assert installed(root, "x") == "https index"


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["uv", "venv"])
def test_an_untrusted_ca_is_one_line_naming_ssl_cert_file(site_user, root, backend):
    result = site_user("create", "x", "--backend", backend, "-p", PACKAGE, check=False)
    detail = "UnknownIssuer" if backend == "uv" else "unable to get local issuer certificate"
    assert_one_line_error(result, "TLS certificate is not trusted", detail, "export SSL_CERT_FILE=")
    assert leftovers(root) == []


def test_the_helpers_are_told_to_trust_the_system_unless_the_user_said_otherwise(tmp_path):
    from pyenvmod.packages.sources import trust_system_certificates as trust

    bundle = tmp_path / "site-ca.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\n")
    told = trust({"SSL_CERT_FILE": str(bundle)})
    assert (told["UV_SYSTEM_CERTS"], told["UV_NATIVE_TLS"], told["REQUESTS_CA_BUNDLE"]) == ("1", "1", str(bundle))
    assert trust({"SSL_CERT_DIR": f"{tmp_path}:/nowhere"})["REQUESTS_CA_BUNDLE"] == str(tmp_path)
    own = trust({"SSL_CERT_FILE": str(bundle), "UV_SYSTEM_CERTS": "0", "PIP_CERT": "/site/pip-ca.pem"})
    assert own == {"SSL_CERT_FILE": str(bundle), "UV_SYSTEM_CERTS": "0", "PIP_CERT": "/site/pip-ca.pem"}
    assert "UV_SYSTEM_CERTS" not in trust({"UV_NATIVE_TLS": "0"})
