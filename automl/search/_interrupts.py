"""Ctrl-C during a search: the first stops it and keeps the best model so far, the second aborts."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

logger = logging.getLogger("automl")


class Interrupts:
    """Ctrl-C during a search: the first stops it (abandoning the running trial), the second aborts.

    Installed as the SIGINT handler while the search runs (main thread only). The first Ctrl-C
    raises KeyboardInterrupt only while a trial or the refit runs (``armed``); between trials it
    only asks the loop to stop. The second raises wherever the program is.
    """

    def __init__(self) -> None:
        self.count = 0
        self.armed = False
        self._previous: Any = None

    @property
    def aborted(self) -> bool:
        return self.count >= 2

    def __call__(self, signum: int, frame: Any) -> None:
        self.count += 1
        if self.count >= 2:
            raise KeyboardInterrupt
        logger.warning("Ctrl-C: stopping the search and keeping the best model so far (press Ctrl-C again to abort)")
        if self.armed:
            raise KeyboardInterrupt

    def __enter__(self) -> Interrupts:
        import signal
        import threading

        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self)
        return self

    def __exit__(self, *exc: object) -> None:
        import signal

        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None

    @contextmanager
    def arm(self) -> Iterator[None]:
        self.armed = True
        try:
            yield
        finally:
            self.armed = False
