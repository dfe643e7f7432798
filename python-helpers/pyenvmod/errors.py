"""The one exception type users see: a message that names the problem and the fix."""


class PyenvmodError(Exception):
    """An expected failure. The CLI prints ``pyenvmod: error: <message>`` and exits non-zero."""

    exit_code = 1

    def __init__(self, message: str):
        # One line, always: a message is read by people and grepped by scripts.
        super().__init__(" ".join(str(message).split()))

    @property
    def message(self) -> str:
        return self.args[0]


class Interrupted(KeyboardInterrupt):
    """SIGTERM/SIGHUP, turned into an exception so clean-up code runs."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum
