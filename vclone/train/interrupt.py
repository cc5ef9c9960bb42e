"""Ctrl-C during training: the first one asks the loop to stop after the current step (which then
saves a checkpoint); a second one interrupts at once."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType

__all__ = ["StopFlag", "graceful_interrupt"]


class StopFlag:
    """Set when a stop was requested; the training loop checks it between steps."""

    def __init__(self) -> None:
        self.requested = False

    def request(self) -> None:
        self.requested = True


@contextlib.contextmanager
def graceful_interrupt() -> Iterator[StopFlag]:
    """Catch SIGINT for the duration of the block (main thread only; elsewhere it is a plain flag)."""
    flag = StopFlag()
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        if flag.requested:
            raise KeyboardInterrupt
        flag.request()

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield flag
    finally:
        signal.signal(signal.SIGINT, previous)
