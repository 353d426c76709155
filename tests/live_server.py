"""A live `qa serve` for tests that talk to it as users do (gradio_client, a real browser: conftest's `browser`)."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from conftest import ARTICLE


@dataclass(frozen=True)
class LiveServer:
    """A running `qa serve`: where to reach it, its process and its folders."""

    url: str
    process: subprocess.Popen
    home: Path
    corpus: Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running_server(home: Path, **env: str) -> Iterator[LiveServer]:
    """`qa serve` on a scratch corpus holding the article and a scratch index; extra `QA_*` values in env."""
    corpus = home / "corpus"
    corpus.mkdir()
    shutil.copy(ARTICLE, corpus / ARTICLE.name)
    port = free_port()
    environ = {
        **os.environ,
        "QA_CORPUS_DIR": str(corpus),
        "QA_INDEX_DIR": str(home / "index"),
        "QA_FEEDBACK_FILE": str(home / "feedback.jsonl"),
        **env,
    }
    log = (home / "server.log").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "qa", "serve", "--port", str(port)], env=environ, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.time() + 180
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2)
            break
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError((home / "server.log").read_text()) from None
            time.sleep(1)
    else:
        proc.kill()
        raise RuntimeError("the UI did not start within 180 s")
    try:
        yield LiveServer(url, proc, home, corpus)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def last_text(history: list[dict]) -> str:
    """The text of a chat history's last message (Gradio 6 gives a list of typed parts)."""
    content = history[-1]["content"]
    return content if isinstance(content, str) else " ".join(part.get("text", "") for part in content)
