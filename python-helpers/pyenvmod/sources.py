"""Trusted package sources: the site's policy, checked before anything is downloaded, and
translated for every backend (pip reads PIP_*; uv reads neither pip.conf nor PIP_*, so it
gets UV_* variables; both get the same index)."""

from pyenvmod.errors import PyenvmodError

DEFAULT_INDEX = "https://pypi.org/simple"
# variables through which a user's own settings could add other sources
_PIP = ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS", "PIP_NO_INDEX")
_UV = ("UV_INDEX_URL", "UV_DEFAULT_INDEX", "UV_EXTRA_INDEX_URL", "UV_INDEX", "UV_FIND_LINKS", "UV_NO_INDEX")


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
    from pyenvmod.requirements import source_url

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


def helper_env(config, env: dict) -> dict:
    """``env`` for pip and uv with the configured index; under a policy, nothing else."""
    env = dict(env)
    policy = bool(config["allowed_sources"])
    if policy:
        for var in (*_PIP, *_UV):
            env.pop(var, None)
        env["UV_NO_CONFIG"] = "1"  # a user's uv.toml could name other indexes
        env["PIP_FIND_LINKS"] = ""  # nor may pip.conf files add sources
        env["PIP_EXTRA_INDEX_URL"] = ""
    if config["index_url"] or policy:
        index = config["index_url"] or DEFAULT_INDEX
        env["PIP_INDEX_URL"] = index
        env["UV_INDEX_URL"] = index
    if config["extra_index_urls"]:
        env["PIP_EXTRA_INDEX_URL"] = " ".join(config["extra_index_urls"])
        env["UV_EXTRA_INDEX_URL"] = " ".join(config["extra_index_urls"])
    return env
