"""The runtime package: how pyenvmod runs things and talks to the terminal, knowing nothing of
environments, trees or modules.

It owns starting and interrupting child processes (``proc``: uv, conda, ``module``, with Ctrl-C and
signals turned into one clean error), work done on a helper thread while a child runs
(``background``), progress lines on a terminal (``progress``) and the plain output of a result
(``display``). It may use only the standard library and ``pyenvmod.errors``; every other package
may use it.
"""
