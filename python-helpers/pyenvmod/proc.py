"""Running helper programs (uv, pip, python): output captured, children stopped on interrupt."""

import os
import signal
import subprocess
from contextlib import contextmanager

from pyenvmod.errors import Interrupted, PyenvmodError


def run(cmd, *, env=None, what: str, timeout: float | None = None) -> subprocess.CompletedProcess:
    """Run ``cmd``; return the completed process (the caller checks returncode).

    The child runs in its own session, so that on an interrupt we can stop it and
    everything it started (a package build, say) before the interrupt goes on: no
    helper keeps writing into a folder that is being cleaned up.
    """
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
        )
    except OSError as exc:
        raise PyenvmodError(f"cannot run {what} ({cmd[0]}): {exc.strerror}") from None
    from pyenvmod import progress

    listener = progress.listener()
    try:
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
