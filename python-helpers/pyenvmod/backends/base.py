"""The backend interface, and what all backends share: running a helper and reading its error."""

import os
import re
from abc import ABC, abstractmethod
from pathlib import Path

from pyenvmod.runtime import proc
from pyenvmod.errors import PyenvmodError
from pyenvmod.backends.pythons import PythonInfo


class Backend(ABC):
    name: str = ""
    provides_python = False  # True: the environment's interpreter comes from the backend (conda)

    def __init__(self, env: dict | None = None):
        self.env = dict(os.environ if env is None else env)
        # A Python in the caller's environment must not leak into the helpers, nor other
        # loaded environments (stacking): pip would see, or uninstall from, those.
        for var in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "CONDA_PREFIX", "PYENVMOD_SITE_PATH",
                    "PYENVMOD_LOADED"):
            self.env.pop(var, None)

    @staticmethod
    def python(prefix: Path) -> Path:
        return Path(prefix) / "bin" / "python"

    @abstractmethod
    def create(self, prefix: Path, base: PythonInfo, prompt: str) -> None:
        """Make an environment at ``prefix`` from ``base``, with pip in it."""

    @abstractmethod
    def install(self, prefix: Path, packages: list[str], layered: bool = False, no_binary=()) -> None:
        """Install ``packages`` (requirement strings) into the environment.

        ``layered``: the environment extends a base whose packages are on its sys.path;
        only what the base lacks (or has in another version) may be installed.
        ``no_binary``: packages to build from source (pip and uv both take --no-binary NAME).
        """

    only_binary: list = []  # packages (or ':all:') only installed from wheels (buildpolicy.apply sets it)
    # module_packages.Provided: packages the recorded modules put on PYTHONPATH, counted as installed
    module_packages: list = []

    def module_paths_env(self) -> dict:
        """The helpers' environment, with the modules' PYTHONPATH folders when there are any: pip then
        counts their packages as installed (and never touches them: they are outside the environment)."""
        paths = list(dict.fromkeys(p.path for p in self.module_packages))
        return dict(self.env, PYTHONPATH=os.pathsep.join(paths)) if paths else self.env

    def no_binary_args(self, no_binary) -> list:
        """--no-binary and --only-binary flags; ':all:' first, so a package named after it wins (pip, uv)."""
        flags = [("--no-binary", n) for n in no_binary] + [("--only-binary", n) for n in self.only_binary]
        return [arg for flag in sorted(flags, key=lambda f: f[1] != ":all:") for arg in flag]

    def pip(self, prefix: Path, *args) -> list:
        """A pip command line inside the environment: its interpreter under -I -S, so that no .pth
        file or sitecustomize in it runs (a group member may have written them); _PIP_BOOT puts its
        site-packages (and its base's, for --extends) on sys.path without processing them."""
        return [self.python(prefix), "-I", "-S", "-c", _PIP_BOOT, str(prefix),
                "--disable-pip-version-check", "--no-input", *args]

    def pip_install(self, prefix: Path, packages: list[str], no_binary=()) -> None:
        """pip inside the environment: it counts every distribution on sys.path as installed."""
        self._run(
            self.pip(prefix, "install", "--quiet", *self.no_binary_args(no_binary), *packages),
            what="pip install",
            failure="could not install " + ", ".join(packages),
            env=self.module_paths_env(),
        )

    @abstractmethod
    def list_packages(self, prefix: Path) -> list[dict]:
        """Installed distributions as ``[{"name": ..., "version": ...}]``."""

    def upgrade(self, prefix: Path, packages: list[str], layered: bool = False, no_binary=()) -> None:
        """Install the newest versions allowed by ``packages``."""
        self.pip_install(prefix, ["--upgrade", *packages], no_binary)

    def uninstall(self, prefix: Path, names: list[str]) -> None:
        self._run(self.pip(prefix, "uninstall", "--yes", *names), what="pip uninstall",
                  failure="could not remove " + ", ".join(names))

    def check(self, prefix: Path) -> list[str]:
        """Broken or missing requirements of installed packages, one line each, as ``pip check``
        reports them; read from the dist-info files (no interpreter is started)."""
        from pyenvmod.packages import dependency_check

        return dependency_check.problems(prefix, self.python_version(prefix),
                                         list(dict.fromkeys(p.path for p in self.module_packages)))

    def pip_check(self, prefix: Path) -> list[str]:
        """``pip check`` run inside the environment, one line per problem."""
        result = proc.run(self.pip(prefix, "check"), env=self.env, what="pip check")
        if result.returncode == 0:
            return []
        return [ln.strip() for ln in (result.stdout + result.stderr).splitlines()
                if ln.strip() and not ln.startswith(("No broken", "[notice]"))]

    def python_version(self, prefix: Path) -> str:
        """The environment's Python version, read from its pyvenv.cfg (uv: version_info, venv:
        version); the interpreter is run only when the file does not say."""
        try:
            text = (Path(prefix) / "pyvenv.cfg").read_text(encoding="utf-8", errors="replace")
        except OSError:
            text = ""
        for line in text.splitlines():
            key, _, value = line.partition("=")
            if key.strip() in ("version_info", "version") and re.fullmatch(r"\d+\.\d+\.\d+", value.strip()):
                return value.strip()
        result = self._run([self.python(prefix), "-I", "-S", "-c",
                            "import sys; print('%d.%d.%d' % sys.version_info[:3])"],
                           what="the environment's python")
        return result.stdout.strip()

    def _run(self, cmd, *, what: str, failure: str | None = None, env=None):
        result = proc.run(cmd, env=self.env if env is None else env, what=what)
        if result.returncode < 0:
            import signal

            name = signal.Signals(-result.returncode).name
            hint = " (a file size limit or a full quota)" if name == "SIGXFSZ" else ""
            raise PyenvmodError(f"{failure or what + ' failed'}: {what} was killed by {name}{hint}")
        if result.returncode != 0:
            output = result.stderr + result.stdout
            untrusted = certificate_problem(output)
            if untrusted:
                raise PyenvmodError(f"{failure or what + ' failed'}: the package index's TLS certificate is not "
                                    f"trusted ({untrusted}); if your site has its own certificate authority, "
                                    "export SSL_CERT_FILE=/path/to/its-ca-bundle.pem (or SSL_CERT_DIR), or ask "
                                    "your admin to add it to the system's trust store")
            raise PyenvmodError(f"{failure or what + ' failed'}: {summarise(result.stderr or result.stdout)}")
        return result

    @staticmethod
    def files_list(prefix: Path, canonical: bool = False) -> list[dict]:
        """The distributions in the environment's own site-packages, read from their METADATA
        files, as ``pip list`` (or, ``canonical``, ``uv pip list``) names them."""
        from packaging.utils import canonicalize_name

        from pyenvmod.packages.installed import dist_versions

        found = {(canonicalize_name(n) if canonical else n): v for n, v in dist_versions(prefix).items()}
        return [{"name": n, "version": v} for n, v in sorted(found.items())]


# what uv (rustls) and pip (OpenSSL) say when no trusted CA signed a server's certificate, most telling first
_UNTRUSTED = [re.compile(r"invalid peer certificate: (\w+)"),
              re.compile(r"certificate verify failed: ([^(')\]]+)", re.I),
              re.compile(r"(certificate verify failed|problem confirming the ssl certificate)", re.I)]


def certificate_problem(output: str) -> str | None:
    """What a helper said about an untrusted certificate (uv: 'UnknownIssuer'), or None."""
    for pattern in _UNTRUSTED:
        found = pattern.search(output)
        if found:
            return found.group(1).strip()
    return None


# pip without the site module: sys.prefix is the environment (pip installs there, as site.venv()
# would set it), its site-packages and its bases' (each named by the stacking hook's _pyenvmod_base.pth
# of the one before it, a chain of --extends; read as a file: regular, capped, never waited on; only
# its 'import' lines, the ones site.py runs) are on sys.path, and no .pth file is executed.
_PIP_BOOT = """
import ast, os, re, runpy, stat, sys
prefix = sys.argv.pop(1)
sys.prefix = sys.exec_prefix = prefix
sites = [os.path.join(prefix, "lib", "python%d.%d" % sys.implementation.version[:2], "site-packages")]
for site in sites:  # grows while it is read: each base's hook names the next base (a chain of --extends)
    try:
        fd = os.open(os.path.join(site, "_pyenvmod_base.pth"), os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW)
        try:
            text = os.read(fd, 65536).decode() if stat.S_ISREG(os.fstat(fd).st_mode) else ""
        finally:
            os.close(fd)
    except (OSError, ValueError):
        continue
    for line in text.splitlines():
        found = re.search(r"addsitedir\\((.+)\\)", line) if line.startswith(("import ", "import\\t")) else None
        try:
            base = ast.literal_eval(found.group(1)) if found else None
        except (ValueError, SyntaxError):
            continue
        if isinstance(base, str) and base not in sites:  # a loop of hooks written by hand ends
            sites.append(base)
sys.path.extend(sites)
sys.argv[0] = "pip"
runpy.run_module("pip", run_name="__main__", alter_sys=True)
"""

_NOISE = re.compile(r"^\s*(hint:|note:|\[notice\]|Using Python|Resolved|Prepared|Audited|×|╰─▶|help:)", re.I)


def summarise(output: str, limit: int = 400) -> str:
    """The one line of a helper's output that says what went wrong."""
    lines = [ln.strip() for ln in output.splitlines() if ln.strip() and not _NOISE.match(ln)]
    # uv: "error: ..." then "  cause: ..." lines; pip: "ERROR: ..." lines.
    picked = [ln for ln in lines if re.match(r"(error|cause|ERROR)\b:?", ln)] or lines[-2:]
    text = " ".join(re.sub(r"^(error|cause|ERROR):\s*", "", ln) for ln in picked[-2:])
    text = re.sub(r"\s+", " ", text).strip() or "no message"
    if len(text) <= limit:
        return text
    # the end of the chain is the root cause (uv: "...: No space left on device"): cut the middle
    keep_end = limit * 2 // 3
    return text[: limit - keep_end - 5] + " ... " + text[-keep_end:]
