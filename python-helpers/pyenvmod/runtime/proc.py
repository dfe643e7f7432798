"""Running helper programs (uv, pip, python): output captured, children stopped on interrupt,
and never outliving pyenvmod.

A helper killed with pyenvmod would otherwise go on installing into a folder that the next
create of that name hands to a new environment. So each helper is asked by the kernel to
die with pyenvmod (PR_SET_PDEATHSIG), and a watchdog process, started once, kills what is
left of every helper's process group (a package build, say) when pyenvmod ends, even by
``kill -9``.
"""

import os
import signal
import subprocess
from contextlib import contextmanager

from pyenvmod.errors import Interrupted, PyenvmodError

PR_SET_PDEATHSIG = 1

# The watchdog: reads "+PGID" / "-PGID" lines from pyenvmod; when the pipe closes (pyenvmod
# ended, however), kills the process groups still registered. A POSIX shell script: it starts in
# a millisecond, where a Python watchdog took a core's worth of 10 ms from the helper it guards.
_WATCHDOG = """
groups=" "
while IFS= read -r line; do
  case $line in
    +[0-9]*) groups="$groups${line#+} " ;;
    -[0-9]*) g=" ${line#-} "
             case $groups in *"$g"*) groups="${groups%%"$g"*} ${groups#*"$g"}" ;; esac ;;
  esac
done
for g in $groups; do kill -s KILL -- "-$g" 2>/dev/null; done
"""
_watchdog = None  # the Popen of this process's watchdog, once started


def _watchdog_pipe():
    """The watchdog's standard input (started on first use), or None where it cannot run."""
    global _watchdog
    if _watchdog is None or _watchdog.pid is None:
        try:
            _watchdog = subprocess.Popen(["/bin/sh", "-c", _WATCHDOG], stdin=subprocess.PIPE,
                                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                         start_new_session=True, text=True, bufsize=1)
        except OSError:
            _watchdog = False
    return _watchdog.stdin if _watchdog else None


def _tell_watchdog(line: str) -> None:
    pipe = _watchdog_pipe()
    if pipe is None:
        return
    try:
        pipe.write(line + "\n")
        pipe.flush()
    except (OSError, ValueError):  # the watchdog is gone: the kernel's PDEATHSIG still holds
        pass


def _start_child(parent: int, watchdog_fd):
    """For the child, before exec: the kernel kills it when ``parent`` dies, and it tells the watchdog
    its process group itself. Told by the parent after the start, a helper that pyenvmod's death
    caught before that line (a busy machine can keep the parent waiting while the helper starts a
    build) left the build running."""
    try:
        import ctypes

        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (ImportError, OSError, AttributeError):  # not Linux: the watchdog alone
        prctl = None

    def start():
        if prctl is not None:
            prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
            if os.getppid() != parent:  # pyenvmod died before the request took effect
                os.kill(os.getpid(), signal.SIGKILL)
        if watchdog_fd is not None:
            try:  # one short write: the pipe takes it whole, never mixed with pyenvmod's own lines
                os.write(watchdog_fd, b"+%d\n" % os.getpid())  # its session's group has its pid
            except OSError:  # the watchdog is gone: the kernel's PDEATHSIG still holds
                pass

    return start


def _cannot_start(program: str, path: str) -> str | None:
    """Why ``program`` cannot be started (the words exec would say), or None."""
    import errno
    import shutil

    if shutil.which(program, path=path):
        return None
    if os.sep not in program:
        return "not found on PATH"
    return os.strerror(errno.EACCES if os.path.exists(program) else errno.ENOENT)


def run(cmd, *, env=None, what: str, timeout: float | None = None) -> subprocess.CompletedProcess:
    """Run ``cmd``; return the completed process (the caller checks returncode).

    The child runs in its own session, so that on an interrupt we can stop it and
    everything it started (a package build, say) before the interrupt goes on: no
    helper keeps writing into a folder that is being cleaned up. If pyenvmod is killed
    outright, the kernel kills the child and the watchdog its session's group (the child
    tells the watchdog before it execs, see _start_child).
    """
    why = _cannot_start(str(cmd[0]), (os.environ if env is None else env).get("PATH", os.defpath))
    if why:  # said before the start: a helper that never runs is never told to the watchdog
        raise PyenvmodError(f"cannot run {what} ({cmd[0]}): {why}")
    pipe = _watchdog_pipe()
    try:
        proc = subprocess.Popen(
            [str(c) for c in cmd],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            errors="replace",
            start_new_session=True,
            preexec_fn=_start_child(os.getpid(), None if pipe is None else pipe.fileno()),
        )
    except OSError as exc:
        raise PyenvmodError(f"cannot run {what} ({cmd[0]}): {exc.strerror}") from None
    # Everything after the start is inside the try: a Ctrl-C that comes while the imports below run
    # still stops the helper's group before the interrupt goes on.
    try:
        from pyenvmod.runtime import background

        background.helper_started()  # imports needed later happen while the helper works
        from pyenvmod.runtime import progress

        listener = progress.listener()
        if listener is None:
            stdout, stderr = proc.communicate(timeout=timeout)
        else:
            stdout, stderr = _stream(proc, listener, timeout)
    except subprocess.TimeoutExpired:
        _stop(proc)
        raise PyenvmodError(f"{what} did not finish within {timeout:.0f} s") from None
    except BaseException:
        _stop(proc)
        raise
    finally:
        _tell_watchdog(f"-{proc.pid}")
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)


def _stream(proc: subprocess.Popen, listener, timeout):
    """Like communicate(), but each line of the error output also goes to ``listener`` (progress) as it
    comes, so a long build shows what it is doing."""
    import threading

    out, err = [], []

    def pump(pipe, sink, each=None):
        for line in pipe:
            sink.append(line)
            if each is not None:
                try:
                    each(line)
                except Exception:  # showing progress must never break the work
                    pass
        pipe.close()

    readers = [threading.Thread(target=pump, args=(proc.stdout, out), daemon=True),
               threading.Thread(target=pump, args=(proc.stderr, err, listener), daemon=True)]
    for reader in readers:
        reader.start()
    proc.wait(timeout=timeout)
    for reader in readers:
        reader.join()
    return "".join(out), "".join(err)


def _stop(proc: subprocess.Popen) -> None:
    """Terminate the child's whole process group; kill what is left after a grace period."""
    _signal_group(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass
    _signal_group(proc.pid, signal.SIGKILL)  # also anything the child started that lingers
    proc.wait()


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


@contextmanager
def interrupts_raise():
    """Within the block, SIGTERM and SIGHUP raise :class:`Interrupted` like Ctrl-C does."""

    def handler(signum, _frame):
        raise Interrupted(signum)

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
