"""Running the application on uvicorn: in the foreground (``robotops serve``) or on a thread.

The listening socket is bound here, before uvicorn starts, so port 0 works (the OS picks a free
port) and the caller learns the real address before the first request. On SIGINT or SIGTERM
uvicorn stops accepting, lets requests in flight finish, then runs the application's shutdown,
which flushes the prediction log: every prediction answered is logged.
"""

from __future__ import annotations

import asyncio
import signal
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn

from robotops.errors import ConflictError, OutputError

GRACE_SECONDS = 30
"""How long a shutdown waits for requests in flight."""


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (port 0: a free one).

    Raises:
        ConflictError: The port is taken.
        OutputError: The address cannot be bound for another reason.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets that say so, and without
    # it every small answer waited ~40 ms for the client's delayed ACK (Nagle's algorithm).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except OSError as err:
        sock.close()
        if err.errno == 98:  # EADDRINUSE
            raise ConflictError(f"{host}:{port} is in use; pick another --port") from err
        raise OutputError(f"cannot listen on {host}:{port}: {err.strerror or err}") from err
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def url_of(sock: socket.socket) -> str:
    """``http://host:port`` of a bound socket."""
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _server(app: Any) -> uvicorn.Server:
    config = uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        server_header=False,
        timeout_graceful_shutdown=GRACE_SECONDS,
        lifespan="on",
    )
    return uvicorn.Server(config)


def serve_forever(app: Any, sock: socket.socket, on_ready: Callable[[], None]) -> None:
    """Serve ``app`` on ``sock`` until SIGINT or SIGTERM; ``on_ready`` runs once it listens.

    Returns normally after a graceful stop. (uvicorn re-raises the stopping signal once it has
    shut down; the no-op handlers installed here take it, so the caller can report and exit.)
    """
    server = _server(app)

    async def main() -> None:
        task = asyncio.create_task(server.serve(sockets=[sock]))
        while not server.started and not task.done():
            await asyncio.sleep(0.01)
        if server.started:
            on_ready()
        await task

    stopping = (signal.SIGINT, signal.SIGTERM)
    previous = {sig: signal.signal(sig, lambda *_: None) for sig in stopping}
    try:
        # uvicorn's own loop choice (uvloop when installed), as server.run() would make it
        with asyncio.Runner(loop_factory=server.config.get_loop_factory()) as runner:
            runner.run(main())
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@contextmanager
def background(app: Any, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Serve ``app`` on a thread for the ``with`` block; yields the base URL.

    Leaving the block shuts down as a signal would: requests in flight finish and the
    application's shutdown (the log's flush) completes before the block returns.

    Raises:
        OutputError: The server did not start (the cause is chained).
    """
    sock = bind(host, port)
    server = _server(app)
    failure: list[BaseException] = []

    def run() -> None:
        try:
            server.run(sockets=[sock])
        except BaseException as err:  # reported to the caller below
            failure.append(err)

    thread = threading.Thread(target=run, name="robotops-serve", daemon=True)
    thread.start()
    try:
        while not server.started:
            if failure or not thread.is_alive():
                cause = failure[0] if failure else None
                raise OutputError(f"the server on {url_of(sock)} did not start") from cause
            thread.join(0.01)
        yield url_of(sock)
    finally:
        server.should_exit = True
        thread.join()
        sock.close()
