"""`qa ask` hands its question to a running `qa serve`, so repeated shell questions skip the model start.

`qa serve` answers on a loopback-only endpoint beside the UI and records where (address, a random token,
its process id) in a file only this user can read, named by a fingerprint of its settings. `qa ask` with
the same settings finds that record and asks there; with no server, a dead or busy one, it answers
in-process as before. The endpoint never listens beyond 127.0.0.1, whatever address the UI is given.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import signal
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import qa.errors
from qa.domain import Answer
from qa.errors import QAError
from qa.settings import Settings

# Questions past this many waiting for the model get "busy" at once: the asker then answers in-process.
MAX_WAITING = 4
_MAX_REQUEST_BYTES = 64_000


@dataclass(frozen=True)
class ServerRecord:
    """Where a running `qa serve` takes questions, and the token it wants."""

    url: str
    token: str
    pid: int


class ServerUnavailable(Exception):
    """The recorded server did not answer (down, busy, broken): answer in-process instead."""


# How long a server stays warm does not change its answers: `qa ask` with another QA_KEEP_WARM still uses it.
_NOT_ANSWERING = ("keep_warm",)


def fingerprint(settings: Settings) -> str:
    """Settings that answer the same way give the same fingerprint; relative paths count as absolute."""
    values = {}
    for f in fields(settings):
        if f.name in _NOT_ANSWERING:
            continue
        value = getattr(settings, f.name)
        values[f.name] = os.path.abspath(value) if isinstance(value, Path) else value
    return hashlib.sha256(repr(sorted(values.items())).encode()).hexdigest()[:20]


def record_path(settings: Settings) -> Path:
    return settings.cache_dir / "servers" / f"{fingerprint(settings)}.json"


def read_record(settings: Settings) -> ServerRecord | None:
    """The record of a live server for these settings; a record left by a dead process is removed."""
    return _live_record(record_path(settings))


def _live_record(path: Path) -> ServerRecord | None:
    try:
        record = ServerRecord(**json.loads(path.read_text()))
    except (OSError, ValueError, TypeError):
        return None
    if not _alive(record.pid):
        path.unlink(missing_ok=True)
        return None
    return record


def _forget_dead(folder: Path) -> None:
    """Remove the records of servers that were killed (a record is only removed on a clean stop)."""
    for path in folder.glob("*.json"):
        _live_record(path)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # alive, and another user's
    return True


def ask_server(settings: Settings, question: str, *, top_k: int | None = None, verify: str | None = None) -> Answer | None:
    """The answer of the running server for these settings; None when there is none.

    Raises ServerUnavailable when one is recorded but does not answer, and the question's own
    QAError (a bad question, say) as the server reported it.
    """
    record = read_record(settings)
    if record is None:
        return None
    body = json.dumps({"question": question, "top_k": top_k, "verify": verify}).encode()
    request = urllib.request.Request(
        f"{record.url}/ask", data=body, headers={"Authorization": f"Bearer {record.token}", "Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=settings.timeout) as response:
            return Answer.from_dict(json.load(response))
    except urllib.error.HTTPError as e:
        reply = _json_or_empty(e)
        if e.code == HTTPStatus.BAD_REQUEST and "error" in reply:
            kind = getattr(qa.errors, str(reply.get("kind")), None)
            error = kind if isinstance(kind, type) and issubclass(kind, QAError) else QAError
            raise error(reply["error"]) from None
        raise ServerUnavailable(f"qa serve at {record.url} answered {e.code} {reply.get('error', e.reason)}") from None
    except (urllib.error.URLError, OSError, ValueError, KeyError, TypeError) as e:
        raise ServerUnavailable(f"qa serve at {record.url} did not answer ({e})") from None


def _json_or_empty(response) -> dict:  # noqa: ANN001 - an HTTPError, which is also the response
    with contextlib.suppress(ValueError, OSError):
        reply = json.load(response)
        if isinstance(reply, dict):
            return reply
    return {}


_REQUEST_SHAPE = 'the request must be JSON like {"question": "...", "top_k": 3 or null, "verify": "drop" or null}'


def _well_formed(body: object) -> bool:
    return (
        isinstance(body, dict)
        and isinstance(body.get("question"), str)
        and (body.get("top_k") is None or type(body["top_k"]) is int)
        and (body.get("verify") is None or isinstance(body["verify"], str))
    )


Asker = Callable[..., Answer]  # ask(question, top_k=..., verify=...) -> Answer


class HandoffServer:
    """The loopback endpoint of `qa serve`: POST /ask with the recorded token, JSON in, an Answer as JSON out."""

    def __init__(self, settings: Settings, ask: Asker, max_waiting: int = MAX_WAITING):
        self.settings = settings
        self._ask = ask
        self._slots = threading.BoundedSemaphore(max_waiting + 1)  # the one being answered and those waiting
        self._activity = threading.Condition()
        self._in_flight = 0
        self._last_question = time.monotonic()
        self._stopped = False
        self._token = secrets.token_urlsafe(24)
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._httpd.daemon_threads = True
        self.record = ServerRecord(f"http://127.0.0.1:{self._httpd.server_port}", self._token, os.getpid())

    def start(self) -> HandoffServer:
        threading.Thread(target=self._httpd.serve_forever, name="qa-handoff", daemon=True).start()
        path = record_path(self.settings)
        path.parent.mkdir(parents=True, exist_ok=True)
        _forget_dead(path.parent)
        # Created private, then renamed into place: the token is never readable by others, even briefly.
        temporary = path.with_suffix(f".{os.getpid()}.tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(asdict(self.record), f)
        os.replace(temporary, path)
        return self

    def wait(self, idle_s: float | None = None, poll_s: float = 1.0) -> None:
        """Block until `stop`, or with `idle_s` until no question has been asked or answered for that long, counted
        from now at the earliest: a start slower than `idle_s` (a loaded machine, the UI being built) stops nothing."""
        with self._activity:
            self._last_question = time.monotonic()
            while not self._stopped:
                idle = time.monotonic() - self._last_question
                if idle_s is not None and self._in_flight == 0 and idle >= idle_s:
                    return
                self._activity.wait(poll_s if idle_s is None else max(min(poll_s, idle_s - idle), 0.01))

    def stop(self) -> None:
        with self._activity:
            self._stopped = True
            self._activity.notify_all()
        self._httpd.shutdown()
        self._httpd.server_close()
        path = record_path(self.settings)
        with contextlib.suppress(OSError, ValueError, TypeError):
            if ServerRecord(**json.loads(path.read_text())) == self.record:  # another server may have taken its place
                path.unlink()

    def __enter__(self) -> HandoffServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _reply(self, body: dict) -> tuple[int, dict]:
        if not self._slots.acquire(blocking=False):
            return HTTPStatus.SERVICE_UNAVAILABLE, {"error": "busy"}
        self.mark(+1)
        try:
            answer = self._ask(body["question"], top_k=body.get("top_k"), verify=body.get("verify"))
            return HTTPStatus.OK, answer.to_dict()
        except QAError as e:
            return HTTPStatus.BAD_REQUEST, {"error": str(e), "kind": type(e).__name__}
        finally:
            self.mark(-1)
            self._slots.release()

    def mark(self, change: int) -> None:
        """A question arrived (+1) or was answered (-1): the idle time starts again."""
        with self._activity:
            self._in_flight += change
            self._last_question = time.monotonic()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the name http.server calls
                if self.path != "/ask":
                    return self._send(HTTPStatus.NOT_FOUND, {"error": "not found"})
                if not secrets.compare_digest(self.headers.get("Authorization", ""), f"Bearer {server._token}"):
                    return self._send(HTTPStatus.UNAUTHORIZED, {"error": "wrong or missing token"})
                length = int(self.headers.get("Content-Length") or 0)
                if not 0 < length <= _MAX_REQUEST_BYTES:
                    return self._send(HTTPStatus.BAD_REQUEST, {"error": "the request must be a JSON object under 64 kB"})
                try:
                    body = json.loads(self.rfile.read(length))
                    if not _well_formed(body):
                        raise ValueError
                except ValueError:
                    return self._send(HTTPStatus.BAD_REQUEST, {"error": _REQUEST_SHAPE})
                self._send(*server._reply(body))

            def _send(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args) -> None:  # the UI's console is not the place for a line per question
                pass

        return Handler


def stop_server(settings: Settings) -> ServerRecord | None:
    """Ask the running `qa serve` for these settings to stop; the record it had, or None when there was none."""
    record = read_record(settings)
    if record is not None:
        os.kill(record.pid, signal.SIGTERM)
        record_path(settings).unlink(missing_ok=True)
    return record
