"""`qa serve`: one process, warm models, and up to three ways in: the chat UI at `/`, the HTTP API under `/v1`,
and the loopback hand-off that `qa ask` in a shell uses (qa.serving.handoff).

It stops on `qa stop` (SIGTERM), on Ctrl-C, or, given an idle time, once no question has come for that long.
"""

from __future__ import annotations

import contextlib
import functools
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from qa.errors import SettingsError
from qa.serving import warm
from qa.serving.access import check_exposure
from qa.serving.handoff import HandoffServer
from qa.settings import Settings

if TYPE_CHECKING:
    from fastapi import FastAPI


@dataclass(frozen=True)
class Listening:
    """Where a started server takes requests: the hand-off for `qa ask`, and the HTTP address when it has one."""

    handoff: str
    http: str | None
    ui: bool
    api: bool


def serve(
    settings: Settings,
    host: str = "127.0.0.1",
    port: int = 7860,
    *,
    ui: bool = True,
    api: bool = True,
    allow_anonymous: bool = False,
    idle_minutes: float | None = None,
    on_ready: Callable[[Listening], None] | None = None,
) -> None:
    """Serve until stopped; `on_ready` is told where once requests are taken."""
    from qa.api import ask

    check_exposure(host, settings, allow_anonymous, ui=ui, api=api)
    sock = bound(host, port) if ui or api else None  # a port in use fails here, before anything loads
    handoff = HandoffServer(settings, functools.partial(ask, settings=settings))
    app = _app(settings, ui, api, handoff.mark) if ui or api else None
    signal.signal(signal.SIGTERM, _leave)  # `qa stop`: leave through the with-blocks, which remove the record
    with contextlib.suppress(KeyboardInterrupt), handoff, listening(app, sock) as url:
        if on_ready:
            on_ready(Listening(handoff.record.url, url, ui, api))
        # The models load now, not on the first question; after the lines above, since llama.cpp silences the
        # process's stderr while it loads.
        warm.warm_in_background(settings)
        handoff.wait(idle_s=idle_minutes * 60 if idle_minutes else None)


def _app(settings: Settings, ui: bool, api: bool, on_activity: Callable[[int], None]) -> FastAPI:
    """The UI at `/` and the API under `/v1`, or either alone; API questions count as activity for the idle time."""
    from fastapi import FastAPI

    from qa.api import pipeline

    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    if api:
        from qa.serving.http_api import create_app

        app = create_app(settings, pipeline(settings), on_activity)
    if ui:
        from qa.serving.ui import mount

        app = mount(app, settings)
    return app


def _leave(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


@contextlib.contextmanager
def listening(app: FastAPI | None, sock: socket.socket | None) -> Iterator[str | None]:
    """uvicorn serving `app` on `sock` (from `bound`) on a thread for the duration; the address it listens on."""
    if app is None or sock is None:
        yield None
        return
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, timeout_graceful_shutdown=3))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="qa-http", daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise SettingsError(f"the server on {sock.getsockname()} failed to start (see above)")
        time.sleep(0.05)
    bound_host, bound_port = sock.getsockname()[:2]
    shown = f"[{bound_host}]" if ":" in bound_host else bound_host
    try:
        yield f"http://{shown}:{bound_port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def bound(host: str, port: int) -> socket.socket:
    """The listening socket (port 0: one the system picks), bound here so that a port in use is one clear line,
    not a log from uvicorn's thread."""
    try:
        family, *_, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError as e:
        raise SettingsError(f"cannot listen on {host}:{port}: {e.strerror or e}") from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock
