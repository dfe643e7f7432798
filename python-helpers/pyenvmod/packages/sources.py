"""Trusted package sources: the site's policy, checked before anything is downloaded, and
translated for every backend (pip reads PIP_*; uv reads neither pip.conf nor PIP_*, so it
gets UV_* variables; both get the same index)."""

import os

from pyenvmod.errors import PyenvmodError

DEFAULT_INDEX = "https://pypi.org/simple"


def _allowed(url: str, allowed: list) -> bool:
    return any(url.startswith(prefix) for prefix in allowed)


def check(config, specs=()) -> None:
    """Refuse, naming the allowed sources, any index or direct URL the policy does not allow."""
    allowed = config["allowed_sources"]
    if not allowed:
        return
    named = ", ".join(allowed)
    index = config["index_url"] or DEFAULT_INDEX
    for url, what in [(index, "the package index"), *((u, "the extra index") for u in config["extra_index_urls"])]:
        if not _allowed(url, allowed):
            raise PyenvmodError(f"{what} {url} is not an allowed package source; the site allows: {named}")
    from pyenvmod.packages.requirements import source_url

    for spec in specs:
        url = source_url(spec)  # a folder counts as its file:// URL; git+https://x also as https://x
        forms = [url, url.split("+", 1)[1]] if url and "+" in url.split("://", 1)[0] else [url]
        if url and not any(_allowed(form, allowed) for form in forms):
            raise PyenvmodError(f"{spec!r} comes from {url}, which is not an allowed package source; "
                                f"the site allows: {named}")


def check_channels(config, channels) -> None:
    """conda channels under the same policy (a channel name like conda-forge counts as its URL)."""
    allowed = config["allowed_sources"]
    for channel in channels:
        url = channel if "://" in channel or channel.startswith("/") else f"https://conda.anaconda.org/{channel}"
        url = f"file://{url}" if url.startswith("/") else url
        if allowed and not _allowed(url, allowed):
            raise PyenvmodError(f"the channel {channel} ({url}) is not an allowed package source; "
                                f"the site allows: {', '.join(allowed)}")


# Under a policy, the only variables of pip's and uv's own that pass: they tune how a helper
# downloads, never where from. Every other PIP_*/UV_* (PIP_CONSTRAINT, PIP_CONFIG_FILE,
# UV_FIND_LINKS, UV_INDEX, ...) is dropped, and neither tool reads its configuration files.
KEPT = frozenset({
    "PIP_CERT", "PIP_CLIENT_CERT", "PIP_PROXY", "PIP_DEFAULT_TIMEOUT", "PIP_TIMEOUT", "PIP_RETRIES",
    "PIP_CACHE_DIR", "PIP_NO_CACHE_DIR", "PIP_DISABLE_PIP_VERSION_CHECK", "PIP_NO_INPUT", "PIP_PROGRESS_BAR",
    "PIP_ROOT_USER_ACTION", "PIP_NO_COLOR",
    "UV_CACHE_DIR", "UV_NO_CACHE", "UV_NATIVE_TLS", "UV_HTTP_TIMEOUT", "UV_LINK_MODE", "UV_NO_PROGRESS",
    "UV_CONCURRENT_DOWNLOADS", "UV_CONCURRENT_BUILDS", "UV_CONCURRENT_INSTALLS", "UV_COMPILE_BYTECODE",
    "UV_PYTHON_DOWNLOADS",
})


def helper_env(config, env: dict) -> dict:
    """``env`` for pip and uv with the configured index. Under a policy (allowed_sources), pip's
    and uv's settings come from the policy alone: their variables pass only from ``KEPT``,
    their configuration files (pip.conf, uv.toml: user's, site's, an environment's own) are
    not read, and the index is the policy's. The rest (PATH, compilers, modules) is kept:
    builds from source need it, and it names no package source."""
    env = dict(env)
    policy = bool(config["allowed_sources"])
    if policy:
        for var in [v for v in env if v.startswith(("PIP_", "UV_")) and v not in KEPT]:
            del env[var]
        env["PIP_CONFIG_FILE"] = os.devnull  # pip then reads no configuration file at all
        env["UV_NO_CONFIG"] = "1"
    if config["index_url"] or policy:
        index = config["index_url"] or DEFAULT_INDEX
        env["PIP_INDEX_URL"] = index
        env["UV_INDEX_URL"] = index
    if config["extra_index_urls"]:
        env["PIP_EXTRA_INDEX_URL"] = " ".join(config["extra_index_urls"])
        env["UV_EXTRA_INDEX_URL"] = " ".join(config["extra_index_urls"])
    return trust_system_certificates(env)


# Where the system keeps its CA bundle (OpenSSL's default file): Debian/Ubuntu, RHEL/Fedora, SUSE, Alpine
SYSTEM_BUNDLES = ("/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt",
                  "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem", "/etc/ssl/ca-bundle.pem", "/etc/ssl/cert.pem")


def trust_system_certificates(env: dict) -> dict:
    """uv and pip trust what the system trusts (a site's own CA in the system store, or the bundle
    SSL_CERT_FILE / SSL_CERT_DIR name), as curl and the system's Python do: by default uv trusts only its
    built-in Mozilla roots, and a pip older than 24.2 only its certifi bundle. What the user set for them
    wins: UV_SYSTEM_CERTS / UV_NATIVE_TLS, and pip's cert (pip.conf, PIP_CERT, REQUESTS_CA_BUNDLE)."""
    cert_dir = (env.get("SSL_CERT_DIR") or "").split(":")[0]
    store = env.get("SSL_CERT_FILE") or (cert_dir if os.path.isdir(cert_dir) else "") or \
        next((b for b in SYSTEM_BUNDLES if os.path.isfile(b)), "")
    if not store:  # no system store to trust: the helpers' own roots
        return env
    if "UV_SYSTEM_CERTS" not in env and "UV_NATIVE_TLS" not in env:
        env["UV_SYSTEM_CERTS"] = "1"  # uv 0.11 and later (it reads SSL_CERT_FILE, SSL_CERT_DIR too)
        env["UV_NATIVE_TLS"] = "1"  # the same for older uv; with UV_SYSTEM_CERTS set, newer uv ignores it
    if not any(env.get(var) for var in ("PIP_CERT", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")):
        env["REQUESTS_CA_BUNDLE"] = store  # below pip's own cert settings (pip.conf's cert wins)
    return env
