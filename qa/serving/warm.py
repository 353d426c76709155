"""Keeping the models warm for the shell: `qa serve --no-ui`, and the server `qa ask` starts when
QA_KEEP_WARM asks for one.

A fresh `qa ask` pays the start (imports, the model) before its answer; a running server with the same
settings takes the next questions warm (qa.serving.handoff). This one imports no Gradio and opens no page; it stops
on `qa stop` (SIGTERM), on Ctrl-C, or once no question has come for its idle time.
"""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from qa.errors import QAError
from qa.serving.handoff import HandoffServer, read_record, record_path
from qa.settings import Settings

if TYPE_CHECKING:
    from qa.answering.chain import Pipeline


def warm(p: Pipeline) -> None:
    """Load the models now; a broken model is reported on the first question, where it can be shown."""
    with contextlib.suppress(QAError):
        p.warm()


def warm_in_background(settings: Settings) -> None:
    """Load the pipeline's models on a thread, when they run in this process, so the first question pays no start."""
    from qa.api import pipeline
    from qa.models.backends import BACKENDS

    if BACKENDS[settings.backend].in_process:
        threading.Thread(target=warm, args=(pipeline(settings),), name="qa-warm", daemon=True).start()


def serve(
    settings: Settings, idle_minutes: float | None = None, on_ready: Callable[[HandoffServer], None] | None = None
) -> None:
    """Answer `qa ask` warm until stopped, or until no question has come for `idle_minutes`; `on_ready` is
    told the server once it takes questions."""
    from qa.api import ask

    signal.signal(signal.SIGTERM, _leave)  # `qa stop`: leave through the with-block, which removes the record
    warm_in_background(settings)
    with contextlib.suppress(KeyboardInterrupt), HandoffServer(settings, functools.partial(ask, settings=settings)) as server:
        if on_ready:
            on_ready(server)
        server.wait(idle_s=idle_minutes * 60 if idle_minutes else None)


def _leave(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def start_in_background(settings: Settings) -> bool:
    """Start a server without the UI for these settings, idle-stopped after `settings.keep_warm` minutes;
    False when one is running already. Its output goes to a log beside its record (the last start's)."""
    if read_record(settings) is not None:
        return False
    log = record_path(settings).with_suffix(".log")
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "wb") as output:
        subprocess.Popen(
            [sys.executable, "-m", "qa", "serve", "--no-ui", "--idle", repr(settings.keep_warm)],
            env={**os.environ, **settings.to_env()},
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # outlives this `qa ask` and the shell's Ctrl-C
        )
    return True
