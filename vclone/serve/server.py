"""Running the application on uvicorn: in the foreground (`vclone serve`) or in a thread (tests, benchmarks)."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator

import uvicorn
from fastapi import FastAPI

from vclone.errors import VcloneError

__all__ = ["run_server", "serve_in_thread"]

_START_TIMEOUT_S = 30.0


def run_server(app: FastAPI, *, host: str, port: int, log_level: str = "info") -> None:
    """Serve until interrupted (Ctrl-C). uvicorn's access log is off: the app logs one line per request."""
    uvicorn.run(app, host=host, port=port, log_level=log_level, access_log=False, timeout_graceful_shutdown=5)


@contextlib.contextmanager
def serve_in_thread(app: FastAPI, *, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Serve `app` in a background thread for the block; yields its base URL (port 0 takes a free one)."""
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False, lifespan="off"))
    thread = threading.Thread(target=server.run, name="vclone-serve", daemon=True)
    thread.start()
    waited = time.monotonic() + _START_TIMEOUT_S
    while not server.started:
        if not thread.is_alive() or time.monotonic() > waited:
            raise VcloneError(f"the server did not start on {host}:{port}")
        time.sleep(0.02)
    bound = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://{host}:{bound}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
