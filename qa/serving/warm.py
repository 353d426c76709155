"""Keeping the models warm: loaded in the background as a server starts, and the server `qa ask` starts when
QA_KEEP_WARM asks for one.

A fresh `qa ask` pays the start (imports, the model) before its answer; a running server with the same
settings takes the next questions warm (qa.serving.handoff). The one started here has no UI and no HTTP API (it
opens no port beyond the hand-off) and stops once no question has come for its idle time.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
from typing import TYPE_CHECKING

from qa.errors import QAError
from qa.serving.handoff import read_record, record_path
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
    from qa.models.backends import backend

    if backend(settings).in_process:
        threading.Thread(target=warm, args=(pipeline(settings),), name="qa-warm", daemon=True).start()


def start_in_background(settings: Settings) -> bool:
    """Start a server with neither UI nor API for these settings, idle-stopped after `settings.keep_warm` minutes;
    False when one is running already. Its output goes to a log beside its record (the last start's)."""
    if read_record(settings) is not None:
        return False
    log = record_path(settings).with_suffix(".log")
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "wb") as output:
        subprocess.Popen(
            [sys.executable, "-m", "qa", "serve", "--no-ui", "--no-api", "--idle", repr(settings.keep_warm)],
            env={**os.environ, **settings.to_env()},
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # outlives this `qa ask` and the shell's Ctrl-C
        )
    return True
