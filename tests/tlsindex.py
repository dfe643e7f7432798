"""A package index over HTTPS on 127.0.0.1, its certificate signed by a test certificate authority
made with openssl, for the site-certificate tests (a site with its own CA).

    ca = make_ca(folder)                      # {"ca": ca.pem, "cert": server.pem, "key": server.key}
    with serve(folder_with_simple, ca) as url:   # https://127.0.0.1:PORT
        ...
    with in_system_store(ca["ca"], tag):      # update-ca-certificates, undone on the way out
        ...
"""

import http.server
import os
import ssl
import subprocess
import threading
from contextlib import contextmanager
from pathlib import Path

SYSTEM_CA_DIR = Path("/usr/local/share/ca-certificates")


def _openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_ca(folder: Path) -> dict:
    """A test CA and a server certificate for 127.0.0.1 (subjectAltName IP) that it signed."""
    folder.mkdir(parents=True, exist_ok=True)
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=pyenvmod test CA",
             "-keyout", "ca.key", "-out", "ca.pem", "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=folder)
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", "server.key",
             "-out", "server.csr", cwd=folder)
    (folder / "ext.cnf").write_text("subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n"
                                    "keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n")
    _openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
             "-days", "2", "-out", "server.pem", "-extfile", "ext.cnf", cwd=folder)
    return {"ca": folder / "ca.pem", "cert": folder / "server.pem", "key": folder / "server.key"}


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@contextmanager
def serve(directory: Path, ca: dict):
    """Serve ``directory`` over HTTPS on 127.0.0.1 (a free port) with the CA-signed certificate."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(ca["cert"], ca["key"])

    def handler(*args, **kwargs):
        return _Quiet(*args, directory=str(directory), **kwargs)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def in_system_store(ca_pem: Path, tag: str):
    """The CA added to the system's trust store (Debian: /usr/local/share/ca-certificates and
    update-ca-certificates) for the block, and removed again however the block ends."""
    target = SYSTEM_CA_DIR / f"pyenvmod-test-{tag}.crt"
    target.write_bytes(ca_pem.read_bytes())
    try:
        subprocess.run(["update-ca-certificates"], check=True, capture_output=True)
        yield
    finally:
        target.unlink(missing_ok=True)
        subprocess.run(["update-ca-certificates"], check=True, capture_output=True)  # drops its link and bundle entry
